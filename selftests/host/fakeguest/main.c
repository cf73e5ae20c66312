// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest: KTAP tests of a vhost-vsock host driver (/dev/vhost-vsock)
 * from user space.  The program plays the virtio-vsock GUEST driver with
 * its virtqueues and buffers in its own memory (fg.c); host sockets in the
 * same machine talk to it over AF_VSOCK (host -> guest CID, or guest ->
 * host CID 2).  Runs inside the test VM only, as root.
 *
 *   fakeguest [-l] [-v] [PATTERN...]     (see ../lib/ktap.h)
 *
 * Environment: FG_CID_BASE (first guest CID, default 3000; each case uses
 * base + 4 * case index + 0..3), FG_PORT_BASE (default 20000), FG_FUZZ
 * (fuzz packet count, default 200000), FG_SEED (fuzz seed),
 * FG_DATA_MB (MiB per direction of the data cases, default 64),
 * FG_ALWAYS_KICK=1 (kick even when the host set VRING_USED_F_NO_NOTIFY),
 * FG_LINUX=1 (every guest also negotiates EVENT_IDX and INDIRECT_DESC and
 * sends header + payload as an indirect table, like Linux behind QEMU),
 * KTAP_TIMEOUT_SCALE.
 *
 * Cases, by group (names are prefixes):
 *   api_       feature bits, ioctl errors, reserved and busy CIDs, the
 *              CID-last setup order, stop/start like a paused VM
 *   g2h_ h2g_  connections in both directions, refused, timed out;
 *              seqpacket_not_negotiated
 *   data_      64 MiB each way, every byte checked; rx_layouts: odd rx
 *              buffer shapes; linux_guest: EVENT_IDX + indirect tables
 *   credit_    slow readers on both sides, CREDIT_REQUEST, overrun -> RST
 *   shutdown_ close_host rst_guest  half and full shutdown, close, reset
 *   seqpacket_ record boundaries (EOM) and MSG_EOR both ways
 *   spoof_     wrong source/destination CIDs, another guest's CID
 *   desc_ rw_zero_len bad_ payload_on_control  descriptor layouts,
 *              malformed and invalid chains, bad op/type/len
 *   bounded_   a guest that stops taking packets or advertises 4 GiB
 *   close_fd_  the guest vanishes with live and connecting sockets
 *   fuzz       200,000 random and mutated packets, then normal traffic
 * Every case also fails on any host misbehaviour the fake guest sees in
 * passing: sending beyond the credit it advertised, wrong addresses or
 * used lengths, bad flags, acknowledging data never sent.
 *
 * Files: main.c (this: the case table, per-case resources, host helpers
 * and jobs; fakeguest.h declares them), one file per case group above
 * (api.c connect.c data.c credit.c shutdown.c seqpacket.c spoof.c desc.c
 * bounded.c close_fd.c fuzz.c), the fake guest itself in ../fg.c.
 */
#include "fakeguest.h"

/* --- per-case resources ---------------------------------------------------- */

static const char *const env_numbers[] = {
	"FG_CID_BASE", "FG_PORT_BASE", "FG_FUZZ", "FG_SEED", "FG_DATA_MB",
};

uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v = def;

	if (s && *s)
		num_u64(s, 0, 0, UINT64_MAX, &v);
	return v;
}

/* the numbers in the environment; 0 or 2 (a usage error, said) */
static int env_check(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_numbers); i++) {
		const char *s = getenv(env_numbers[i]);
		uint64_t v;

		if (s && *s && num_u64(s, 0, 0, UINT64_MAX, &v)) {
			fprintf(stderr, "fakeguest: %s: not a number: '%s'\n",
				env_numbers[i], s);
			return 2;
		}
	}
	return 0;
}

/* guest CID number k (0..3) of the running case */
uint64_t ccid(int k)
{
	return env_u64("FG_CID_BASE", 3000) + 4u * (uint64_t)kt_cur_index +
	       (uint64_t)k;
}

/* host-side port k (0..31) and guest-side port k of the running case */
uint32_t hport(int k)
{
	return (uint32_t)env_u64("FG_PORT_BASE", 20000) +
	       64u * (uint32_t)kt_cur_index + (uint32_t)k;
}

uint32_t gport(int k)
{
	return hport(32 + k);
}

struct fg *fgs[MAX_FG];

struct fg *gopen_opts(int k, struct fg_opts *o)
{
	struct fg_opts d;

	if (!o) {
		memset(&d, 0, sizeof(d));
		o = &d;
	}
	if (!o->cid)
		o->cid = ccid(k);
	fgs[k] = fg_open(o);
	return fgs[k];
}

struct fg *gopen(int k)
{
	return gopen_opts(k, NULL);
}

void gclose(int k)
{
	fg_close(fgs[k]);
	fgs[k] = NULL;
}

void fg_report(void)
{
	for (int k = 0; k < MAX_FG; k++) {
		struct fg *fg = fgs[k];

		if (!fg)
			continue;
		if (fg->errors)
			kt_diag("guest %llu: %d host misbehaviour(s), first: %s",
				(unsigned long long)fg->cid, fg->errors,
				fg->first_error);
		if (fg->missed_calls)
			kt_diag("guest %llu: warning: %llu times used buffers appeared without a call for >= 500 ms",
				(unsigned long long)fg->cid,
				(unsigned long long)fg->missed_calls);
	}
}

/* end of a case: fail on any host misbehaviour, release the guests */
int finish(int rc)
{
	fg_report();
	for (int k = 0; k < MAX_FG; k++) {
		if (fgs[k] && fgs[k]->errors)
			rc = KT_FAIL;
		gclose(k);
	}
	return rc;
}

/* --- host socket helpers that keep the fake guest running ------------------ */

int h_bufsize(int fd, uint64_t sz)
{
	unsigned long long v = sz;

	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &v,
		       sizeof(v)))
		return -errno;
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, sizeof(v)))
		return -errno;
	return 0;
}

/* read up to n bytes until n, EOF, error or timeout; *err: 0 when n bytes
 * arrived, EPIPE on EOF, errno or ETIMEDOUT otherwise
 */
size_t h_read(struct fg *fg, int fd, void *buf, size_t n, int timeout_ms,
	      int *err)
{
	long deadline = kt_now_ms() + timeout_ms;
	size_t got = 0;

	*err = 0;
	while (got < n) {
		ssize_t r = recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0) {
			*err = EPIPE;
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			*err = errno;
			break;
		}
		if (kt_now_ms() >= deadline) {
			*err = ETIMEDOUT;
			break;
		}
		if (fg)
			fg_poll(fg, 2);
		else
			usleep(2000);
	}
	return got;
}

/* everything readable within settle_ms of quiet (stops at n) */
size_t h_drain(struct fg *fg, int fd, void *buf, size_t n, int settle_ms,
	       int *err)
{
	size_t got = 0;

	*err = 0;
	for (;;) {
		int e;
		size_t k = h_read(fg, fd, (uint8_t *)buf + got, n - got,
				  settle_ms, &e);

		got += k;
		if (e != ETIMEDOUT || !k || got == n) {
			*err = e;
			return got;
		}
	}
}

int h_listen(int type, uint32_t port, int backlog)
{
	int fd = vlistener(type, VMADDR_CID_ANY, port, backlog);

	if (fd >= 0)
		set_nonblock(fd, true);
	return fd;
}

int h_accept(struct fg *fg, int lfd, int timeout_ms)
{
	long deadline = kt_now_ms() + timeout_ms;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			set_nonblock(fd, false);
			return fd;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (kt_now_ms() >= deadline)
			return -ETIMEDOUT;
		if (fg)
			fg_poll(fg, 2);
		else
			usleep(2000);
	}
}

/* host accept must find nothing during ms */
bool h_no_accept(struct fg *fg, int lfd, int ms)
{
	int fd = h_accept(fg, lfd, ms);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return true;
}

bool h_send_all(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

void sockname(int fd, bool peer, uint32_t *cid, uint32_t *port)
{
	struct sockaddr_vm a;
	socklen_t l = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (peer)
		getpeername(fd, (struct sockaddr *)&a, &l);
	else
		getsockname(fd, (struct sockaddr *)&a, &l);
	*cid = a.svm_cid;
	*port = a.svm_port;
}

/* --- host jobs in threads --------------------------------------------------- */


static void *job_main(void *arg)
{
	struct job *j = arg;

	switch (j->kind) {
	case JOB_CONNECT: {
		struct timeval tv = {
			.tv_sec = j->timeout_ms / 1000,
			.tv_usec = (j->timeout_ms % 1000) * 1000,
		};
		int fd = vsock_socket(j->type);

		j->res_fd = -1;
		if (fd < 0) {
			j->err = errno;
			break;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			   sizeof(tv));
		if (j->bufsize && h_bufsize(fd, j->bufsize))
			j->err = errno;
		if (vconnect(fd, j->cid, j->port)) {
			j->err = errno;
			close(fd);
		} else {
			j->res_fd = fd;
		}
		break;
	}
	case JOB_SEND_PATTERN:
		j->bytes = pat_send(j->fd, j->seed, j->pos, j->n,
				    j->chunk ? j->chunk : 64 * KiB, &j->err);
		break;
	case JOB_RECV_PATTERN:
		j->bytes = pat_recv(j->fd, j->seed, j->pos, j->n, &j->bad,
				    j->timeout_ms, &j->err);
		break;
	case JOB_RECV_ONE: {
		char c;

		j->ret = recv(j->fd, &c, 1, 0);
		j->err = j->ret < 0 ? errno : 0;
		break;
	}
	case JOB_ACCEPT_CLOSE:
		while (!atomic_load(&j->stop)) {
			int fd = vaccept(j->fd, 100);

			if (fd >= 0) {
				j->accepted++;
				close(fd);
			}
		}
		break;
	}
	j->t_end = kt_now_ms();
	atomic_store(&j->done, 1);
	return NULL;
}

void job_init(struct job *j, enum job_kind kind, int fd, uint64_t seed,
	      uint64_t n)
{
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->fd = fd;
	j->seed = seed;
	j->n = n;
}

int job_start(struct job *j)
{
	atomic_store(&j->done, 0);
	atomic_store(&j->stop, 0);
	return hs_thread_start(&j->th, job_main, j);
}

/* run the fake guest (if any) until the job is done; false on timeout */
bool job_wait(struct fg *fg, struct job *j, int timeout_ms)
{
	long deadline = kt_now_ms() + timeout_ms;

	while (!atomic_load(&j->done)) {
		if (kt_now_ms() >= deadline)
			return false;
		if (fg)
			fg_poll(fg, 5);
		else
			usleep(5000);
	}
	hs_thread_join(&j->th, 1000);
	return true;
}

void job_connect(struct job *j, int type, uint32_t cid, uint32_t port,
		 int timeout_ms)
{
	job_init(j, JOB_CONNECT, 0, 0, 0);
	j->type = type;
	j->cid = cid;
	j->port = port;
	j->timeout_ms = timeout_ms;
}

/* host connects to guest k's port; the fake guest accepts */
int h2g_pair(struct fg *fg, int type, uint32_t port, uint64_t bufsize,
	     struct fg_conn **cp)
{
	struct job j;

	job_connect(&j, type, (uint32_t)fg->cid, port, 5000);
	j.bufsize = bufsize;
	if (job_start(&j))
		return -EAGAIN;
	if (!job_wait(fg, &j, 8000))
		return -ETIMEDOUT;
	if (j.res_fd < 0)
		return -j.err;
	*cp = fg_accept(fg, port, 1000);
	if (!*cp) {
		close(j.res_fd);
		return -ENOENT;
	}
	return j.res_fd;
}

/* the fake guest connects to a host listener; the host accepts */
int g2h_pair(struct fg *fg, int lfd, uint32_t port, int type,
	     uint32_t buf_alloc, struct fg_conn **cp)
{
	uint16_t vtype = type == SOCK_SEQPACKET ? FG_TYPE_SEQPACKET : FG_TYPE_STREAM;
	struct fg_conn *c = fg_connect(fg, 0, port, vtype, buf_alloc, 3000);

	*cp = c;
	if (!c || c->state != FGC_ESTABLISHED)
		return -ECONNREFUSED;
	return h_accept(fg, lfd, 2000);
}

/* a short g2h exchange proving an instance works */
int ping(struct fg *fg, int lfd, uint32_t port)
{
	struct fg_conn *c;
	char buf[8];
	int fd, e;

	fd = g2h_pair(fg, lfd, port, SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "guest->host connection: %s", kt_errname(-fd));
	CHECK(fg_conn_write(c, "ping", 4, 0, 0, 0, 0, 2000) == 4, "write");
	CHECK(h_read(fg, fd, buf, 4, 3000, &e) == 4 && !memcmp(buf, "ping", 4),
	      "host did not get ping: %s", kt_errname(e));
	CHECK(h_send_all(fd, "pong", 4), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 4, 3000), "guest did not get pong");
	CHECK(fg_conn_read(c, buf, 4) == 4 && !memcmp(buf, "pong", 4),
	      "pong mismatch");
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000),
	      "no close handshake after host close");
	return KT_PASS;
}

/* a host listener on hport(0), guest 0 and a g2h connection to it */
int g2h_setup(int *lfd, struct fg **fgp, struct fg_conn **c, int *fd)
{
	*lfd = h_listen(SOCK_STREAM, hport(0), 8);
	if (*lfd < 0)
		return -errno;
	*fgp = gopen(0);
	if (!*fgp)
		return -ENODEV;
	*fd = g2h_pair(*fgp, *lfd, hport(0), SOCK_STREAM, 0, c);
	return *fd < 0 ? *fd : 0;
}

/* ============================================================================ */

static const struct kt_case cases[] = {
	{ "api_features", t_api_features, 0, 0 },
	{ "api_setup_errors", t_api_errors, 0, 0 },
	{ "api_cid_reserved", t_api_cid_reserved, 0, 0 },
	{ "api_cid_in_use", t_api_cid_inuse, 0, 0 },
	{ "api_order_cid_last", t_api_alt_order, 0, 0 },
	{ "api_stop_start", t_api_stop_start, 0, 0 },
	{ "g2h_connect_stream", t_g2h_connect, SOCK_STREAM, 0 },
	{ "g2h_connect_seqpacket", t_g2h_connect, SOCK_SEQPACKET, 0 },
	{ "g2h_refused", t_g2h_refused, 0, 0 },
	{ "h2g_connect_stream", t_h2g_connect, SOCK_STREAM, 0 },
	{ "h2g_connect_seqpacket", t_h2g_connect, SOCK_SEQPACKET, 0 },
	{ "h2g_refused", t_h2g_refused, 0, 0 },
	{ "h2g_connect_timeout", t_h2g_timeout, 0, 0 },
	{ "seqpacket_not_negotiated", t_seqpacket_not_negotiated, 0, 0 },
	{ "data_g2h", t_data_g2h, 0, 100 },
	{ "data_h2g", t_data_h2g, 0, 100 },
	{ "rx_layouts", t_rx_layouts, 0, 60 },
	{ "credit_guest_slow_reader", t_credit_guest_slow, 0, 30 },
	{ "credit_host_slow_reader", t_credit_host_slow, 0, 40 },
	{ "credit_request", t_credit_request, 0, 0 },
	{ "credit_overrun_reset", t_credit_overrun, 0, 0 },
	{ "shutdown_guest_send", t_shutdown_guest_send, 0, 0 },
	{ "shutdown_guest_full", t_shutdown_guest_full, 0, 0 },
	{ "shutdown_host", t_shutdown_host, 0, 0 },
	{ "close_host", t_close_host, 0, 0 },
	{ "rst_guest", t_rst_guest, 0, 0 },
	{ "seqpacket_g2h_boundaries", t_seqpacket_g2h, 0, 0 },
	{ "seqpacket_h2g_boundaries", t_seqpacket_h2g, 0, 0 },
	{ "spoof_request", t_spoof_request, 0, 0 },
	{ "spoof_established", t_spoof_established, 0, 0 },
	{ "spoof_other_guest", t_spoof_other_guest, 0, 0 },
	{ "desc_layouts", t_desc_layouts, 0, 40 },
	{ "rw_zero_len", t_rw_zero_len, 0, 0 },
	{ "desc_malformed", t_desc_malformed, 0, 40 },
	{ "desc_invalid", t_desc_invalid, 0, 40 },
	{ "bad_op", t_bad_op, 0, 30 },
	{ "bad_type", t_bad_type, 0, 30 },
	{ "payload_on_control", t_payload_on_control, 0, 30 },
	{ "bad_request", t_bad_request, 0, 30 },
	{ "bounded_no_rx", t_bounded_no_rx, 0, 0 },
	{ "bounded_huge_credit", t_bounded_huge_credit, 0, 0 },
	{ "bounded_huge_credit_bigbuf", t_bounded_huge_credit, 64 * MiB, 0 },
	{ "bounded_replies", t_bounded_replies, 0, 60 },
	{ "close_fd_live", t_close_fd_live, 0, 30 },
	{ "close_fd_connecting", t_close_fd_connecting, 0, 30 },
	{ "linux_guest", t_linux_guest, 0, 90 },
	{ "fuzz", t_fuzz, 0, 240 },
};

int main(int argc, char **argv)
{
	if (env_check())
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	return kt_run(argc, argv, cases, ARRAY_SIZE(cases));
}
