// SPDX-License-Identifier: GPL-2.0
/*
 * fgbench: one measurement of a vhost-vsock host driver (/dev/vhost-vsock)
 * against the fake guest of fg.c, with nothing emulated on the guest's
 * side: the guest driver is this process, so what differs between two
 * host drivers measured with it is the host's own work and latency
 * (socket layer, vhost worker, notifications). scripts/bench-host.sh runs
 * it for ours and for Debian's stock vhost_vsock in one VM boot.
 * Runs inside the test VM only, as root.
 *
 *   fgbench [-c CID] [-p PORT] g2h|h2g SIZE SECS
 *   fgbench [-c CID] [-p PORT] pingpong SECS
 *
 * g2h: the fake guest connects to a host listener and sends packets of
 *      min(SIZE, 64 KiB) payload for SECS seconds (as a Linux guest whose
 *      application writes SIZE bytes at a time), then shuts down; the host
 *      reads with SIZE-byte reads until EOF.
 * h2g: the host connects to the fake guest and writes SIZE bytes at a
 *      time for SECS seconds, then closes; the fake guest consumes what
 *      arrives at once (no check of the bytes).
 *      The receiving side advertises a 1 MiB buffer in both directions
 *      (as vsock_perf --vsk-size 1M); the rate is the bytes received over
 *      the time from the first packet sent to the last one received.
 * pingpong: the host connects to the fake guest, which echoes every byte;
 *      the host writes 1 byte and reads it back, 50 untimed round trips,
 *      then SECS seconds timed.
 *
 * The fake guest negotiates EVENT_IDX and INDIRECT_DESC and sends like
 * Linux does (fg_opts.linux_guest), with 128-entry rings and 4 KiB rx
 * buffers, as QEMU and a Linux 6.x guest have them.
 *
 * Output: a human line, then "fgbench-result: KEY VALUE" lines (KEY
 * DIR_SIZE in Gbit/s, or pp_mean/pp_p50/pp_p99 in microseconds), and
 * "fgbench-count: KEY VALUE" lines: what the fake guest saw over the whole
 * run, warm-up included (bytes moved or timed round trips, interrupts =
 * calls and notifications = kicks per queue, packets received by op,
 * packets sent). Exit status 0, 1 when the measurement failed or
 * the fake guest saw the host misbehave, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "fg.h"
#include "num.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define FGB_BUF_ALLOC	(1 * MiB)
#define FGB_PP_WARMUP	50
#define FGB_PP_MAX	(1u << 20)

struct fgb {
	const char *mode;
	uint64_t cid;
	uint32_t port;
	uint32_t size;
	double secs;
	struct fg *fg;
	/* the host side's thread */
	struct hs_thread th;
	atomic_int done;
	int err;
	const char *what;	/* where err happened */
	uint64_t bytes;		/* received (g2h) or sent (h2g) by the host */
	double t_first, t_last;	/* host: first and last byte (g2h) */
	double *rtt;		/* pingpong: microseconds, pp_n of them */
	size_t pp_n;
	int lfd;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fgbench [-c CID] [-p PORT] g2h|h2g SIZE SECS\n"
		"       fgbench [-c CID] [-p PORT] pingpong SECS\n"
		"SIZE: bytes, with an optional K or M suffix (1024-based)\n");
	exit(2);
}

static void fgb_fail(struct fgb *b, const char *what, int err)
{
	if (!b->err) {
		b->err = err;
		b->what = what;
	}
}

static int fgb_bufsize(int fd, uint64_t sz)
{
	/* the maximum first, or the size is clamped to the old maximum */
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &sz,
		       sizeof(sz)) ||
	    setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &sz,
		       sizeof(sz)))
		return -errno;
	return 0;
}

/* --- host threads --------------------------------------------------------- */

/* g2h: accept the fake guest's connection, read until EOF */
static void *host_reader(void *arg)
{
	struct fgb *b = arg;
	char *buf = malloc(b->size);
	int fd;

	if (!buf) {
		fgb_fail(b, "malloc", ENOMEM);
		goto out;
	}
	fd = vaccept(b->lfd, 10000);
	if (fd < 0) {
		fgb_fail(b, "accept", errno);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, b->size);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fgb_fail(b, "read", errno);
			break;
		}
		if (!r)
			break;
		if (!b->bytes)
			b->t_first = now_s();
		b->bytes += (uint64_t)r;
		b->t_last = now_s();
	}
	close(fd);
out:
	free(buf);
	atomic_store(&b->done, 1);
	return NULL;
}

/* a host socket connected to the fake guest's port; -1 (recorded) if not */
static int host_connect(struct fgb *b)
{
	int fd = vconnect_to(SOCK_STREAM, (uint32_t)b->cid, b->port, 5000);

	if (fd < 0)
		fgb_fail(b, "connect", errno);
	return fd;
}

/* h2g: connect to the fake guest, write for b->secs, close */
static void *host_writer(void *arg)
{
	struct fgb *b = arg;
	char *buf = calloc(1, b->size);
	double end;
	int fd;

	if (!buf) {
		fgb_fail(b, "malloc", ENOMEM);
		goto out;
	}
	fd = host_connect(b);
	if (fd < 0)
		goto out;
	b->t_first = now_s();
	end = b->t_first + b->secs;
	while (now_s() < end) {
		ssize_t w = write(fd, buf, b->size);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fgb_fail(b, "write", errno);
			break;
		}
		b->bytes += (uint64_t)w;
	}
	close(fd);
out:
	free(buf);
	atomic_store(&b->done, 1);
	return NULL;
}

/* pingpong: connect to the fake guest's echo, time 1-byte round trips */
static void *host_pinger(void *arg)
{
	struct fgb *b = arg;
	double end = 0;
	size_t i;
	int fd;

	fd = host_connect(b);
	if (fd < 0)
		goto out;
	for (i = 0; b->pp_n < FGB_PP_MAX; i++) {
		double t0;
		char c = 'x';
		ssize_t r;

		if (i == FGB_PP_WARMUP)
			end = now_s() + b->secs;
		if (end && now_s() >= end)
			break;
		t0 = now_s();
		if (write(fd, &c, 1) != 1) {
			fgb_fail(b, "write", errno);
			break;
		}
		r = recv_timeout(fd, &c, 1, 0, 5000);
		if (r != 1) {
			fgb_fail(b, "read", r < 0 ? errno : EPIPE);
			break;
		}
		if (end)
			b->rtt[b->pp_n++] = (now_s() - t0) * 1e6;
	}
	close(fd);
out:
	atomic_store(&b->done, 1);
	return NULL;
}

/* --- the fake guest's side ------------------------------------------------ */

static bool host_done(struct fg *fg, void *arg)
{
	(void)fg;
	return atomic_load(&((struct fgb *)arg)->done);
}

/* run the fake guest until the host thread finished */
static int fgb_join(struct fgb *b, int timeout_ms)
{
	if (!fg_wait(b->fg, host_done, b, timeout_ms)) {
		fgb_fail(b, "the host thread hangs", ETIMEDOUT);
		return -1;
	}
	return hs_thread_join(&b->th, 1000);
}

static int run_g2h(struct fgb *b)
{
	uint32_t pkt = b->size < FG_MAX_PAYLOAD ? b->size : FG_MAX_PAYLOAD;
	uint64_t chunk = b->size > MiB ? b->size : MiB, sent = 0;
	uint8_t *data = calloc(1, chunk);
	struct fg_conn *c;
	double t0, end;

	b->lfd = vlistener(SOCK_STREAM, VMADDR_CID_ANY, b->port, 4);
	if (!data || b->lfd < 0) {
		fgb_fail(b, "listen", data ? errno : ENOMEM);
		free(data);
		return -1;
	}
	if (fgb_bufsize(b->lfd, FGB_BUF_ALLOC))
		fgb_fail(b, "SO_VM_SOCKETS_BUFFER_SIZE", errno);
	if (hs_thread_start(&b->th, host_reader, b)) {
		fgb_fail(b, "thread", EAGAIN);
		goto out;
	}
	c = fg_connect(b->fg, 0, b->port, FG_TYPE_STREAM, FGB_BUF_ALLOC, 5000);
	if (!c || c->state != FGC_ESTABLISHED) {
		fgb_fail(b, "guest connect", ECONNREFUSED);
		close(b->lfd);	/* the reader's accept gives up */
		b->lfd = -1;
		fgb_join(b, 15000);
		goto out;
	}
	t0 = now_s();
	end = t0 + b->secs;
	while (now_s() < end && c->state == FGC_ESTABLISHED)
		sent += fg_conn_write(c, data, chunk, 0, 0, 0, pkt, 10000);
	fg_conn_send(c, FG_OP_SHUTDOWN, FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND,
		     NULL, 0, NULL);
	if (!fgb_join(b, 30000) && !b->err && b->bytes != sent)
		fgb_fail(b, "host got fewer bytes than were sent", EPIPE);
	b->t_first = t0;
out:
	if (b->lfd >= 0)
		close(b->lfd);
	free(data);
	return b->err ? -1 : 0;
}

/*
 * Listen in the fake guest, start the host thread @fn (which connects),
 * and accept its connection; NULL (recorded) if that fails.
 */
static struct fg_conn *guest_accept(struct fgb *b, void *(*fn)(void *))
{
	struct fg_conn *c;

	fg_listen(b->fg, b->port, FG_TYPE_STREAM, FGL_ACCEPT, FGB_BUF_ALLOC);
	if (hs_thread_start(&b->th, fn, b)) {
		fgb_fail(b, "thread", EAGAIN);
		return NULL;
	}
	c = fg_accept(b->fg, b->port, 8000);
	if (!c) {
		fgb_fail(b, "guest accept", ETIMEDOUT);
		fgb_join(b, 15000);
	}
	return c;
}

static int run_h2g(struct fgb *b)
{
	struct fg_conn *c;
	double t_last = 0;
	uint64_t got = 0;

	c = guest_accept(b, host_writer);
	if (!c)
		return -1;
	fg_conn_discard(c);
	/* until the host is done and every byte it wrote has arrived */
	for (double give_up = now_s() + b->secs + 60; now_s() < give_up;) {
		if (c->rx_cnt != got) {
			got = c->rx_cnt;
			t_last = now_s();
		}
		if (atomic_load(&b->done) && (got >= b->bytes ||
					      c->state != FGC_ESTABLISHED))
			break;
		fg_poll(b->fg, 20);
	}
	if (!fgb_join(b, 5000) && !b->err && got != b->bytes)
		fgb_fail(b, "guest got fewer bytes than were sent", EPIPE);
	b->bytes = got;
	b->t_last = t_last;
	return b->err ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int run_pingpong(struct fgb *b)
{
	struct fg_conn *c;
	uint8_t buf[256];

	b->rtt = calloc(FGB_PP_MAX, sizeof(*b->rtt));
	if (!b->rtt) {
		fgb_fail(b, "malloc", ENOMEM);
		return -1;
	}
	c = guest_accept(b, host_pinger);
	if (!c)
		return -1;
	for (double give_up = now_s() + b->secs + 60;
	     !atomic_load(&b->done) && now_s() < give_up;) {
		size_t n = fg_conn_read(c, buf, sizeof(buf));

		if (n && fg_conn_send(c, FG_OP_RW, 0, buf, (uint32_t)n, NULL)) {
			fgb_fail(b, "guest echo", EIO);
			break;
		}
		if (c->state != FGC_ESTABLISHED)
			break;
		if (!n)
			fg_poll(b->fg, 20);
	}
	fgb_join(b, 5000);
	return b->err ? -1 : 0;
}

static void report_counts(const struct fgb *b)
{
	static const char *const vq_names[] = { "rx", "tx" };
	const struct fg *fg = b->fg;

	if (b->rtt)
		printf("fgbench-count: round_trips %zu\n", b->pp_n);
	else
		printf("fgbench-count: bytes %llu\n",
		       (unsigned long long)b->bytes);

	for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++) {
		printf("fgbench-count: %s_calls %llu\n", vq_names[i],
		       (unsigned long long)fg->vq[i].calls);
		printf("fgbench-count: %s_kicks %llu\n", vq_names[i],
		       (unsigned long long)fg->vq[i].kicks);
	}
	for (int op = FG_OP_REQUEST; op < FG_OP_NR; op++) {
		printf("fgbench-count: rx_%s %llu\n", fg_op_name(op),
		       (unsigned long long)fg->rx_by_op[op]);
	}
	printf("fgbench-count: tx_pkts %llu\n",
	       (unsigned long long)fg->tx_pkts);
}

static void report(struct fgb *b, const char *size_arg)
{
	if (!strcmp(b->mode, "pingpong")) {
		double sum = 0;

		qsort(b->rtt, b->pp_n, sizeof(*b->rtt), cmp_double);
		for (size_t i = 0; i < b->pp_n; i++)
			sum += b->rtt[i];
		printf("fgbench: pingpong: %zu round trips, mean %.1f us, p50 %.1f us, p99 %.1f us\n",
		       b->pp_n, sum / b->pp_n, b->rtt[b->pp_n / 2],
		       b->rtt[b->pp_n * 99 / 100]);
		printf("fgbench-result: pp_mean %.2f\n", sum / b->pp_n);
		printf("fgbench-result: pp_p50 %.2f\n", b->rtt[b->pp_n / 2]);
		printf("fgbench-result: pp_p99 %.2f\n",
		       b->rtt[b->pp_n * 99 / 100]);
	} else {
		double t = b->t_last - b->t_first;
		double gbps = t > 0 ? b->bytes * 8 / t / 1e9 : 0;

		printf("fgbench: %s %s: %llu bytes in %.3f s: %.4f Gbit/s\n",
		       b->mode, size_arg, (unsigned long long)b->bytes, t, gbps);
		printf("fgbench-result: %s_%s %.6f\n", b->mode, size_arg, gbps);
	}
	report_counts(b);
}

int main(int argc, char **argv)
{
	struct fg_opts o = { .linux_guest = true };
	struct fgb b = { .cid = 3, .port = 5201, .lfd = -1 };
	const char *size_arg = "";
	uint64_t v;
	int opt, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "c:p:")) != -1) {
		switch (opt) {
		case 'c':
			/* 0-2 are reserved, -1 is VMADDR_CID_ANY */
			if (num_u64(optarg, 0, 3, UINT32_MAX - 1, &b.cid))
				usage();
			break;
		case 'p':
			if (num_u32(optarg, 0, 0, UINT32_MAX, &b.port))
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	b.mode = argv[0];
	if (!strcmp(b.mode, "pingpong")) {
		if (argc != 2 || num_double(argv[1], 0, 600, &b.secs))
			usage();
	} else if (!strcmp(b.mode, "g2h") || !strcmp(b.mode, "h2g")) {
		if (argc != 3 || vu_parse_size(argv[1], 1, 64 * MiB, &v) ||
		    num_double(argv[2], 0, 600, &b.secs))
			usage();
		b.size = (uint32_t)v;
		size_arg = argv[1];
	} else {
		usage();
	}
	if (!(b.secs > 0))
		usage();

	o.cid = b.cid;
	b.fg = fg_open(&o);
	if (!b.fg) {
		fprintf(stderr, "fgbench: cannot set up the fake guest on /dev/vhost-vsock\n");
		return 1;
	}
	if (!strcmp(b.mode, "g2h"))
		rc = run_g2h(&b);
	else if (!strcmp(b.mode, "h2g"))
		rc = run_h2g(&b);
	else
		rc = run_pingpong(&b);
	if (!rc && !strcmp(b.mode, "pingpong") && !b.pp_n) {
		fgb_fail(&b, "no timed round trip", ETIMEDOUT);
		rc = -1;
	}
	if (b.fg->errors) {
		fprintf(stderr, "fgbench: the host misbehaved (%d times), first: %s\n",
			b.fg->errors, b.fg->first_error);
		rc = -1;
	} else if (rc) {
		fprintf(stderr, "fgbench: %s %s: %s: %s\n", b.mode, size_arg,
			b.what, strerror(b.err));
	} else {
		report(&b, size_arg);
	}
	fg_close(b.fg);
	free(b.rtt);
	return rc ? 1 : 0;
}
