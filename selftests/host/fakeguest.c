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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>

#include "../lib/ktap.h"
#include "fg.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB 1024u
#define MiB (1024u * 1024u)

/* --- per-case resources ---------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/* guest CID number k (0..3) of the running case */
static uint64_t ccid(int k)
{
	return env_u64("FG_CID_BASE", 3000) + 4u * (uint64_t)kt_cur_index +
	       (uint64_t)k;
}

/* host-side port k (0..31) and guest-side port k of the running case */
static uint32_t hport(int k)
{
	return (uint32_t)env_u64("FG_PORT_BASE", 20000) +
	       64u * (uint32_t)kt_cur_index + (uint32_t)k;
}

static uint32_t gport(int k)
{
	return hport(32 + k);
}

#define MAX_FG 4
static struct fg *fgs[MAX_FG];

static struct fg *gopen_opts(int k, struct fg_opts *o)
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

static struct fg *gopen(int k)
{
	return gopen_opts(k, NULL);
}

static void gclose(int k)
{
	fg_close(fgs[k]);
	fgs[k] = NULL;
}

static void fg_report(void)
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
static int finish(int rc)
{
	fg_report();
	for (int k = 0; k < MAX_FG; k++) {
		if (fgs[k] && fgs[k]->errors)
			rc = KT_FAIL;
		gclose(k);
	}
	return rc;
}

#define CHECK(cond, fmt, ...)							\
	do {									\
		if (!(cond)) {							\
			kt_diag("%s:%d: %s: " fmt, __FILE__, __LINE__, #cond,	\
				##__VA_ARGS__);					\
			fg_report();						\
			return KT_FAIL;						\
		}								\
	} while (0)

#define CHECK_FG(k)								\
	do {									\
		if (!fgs[k]) {							\
			kt_diag("%s:%d: cannot set up fake guest %d",		\
				__FILE__, __LINE__, k);				\
			return KT_FAIL;						\
		}								\
	} while (0)

/* --- host socket helpers that keep the fake guest running ------------------ */

static int h_bufsize(int fd, uint64_t sz)
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
static size_t h_read(struct fg *fg, int fd, void *buf, size_t n,
		     int timeout_ms, int *err)
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
static size_t h_drain(struct fg *fg, int fd, void *buf, size_t n,
		      int settle_ms, int *err)
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

static int h_accept(struct fg *fg, int lfd, int timeout_ms)
{
	long deadline = kt_now_ms() + timeout_ms;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			hs_nonblock(fd, false);
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
static bool h_no_accept(struct fg *fg, int lfd, int ms)
{
	int fd = h_accept(fg, lfd, ms);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return true;
}

static bool h_send_all(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

static void sockname(int fd, bool peer, uint32_t *cid, uint32_t *port)
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

enum job_kind {
	JOB_CONNECT,
	JOB_SEND_PATTERN,
	JOB_RECV_PATTERN,
	JOB_RECV_ONE,
	JOB_ACCEPT_CLOSE,
};

struct job {
	enum job_kind kind;
	struct hs_thread th;
	atomic_int done;
	atomic_int stop;
	/* parameters */
	int type;
	uint32_t cid, port;
	int timeout_ms;
	uint64_t bufsize;	/* JOB_CONNECT: SO_VM_SOCKETS_BUFFER_SIZE */
	int fd;
	uint64_t seed, pos, n;
	size_t chunk;
	/* results */
	int res_fd;
	int err;
	ssize_t ret;
	uint64_t bytes, bad;
	long t_end;
	int accepted;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	switch (j->kind) {
	case JOB_CONNECT: {
		struct sockaddr_vm a = {
			.svm_family = AF_VSOCK,
			.svm_cid = j->cid,
			.svm_port = j->port,
		};
		struct timeval tv = {
			.tv_sec = j->timeout_ms / 1000,
			.tv_usec = (j->timeout_ms % 1000) * 1000,
		};
		int fd = hs_socket(j->type);

		j->res_fd = -1;
		if (fd < 0) {
			j->err = errno;
			break;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			   sizeof(tv));
		if (j->bufsize && h_bufsize(fd, j->bufsize))
			j->err = errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			j->err = errno;
			close(fd);
		} else {
			j->res_fd = fd;
		}
		break;
	}
	case JOB_SEND_PATTERN:
		j->bytes = hs_send_pattern(j->fd, j->seed, j->pos, j->n,
					   j->chunk ? j->chunk : 64 * KiB,
					   &j->err);
		break;
	case JOB_RECV_PATTERN:
		j->bytes = hs_recv_pattern(j->fd, j->seed, j->pos, j->n,
					   &j->bad, j->timeout_ms, &j->err);
		break;
	case JOB_RECV_ONE: {
		char c;

		j->ret = recv(j->fd, &c, 1, 0);
		j->err = j->ret < 0 ? errno : 0;
		break;
	}
	case JOB_ACCEPT_CLOSE:
		while (!atomic_load(&j->stop)) {
			int fd = hs_accept(j->fd, 100);

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

static int job_start(struct job *j)
{
	atomic_store(&j->done, 0);
	atomic_store(&j->stop, 0);
	return hs_thread_start(&j->th, job_main, j);
}

/* run the fake guest (if any) until the job is done; false on timeout */
static bool job_wait(struct fg *fg, struct job *j, int timeout_ms)
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

static void job_connect(struct job *j, int type, uint32_t cid, uint32_t port,
			int timeout_ms)
{
	memset(j, 0, sizeof(*j));
	j->kind = JOB_CONNECT;
	j->type = type;
	j->cid = cid;
	j->port = port;
	j->timeout_ms = timeout_ms;
}

/* host connects to guest k's port; the fake guest accepts */
static int h2g_pair(struct fg *fg, int type, uint32_t port, uint64_t bufsize,
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
static int g2h_pair(struct fg *fg, int lfd, uint32_t port, int type,
		    uint32_t buf_alloc, struct fg_conn **cp)
{
	uint16_t vtype = type == SOCK_SEQPACKET ? FG_TYPE_SEQPACKET : FG_TYPE_STREAM;
	struct fg_conn *c = fg_connect(fg, 0, port, vtype, buf_alloc, 3000);

	*cp = c;
	if (!c || c->state != FGC_ESTABLISHED)
		return -ECONNREFUSED;
	return h_accept(fg, lfd, 2000);
}

/* ============================================================================
 * API cases
 * ==========================================================================*/

static int dev_open(void)
{
	return open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
}

static int t_api_features(const struct kt_case *tc)
{
	uint64_t f, bad = 0, good;
	int fd;

	(void)tc;
	fd = dev_open();
	CHECK(fd >= 0, "open /dev/vhost-vsock: %s", kt_errname(errno));
	KT_OK(ioctl(fd, VHOST_SET_OWNER));
	KT_OK(ioctl(fd, VHOST_GET_FEATURES, &f));
	kt_diag("host offers features 0x%llx", (unsigned long long)f);
	CHECK(f & FG_BIT(FG_F_VERSION_1), "VIRTIO_F_VERSION_1 not offered");
	CHECK(f & FG_BIT(FG_F_SEQPACKET), "VIRTIO_VSOCK_F_SEQPACKET not offered");
	for (int b = 63; b >= 2; b--) {
		if (!(f & FG_BIT(b))) {
			bad = FG_BIT(b);
			break;
		}
	}
	good = f & (FG_BIT(FG_F_VERSION_1) | FG_BIT(FG_F_SEQPACKET));
	if (bad) {
		uint64_t v = good | bad;

		KT_ERRNO(ioctl(fd, VHOST_SET_FEATURES, &v), EOPNOTSUPP);
	}
	KT_OK(ioctl(fd, VHOST_SET_FEATURES, &good));
	close(fd);
	return KT_PASS;
}

static int t_api_errors(const struct kt_case *tc)
{
	struct vhost_vring_state st = { .index = 0, .num = 256 };
	struct fg_opts o = { .cid = ccid(0) };
	struct fg *fg;
	uint64_t f = FG_BIT(FG_F_VERSION_1);
	int one = 1, zero = 0;
	pid_t pid;
	int status;

	(void)tc;
	fg = fg_alloc(&o);
	CHECK(fg, "fg_alloc");
	fgs[0] = fg;
	fg->fd = dev_open();
	CHECK(fg->fd >= 0, "open: %s", kt_errname(errno));

	/* everything but SET_OWNER needs an owner */
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EPERM);
	errno = 0;
	CHECK(fg_set_mem_table(fg) == -EPERM, "SET_MEM_TABLE before SET_OWNER: %s",
	      kt_errname(errno));
	KT_OK(ioctl(fg->fd, VHOST_SET_OWNER));
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_OWNER), EBUSY);

	/* only the rx and tx queues belong to the host */
	st.index = FG_VQ_EVENT;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), ENOBUFS);
	st.index = 3;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), ENOBUFS);
	st.index = 0;
	st.num = 3;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EINVAL);
	st.num = 0;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EINVAL);

	/* running without rings cannot work */
	errno = 0;
	CHECK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &one) < 0,
	      "SET_RUNNING 1 without rings succeeded");
	kt_diag("SET_RUNNING 1 without rings: %s", kt_errname(errno));

	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_GUEST_CID, &fg->cid));
	KT_OK(ioctl(fg->fd, VHOST_SET_FEATURES, &f));
	KT_OK(fg_set_mem_table(fg));
	KT_OK(fg_set_vring(fg, FG_VQ_RX));
	KT_OK(fg_set_vring(fg, FG_VQ_TX));
	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &one));

	/* the ring geometry is fixed while running */
	st.index = FG_VQ_TX;
	st.num = 128;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EBUSY);
	st.num = 0;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_BASE, &st), EBUSY);

	/* another process is not the owner */
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int rc = 0;

		if (ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &zero) == 0 ||
		    errno != EPERM)
			rc |= 1;
		if (fg_set_mem_table(fg) != -EPERM)
			rc |= 2;
		_exit(rc);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "non-owner ioctls did not fail with EPERM (mask %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &zero));
	return finish(KT_PASS);
}

static int t_api_cid_reserved(const struct kt_case *tc)
{
	static const uint64_t bad[] = {
		0, 1, 2, 0xffffffffULL, 1ULL << 32, (1ULL << 32) + 3,
		(1ULL << 32) + 0xffffffffULL, ~0ULL,
	};
	uint64_t good = ccid(0);
	int fd;

	(void)tc;
	fd = dev_open();
	CHECK(fd >= 0, "open: %s", kt_errname(errno));
	KT_OK(ioctl(fd, VHOST_SET_OWNER));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &bad[i]) != -1 ||
		    errno != EINVAL) {
			kt_diag("SET_GUEST_CID %#llx: expected EINVAL, got %s",
				(unsigned long long)bad[i], kt_errname(errno));
			return KT_FAIL;
		}
	}
	KT_OK(ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &good));
	close(fd);
	return KT_PASS;
}

static int t_api_cid_inuse(const struct kt_case *tc)
{
	uint64_t x = ccid(0), y = ccid(1);
	int b, c;

	(void)tc;
	gopen(0);
	CHECK_FG(0);
	b = dev_open();
	c = dev_open();
	CHECK(b >= 0 && c >= 0, "open: %s", kt_errname(errno));
	KT_OK(ioctl(b, VHOST_SET_OWNER));
	KT_OK(ioctl(c, VHOST_SET_OWNER));
	/* taken by a running instance */
	KT_ERRNO(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &x), EADDRINUSE);
	/* the owner may set its own CID again */
	KT_OK(ioctl(fgs[0]->fd, VHOST_VSOCK_SET_GUEST_CID, &x));
	/* taken by an instance that is not running */
	KT_OK(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &y));
	KT_ERRNO(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &y), EADDRINUSE);
	/* freed by close */
	gclose(0);
	KT_OK(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &x));
	/* freed by moving to another CID */
	KT_OK(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &(uint64_t){ ccid(2) }));
	KT_OK(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &y));
	close(b);
	close(c);
	return finish(KT_PASS);
}

/* a short g2h exchange proving an instance works */
static int ping(struct fg *fg, int lfd, uint32_t port)
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

static int t_api_alt_order(const struct kt_case *tc)
{
	struct fg_opts o = { .order = FG_ORDER_ALT };
	int lfd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen: %s", kt_errname(-lfd));
	hs_nonblock(lfd, true);
	gopen_opts(0, &o);
	CHECK_FG(0);
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

static int t_api_stop_start(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	unsigned int rxb, txb;
	uint16_t used_before;
	char buf[16];
	int fd, e;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 0);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "host->guest connection: %s", kt_errname(-fd));
	CHECK(fg_tx_drain(fg, 2000), "tx not drained");

	/* like QEMU stopping the VM: SET_RUNNING 0, GET_VRING_BASE */
	CHECK(fg_stop(fg, &rxb, &txb) == 0, "stop");
	fg_poll(fg, 0);		/* anything used before the stop */
	kt_diag("vring bases at stop: rx %u (posted %u), tx %u (posted %u)",
		rxb, fg->vq[FG_VQ_RX].avail_idx, txb, fg->vq[FG_VQ_TX].avail_idx);
	CHECK(txb == fg->vq[FG_VQ_TX].avail_idx,
	      "tx base %u != chains published %u (all were consumed)", txb,
	      fg->vq[FG_VQ_TX].avail_idx);
	CHECK(rxb == (uint16_t)(fg->vq[FG_VQ_RX].last_used + fg->vq[FG_VQ_RX].swallowed),
	      "rx base %u != rx buffers used %u", rxb, fg->vq[FG_VQ_RX].last_used);

	/* stopped: the host must not touch guest memory */
	used_before = fg->vq[FG_VQ_RX].last_used;
	CHECK(h_send_all(fd, "while-stopped", 13), "host send while stopped: %s",
	      kt_errname(errno));
	fg_conn_send(c, FG_OP_RW, 0, "x", 1, NULL);	/* tx kick while stopped */
	usleep(300000);
	CHECK(*(volatile uint16_t *)((uint8_t *)fg->vq[FG_VQ_RX].used + 2) ==
	      used_before, "host used rx buffers while stopped");
	CHECK(recv(fd, buf, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN,
	      "host received guest data while stopped");

	/* QEMU restart: features, mem table, rings again, running */
	fg->vq[FG_VQ_RX].base_on_start = rxb;
	fg->vq[FG_VQ_TX].base_on_start = txb;
	KT_OK(ioctl(fg->fd, VHOST_SET_FEATURES, &fg->features_acked));
	KT_OK(fg_set_mem_table(fg));
	KT_OK(fg_set_vring(fg, FG_VQ_RX));
	KT_OK(fg_set_vring(fg, FG_VQ_TX));
	CHECK(fg_start(fg) == 0, "restart");
	CHECK(fg_conn_wait_rx(c, 13, 3000), "data sent while stopped not delivered after restart");
	CHECK(fg_conn_read(c, buf, 13) == 13 && !memcmp(buf, "while-stopped", 13),
	      "data mismatch");
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 1 && buf[0] == 'x',
	      "guest data sent while stopped not delivered: %s", kt_errname(e));
	close(fd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Connections
 * ==========================================================================*/

static int t_g2h_connect(const struct kt_case *tc)
{
	int type = (int)tc->arg;
	uint16_t vtype = type == SOCK_STREAM ? FG_TYPE_STREAM : FG_TYPE_SEQPACKET;
	struct fg_conn *c;
	struct fg *fg;
	uint32_t cid, port;
	char buf[64];
	int lfd, fd, e;

	lfd = hs_listen(type, hport(0), 4);
	CHECK(lfd >= 0, "listen: %s", kt_errname(-lfd));
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;

	c = fg_connect(fg, gport(0), hport(0), vtype, 32 * KiB, 3000);
	CHECK(c && c->state == FGC_ESTABLISHED, "REQUEST not answered with RESPONSE (state %d)",
	      c ? (int)c->state : -1);
	{
		const struct fg_stray *r = fg_stray_find(fg, FG_OP_RESPONSE, 0, 0);

		CHECK(r, "no RESPONSE logged");
		CHECK(r->h.src_port == hport(0) && r->h.dst_port == gport(0),
		      "RESPONSE ports %u->%u", r->h.src_port, r->h.dst_port);
		CHECK(r->h.type == vtype, "RESPONSE type %u", r->h.type);
		CHECK(r->h.buf_alloc > 0, "RESPONSE advertises buf_alloc 0");
		CHECK(r->h.fwd_cnt == 0, "RESPONSE fwd_cnt %u", r->h.fwd_cnt);
		CHECK(r->h.flags == 0, "RESPONSE flags %#x", r->h.flags);
	}
	fd = h_accept(fg, lfd, 2000);
	CHECK(fd >= 0, "host accept: %s", kt_errname(-fd));
	sockname(fd, true, &cid, &port);
	CHECK(cid == fg->cid && port == gport(0), "host peer %u:%u, want %llu:%u",
	      cid, port, (unsigned long long)fg->cid, gport(0));
	sockname(fd, false, &cid, &port);
	CHECK(port == hport(0), "host local port %u", port);
	kt_diag("host accepted socket local address %u:%u", cid, port);

	CHECK(fg_conn_write(c, "hello host", 10, 0, 0, 0, 0, 2000) == 10, "write");
	CHECK(h_read(fg, fd, buf, 10, 3000, &e) == 10 && !memcmp(buf, "hello host", 10),
	      "host read: %s", kt_errname(e));
	CHECK(h_send_all(fd, "hello guest!", 12), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 12, 3000), "guest got %llu bytes",
	      (unsigned long long)c->rx_cnt);
	CHECK(fg_conn_read(c, buf, 12) == 12 && !memcmp(buf, "hello guest!", 12),
	      "guest data mismatch");
	if (type == SOCK_SEQPACKET)
		CHECK(c->nmarks == 1 && c->marks[0].end == 12,
		      "message boundary: %zu marks", c->nmarks);
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "host close sent shutdown flags %#x", c->peer_shutdown);
	close(lfd);
	return finish(KT_PASS);
}

static int t_g2h_refused(const struct kt_case *tc)
{
	const struct fg_stray *r;
	struct fg_conn *c;
	struct fg *fg;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	c = fg_connect(fg, gport(0), hport(0), FG_TYPE_STREAM, 0, 3000);
	CHECK(c && c->state == FGC_CLOSED && c->refused,
	      "REQUEST to a port nobody listens on: state %d", c ? (int)c->state : -1);
	r = fg_stray_find(fg, FG_OP_RST, 0, 0);
	CHECK(r && r->h.src_port == hport(0) && r->h.dst_port == gport(0),
	      "RST with wrong ports");
	/* nothing answers an RST */
	fg_strays_clear(fg);
	fg_conn_send(c, FG_OP_RST, 0, NULL, 0, NULL);
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host answered an RST with %s",
	      fg_op_name(fg->strays[0].h.op));
	return finish(KT_PASS);
}

static int t_h2g_connect(const struct kt_case *tc)
{
	int type = (int)tc->arg;
	uint16_t vtype = type == SOCK_STREAM ? FG_TYPE_STREAM : FG_TYPE_SEQPACKET;
	const struct fg_stray *rq;
	struct fg_conn *c;
	struct fg *fg;
	uint32_t cid, port;
	char buf[64];
	int fd, e;

	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg_listen(fg, gport(0), vtype, FGL_ACCEPT, 16 * KiB);
	fd = h2g_pair(fg, type, gport(0), 0, &c);
	CHECK(fd >= 0, "host connect to guest %llu: %s",
	      (unsigned long long)fg->cid, kt_errname(-fd));
	rq = fg_stray_find(fg, FG_OP_REQUEST, 0, gport(0));
	CHECK(rq, "REQUEST not logged");
	CHECK(rq->h.type == vtype && rq->h.len == 0 && rq->h.buf_alloc > 0,
	      "REQUEST type %u len %u buf_alloc %u", rq->h.type, rq->h.len,
	      rq->h.buf_alloc);
	sockname(fd, false, &cid, &port);
	CHECK(port == c->pport, "host local port %u, REQUEST came from %u", port,
	      c->pport);
	sockname(fd, true, &cid, &port);
	CHECK(cid == fg->cid && port == gport(0), "host peer %u:%u", cid, port);

	CHECK(h_send_all(fd, "from host", 9), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 9, 3000), "guest got %llu", (unsigned long long)c->rx_cnt);
	CHECK(fg_conn_read(c, buf, 9) == 9 && !memcmp(buf, "from host", 9), "mismatch");
	CHECK(fg_conn_write(c, "from guest", 10, 0, 0, 0, 0, 2000) == 10, "write");
	CHECK(h_read(fg, fd, buf, 10, 3000, &e) == 10 && !memcmp(buf, "from guest", 10),
	      "host read: %s", kt_errname(e));
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	return finish(KT_PASS);
}

static int t_h2g_refused(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	/* the guest answers RST (a listener refusing; a port nobody listens on) */
	fg_listen(fg, gport(0), 0, FGL_REFUSE, 0);
	for (int k = 0; k < 2; k++) {
		job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(k), 5000);
		CHECK(!job_start(&j), "thread");
		CHECK(job_wait(fg, &j, 8000), "connect hangs");
		CHECK(j.res_fd < 0, "connect to a refusing guest port succeeded");
		CHECK(j.err == ECONNRESET || j.err == ECONNREFUSED,
		      "connect failed with %s", kt_errname(j.err));
	}
	return finish(KT_PASS);
}

static int t_h2g_timeout(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), 0, FGL_IGNORE, 0);
	job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(0), 1000);
	t0 = kt_now_ms();
	CHECK(!job_start(&j), "thread");
	CHECK(job_wait(fg, &j, 6000), "connect with a 1 s timeout hangs");
	CHECK(j.res_fd < 0 && j.err == ETIMEDOUT, "connect: fd %d %s", j.res_fd,
	      kt_errname(j.err));
	kt_diag("connect failed after %ld ms", j.t_end - t0);
	CHECK(fg_stray_find(fg, FG_OP_REQUEST, 0, gport(0)), "REQUEST never arrived");
	return finish(KT_PASS);
}

static int t_seqpacket_not_negotiated(const struct kt_case *tc)
{
	struct fg_opts o = { .want_features = FG_BIT(FG_F_VERSION_1) };
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, slfd;

	(void)tc;
	slfd = hs_listen(SOCK_SEQPACKET, hport(0), 4);
	lfd = hs_listen(SOCK_STREAM, hport(1), 4);
	CHECK(slfd >= 0 && lfd >= 0, "listen");
	hs_nonblock(slfd, true);
	hs_nonblock(lfd, true);
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(!(fg->features_acked & FG_BIT(FG_F_SEQPACKET)), "acked SEQPACKET");
	fg->keep_all = true;
	fg_listen(fg, gport(0), 0, FGL_ACCEPT, 0);

	/* host SEQPACKET socket to this guest: refused, nothing sent */
	job_connect(&j, SOCK_SEQPACKET, (uint32_t)fg->cid, gport(0), 2000);
	CHECK(!job_start(&j), "thread");
	CHECK(job_wait(fg, &j, 6000), "connect hangs");
	CHECK(j.res_fd < 0, "SEQPACKET connect to a guest without the feature succeeded");
	kt_diag("host SEQPACKET connect: %s", kt_errname(j.err));
	CHECK(!fg_stray_find(fg, FG_OP_REQUEST, 0, 0),
	      "a SEQPACKET REQUEST reached the guest");

	/* guest SEQPACKET REQUEST: no connection */
	c = fg_connect(fg, 0, hport(0), FG_TYPE_SEQPACKET, 0, 2000);
	CHECK(c && c->state != FGC_ESTABLISHED,
	      "host accepted SEQPACKET from a guest without the feature");
	CHECK(h_no_accept(fg, slfd, 300), "host listener got a SEQPACKET connection");

	/* STREAM still fine */
	if (ping(fg, lfd, hport(1)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	close(slfd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Data integrity
 * ==========================================================================*/

static uint64_t data_bytes(void)
{
	return env_u64("FG_DATA_MB", 64) * MiB;
}

static int t_data_g2h(const struct kt_case *tc)
{
	/* packet sizes cycled through while streaming */
	static const uint32_t sizes[] = { 65536, 61, 4096, 65536, 1, 32768 + 5,
					  65536, 1500, 65536, 65535 };
	uint64_t n = data_bytes(), seed = 0x6732684 + kt_cur_index, done = 0;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, fd;
	long t0;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	CHECK(!h_bufsize(lfd, 2 * MiB), "buffer size: %s", kt_errname(errno));
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	kt_diag("host advertises buf_alloc %u", c->peer_buf_alloc);

	memset(&j, 0, sizeof(j));
	j.kind = JOB_RECV_PATTERN;
	j.fd = fd;
	j.seed = seed;
	j.n = n;
	j.timeout_ms = 100000;
	CHECK(!job_start(&j), "thread");
	t0 = kt_now_ms();
	for (unsigned int i = 0; done < n; i++) {
		uint32_t pkt = sizes[i % (ARRAY_SIZE(sizes))];
		/* small packets for a little while only */
		uint64_t piece = pkt < 4096 ? 16 * KiB : 4 * MiB;
		uint64_t w;

		if (piece > n - done)
			piece = n - done;
		w = fg_conn_write(c, NULL, piece, seed, done, 0, pkt, 60000);
		done += w;
		CHECK(w == piece, "guest write stalled at %llu of %llu bytes (credit %u, state %d)",
		      (unsigned long long)done, (unsigned long long)n,
		      fg_conn_credit(c), c->state);
	}
	CHECK(job_wait(fg, &j, 60000), "host reader hangs at %llu bytes",
	      (unsigned long long)j.bytes);
	CHECK(j.bytes == n && !j.bad && !j.err,
	      "host got %llu of %llu bytes, %llu bad chunks, %s",
	      (unsigned long long)j.bytes, (unsigned long long)n,
	      (unsigned long long)j.bad, kt_errname(j.err));
	kt_diag("%llu MiB guest->host in %ld ms, %llu packets, %llu credit updates",
		(unsigned long long)(n / MiB), kt_now_ms() - t0,
		(unsigned long long)fg->tx_pkts,
		(unsigned long long)c->credit_updates_rx);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

static int t_data_h2g(const struct kt_case *tc)
{
	uint64_t n = data_bytes(), seed = 0x1234 + kt_cur_index;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int fd;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 2 * MiB, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, seed);

	memset(&j, 0, sizeof(j));
	j.kind = JOB_SEND_PATTERN;
	j.fd = fd;
	j.seed = seed;
	j.n = n;
	j.chunk = 256 * KiB;
	t0 = kt_now_ms();
	CHECK(!job_start(&j), "thread");
	fg_conn_wait_rx(c, n, 90000);
	CHECK(job_wait(fg, &j, 10000), "host sender hangs at %llu bytes",
	      (unsigned long long)j.bytes);
	CHECK(j.bytes == n && !j.err, "host sent %llu bytes: %s",
	      (unsigned long long)j.bytes, kt_errname(j.err));
	CHECK(c->rx_cnt == n, "guest got %llu of %llu bytes",
	      (unsigned long long)c->rx_cnt, (unsigned long long)n);
	CHECK(!c->sink_bad, "%llu corrupt packets, first bad byte at %llu",
	      (unsigned long long)c->sink_bad,
	      (unsigned long long)c->sink_first_bad);
	kt_diag("%llu MiB host->guest in %ld ms, %llu packets, max unacked %llu",
		(unsigned long long)(n / MiB), kt_now_ms() - t0,
		(unsigned long long)c->rx_pkts,
		(unsigned long long)c->max_unacked);
	close(fd);
	return finish(KT_PASS);
}

/* host -> guest stream into rx buffers of unusual shapes */
static int t_rx_layouts(const struct kt_case *tc)
{
	static const struct {
		const char *name;
		int n;
		uint32_t lens[48];
		uint64_t bytes;
	} shapes[] = {
		{ "one 4 KiB descriptor", 1, { 4096 }, 512 * KiB },
		{ "header descriptor + 4 KiB (old Linux)", 2, { 44, 4096 }, 512 * KiB },
		{ "header split 20+24, payload 1000", 3, { 20, 24, 1000 }, 128 * KiB },
		{ "header split 43+1", 2, { 43, 1 + 300 }, 64 * KiB },
		{ "zero-length descriptors inside", 5, { 0, 30, 0, 14 + 512, 0 }, 64 * KiB },
		{ "one byte of payload per buffer", 1, { 45 }, 2 * KiB },
		{ "45 one-byte descriptors", 45, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1 * KiB },
		{ "64 KiB + header", 1, { 65536 + 44 }, 4 * MiB },
		{ "larger than any packet", 2, { 65536, 65536 }, 4 * MiB },
	};

	(void)tc;
	for (size_t s = 0; s < ARRAY_SIZE(shapes); s++) {
		uint64_t seed = 77 + s, n = shapes[s].bytes;
		struct fg_opts o = { 0 };
		struct fg_layout lay;
		struct fg_conn *c;
		struct fg *fg;
		struct job j;
		int fd;

		fg_layout_lens(&lay, shapes[s].n, shapes[s].lens);
		o.rx_layout = &lay;
		o.cid = ccid(0);
		fg = gopen_opts(0, &o);
		CHECK_FG(0);
		fg_listen(fg, gport((int)s), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
		fd = h2g_pair(fg, SOCK_STREAM, gport((int)s), 0, &c);
		CHECK(fd >= 0, "%s: connect: %s", shapes[s].name, kt_errname(-fd));
		fg_conn_sink(c, seed);
		memset(&j, 0, sizeof(j));
		j.kind = JOB_SEND_PATTERN;
		j.fd = fd;
		j.seed = seed;
		j.n = n;
		j.chunk = 100000;
		CHECK(!job_start(&j), "thread");
		fg_conn_wait_rx(c, n, 30000);
		CHECK(job_wait(fg, &j, 5000), "%s: host sender hangs", shapes[s].name);
		CHECK(c->rx_cnt == n && !c->sink_bad,
		      "%s: guest got %llu of %llu bytes, %llu corrupt",
		      shapes[s].name, (unsigned long long)c->rx_cnt,
		      (unsigned long long)n, (unsigned long long)c->sink_bad);
		CHECK(!fgs[0]->errors, "%s: %s", shapes[s].name, fgs[0]->first_error);
		kt_diag("%s: %llu bytes in %llu packets", shapes[s].name,
			(unsigned long long)n, (unsigned long long)c->rx_pkts);
		close(fd);
		gclose(0);
	}
	return finish(KT_PASS);
}

/* ============================================================================
 * Credit and flow control
 * ==========================================================================*/

/* the host never sends beyond the small buffer a slow guest advertises */
static int t_credit_guest_slow(const struct kt_case *tc)
{
	const uint32_t ba = 4096;
	const uint64_t n = 256 * KiB, seed = 99;
	uint8_t buf[1024];
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int fd;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, ba);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	c->auto_credit = false;

	memset(&j, 0, sizeof(j));
	j.kind = JOB_SEND_PATTERN;
	j.fd = fd;
	j.seed = seed;
	j.n = n;
	j.chunk = 64 * KiB;
	CHECK(!job_start(&j), "thread");
	/* not reading: exactly the advertised window may arrive */
	fg_conn_wait_rx(c, ba, 3000);
	fg_idle(fg, 300);
	CHECK(c->rx_cnt <= ba, "host sent %llu bytes into a %u byte window",
	      (unsigned long long)c->rx_cnt, ba);
	kt_diag("window %u, host sent %llu bytes while the guest did not read",
		ba, (unsigned long long)c->rx_cnt);
	CHECK(c->rx_cnt == ba, "host used only %llu bytes of a %u byte window",
	      (unsigned long long)c->rx_cnt, ba);
	/* read slowly, 1 KiB at a time, crediting each time */
	while (pos < n) {
		size_t k;

		if (!c->rxlen && !fg_conn_wait_rx(c, c->rx_cnt + 1, 3000))
			break;
		k = fg_conn_read(c, buf, sizeof(buf));
		CHECK(fg_pattern_check(buf, k, seed, pos) < 0, "corrupt data at %llu",
		      (unsigned long long)pos);
		pos += k;
		fg_conn_credit_update(c);
		fg_poll(fg, 1);
	}
	CHECK(pos == n, "guest read %llu of %llu bytes", (unsigned long long)pos,
	      (unsigned long long)n);
	CHECK(job_wait(fg, &j, 5000) && j.bytes == n, "host sender: %llu bytes %s",
	      (unsigned long long)j.bytes, kt_errname(j.err));
	CHECK(!c->credit_violations && c->max_unacked <= ba,
	      "%llu credit violations, max unacked %llu",
	      (unsigned long long)c->credit_violations,
	      (unsigned long long)c->max_unacked);
	close(fd);
	return finish(KT_PASS);
}

struct slow_reader {
	int fd;
	uint64_t n, seed, got, bad;
	int err;
};

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;
	uint8_t buf[4096];

	while (r->got < r->n) {
		ssize_t k = recv(r->fd, buf, sizeof(buf), 0);

		if (k <= 0) {
			r->err = k < 0 ? errno : EPIPE;
			break;
		}
		if (fg_pattern_check(buf, (uint64_t)k, r->seed, r->got) >= 0)
			r->bad++;
		r->got += (uint64_t)k;
		usleep(1000);
	}
	return NULL;
}

/* the guest keeps to the host's credit; like a Linux guest it never asks
 * for credit, so the host must announce what its slow reader consumed
 */
static int t_credit_host_slow(const struct kt_case *tc)
{
	const uint64_t hbuf = 64 * KiB, n = 1 * MiB, seed = 5;
	struct slow_reader r = { 0 };
	struct hs_thread th;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	CHECK(!h_bufsize(lfd, hbuf), "buffer size");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(c->peer_buf_alloc == hbuf, "host advertises buf_alloc %u, socket has %llu",
	      c->peer_buf_alloc, (unsigned long long)hbuf);
	r.fd = fd;
	r.n = n;
	r.seed = seed;
	CHECK(!hs_thread_start(&th, slow_reader_main, &r), "thread");
	CHECK(fg_conn_write(c, NULL, n, seed, 0, 0, 16 * KiB, 30000) == n,
	      "guest could not write %llu bytes (credit %u)", (unsigned long long)n,
	      fg_conn_credit(c));
	CHECK(!hs_thread_join(&th, 30000), "host reader hangs at %llu",
	      (unsigned long long)r.got);
	CHECK(r.got == n && !r.bad, "host read %llu bytes, %llu bad: %s",
	      (unsigned long long)r.got, (unsigned long long)r.bad,
	      kt_errname(r.err));
	CHECK(c->credit_updates_rx > 0, "host never sent CREDIT_UPDATE");
	fg_idle(fg, 200);
	kt_diag("%llu credit updates from the host, last fwd_cnt %u of %llu bytes read",
		(unsigned long long)c->credit_updates_rx, c->peer_fwd_cnt,
		(unsigned long long)n);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

static int t_credit_request(const struct kt_case *tc)
{
	uint8_t buf[1000];
	struct fg_conn *c;
	struct fg *fg;
	uint64_t before;
	int lfd, fd, e;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(fg_conn_write(c, NULL, 1000, 1, 0, 0, 0, 2000) == 1000, "write");
	CHECK(h_read(fg, fd, buf, 1000, 3000, &e) == 1000, "host read: %s",
	      kt_errname(e));
	before = c->credit_updates_rx;
	CHECK(!fg_conn_send(c, FG_OP_CREDIT_REQUEST, 0, NULL, 0, NULL), "send");
	for (long t = kt_now_ms(); c->credit_updates_rx == before &&
	     kt_now_ms() - t < 2000;)
		fg_poll(fg, 50);
	CHECK(c->credit_updates_rx > before, "no CREDIT_UPDATE answers CREDIT_REQUEST");
	CHECK(c->peer_fwd_cnt == 1000, "CREDIT_UPDATE fwd_cnt %u, host read 1000",
	      c->peer_fwd_cnt);
	CHECK(c->peer_buf_alloc > 0, "buf_alloc 0");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* data beyond the credit the host gave resets the connection */
static int t_credit_overrun(const struct kt_case *tc)
{
	const uint64_t hbuf = 64 * KiB;
	static uint8_t buf[256 * KiB];
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent = 0;
	size_t got;
	int lfd, fd, e;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	CHECK(!h_bufsize(lfd, hbuf), "buffer size");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(c->peer_buf_alloc == hbuf, "host buf_alloc %u", c->peer_buf_alloc);
	/* fill the window, then keep going regardless of credit */
	while (sent < 2 * hbuf && c->state == FGC_ESTABLISHED) {
		uint8_t pkt[4096];

		fg_pattern_fill(pkt, sizeof(pkt), 3, sent);
		CHECK(!fg_conn_send(c, FG_OP_RW, 0, pkt, sizeof(pkt), NULL), "send");
		sent += sizeof(pkt);
		fg_poll(fg, 0);
	}
	fg_conn_wait_state(c, FGC_CLOSED, 2000);
	CHECK(c->got_rst, "host did not reset a connection that overran its credit by %llu bytes",
	      (unsigned long long)(sent - hbuf));
	got = h_drain(fg, fd, buf, sizeof(buf), 300, &e);
	CHECK(got <= hbuf, "host queued %zu bytes for a %llu byte buffer", got,
	      (unsigned long long)hbuf);
	CHECK(fg_pattern_check(buf, got, 3, 0) < 0, "corrupt data");
	kt_diag("host delivered %zu bytes, then %s", got, kt_errname(e));
	CHECK(e == EPIPE || e == ECONNRESET || e == ENOBUFS,
	      "host socket not reset/EOF after the overrun: %s", kt_errname(e));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Shutdown and reset
 * ==========================================================================*/

static int g2h_setup(int *lfd, struct fg **fgp, struct fg_conn **c, int *fd)
{
	*lfd = hs_listen(SOCK_STREAM, hport(0), 8);
	if (*lfd < 0)
		return *lfd;
	hs_nonblock(*lfd, true);
	*fgp = gopen(0);
	if (!*fgp)
		return -ENODEV;
	*fd = g2h_pair(*fgp, *lfd, hport(0), SOCK_STREAM, 0, c);
	return *fd < 0 ? *fd : 0;
}

static int t_shutdown_guest_send(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[16];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	CHECK(fg_conn_write(c, "abc", 3, 0, 0, 0, 0, 2000) == 3, "write");
	CHECK(!fg_conn_send(c, FG_OP_SHUTDOWN, FG_SHUTDOWN_SEND, NULL, 0, NULL),
	      "send");
	CHECK(h_read(fg, fd, buf, 3, 3000, &e) == 3 && !memcmp(buf, "abc", 3),
	      "host read: %s", kt_errname(e));
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 0 && e == EPIPE,
	      "host recv after guest SHUTDOWN(SEND): expected EOF, got %s",
	      kt_errname(e));
	/* the other direction still works */
	CHECK(h_send_all(fd, "xyz", 3), "host send after guest SHUTDOWN(SEND): %s",
	      kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 3, 3000), "guest did not get data");
	CHECK(c->state == FGC_ESTABLISHED && !c->got_rst, "connection reset");
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after close");
	close(lfd);
	return finish(KT_PASS);
}

static int t_shutdown_guest_full(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[4];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	c->auto_rst_on_shutdown = false;
	CHECK(!fg_conn_send(c, FG_OP_SHUTDOWN, FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND,
			    NULL, 0, NULL), "send");
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 0 && (e == EPIPE || e == ECONNRESET),
	      "host recv: expected EOF, got %s", kt_errname(e));
	/* the guest said it receives nothing more: sending must fail */
	errno = 0;
	CHECK(send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
	      "host send to a peer that shut down receiving succeeded");
	kt_diag("host send after peer SHUTDOWN(RCV|SEND): %s", kt_errname(errno));
	/* the host finishes the close handshake with RST */
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000) && c->got_rst,
	      "no RST after the guest's full SHUTDOWN");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

static int t_shutdown_host(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[4];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	c->auto_rst_on_shutdown = false;
	KT_OK(shutdown(fd, SHUT_WR));
	for (long t = kt_now_ms(); !c->peer_shutdown && kt_now_ms() - t < 3000;)
		fg_poll(fg, 50);
	CHECK(c->peer_shutdown == FG_SHUTDOWN_SEND, "shutdown(SHUT_WR) sent flags %#x",
	      c->peer_shutdown);
	/* the host still receives */
	CHECK(fg_conn_write(c, "def", 3, 0, 0, 0, 0, 2000) == 3, "write");
	CHECK(h_read(fg, fd, buf, 3, 3000, &e) == 3 && !memcmp(buf, "def", 3),
	      "host read after its SHUT_WR: %s", kt_errname(e));
	KT_OK(shutdown(fd, SHUT_RD));
	for (long t = kt_now_ms(); c->peer_shutdown != 3 && kt_now_ms() - t < 3000;)
		fg_poll(fg, 50);
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "flags after SHUT_RD too: %#x", c->peer_shutdown);
	CHECK(c->state == FGC_ESTABLISHED && !c->got_rst, "reset too early");
	/* the guest completes the close; the host must not answer the RST */
	fg->keep_all = true;
	CHECK(!fg_conn_send(c, FG_OP_RST, 0, NULL, 0, NULL), "send");
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host answered the final RST with %s",
	      fg_op_name(fg->strays[0].h.op));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

static int t_close_host(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	CHECK(fg_conn_write(c, "unread", 6, 0, 0, 0, 0, 2000) == 6, "write");
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "flags %#x", c->peer_shutdown);
	/* our RST ends it: nothing more may come */
	fg->keep_all = true;
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host sent %s after the close handshake",
	      fg_op_name(fg->strays[0].h.op));
	/* the port pair can be used again at once */
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "reconnect: %s", kt_errname(-fd));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* guest RST: a host reader and a host writer blocked in the kernel wake up */
static int t_rst_guest(const struct kt_case *tc)
{
	struct fg_conn *c1, *c2;
	struct job rd, wr;
	struct fg *fg;
	char buf[4];
	int fd1, fd2;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4096);
	fd1 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c1);
	CHECK(fd1 >= 0, "connect: %s", kt_errname(-fd1));
	fd2 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c2);
	CHECK(fd2 >= 0, "connect: %s", kt_errname(-fd2));
	c2->auto_credit = false;

	memset(&rd, 0, sizeof(rd));
	rd.kind = JOB_RECV_ONE;
	rd.fd = fd1;
	CHECK(!job_start(&rd), "thread");
	memset(&wr, 0, sizeof(wr));
	wr.kind = JOB_SEND_PATTERN;
	wr.fd = fd2;
	wr.n = 1 * MiB;
	CHECK(!job_start(&wr), "thread");
	fg_idle(fg, 300);
	fg_conn_wait_rx(c2, 4096, 3000);
	fg_idle(fg, 100);
	CHECK(!atomic_load(&rd.done) && !atomic_load(&wr.done),
	      "host threads not blocked");
	CHECK(c2->rx_cnt == 4096, "writer sent %llu bytes into 4096",
	      (unsigned long long)c2->rx_cnt);

	CHECK(!fg_conn_send(c1, FG_OP_RST, 0, NULL, 0, NULL), "send");
	CHECK(!fg_conn_send(c2, FG_OP_RST, 0, NULL, 0, NULL), "send");
	CHECK(job_wait(fg, &rd, 3000), "host recv() still blocked after RST");
	CHECK(rd.ret == 0 || rd.err == ECONNRESET, "host recv after RST: %zd %s",
	      rd.ret, kt_errname(rd.err));
	CHECK(job_wait(fg, &wr, 3000), "host send() still blocked after RST");
	CHECK(wr.err, "host send completed after RST");
	kt_diag("after RST: recv %zd/%s, blocked send %s", rd.ret,
		kt_errname(rd.err), kt_errname(wr.err));
	errno = 0;
	CHECK(send(fd1, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
	      "host send after RST succeeded");
	CHECK(recv(fd1, buf, 1, MSG_DONTWAIT) <= 0, "data after RST");
	/* the host must not answer RSTs */
	fg->keep_all = true;
	fg_idle(fg, 200);
	CHECK(!fg_stray_find(fg, -1, 0, 0), "host sent %s after the RSTs",
	      fg_op_name(fg->strays[0].h.op));
	close(fd1);
	close(fd2);
	return finish(KT_PASS);
}

/* ============================================================================
 * SEQPACKET record boundaries
 * ==========================================================================*/

static int t_seqpacket_g2h(const struct kt_case *tc)
{
	static const struct {
		uint32_t len, max_pkt, eor;
	} msgs[] = {
		{ 10, 0, 0 },
		{ 10000, 1000, FG_SEQ_EOR },	/* ten packets */
		{ 1, 0, FG_SEQ_EOR },
		{ 70000, 0, 0 },		/* 64 KiB + rest */
		{ 3000, 7, 0 },			/* many tiny packets */
		{ 500, 0, FG_SEQ_EOR },		/* read into a short buffer */
		{ 64, 0, 0 },
	};
	static uint8_t buf[128 * KiB];
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd;

	(void)tc;
	lfd = hs_listen(SOCK_SEQPACKET, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_SEQPACKET, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		uint64_t w = fg_conn_write(c, NULL, msgs[i].len, 11, pos,
					   msgs[i].eor, msgs[i].max_pkt, 5000);

		CHECK(w == msgs[i].len, "message %zu: wrote %llu", i,
		      (unsigned long long)w);
		pos += msgs[i].len;
	}
	pos = 0;
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		size_t want = msgs[i].len == 500 ? 100 : sizeof(buf);
		struct iovec iov = { buf, want };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r = -1;

		for (long t = kt_now_ms(); kt_now_ms() - t < 3000;) {
			r = recvmsg(fd, &mh, MSG_DONTWAIT);
			if (r >= 0 || errno != EAGAIN)
				break;
			fg_poll(fg, 5);
		}
		if (msgs[i].len == 500) {
			CHECK(r == 100 && (mh.msg_flags & MSG_TRUNC),
			      "message %zu into 100 bytes: %zd flags %#x", i, r,
			      mh.msg_flags);
		} else {
			CHECK(r == msgs[i].len, "message %zu: got %zd bytes, sent %u",
			      i, r, msgs[i].len);
		}
		CHECK(fg_pattern_check(buf, (uint64_t)r, 11, pos) < 0,
		      "message %zu corrupt", i);
		CHECK(!!(mh.msg_flags & MSG_EOR) == !!msgs[i].eor,
		      "message %zu: MSG_EOR %s, sent %s", i,
		      mh.msg_flags & MSG_EOR ? "set" : "clear",
		      msgs[i].eor ? "with EOR" : "without");
		pos += msgs[i].len;
	}
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

static int t_seqpacket_h2g(const struct kt_case *tc)
{
	static const struct {
		uint32_t len;
		bool eor;
	} msgs[] = {
		{ 1, false }, { 999, true }, { 1000, false }, { 1001, true },
		{ 5000, false }, { 65536, true }, { 65537, false },
		{ 100000, true }, { 3, false },
	};
	static uint8_t buf[100000];
	struct fg_opts o = { .rx_buf = 44 + 1000 };	/* host must split */
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	int fd;

	(void)tc;
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_SEQPACKET, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_SEQPACKET, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, 21);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		ssize_t r;

		fg_pattern_fill(buf, msgs[i].len, 21, pos);
		r = send(fd, buf, msgs[i].len, MSG_NOSIGNAL | (msgs[i].eor ? MSG_EOR : 0));
		CHECK(r == msgs[i].len, "host send %u: %zd %s", msgs[i].len, r,
		      kt_errname(errno));
		pos += msgs[i].len;
		CHECK(fg_conn_wait_rx(c, pos, 5000), "guest got %llu of %llu",
		      (unsigned long long)c->rx_cnt, (unsigned long long)pos);
	}
	CHECK(!c->sink_bad, "corrupt data");
	CHECK(c->nmarks == ARRAY_SIZE(msgs),
	      "%zu EOM marks for %zu messages", c->nmarks,
	      ARRAY_SIZE(msgs));
	pos = 0;
	for (size_t i = 0; i < c->nmarks; i++) {
		pos += msgs[i].len;
		CHECK(c->marks[i].end == pos, "message %zu ends at %llu, EOM at %llu",
		      i, (unsigned long long)pos,
		      (unsigned long long)c->marks[i].end);
		CHECK(!!(c->marks[i].flags & FG_SEQ_EOR) == msgs[i].eor,
		      "message %zu: EOR %s", i,
		      c->marks[i].flags & FG_SEQ_EOR ? "set" : "missing");
	}
	kt_diag("%zu messages in %llu packets", c->nmarks,
		(unsigned long long)c->rx_pkts);
	close(fd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Addresses: spoofed packets are dropped
 * ==========================================================================*/

static int send_req(struct fg *fg, uint64_t src, uint64_t dst, uint32_t sport,
		    uint32_t dport, uint16_t type)
{
	struct fg_hdr h;

	fg_hdr_init(fg, &h, FG_OP_REQUEST, type, sport, dport);
	h.src_cid = src;
	h.dst_cid = dst;
	h.buf_alloc = 65536;
	return fg_send(fg, &h, NULL, 0, NULL);
}

static int t_spoof_request(const struct kt_case *tc)
{
	struct fg *fg;
	uint64_t cid, bad_src[8], bad_dst[8];
	uint32_t sport = gport(0);
	int lfd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg->auto_rst = false;
	cid = fg->cid;
	bad_src[0] = cid + 1;
	bad_src[1] = FG_HOST_CID;
	bad_src[2] = 1;
	bad_src[3] = 0;
	bad_src[4] = cid | (1ULL << 32);
	bad_src[5] = 0xffffffffULL;
	bad_src[6] = ~0ULL;
	bad_src[7] = cid - 1;
	bad_dst[0] = 1;
	bad_dst[1] = 3;
	bad_dst[2] = cid;
	bad_dst[3] = 0;
	bad_dst[4] = FG_HOST_CID | (1ULL << 32);
	bad_dst[5] = 0xffffffffULL;	/* VMADDR_CID_ANY */
	bad_dst[6] = ~0ULL;
	bad_dst[7] = cid + 1;
	for (int i = 0; i < 8; i++) {
		CHECK(!send_req(fg, bad_src[i], FG_HOST_CID, sport++, hport(0),
				FG_TYPE_STREAM), "send");
		CHECK(!send_req(fg, cid, bad_dst[i], sport++, hport(0),
				FG_TYPE_STREAM), "send");
	}
	CHECK(fg_tx_drain(fg, 3000), "host did not consume the spoofed packets");
	fg_idle(fg, 300);
	CHECK(h_no_accept(fg, lfd, 200), "a spoofed REQUEST reached the host listener");
	CHECK(!fg_stray_find(fg, -1, 0, 0), "host answered a spoofed packet with %s",
	      fg_op_name(fg->strays[0].h.op));
	kt_diag("chains consumed without being returned: %llu, error notifications: %llu",
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	/* the listener works */
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* spoofed packets on an established connection change nothing */
static int t_spoof_established(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	struct fg_hdr h;
	char buf[16];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	fg->keep_all = true;
	for (int i = 0; i < 6; i++) {
		static const uint16_t ops[] = { FG_OP_RW, FG_OP_RW, FG_OP_RST,
						FG_OP_SHUTDOWN, FG_OP_RW,
						FG_OP_CREDIT_UPDATE };

		fg_hdr_init(fg, &h, ops[i], FG_TYPE_STREAM, c->lport, c->pport);
		h.src_cid = i == 1 ? fg->cid | (1ULL << 32) : fg->cid + 1;
		if (i == 4) {
			h.src_cid = fg->cid;
			h.dst_cid = 1;
		}
		h.buf_alloc = 1;	/* a spoofed credit would stall the host */
		h.flags = ops[i] == FG_OP_SHUTDOWN ? 3 : 0;
		h.len = ops[i] == FG_OP_RW ? 4 : 0;
		CHECK(!fg_send(fg, &h, "EVIL", h.len, NULL), "send");
	}
	CHECK(fg_conn_write(c, "good", 4, 0, 0, 0, 0, 2000) == 4, "write");
	CHECK(h_read(fg, fd, buf, 4, 3000, &e) == 4 && !memcmp(buf, "good", 4),
	      "host stream: got '%.4s' (%s)", buf, kt_errname(e));
	CHECK(recv(fd, buf, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
	      "more data or EOF after the genuine bytes");
	CHECK(c->state == FGC_ESTABLISHED, "connection reset by spoofed packets");
	/* credit still right: the host can send a lot to us */
	CHECK(h_send_all(fd, "still-alive", 11), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 11, 3000), "guest got nothing");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* one guest cannot speak for another */
static int t_spoof_other_guest(const struct kt_case *tc)
{
	struct fg *a, *b;
	struct fg_conn *c;
	int lfd, fd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 8);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	a = gopen(0);
	CHECK_FG(0);
	b = gopen(1);
	CHECK_FG(1);
	a->keep_all = b->keep_all = true;
	b->auto_rst = false;
	CHECK(!send_req(a, b->cid, FG_HOST_CID, gport(0), hport(0), FG_TYPE_STREAM),
	      "send");
	CHECK(fg_tx_drain(a, 3000), "not consumed");
	fg_idle(a, 200);
	fg_idle(b, 200);
	CHECK(h_no_accept(NULL, lfd, 100), "guest A connected as guest B");
	CHECK(!fg_stray_find(b, -1, 0, 0), "guest B got %s for a packet guest A sent",
	      fg_op_name(b->strays[0].h.op));
	CHECK(!fg_stray_find(a, -1, 0, 0), "guest A got %s", fg_op_name(a->strays[0].h.op));
	/* host -> B reaches B only */
	fg_listen(b, gport(1), FG_TYPE_STREAM, FGL_ACCEPT, 0);
	fd = h2g_pair(b, SOCK_STREAM, gport(1), 0, &c);
	CHECK(fd >= 0, "connect to B: %s", kt_errname(-fd));
	fg_idle(a, 100);
	CHECK(!fg_stray_find(a, -1, 0, 0), "guest A saw B's traffic");
	close(fd);
	if (ping(a, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Malformed packets and descriptor chains
 * ==========================================================================*/

/* every way to split a small packet over 1..52 descriptors */
static int t_desc_layouts(const struct kt_case *tc)
{
	const uint32_t plen = 8, tot = FG_HDR_LEN + plen;
	static uint8_t got[64 * KiB];
	uint64_t seed = 31, pos = 0, rng = 7;
	struct fg_layout lay;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd, r, e, npk = 0;
	size_t n;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));

#define SEND_LAYOUT()								\
	do {									\
		uint8_t p[8];							\
										\
		fg_pattern_fill(p, plen, seed, pos);				\
		CHECK(!fg_conn_send(c, FG_OP_RW, 0, p, plen, &lay),		\
		      "send with %d segments", lay.n);				\
		pos += plen;							\
		npk++;								\
	} while (0)

	/* two descriptors, every split point, also at odd addresses */
	for (uint32_t k = 1; k < tot; k++) {
		uint32_t l[2] = { k, tot - k };

		fg_layout_lens(&lay, 2, l);
		SEND_LAYOUT();
		lay.seg[0].off = 1 + fg_rand_below(&rng, 4000);
		lay.seg[1].off = 4095 - fg_rand_below(&rng, 30);
		SEND_LAYOUT();
	}
	/* three descriptors, every pair of split points */
	for (uint32_t i = 1; i < tot - 1; i++) {
		for (uint32_t j = i + 1; j < tot; j++) {
			uint32_t l[3] = { i, j - i, tot - j };

			fg_layout_lens(&lay, 3, l);
			SEND_LAYOUT();
		}
	}
	/* one byte per descriptor */
	{
		uint32_t l[FG_MAX_SEGS];

		for (uint32_t i = 0; i < tot; i++)
			l[i] = 1;
		fg_layout_lens(&lay, (int)tot, l);
		SEND_LAYOUT();
	}
	/* zero-length descriptors anywhere */
	{
		uint32_t l[9] = { 0, 20, 0, 24, 0, 0, 8, 0, 0 };

		fg_layout_lens(&lay, 9, l);
		SEND_LAYOUT();
	}
	/* random splits with random zero-length descriptors */
	for (int t = 0; t < 300; t++) {
		uint32_t l[16], left = tot;
		int ns = 0;

		while (left && ns < 15) {
			uint32_t k = fg_rand_below(&rng, 4) ? 1 + fg_rand_below(&rng, left) : 0;

			l[ns++] = k;
			left -= k;
		}
		l[ns++] = left;
		fg_layout_lens(&lay, ns, l);
		SEND_LAYOUT();
	}
#undef SEND_LAYOUT
	CHECK(fg_tx_drain(fg, 5000), "host did not consume all %d packets", npk);
	n = h_read(fg, fd, got, (size_t)pos, 10000, &e);
	CHECK(n == pos, "host got %zu of %llu bytes: %s", n, (unsigned long long)pos,
	      kt_errname(e));
	CHECK(fg_pattern_check(got, n, seed, 0) < 0, "byte %lld wrong",
	      (long long)fg_pattern_check(got, n, seed, 0));
	CHECK(!fg->vq[FG_VQ_TX].swallowed, "host did not return %llu valid chains",
	      (unsigned long long)fg->vq[FG_VQ_TX].swallowed);
	CHECK(c->state == FGC_ESTABLISHED, "connection reset");
	kt_diag("%d packets in every layout delivered", npk);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* --- probes: a fresh connection, genuine bytes, the bad packet, genuine
 * bytes.  The host must drop the bad packet (stream = both genuine parts,
 * or with `alt` in between when that is allowed) or answer RST.
 */
typedef void (*bad_fn)(struct fg *fg, struct fg_conn *c, long arg);

enum { PR_DROPPED, PR_DELIVERED_LEN, PR_RESET, PR_RESET_HALF, PR_WRONG };

static int probe(struct fg *fg, int lfd, const char *what, bad_fn bad, long arg,
		 const uint8_t *alt, size_t altlen)
{
	static uint8_t want_a[64], want_b[128], got[256 * KiB];
	struct fg_conn *c;
	size_t n;
	int fd, e;

	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	if (fd < 0) {
		kt_diag("%s: cannot connect: %s", what, kt_errname(-fd));
		return PR_WRONG;
	}
	fg_pattern_fill(want_a, 16, 41, 0);
	memcpy(want_b, want_a, 8);
	if (alt)
		memcpy(want_b + 8, alt, altlen);
	memcpy(want_b + 8 + altlen, want_a + 8, 8);

	fg_conn_write(c, want_a, 8, 0, 0, 0, 0, 2000);
	bad(fg, c, arg);
	fg_poll(fg, 20);
	fg_conn_write(c, want_a + 8, 8, 0, 0, 0, 0, 2000);
	fg_tx_drain(fg, 3000);
	fg_idle(fg, 50);
	n = h_drain(fg, fd, got, sizeof(got), 100, &e);
	close(fd);

	if (c->got_rst) {
		bool prefix = (n <= 16 && !memcmp(got, want_a, n)) ||
			      (alt && n <= 16 + altlen && !memcmp(got, want_b, n));

		if (!prefix) {
			kt_diag("%s: connection reset, but the host got %zu wrong bytes",
				what, n);
			return PR_WRONG;
		}
		if (e != EPIPE && e != ECONNRESET)
			return PR_RESET_HALF;
		return PR_RESET;
	}
	if (n == 16 && !memcmp(got, want_a, 16))
		return PR_DROPPED;
	if (alt && n == 16 + altlen && !memcmp(got, want_b, n))
		return PR_DELIVERED_LEN;
	kt_diag("%s: host stream has %zu bytes (expected 16%s), connection %s",
		what, n, alt ? " or with the allowed part" : "",
		c->state == FGC_ESTABLISHED ? "alive" : "closed");
	return PR_WRONG;
}

static const char *const probe_names[] = {
	"dropped", "hdr.len bytes delivered, rest ignored", "reset",
	"RST to the guest, host socket still open", "WRONG",
};

/* send raw bytes: a header (from c, op RW unless changed) with hdr.len,
 * `have` payload bytes, spread over the layout given in lens
 */
struct rawpkt {
	const char *name;
	uint16_t op, type;
	uint32_t hlen;		/* header len field */
	uint32_t have;		/* payload bytes actually in the chain */
	uint32_t trunc;		/* if set: chain total (cuts the packet) */
	int nseg;
	uint32_t lens[8];	/* 0 entries: one segment */
	uint32_t wflags;	/* bitmask of writable segments */
	uint32_t flags;		/* header flags */
	const char *alt;	/* allowed delivered bytes */
};

static void send_rawpkt(struct fg *fg, struct fg_conn *c, long arg)
{
	const struct rawpkt *p = (const struct rawpkt *)arg;
	static uint8_t bytes[FG_HDR_LEN + 70000];
	struct fg_layout lay;
	struct fg_hdr h;
	uint64_t total;

	/* the host may count what it delivers of this in fwd_cnt */
	c->no_fwd_check = true;
	fg_hdr_init(fg, &h, p->op, p->type, c->lport, c->pport);
	h.len = p->hlen;
	h.flags = p->flags;
	h.buf_alloc = c->buf_alloc;
	h.fwd_cnt = (uint32_t)c->fwd_total;
	fg_hdr_encode(&h, bytes);
	if (p->alt) {
		memset(bytes + FG_HDR_LEN, 0xa5, p->have);
		memcpy(bytes + FG_HDR_LEN, p->alt, strlen(p->alt));
	} else {
		fg_pattern_fill(bytes + FG_HDR_LEN, p->have, 555, 0);
	}
	total = p->trunc ? p->trunc : FG_HDR_LEN + (uint64_t)p->have;
	if (p->nseg) {
		fg_layout_lens(&lay, p->nseg, p->lens);
		for (int i = 0; i < p->nseg; i++)
			if (p->wflags & (1u << i))
				lay.seg[i].flags |= FG_SEG_WRITE;
	} else if (total > 65536) {
		uint32_t l[2] = { 65536, (uint32_t)(total - 65536) };

		fg_layout_lens(&lay, 2, l);
	} else {
		fg_layout_one(&lay, (uint32_t)total);
	}
	fg_send_raw(fg, bytes, total, &lay);
}

static int run_rawpkts(const struct rawpkt *pk, size_t n, bool reset_ok)
{
	struct fg *fg;
	int lfd, res[5] = { 0 };
	bool bad = false;

	lfd = hs_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	for (size_t i = 0; i < n; i++) {
		int r = probe(fg, lfd, pk[i].name, send_rawpkt, (long)&pk[i],
			      (const uint8_t *)pk[i].alt,
			      pk[i].alt ? strlen(pk[i].alt) : 0);

		res[r]++;
		kt_diag("%-44s %s", pk[i].name, probe_names[r]);
		if (r == PR_WRONG || (!reset_ok && r >= PR_RESET))
			bad = true;
	}
	kt_diag("host: %llu tx chains consumed but never returned, %llu error notifications",
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	CHECK(!bad, "malformed packets not handled (dropped %d, reset %d, half %d, wrong %d)",
	      res[PR_DROPPED] + res[PR_DELIVERED_LEN], res[PR_RESET],
	      res[PR_RESET_HALF], res[PR_WRONG]);
	/* the instance still works */
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

static int t_desc_malformed(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "empty chain (one 0-byte descriptor)", .op = FG_OP_RW, .type = 1,
		  .hlen = 4, .have = 4, .nseg = 1, .lens = { 0 } },
		{ .name = "1-byte chain", .op = FG_OP_RW, .type = 1, .hlen = 4, .have = 4,
		  .trunc = 1 },
		{ .name = "43-byte chain (header cut)", .op = FG_OP_RW, .type = 1, .hlen = 4,
		  .have = 4, .trunc = 43 },
		{ .name = "43 bytes in 3 descriptors", .op = FG_OP_RW, .type = 1, .trunc = 43,
		  .nseg = 3, .lens = { 20, 20, 3 } },
		{ .name = "len 100, 50 payload bytes", .op = FG_OP_RW, .type = 1, .hlen = 100,
		  .have = 50 },
		{ .name = "len 100, 50 bytes in 4 descriptors", .op = FG_OP_RW, .type = 1,
		  .hlen = 100, .have = 50, .nseg = 4, .lens = { 30, 14, 25, 25 } },
		{ .name = "len 65537 with all bytes (over 64 KiB)", .op = FG_OP_RW, .type = 1,
		  .hlen = 65537, .have = 65537 },
		{ .name = "len 0xffffffff, no payload", .op = FG_OP_RW, .type = 1,
		  .hlen = 0xffffffffu },
		{ .name = "len 0x80000000, 100 bytes", .op = FG_OP_RW, .type = 1,
		  .hlen = 0x80000000u, .have = 100 },
		{ .name = "device-writable descriptor in a tx chain", .op = FG_OP_RW,
		  .type = 1, .hlen = 8, .have = 8, .nseg = 2, .lens = { 44, 8 },
		  .wflags = 2 },
		{ .name = "all descriptors device-writable", .op = FG_OP_RW, .type = 1,
		  .hlen = 8, .have = 8, .nseg = 2, .lens = { 44, 8 }, .wflags = 3 },
		{ .name = "len 10, 30 payload bytes", .op = FG_OP_RW, .type = 1, .hlen = 10,
		  .have = 30, .alt = "0123456789" },
		{ .name = "len 0, 100 junk bytes", .op = FG_OP_RW, .type = 1, .have = 100 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

/* a zero-length RW: a no-op (or a reset), never data or EOF */
static int t_rw_zero_len(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "RW len 0, 44-byte chain", .op = FG_OP_RW, .type = 1 },
		{ .name = "RW len 0, header in 20+24", .op = FG_OP_RW, .type = 1,
		  .nseg = 2, .lens = { 20, 24 } },
		{ .name = "RW len 0, 44 + 0-byte descriptor", .op = FG_OP_RW, .type = 1,
		  .nseg = 2, .lens = { 44, 0 } },
		{ .name = "RW len 0 with EOM on a STREAM connection", .op = FG_OP_RW,
		  .type = 1, .flags = FG_SEQ_EOM },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

static int t_bad_op(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "op 0 (INVALID)", .op = 0, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "op 8", .op = 8, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "op 100 with payload", .op = 100, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "op 0xffff", .op = 0xffff, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "REQUEST on an established connection",
		  .op = FG_OP_REQUEST, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "RESPONSE on an established connection",
		  .op = FG_OP_RESPONSE, .type = 1, .hlen = 0, .have = 0 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

static int t_bad_type(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "RW type 0", .op = FG_OP_RW, .type = 0, .hlen = 4, .have = 4 },
		{ .name = "RW type 3", .op = FG_OP_RW, .type = 3, .hlen = 4, .have = 4 },
		{ .name = "RW type 0xffff", .op = FG_OP_RW, .type = 0xffff, .hlen = 4, .have = 4 },
		{ .name = "RW type SEQPACKET on a STREAM connection",
		  .op = FG_OP_RW, .type = 2, .hlen = 4, .have = 4 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

static int t_payload_on_control(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "CREDIT_UPDATE with 4 payload bytes",
		  .op = FG_OP_CREDIT_UPDATE, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "CREDIT_REQUEST with 4 payload bytes",
		  .op = FG_OP_CREDIT_REQUEST, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "SHUTDOWN (no flags) with 4 payload bytes",
		  .op = FG_OP_SHUTDOWN, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "RESPONSE with 4 payload bytes",
		  .op = FG_OP_RESPONSE, .type = 1, .hlen = 4, .have = 4 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

/* packets to a listening port that must not make a connection */
static int t_bad_request(const struct kt_case *tc)
{
	static const struct {
		const char *name;
		uint16_t op, type;
		uint32_t len;
	} pk[] = {
		{ "REQUEST type 0", FG_OP_REQUEST, 0, 0 },
		{ "REQUEST type 3", FG_OP_REQUEST, 3, 0 },
		{ "REQUEST type 0xffff", FG_OP_REQUEST, 0xffff, 0 },
		{ "REQUEST SEQPACKET to a STREAM listener", FG_OP_REQUEST, 2, 0 },
		{ "REQUEST with 10 payload bytes", FG_OP_REQUEST, 1, 10 },
		{ "RW to a listener", FG_OP_RW, 1, 4 },
		{ "RESPONSE to a listener", FG_OP_RESPONSE, 1, 0 },
		{ "CREDIT_UPDATE to a listener", FG_OP_CREDIT_UPDATE, 1, 0 },
		{ "SHUTDOWN to a listener", FG_OP_SHUTDOWN, 1, 0 },
		{ "op 9 to a listener", 9, 1, 0 },
	};
	struct fg *fg;
	int lfd;
	bool bad = false;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg->auto_rst = false;
	for (size_t i = 0; i < ARRAY_SIZE(pk); i++) {
		uint32_t sport = gport(1 + (int)i);
		const struct fg_stray *s;
		struct fg_hdr h;
		const char *verdict;
		bool conn;

		fg_strays_clear(fg);
		fg_hdr_init(fg, &h, pk[i].op, pk[i].type, sport, hport(0));
		h.len = pk[i].len;
		h.buf_alloc = 65536;
		CHECK(!fg_send(fg, &h, "0123456789", pk[i].len, NULL), "send");
		fg_tx_drain(fg, 2000);
		fg_idle(fg, 100);
		conn = !h_no_accept(fg, lfd, 100);
		s = fg_stray_find(fg, -1, 0, sport);
		if (conn) {
			verdict = "CONNECTION MADE";
			bad = true;
		} else if (!s) {
			verdict = "dropped";
		} else if (s->h.op == FG_OP_RST) {
			verdict = "RST";
		} else {
			verdict = "WRONG ANSWER";
			bad = true;
		}
		kt_diag("%-40s %s", pk[i].name,
			s && s->h.op != FG_OP_RST && !conn ? fg_op_name(s->h.op) : verdict);
		if (s && s->h.op != FG_OP_RST) {
			/* undo whatever the host made of it */
			struct fg_hdr r;

			fg_hdr_init(fg, &r, FG_OP_RST, pk[i].type, sport, hport(0));
			fg_send(fg, &r, NULL, 0, NULL);
		}
	}
	CHECK(!bad, "the host accepted or answered malformed packets");
	fg->keep_all = false;
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* chains that break the ring rules: the host may give up on the queue but
 * must not crash or warn; a fresh instance then works
 */
static int t_desc_invalid(const struct kt_case *tc)
{
	static const char *const names[] = {
		"descriptor outside the memory table",
		"descriptor crossing the end of the memory table",
		"device-writable descriptor before a readable one",
		"chain longer than the ring (loop)",
		"next index out of range",
		"head index out of range",
		"avail index jumps past the ring size",
	};
	int lfd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 16);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	for (size_t v = 0; v < ARRAY_SIZE(names); v++) {
		struct fg_layout lay;
		struct fg_txb b;
		struct fg_hdr h;
		uint8_t w[FG_HDR_LEN];
		struct fg *fg;
		struct fg_vq *vq;
		uint16_t *ring;
		uint8_t *desc;

		fg = gopen(0);
		CHECK_FG(0);
		vq = &fg->vq[FG_VQ_TX];
		fg->tx_batch = 1;	/* no kick before the damage is done */
		fg_hdr_init(fg, &h, FG_OP_REQUEST, FG_TYPE_STREAM, gport(0), hport(0));
		fg_hdr_encode(&h, w);
		switch (v) {
		case 0:
		case 1: {
			fg_layout_one(&lay, FG_HDR_LEN);
			lay.seg[0].flags = FG_SEG_GPA;
			lay.seg[0].gpa = v == 0 ? FG_GPA_BASE - 4096 :
				FG_GPA_BASE + fg->arena_size - 20;
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_tx_commit(&b);
			break;
		}
		case 2: {
			uint32_t l[2] = { 20, 24 };

			fg_layout_lens(&lay, 2, l);
			lay.seg[0].flags = FG_SEG_WRITE;
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_txb_write(&b, w, FG_HDR_LEN);
			fg_tx_commit(&b);
			break;
		}
		case 3:
		case 4: {
			uint32_t l[2] = { 20, 24 };

			fg_layout_lens(&lay, 2, l);
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_txb_write(&b, w, FG_HDR_LEN);
			/* patch the second descriptor's next */
			desc = (uint8_t *)vq->desc + 16 * b.desc[1];
			desc[12] |= 1;	/* VRING_DESC_F_NEXT */
			if (v == 3) {
				memcpy(desc + 14, &b.desc[0], 2);
			} else {
				uint16_t x = (uint16_t)vq->num + 5;

				memcpy(desc + 14, &x, 2);
			}
			fg_tx_commit(&b);
			break;
		}
		case 5:
		case 6:
			CHECK(!fg_send(fg, &h, NULL, 0, NULL), "send");
			ring = (uint16_t *)((uint8_t *)vq->avail + 4);
			if (v == 5) {
				ring[(vq->avail_idx - 1) % vq->num] = (uint16_t)(vq->num + 1);
			} else {
				uint16_t idx = (uint16_t)(vq->avail_idx + vq->num + 10);

				__atomic_store_n((uint16_t *)vq->avail + 1, idx,
						 __ATOMIC_RELEASE);
			}
			break;
		}
		fg_kick(fg, FG_VQ_TX, true);
		fg_idle(fg, 300);
		kt_diag("%s: %llu error notifications, %llu tx chains returned",
			names[v], (unsigned long long)fg_vq_errors(fg),
			(unsigned long long)vq->used_total);
		/* whatever the host did, it did not connect anything */
		CHECK(h_no_accept(NULL, lfd, 50), "%s: made a connection", names[v]);
		fg->errors = 0;	/* the ring is broken by design here */
		gclose(0);
	}
	/* a new instance on the same CID works */
	gopen(0);
	CHECK_FG(0);
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* ============================================================================
 * Bounded memory
 * ==========================================================================*/

/* host sends non-blocking until EAGAIN (or more than cap); bytes sent */
static uint64_t h_fill(struct fg *fg, int fd, uint64_t seed, uint64_t pos,
		       uint64_t cap, int settle_ms)
{
	static uint8_t buf[64 * KiB];
	uint64_t done = 0;
	long quiet_since = kt_now_ms();

	while (done <= cap) {
		ssize_t r;

		fg_pattern_fill(buf, sizeof(buf), seed, pos + done);
		r = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			done += (uint64_t)r;
			quiet_since = kt_now_ms();
			continue;
		}
		if (r < 0 && errno != EAGAIN)
			break;
		/* give the host a moment: maybe it frees space */
		if (kt_now_ms() - quiet_since > settle_ms)
			break;
		fg_poll(fg, 10);
	}
	return done;
}

/* the guest stops taking packets: the host socket blocks at the window */
static int t_bounded_no_rx(const struct kt_case *tc)
{
	const uint32_t ba = 64 * KiB;
	struct fg_opts o = { .rx_buf = 44 + 4096, .no_rx_fill = true };
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent, more;
	int fd;

	(void)tc;
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	/* two rx buffers: one for the REQUEST, one 4 KiB for data */
	CHECK(fg_rx_fill(fg, 2) == 2, "rx buffers");
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, ba);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(hs_nonblock(fd, true) == 0, "nonblock");
	fg_conn_sink(c, 8);
	c->auto_credit = false;
	sent = h_fill(fg, fd, 8, 0, 8 * MiB, 500);
	kt_diag("host socket accepted %llu bytes for a %u byte window, guest got %llu",
		(unsigned long long)sent, ba, (unsigned long long)c->rx_cnt);
	CHECK(sent <= ba, "host queued %llu bytes beyond the guest's %u byte window",
	      (unsigned long long)sent, ba);
	usleep(200000);
	more = h_fill(fg, fd, 8, sent, 8 * MiB, 200);
	CHECK(!more, "host accepted %llu more bytes later", (unsigned long long)more);
	/* rx buffers again: everything arrives and the window moves */
	c->auto_credit = true;
	fg->rx_paused = false;
	fg_rx_fill(fg, 0);
	CHECK(fg_conn_wait_rx(c, sent, 5000), "guest got %llu of %llu",
	      (unsigned long long)c->rx_cnt, (unsigned long long)sent);
	fg_idle(fg, 100);
	more = h_fill(fg, fd, 8, sent, 256 * KiB, 300);
	CHECK(more > 0, "window did not reopen");
	CHECK(fg_conn_wait_rx(c, sent + more, 5000), "rest not delivered");
	CHECK(!c->sink_bad && !c->credit_violations, "corrupt %llu, credit violations %llu",
	      (unsigned long long)c->sink_bad,
	      (unsigned long long)c->credit_violations);
	close(fd);
	return finish(KT_PASS);
}

/* a guest advertising a 4 GiB window must not make the host queue without
 * bound; arg: the host socket's own buffer size (0: default)
 */
static int t_bounded_huge_credit(const struct kt_case *tc)
{
	const uint64_t limit = 8 * MiB;
	struct fg_opts o = { .rx_buf = 44 + 4096, .no_rx_fill = true };
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent;
	int fd;

	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(fg_rx_fill(fg, 2) == 2, "rx buffers");
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 0xffffffffu);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), (uint64_t)tc->arg, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(hs_nonblock(fd, true) == 0, "nonblock");
	c->auto_credit = false;
	sent = h_fill(fg, fd, 9, 0, limit, 500);
	kt_diag("guest window 0xffffffff, host socket buffer %s: host accepted %s%llu bytes (guest got %llu)",
		tc->arg ? "64 MiB" : "default", sent > limit ? "more than " : "",
		(unsigned long long)(sent > limit ? limit : sent),
		(unsigned long long)c->rx_cnt);
	CHECK(sent <= limit, "host queued more than %llu bytes for one connection",
	      (unsigned long long)limit);
	close(fd);
	return finish(KT_PASS);
}

static long slab_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* a guest that never takes its replies must not make the host queue
 * replies without bound
 */
static int t_bounded_replies(const struct kt_case *tc)
{
	const unsigned int n = 100000;
	struct fg_opts o = { .rx_buf = 44 + 256, .no_rx_fill = true };
	long slab0, slab1;
	unsigned int sent = 0;
	struct fg *fg;
	int lfd;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg->auto_rst = false;
	fg->tx_batch = 1;
	slab0 = slab_kb();
	/* every one of these asks for an RST reply */
	while (sent < n) {
		struct fg_hdr h;
		struct fg_txb b;
		uint8_t w[FG_HDR_LEN];

		fg_hdr_init(fg, &h, FG_OP_REQUEST, FG_TYPE_STREAM, 1000 + sent,
			    hport(1));
		fg_hdr_encode(&h, w);
		if (fg_tx_begin(fg, &b, NULL, FG_HDR_LEN, 500))
			break;	/* the host stopped taking packets */
		fg_txb_write(&b, w, FG_HDR_LEN);
		fg_tx_commit(&b);
		sent++;
		if (!(sent % 64))
			fg_kick(fg, FG_VQ_TX, true);
	}
	fg_kick(fg, FG_VQ_TX, true);
	fg_idle(fg, 300);
	slab1 = slab_kb();
	kt_diag("guest without rx buffers: host took %u of %u reply-provoking packets, Slab %+ld kB",
		sent - fg_tx_inflight(fg), n, slab1 - slab0);
	CHECK(slab1 - slab0 < 32 * 1024, "host memory grew by %ld kB",
	      slab1 - slab0);
	/* buffers again: the host delivers and goes on */
	fg->rx_paused = false;
	fg->tx_batch = 0;
	fg_rx_fill(fg, 0);
	CHECK(fg_tx_drain(fg, 20000), "host did not resume the tx queue (%u in flight)",
	      fg_tx_inflight(fg));
	fg_idle(fg, 200);
	kt_diag("replies received afterwards: %llu RST",
		(unsigned long long)fg->rx_by_op[FG_OP_RST]);
	fg_strays_clear(fg);
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* ============================================================================
 * The guest goes away
 * ==========================================================================*/

static int t_close_fd_live(const struct kt_case *tc)
{
	struct fg_conn *c1, *c2, *c3, *c4;
	struct job rd, wr;
	struct fg *fg;
	uint64_t cid;
	char buf[2048];
	int lfd, fd1, fd2, fd3, fd4, e;
	ssize_t r;
	long t0;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 8);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen(0);
	CHECK_FG(0);
	cid = fg->cid;
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4096);
	/* 1: host blocked in recv() */
	fd1 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c1);
	CHECK(fd1 >= 0, "connect: %s", kt_errname(-fd1));
	/* 2: host blocked in send() (window full) */
	fd2 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c2);
	CHECK(fd2 >= 0, "connect: %s", kt_errname(-fd2));
	c2->auto_credit = false;
	/* 3: accepted, with unread data */
	fd3 = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c3);
	CHECK(fd3 >= 0, "connect: %s", kt_errname(-fd3));
	CHECK(fg_conn_write(c3, NULL, 1000, 4, 0, 0, 0, 2000) == 1000, "write");
	/* 4: still in the listener's accept queue */
	c4 = fg_connect(fg, 0, hport(0), FG_TYPE_STREAM, 0, 3000);
	CHECK(c4 && c4->state == FGC_ESTABLISHED, "connect 4");
	CHECK(fg_conn_write(c4, "q", 1, 0, 0, 0, 0, 2000) == 1, "write");
	CHECK(fg_tx_drain(fg, 2000), "drain");

	memset(&rd, 0, sizeof(rd));
	rd.kind = JOB_RECV_ONE;
	rd.fd = fd1;
	CHECK(!job_start(&rd), "thread");
	memset(&wr, 0, sizeof(wr));
	wr.kind = JOB_SEND_PATTERN;
	wr.fd = fd2;
	wr.n = 1 * MiB;
	CHECK(!job_start(&wr), "thread");
	fg_idle(fg, 300);
	CHECK(!atomic_load(&rd.done) && !atomic_load(&wr.done), "threads not blocked");

	t0 = kt_now_ms();
	gclose(0);		/* close(/dev/vhost-vsock): the guest is gone */
	fg = NULL;
	kt_diag("close() of the device took %ld ms", kt_now_ms() - t0);

	CHECK(job_wait(NULL, &rd, 3000), "host recv() still blocked 3 s after the guest vanished");
	CHECK(rd.ret == 0 || rd.err == ECONNRESET, "recv: %zd %s", rd.ret,
	      kt_errname(rd.err));
	CHECK(job_wait(NULL, &wr, 3000), "host send() still blocked 3 s after the guest vanished");
	CHECK(wr.err, "blocked send completed");
	kt_diag("blocked recv: %zd %s, blocked send: %s after %llu bytes",
		rd.ret, kt_errname(rd.err), kt_errname(wr.err),
		(unsigned long long)wr.bytes);
	errno = 0;
	CHECK(send(fd1, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0, "send on 1 succeeded");
	/* 3: unread data may still be read, then EOF/reset; send fails */
	r = (ssize_t)h_drain(NULL, fd3, buf, sizeof(buf), 300, &e);
	CHECK(r == 0 || (r == 1000 && fg_pattern_check(buf, 1000, 4, 0) < 0),
	      "connection 3 delivered %zd bytes", r);
	CHECK(e == EPIPE || e == ECONNRESET, "connection 3: %s after %zd bytes",
	      kt_errname(e), r);
	errno = 0;
	CHECK(send(fd3, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0, "send on 3 succeeded");
	/* 4: if it can still be accepted, it is dead */
	fd4 = h_accept(NULL, lfd, 200);
	if (fd4 >= 0) {
		r = (ssize_t)h_drain(NULL, fd4, buf, sizeof(buf), 300, &e);
		CHECK(r <= 1 && (e == EPIPE || e == ECONNRESET),
		      "accepted connection 4: %zd bytes, %s", r, kt_errname(e));
		errno = 0;
		CHECK(send(fd4, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
		      "send on 4 succeeded");
		close(fd4);
	}
	kt_diag("connection 4 %s accepted after the guest vanished",
		fd4 >= 0 ? "was" : "was not");
	/* the CID is gone: connecting fails at once; it can be reused */
	{
		struct job j;

		job_connect(&j, SOCK_STREAM, (uint32_t)cid, gport(0), 5000);
		CHECK(!job_start(&j), "thread");
		CHECK(job_wait(NULL, &j, 2000), "connect to a vanished CID hangs");
		CHECK(j.res_fd < 0, "connect to a vanished CID succeeded");
		kt_diag("connect to the vanished CID: %s", kt_errname(j.err));
	}
	close(fd1);
	close(fd2);
	close(fd3);
	gopen(0);
	CHECK_FG(0);
	fgs[0]->next_port = 52000;	/* not the 4-tuples of the dead sockets */
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	(void)c4;
	return finish(KT_PASS);
}

/* a host connect() in progress when the guest vanishes fails promptly */
static int t_close_fd_connecting(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), 0, FGL_IGNORE, 0);
	job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(0), 6000);
	CHECK(!job_start(&j), "thread");
	CHECK(fg_stray_wait(fg, FG_OP_REQUEST, 0, gport(0), 3000), "no REQUEST");
	t0 = kt_now_ms();
	gclose(0);
	CHECK(job_wait(NULL, &j, 15000), "connect hangs");
	kt_diag("connect returned %s %ld ms after the guest vanished",
		kt_errname(j.err), j.t_end - t0);
	CHECK(j.res_fd < 0, "connect succeeded");
	CHECK(j.t_end - t0 < 3000,
	      "connect (6 s timeout) returned only %ld ms after the guest vanished",
	      j.t_end - t0);
	return finish(KT_PASS);
}

/* ============================================================================
 * Fuzz
 * ==========================================================================*/

static uint32_t pick_u32(uint64_t *r)
{
	static const uint32_t edge[] = { 0, 1, 2, 0x7fffffff, 0x80000000u,
					 0xfffffffeu, 0xffffffffu, 65535, 65536,
					 65537 };

	if (fg_rand_below(r, 4) == 0)
		return edge[fg_rand_below(r, ARRAY_SIZE(edge))];
	return (uint32_t)fg_rand(r);
}

/* a random layout for `total` bytes (that may cut or pad the packet) */
static uint64_t fuzz_layout(uint64_t *r, struct fg_layout *lay, uint64_t total)
{
	uint32_t k = fg_rand_below(r, 100);
	uint32_t l[FG_MAX_SEGS];
	int n = 0;

	if (k >= 80 && k < 85)
		total = fg_rand_below(r, (uint32_t)total + 1);	/* cut */
	else if (k >= 85 && k < 90)
		total += 1 + fg_rand_below(r, 100);		/* junk after */
	if (total > 60000 || (k >= 55 && k < 80)) {
		uint32_t segs = 2 + fg_rand_below(r, 5);
		uint64_t left = total;

		for (uint32_t i = 0; i + 1 < segs && left; i++) {
			uint32_t piece = fg_rand_below(r, 4) ?
				fg_rand_below(r, (uint32_t)(left < 60000 ? left : 60000) + 1) : 0;

			if (total > 60000 && piece < left / 2)
				piece = (uint32_t)(left / 2 < 60000 ? left / 2 : 60000);
			l[n++] = piece;
			left -= piece;
		}
		while (left > 60000) {
			l[n++] = 60000;
			left -= 60000;
		}
		l[n++] = (uint32_t)left;
	} else if (k >= 95 && total <= 80) {
		for (uint64_t i = 0; i < total; i++)
			l[n++] = 1;
		if (!n)
			l[n++] = 0;
	} else {
		l[n++] = (uint32_t)total;
	}
	fg_layout_lens(lay, n, l);
	if (k >= 90 && k < 95 && n < FG_MAX_SEGS) {
		/* a device-writable descriptor at the end */
		lay->seg[n].len = 8 + fg_rand_below(r, 64);
		lay->seg[n].flags = FG_SEG_WRITE;
		lay->n = n + 1;
	}
	return total;
}

static int t_fuzz(const struct kt_case *tc)
{
	const uint64_t n = env_u64("FG_FUZZ", 200000);
	uint64_t seed = env_u64("FG_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
	uint64_t r = seed, kinds[3] = { 0 };
	static uint8_t pkt[FG_HDR_LEN + 70100];
	struct job acc[2];
	struct fg_opts o = { .rx_buf = 44 + 4096 };
	struct fg_conn *c;
	struct fg *fg;
	int lfd[3], fd;
	long t0;

	(void)tc;
	kt_diag("fuzz: %llu packets, FG_SEED=%llu", (unsigned long long)n,
		(unsigned long long)seed);
	lfd[0] = hs_listen(SOCK_STREAM, hport(0), 16);
	lfd[1] = hs_listen(SOCK_SEQPACKET, hport(1), 16);
	CHECK(lfd[0] >= 0 && lfd[1] >= 0, "listen");
	for (int i = 0; i < 2; i++) {
		memset(&acc[i], 0, sizeof(acc[i]));
		acc[i].kind = JOB_ACCEPT_CLOSE;
		acc[i].fd = lfd[i];
		CHECK(!job_start(&acc[i]), "thread");
	}
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg->tx_batch = 1;
	t0 = kt_now_ms();
	for (uint64_t i = 0; i < n; i++) {
		uint32_t kind = fg_rand_below(&r, 10), plen = 0;
		struct fg_layout lay;
		struct fg_txb b;
		struct fg_hdr h;
		uint64_t total;
		int e;

		fg_hdr_init(fg, &h, (uint16_t)(1 + fg_rand_below(&r, 7)),
			    (uint16_t)(1 + fg_rand_below(&r, 2)),
			    gport((int)fg_rand_below(&r, 8)),
			    hport((int)fg_rand_below(&r, 3)));
		h.buf_alloc = 65536;
		if (h.op == FG_OP_RW)
			plen = fg_rand_below(&r, 100) ? fg_rand_below(&r, 65) :
				1000 + fg_rand_below(&r, 69100);
		else if (!fg_rand_below(&r, 20))
			plen = 1 + fg_rand_below(&r, 16);
		if (h.op == FG_OP_SHUTDOWN)
			h.flags = fg_rand_below(&r, 4);
		h.len = plen;
		if (kind < 3) {
			/* random fields, biased to edges */
			kinds[0]++;
			switch (fg_rand_below(&r, 4)) {
			case 0:
				h.src_cid = fg_rand_below(&r, 2) ?
					fg->cid + fg_rand_below(&r, 3) - 1 :
					fg_rand(&r);
				break;
			case 1:
				h.dst_cid = fg_rand_below(&r, 2) ?
					fg_rand_below(&r, 4) : fg_rand(&r);
				break;
			default:
				break;
			}
			if (fg_rand_below(&r, 2))
				h.op = (uint16_t)pick_u32(&r);
			if (fg_rand_below(&r, 3) == 0)
				h.type = (uint16_t)pick_u32(&r);
			if (fg_rand_below(&r, 3) == 0)
				h.len = pick_u32(&r);
			if (fg_rand_below(&r, 2))
				h.flags = pick_u32(&r);
			h.buf_alloc = pick_u32(&r);
			h.fwd_cnt = pick_u32(&r);
			if (fg_rand_below(&r, 2))
				h.src_port = pick_u32(&r);
			if (fg_rand_below(&r, 4) == 0)
				h.dst_port = pick_u32(&r);
			fg_hdr_encode(&h, pkt);
		} else if (kind < 7) {
			/* a valid packet with 1..4 flipped bits in the header */
			int flips = 1 + (int)fg_rand_below(&r, 4);

			kinds[1]++;
			fg_hdr_encode(&h, pkt);
			for (int f = 0; f < flips; f++) {
				uint32_t bit = fg_rand_below(&r, FG_HDR_LEN * 8);

				pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
		} else {
			/* valid header, odd chain (below) */
			kinds[2]++;
			fg_hdr_encode(&h, pkt);
		}
		if (plen <= 64) {
			for (uint32_t k = 0; k < plen; k += 8) {
				uint64_t v = fg_rand(&r);

				memcpy(pkt + FG_HDR_LEN + k, &v, 8);
			}
		} else {
			fg_pattern_fill(pkt + FG_HDR_LEN, plen, i, 0);
		}
		total = FG_HDR_LEN + (uint64_t)plen;
		if (kind >= 7 || fg_rand_below(&r, 4) == 0)
			total = fuzz_layout(&r, &lay, total);
		else if (total > 60000) {
			uint32_t l[2] = { 60000, (uint32_t)(total - 60000) };

			fg_layout_lens(&lay, 2, l);
		} else {
			fg_layout_one(&lay, (uint32_t)total);
		}
		e = fg_tx_begin(fg, &b, &lay, 0, 10000);
		CHECK(!e, "host stopped consuming tx after %llu packets: %s",
		      (unsigned long long)i, kt_errname(-e));
		fg_txb_write(&b, pkt, total < sizeof(pkt) ? total : sizeof(pkt));
		fg_tx_commit(&b);
		if (!(i % 32)) {
			fg_kick(fg, FG_VQ_TX, false);
			fg_poll(fg, 0);
			if (fg->nstrays > FG_MAX_STRAYS / 2)
				fg_strays_clear(fg);
		}
	}
	fg_kick(fg, FG_VQ_TX, true);
	CHECK(fg_tx_drain(fg, 20000), "host did not consume the last packets (%u in flight)",
	      fg_tx_inflight(fg));
	fg_idle(fg, 300);
	kt_diag("fuzz: %llu packets (%llu random, %llu bit-flipped, %llu odd chains) in %ld ms",
		(unsigned long long)n, (unsigned long long)kinds[0],
		(unsigned long long)kinds[1], (unsigned long long)kinds[2],
		kt_now_ms() - t0);
	kt_diag("fuzz: host returned %llu tx chains, dropped %llu without returning, %llu error notifications",
		(unsigned long long)fg->vq[FG_VQ_TX].used_total,
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	kt_diag("fuzz: host sent RST %llu, RESPONSE %llu, other %llu; host accepted %d connections",
		(unsigned long long)fg->rx_by_op[FG_OP_RST],
		(unsigned long long)fg->rx_by_op[FG_OP_RESPONSE],
		(unsigned long long)(fg->rx_pkts - fg->rx_by_op[FG_OP_RST] -
				     fg->rx_by_op[FG_OP_RESPONSE]),
		acc[0].accepted + acc[1].accepted);
	for (int i = 0; i < 2; i++) {
		atomic_store(&acc[i].stop, 1);
		CHECK(job_wait(fg, &acc[i], 3000), "accept thread");
	}
	CHECK(!fg->errors, "host misbehaved during the fuzz run: %s", fg->first_error);

	/* a normal life afterwards, both directions, on the same instance */
	fg->tx_batch = 0;
	fg_strays_clear(fg);
	lfd[2] = hs_listen(SOCK_STREAM, hport(2), 4);
	CHECK(lfd[2] >= 0, "listen");
	hs_nonblock(lfd[2], true);
	fd = g2h_pair(fg, lfd[2], hport(2), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "guest->host connection after the fuzz run: %s", kt_errname(-fd));
	{
		struct job j;

		memset(&j, 0, sizeof(j));
		j.kind = JOB_RECV_PATTERN;
		j.fd = fd;
		j.seed = 17;
		j.n = 1 * MiB;
		j.timeout_ms = 20000;
		CHECK(!job_start(&j), "thread");
		CHECK(fg_conn_write(c, NULL, 1 * MiB, 17, 0, 0, 0, 20000) == 1 * MiB,
		      "guest write after fuzz");
		CHECK(job_wait(fg, &j, 20000) && j.bytes == 1 * MiB && !j.bad,
		      "host got %llu bytes, %llu bad after the fuzz run",
		      (unsigned long long)j.bytes, (unsigned long long)j.bad);
	}
	close(fd);
	fg_listen(fg, gport(20), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(20), 0, &c);
	CHECK(fd >= 0, "host->guest connection after the fuzz run: %s", kt_errname(-fd));
	fg_conn_sink(c, 18);
	{
		struct job j;

		memset(&j, 0, sizeof(j));
		j.kind = JOB_SEND_PATTERN;
		j.fd = fd;
		j.seed = 18;
		j.n = 1 * MiB;
		CHECK(!job_start(&j), "thread");
		fg_conn_wait_rx(c, 1 * MiB, 20000);
		CHECK(job_wait(fg, &j, 5000) && c->rx_cnt == 1 * MiB && !c->sink_bad,
		      "guest got %llu bytes (%llu bad) after the fuzz run",
		      (unsigned long long)c->rx_cnt, (unsigned long long)c->sink_bad);
	}
	close(fd);
	for (int i = 0; i < 3; i++)
		close(lfd[i]);
	return finish(KT_PASS);
}

/* ============================================================================
 * A guest that negotiates like Linux behind QEMU: EVENT_IDX, INDIRECT_DESC
 * ==========================================================================*/

static int t_linux_guest(const struct kt_case *tc)
{
	struct fg_opts o = { .linux_guest = true };
	const uint64_t n = 16 * MiB;
	static uint8_t got[16 * KiB];
	uint64_t pos = 0;
	struct fg_layout lay;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, fd, e;

	(void)tc;
	lfd = hs_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	hs_nonblock(lfd, true);
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(fg->event_idx && fg->tx_indirect,
	      "host does not offer EVENT_IDX and INDIRECT_DESC (features %#llx)",
	      (unsigned long long)fg->features_offered);

	/* guest -> host */
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	memset(&j, 0, sizeof(j));
	j.kind = JOB_RECV_PATTERN;
	j.fd = fd;
	j.seed = 61;
	j.n = n;
	j.timeout_ms = 60000;
	CHECK(!job_start(&j), "thread");
	CHECK(fg_conn_write(c, NULL, n, 61, 0, 0, 0, 60000) == n, "guest write");
	CHECK(job_wait(fg, &j, 60000) && j.bytes == n && !j.bad,
	      "host got %llu bytes, %llu bad, %s", (unsigned long long)j.bytes,
	      (unsigned long long)j.bad, kt_errname(j.err));

	/* indirect tables of every shape for a small packet */
	for (uint32_t k = 1; k < FG_HDR_LEN + 8; k++) {
		for (uint32_t m = k; m < FG_HDR_LEN + 8; m += 7) {
			uint32_t l[3] = { k, m - k, FG_HDR_LEN + 8 - m };
			uint8_t p[8];

			fg_layout_lens(&lay, 3, l);
			lay.indirect = true;
			fg_pattern_fill(p, 8, 62, pos);
			CHECK(!fg_conn_send(c, FG_OP_RW, 0, p, 8, &lay), "send");
			pos += 8;
		}
	}
	CHECK(fg_tx_drain(fg, 5000), "indirect chains not consumed");
	CHECK(h_read(fg, fd, got, (size_t)pos, 5000, &e) == pos &&
	      fg_pattern_check(got, pos, 62, 0) < 0,
	      "indirect packets not delivered intact: %s", kt_errname(e));
	close(fd);

	/* host -> guest */
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, 63);
	memset(&j, 0, sizeof(j));
	j.kind = JOB_SEND_PATTERN;
	j.fd = fd;
	j.seed = 63;
	j.n = n;
	CHECK(!job_start(&j), "thread");
	fg_conn_wait_rx(c, n, 60000);
	CHECK(job_wait(fg, &j, 5000) && c->rx_cnt == n && !c->sink_bad,
	      "guest got %llu bytes, %llu bad", (unsigned long long)c->rx_cnt,
	      (unsigned long long)c->sink_bad);
	kt_diag("event index: %llu rx calls for %llu rx buffers, %llu tx kicks for %llu tx chains",
		(unsigned long long)fg->vq[FG_VQ_RX].calls,
		(unsigned long long)fg->vq[FG_VQ_RX].used_total,
		(unsigned long long)fg->vq[FG_VQ_TX].kicks,
		(unsigned long long)fg->vq[FG_VQ_TX].avail_idx);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
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
	setvbuf(stdout, NULL, _IOLBF, 0);
	return kt_run(argc, argv, cases, ARRAY_SIZE(cases));
}
