// SPDX-License-Identifier: GPL-2.0
/*
 * policy_test: the mvsock_bpf_ops hooks (connect, accept, route) and the
 * mvsock kfuncs, with the programs of policy_test.bpf.c (libbpf
 * skeleton): verdicts are enforced (the errno connect() returns, RST and
 * an empty accept queue, the device a REQUEST leaves through), one set at
 * a time, swapped by a link update without disturbing traffic, detached
 * by closing the link, bad return values fall back as docs/bpf.md says,
 * and every verdict is a mvsock_policy event. The example programs of
 * bpf/ (host_policy, route_policy) are run through their loaders.
 *
 * Runs in the test VM only, as root, with mvsock.ko, mvsock_loopback.ko
 * and the test-only selftests/kmod/mvsock_rawdev.ko loaded and no other
 * guest device (selftests/suites.d/71-bpf-policy.sh).
 *
 * Usage: policy_test [-l] [-v] [PATTERN...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/vm_sockets.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "policy_test.h"
#include "policy_test.skel.h"
#include "bpf_test.h"
#include "../lib/ktap.h"
#include "../kmod/mvsock_rawdev.h"

#define ANY 0xffffffffu
#define CASE_TIMEOUT 90
#define OPS_PARAM "/sys/module/mvsock/parameters/bpf_ops"
#define BUF_DEF (256 * 1024)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __maybe_unused __attribute__((unused))

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST };

static char self_dir[4096];	/* build/selftests/bpf: the examples are in build/bpf */

/* ---- sockets ------------------------------------------------------------- */

static int vs_socket(bool nonblock)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC |
			(nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

static int vs_addr(int fd, __u32 cid, __u32 port, bool conn)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid,
				 .svm_port = port };

	return conn ? connect(fd, (struct sockaddr *)&a, sizeof(a)) :
		      bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static int vs_listen(__u32 port, bool nonblock)
{
	int fd = vs_socket(nonblock);

	if (fd < 0)
		return -1;
	if (vs_addr(fd, ANY, port, false) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* connect() on a new socket (bound to @bind_cid unless ANY): its errno */
static int try_connect(__u32 bind_cid, __u32 cid, __u32 port, bool nonblock,
		       int *out_fd)
{
	int fd = vs_socket(nonblock), err = 0;

	if (fd < 0)
		return errno;
	if (bind_cid != ANY && vs_addr(fd, bind_cid, ANY, false))
		err = errno;
	else if (vs_addr(fd, cid, port, true))
		err = errno;
	if (out_fd)
		*out_fd = fd;
	else
		close(fd);
	return err;
}

static int param_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* ---- raw test devices ---------------------------------------------------- */

struct rdev {
	int fd;
	__u32 cid;
	__u32 id;
};

/* a raw device: role 1 guest (we are @cid), 2 host (the guest is @cid) */
static int rdev_open(struct rdev *d, __u32 role, __u32 cid)
{
	struct mvsock_rawdev_cfg cfg = { .role = role, .cid = cid };
	struct mvsock_rawdev_stats st;

	d->fd = open("/dev/mvsock-rawdev", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (d->fd < 0) {
		kt_diag("/dev/mvsock-rawdev: %s (mvsock_rawdev.ko loaded?)",
			kt_errname(errno));
		return -1;
	}
	if (ioctl(d->fd, MVSOCK_RAWDEV_START, &cfg) ||
	    ioctl(d->fd, MVSOCK_RAWDEV_STATS, &st)) {
		kt_diag("raw device CID %u: %s", cid, kt_errname(errno));
		close(d->fd);
		return -1;
	}
	d->cid = cid;
	d->id = st.dev_id;
	return 0;
}

/* the next packet the core sent on @d within @ms; 0, or -1 if none */
static int rdev_read(struct rdev *d, struct vhdr *h, int ms)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	char buf[sizeof(*h) + 4096];
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = read(d->fd, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	return 0;
}

static int rdev_write(struct rdev *d, __u32 src_cid, __u32 src_port,
		      __u32 dst_cid, __u32 dst_port, __u16 op)
{
	struct vhdr h = { .src_cid = src_cid, .dst_cid = dst_cid,
			  .src_port = src_port, .dst_port = dst_port,
			  .type = 1, .op = op, .buf_alloc = BUF_DEF };

	return write(d->fd, &h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : -1;
}

/* an unbound/bound connect must leave as a REQUEST on @d */
static int request_on(struct rdev *d, __u32 port, const char *what)
{
	struct vhdr h;

	if (rdev_read(d, &h, 3000)) {
		kt_diag("%s: no REQUEST on device %u (CID %u)", what, d->id,
			d->cid);
		return -1;
	}
	if (h.op != OP_REQUEST || h.dst_port != port || h.src_cid != d->cid) {
		kt_diag("%s: device %u sent op %u %llu:%u -> %llu:%u", what,
			d->id, h.op, (unsigned long long)h.src_cid, h.src_port,
			(unsigned long long)h.dst_cid, h.dst_port);
		return -1;
	}
	return 0;
}

static int nothing_on(struct rdev *d, const char *what)
{
	struct vhdr h;

	if (!rdev_read(d, &h, 300)) {
		kt_diag("%s: device %u sent op %u to port %u", what, d->id,
			h.op, h.dst_port);
		return -1;
	}
	return 0;
}

/* close a connecting socket and swallow what that sends on @d */
static void close_drain(int fd, struct rdev *d)
{
	struct vhdr h;

	close(fd);
	while (!rdev_read(d, &h, 200))
		;
}

static int lo_dev_id(void)
{
	char line[512];
	unsigned int id;
	int found = -1;
	FILE *f = fopen("/sys/module/mvsock/parameters/devices", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "role=local") && sscanf(line, "id=%u", &id) == 1)
			found = (int)id;
	fclose(f);
	return found;
}

/* ---- the skeleton ------------------------------------------------------- */

static unsigned int case_base(void)
{
	return 41000 + kt_cur_index * 16;
}

static struct policy_test_bpf *pt_open(void)
{
	struct policy_test_bpf *skel = policy_test_bpf__open_and_load();

	if (!skel) {
		kt_diag("policy_test.bpf.o: open/load failed (run with -v)");
		return NULL;
	}
	skel->bss->port_lo = case_base();
	skel->bss->port_hi = case_base() + 15;
	if (!bpf_program__attach(skel->progs.on_policy) ||
	    !bpf_program__attach(skel->progs.on_state)) {
		kt_diag("tp_btf attach failed: %s", kt_errname(errno));
		policy_test_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static struct bpf_link *pt_attach(struct bpf_map *map)
{
	struct bpf_link *l = bpf_map__attach_struct_ops(map);

	if (!l)
		kt_diag("attach %s: %s", bpf_map__name(map), kt_errname(errno));
	return l;
}

static bool ops_is(const char *name)
{
	char buf[64];

	if (param_read(OPS_PARAM, buf, sizeof(buf))) {
		kt_diag(OPS_PARAM ": %s", kt_errname(errno));
		return false;
	}
	if (strcmp(buf, name)) {
		kt_diag(OPS_PARAM " is '%s', want '%s'", buf, name);
		return false;
	}
	return true;
}

#define EV_CHECK(ev, n, v, dev, lcid)						\
	KT_ASSERT((ev).count == (n) && (ev).verdict == (v) &&			\
		  (ev).dev_id == (dev) && (ev).local_cid == (lcid),		\
		  "policy event: count %u verdict %d dev %d cid %u",		\
		  (ev).count, (ev).verdict, (ev).dev_id, (ev).local_cid)

/* ---- cases -------------------------------------------------------------- */

/* one set at a time; the sysfs name follows; closing the link detaches */
static int t_attach_detach(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	struct bpf_link *a, *b;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(ops_is(""), "nothing attached before");
	a = pt_attach(skel->maps.pt_a);
	KT_ASSERT(a, "attach pt_a");
	KT_ASSERT(ops_is("pt_a"), "pt_a attached");
	b = bpf_map__attach_struct_ops(skel->maps.pt_b);
	KT_ASSERT(!b && errno == EBUSY, "second set: %s, want EBUSY",
		  b ? "attached" : kt_errname(errno));
	KT_ASSERT(!bpf_link__update_map(a, skel->maps.pt_b), "update: %s",
		  kt_errname(errno));
	KT_ASSERT(ops_is("pt_b"), "pt_b after update");
	KT_OK(bpf_link__destroy(a));
	KT_ASSERT(ops_is(""), "nothing after detach");
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/*
 * connect deny on a guest device: connect() returns the program's errno
 * and no packet leaves; an allowed port leaves, and the kfuncs saw the
 * routed socket.
 */
static int t_connect_deny(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	struct pt_seen *s;
	struct rdev d;
	int err, fd;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(!rdev_open(&d, 1, 2000), "raw guest device");
	skel->bss->connect_port = P;
	skel->bss->connect_ret = -EHOSTUNREACH;
	KT_ASSERT(pt_attach(skel->maps.pt_a), "attach");

	err = try_connect(ANY, 2, P, false, NULL);
	KT_ASSERT(err == EHOSTUNREACH, "denied connect: %s", kt_errname(err));
	KT_ASSERT(!nothing_on(&d, "denied connect"), "nothing sent");
	EV_CHECK(skel->bss->events[PT_CONNECT], 1, -EHOSTUNREACH, (int)d.id,
		 2000);

	err = try_connect(ANY, 2, P + 1, true, &fd);
	KT_ASSERT(err == EINPROGRESS, "allowed connect: %s", kt_errname(err));
	KT_ASSERT(!request_on(&d, P + 1, "allowed connect"), "REQUEST sent");
	s = &skel->bss->seen[PT_CONNECT];
	KT_ASSERT(s->calls == 2 && s->local_cid == 2000 && s->peer_cid == 2 &&
		  s->peer_port == P + 1 && s->dev_id == (int)d.id &&
		  s->dev_cid == 2000 && s->local_port != ANY &&
		  s->cgroup_id != 0,
		  "kfuncs: calls %u local %u:%u peer %u:%u dev %d/%u cg %llu",
		  s->calls, s->local_cid, s->local_port, s->peer_cid,
		  s->peer_port, s->dev_id, s->dev_cid,
		  (unsigned long long)s->cgroup_id);
	EV_CHECK(skel->bss->events[PT_CONNECT], 2, 0, (int)d.id, 2000);
	close_drain(fd, &d);
	close(d.fd);

	/* host side: a connect to a guest behind a host-role device */
	KT_ASSERT(!rdev_open(&d, 2, 2002), "raw host device");
	err = try_connect(ANY, 2002, P, false, NULL);
	KT_ASSERT(err == EHOSTUNREACH, "host side: %s", kt_errname(err));
	KT_ASSERT(!nothing_on(&d, "host side denied connect"), "nothing sent");
	EV_CHECK(skel->bss->events[PT_CONNECT], 3, -EHOSTUNREACH, (int)d.id, 2);
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/*
 * accept deny over loopback: the client gets ECONNRESET, the listener's
 * queue stays empty (non-blocking accept: EAGAIN); an allowed port works
 * and the kfuncs saw the child (addresses, device, the peer's credit).
 */
static int t_accept_deny(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	int l1, l2, err, fd, c;
	int lo = lo_dev_id();
	struct pt_seen *s;
	struct rdev d;
	struct vhdr h;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(lo >= 0, "loopback device");
	skel->bss->accept_port = P;
	skel->bss->accept_ret = -ECONNREFUSED;
	KT_ASSERT(pt_attach(skel->maps.pt_a), "attach");
	l1 = KT_OK(vs_listen(P, true));
	l2 = KT_OK(vs_listen(P + 1, true));

	err = try_connect(ANY, 1, P, false, NULL);
	KT_ASSERT(err == ECONNRESET, "refused connect: %s", kt_errname(err));
	KT_ERRNO(accept(l1, NULL, NULL), EAGAIN);
	EV_CHECK(skel->bss->events[PT_ACCEPT], 1, -ECONNREFUSED, lo, 1);

	err = try_connect(ANY, 1, P + 1, false, &fd);
	KT_ASSERT(!err, "allowed connect: %s", kt_errname(err));
	c = KT_OK(accept(l2, NULL, NULL));
	s = &skel->bss->seen[PT_ACCEPT];
	KT_ASSERT(s->calls == 2 && s->local_cid == 1 && s->local_port == P + 1 &&
		  s->peer_cid == 1 && s->dev_id == lo && s->dev_cid == 1 &&
		  s->peer_credit == BUF_DEF,
		  "kfuncs: calls %u local %u:%u peer %u:%u dev %d/%u credit %u",
		  s->calls, s->local_cid, s->local_port, s->peer_cid,
		  s->peer_port, s->dev_id, s->dev_cid, s->peer_credit);
	EV_CHECK(skel->bss->events[PT_ACCEPT], 2, 0, lo, 1);

	/* guest side: a REQUEST from the host through a guest device */
	KT_ASSERT(!rdev_open(&d, 1, 2003), "raw guest device");
	KT_OK(rdev_write(&d, 2, 7000, 2003, P, OP_REQUEST));
	KT_ASSERT(!rdev_read(&d, &h, 3000) && h.op == OP_RST &&
		  h.dst_port == 7000, "guest side: no RST for the REQUEST");
	KT_ERRNO(accept(l1, NULL, NULL), EAGAIN);
	EV_CHECK(skel->bss->events[PT_ACCEPT], 3, -ECONNREFUSED, (int)d.id,
		 2003);
	close(d.fd);
	/* the tracing program's kfuncs saw the same sockets */
	KT_ASSERT(skel->bss->traced.calls >= 1 && skel->bss->traced.dev_id == lo &&
		  skel->bss->traced.local_port == P + 1,
		  "tp_btf kfuncs: calls %u dev %d", skel->bss->traced.calls,
		  skel->bss->traced.dev_id);
	close(c);
	close(fd);
	close(l1);
	close(l2);
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/*
 * route: with two guest devices, an unbound connect to the chosen port
 * leaves through the program's device, another port through the
 * default, and a bound socket is not rerouted.
 */
static int t_route(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	struct rdev d1, d2;
	int fd;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(!rdev_open(&d1, 1, 2100), "raw guest device 1");
	KT_ASSERT(!rdev_open(&d2, 1, 2101), "raw guest device 2");
	skel->bss->route_port = P;
	skel->data->route_cid = 2101;
	KT_ASSERT(pt_attach(skel->maps.pt_a), "attach");

	KT_EQ(try_connect(ANY, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d2, P, "routed connect"), "via device 2");
	KT_ASSERT(!nothing_on(&d1, "routed connect"), "not via device 1");
	close_drain(fd, &d2);
	EV_CHECK(skel->bss->events[PT_ROUTE], 1, 0, (int)d2.id, 2101);

	KT_EQ(try_connect(ANY, 2, P + 1, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P + 1, "other port"), "via the default");
	close_drain(fd, &d1);
	EV_CHECK(skel->bss->events[PT_ROUTE], 2, -ENOENT, (int)d1.id, ANY);

	KT_EQ(try_connect(2100, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P, "bound socket"), "bound: device 1");
	KT_ASSERT(!nothing_on(&d2, "bound socket"), "bound: not device 2");
	close_drain(fd, &d1);
	KT_ASSERT(skel->bss->events[PT_ROUTE].count == 2,
		  "a bound socket asks no route program");
	close(d1.fd);
	close(d2.fd);
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/* closing the link: connect, accept and route behave as without BPF */
static int t_detach_default(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	struct bpf_link *l;
	struct rdev d1, d2;
	int err, fd, lfd, c;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(!rdev_open(&d1, 1, 2200), "raw guest device 1");
	KT_ASSERT(!rdev_open(&d2, 1, 2201), "raw guest device 2");
	skel->bss->connect_port = P;
	skel->bss->connect_ret = -EACCES;
	skel->bss->accept_port = P + 1;
	skel->bss->accept_ret = -EACCES;
	skel->bss->route_port = P + 2;
	skel->data->route_cid = 2201;
	l = pt_attach(skel->maps.pt_a);
	KT_ASSERT(l, "attach");
	lfd = KT_OK(vs_listen(P + 1, true));
	KT_EQ(try_connect(ANY, 2, P, false, NULL), EACCES);
	KT_EQ(try_connect(ANY, 1, P + 1, false, NULL), ECONNRESET);
	KT_EQ(try_connect(ANY, 2, P + 2, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d2, P + 2, "routed"), "routed");
	close_drain(fd, &d2);

	KT_OK(bpf_link__destroy(l));
	KT_ASSERT(ops_is(""), "detached");
	KT_EQ(try_connect(ANY, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P, "after detach"), "connect allowed");
	close_drain(fd, &d1);
	err = try_connect(ANY, 1, P + 1, false, &fd);
	KT_ASSERT(!err, "accept after detach: %s", kt_errname(err));
	c = KT_OK(accept(lfd, NULL, NULL));
	close(c);
	close(fd);
	KT_EQ(try_connect(ANY, 2, P + 2, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P + 2, "route after detach"), "default");
	KT_ASSERT(!nothing_on(&d2, "route after detach"), "not device 2");
	close(fd);
	close(lfd);
	close(d1.fd);
	close(d2.fd);
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/* ---- swap while a checksummed stream flows ------------------------------ */

#define STREAM_BYTES (32u << 20)

struct stream {
	int fd;
	__u64 sum;
	size_t bytes;
	int err;
};

static __u64 mix(__u64 h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ull;
}

static void *stream_tx(void *arg)
{
	struct stream *st = arg;
	static unsigned char buf[65536];
	size_t off = 0;

	while (off < STREAM_BYTES) {
		size_t n = STREAM_BYTES - off < sizeof(buf) ?
			   STREAM_BYTES - off : sizeof(buf), i;
		ssize_t w;

		for (i = 0; i < n; i++)
			buf[i] = (unsigned char)((off + i) * 7 + ((off + i) >> 13));
		w = send(st->fd, buf, n, 0);
		if (w <= 0) {
			st->err = errno ? errno : EPIPE;
			break;
		}
		for (i = 0; i < (size_t)w; i++)
			st->sum = mix(st->sum, buf[i]);
		off += w;	/* a short send: the pattern follows the offset */
	}
	st->bytes = off;
	shutdown(st->fd, SHUT_WR);
	return NULL;
}

static void *stream_rx(void *arg)
{
	struct stream *st = arg;
	static unsigned char buf[65536];
	ssize_t n;

	while ((n = recv(st->fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			st->sum = mix(st->sum, buf[i]);
		st->bytes += n;
	}
	if (n < 0)
		st->err = errno;
	return NULL;
}

/*
 * While 32 MiB flow over loopback, the link is updated between pt_a and
 * pt_b again and again and new connections are made: the stream arrives
 * intact, every connection is allowed (no gap without a set), and both
 * sets decided some.
 */
static int t_update_streaming(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	struct stream tx = { 0 }, rx = { 0 };
	pthread_t ttx, trx;
	struct bpf_link *l;
	int lfd, i, swaps = 0, conns = 0;

	KT_ASSERT(skel, "skeleton");
	l = pt_attach(skel->maps.pt_a);
	KT_ASSERT(l, "attach");
	lfd = KT_OK(vs_listen(P, false));
	KT_EQ(try_connect(ANY, 1, P, false, &tx.fd), 0);
	rx.fd = KT_OK(accept(lfd, NULL, NULL));
	tx.sum = rx.sum = 0xcbf29ce484222325ull;
	KT_OK(-pthread_create(&trx, NULL, stream_rx, &rx));
	KT_OK(-pthread_create(&ttx, NULL, stream_tx, &tx));
	for (i = 0; i < 400 && !rx.bytes; i++)
		usleep(1000);
	for (i = 0; i < 200; i++) {
		int fd, c;

		KT_ASSERT(!bpf_link__update_map(l, i & 1 ? skel->maps.pt_a :
						skel->maps.pt_b),
			  "update %d: %s", i, kt_errname(errno));
		swaps++;
		if (try_connect(ANY, 1, P, false, &fd)) {
			kt_diag("connect during swaps: %s", kt_errname(errno));
			return KT_FAIL;
		}
		c = KT_OK(accept(lfd, NULL, NULL));
		close(c);
		close(fd);
		conns++;
		if (rx.bytes >= STREAM_BYTES && i >= 20)
			break;
	}
	pthread_join(ttx, NULL);
	pthread_join(trx, NULL);
	KT_ASSERT(!tx.err && !rx.err, "stream errors: tx %s rx %s",
		  kt_errname(tx.err), kt_errname(rx.err));
	KT_ASSERT(rx.bytes == STREAM_BYTES && rx.sum == tx.sum,
		  "received %zu of %u bytes, checksum %s", rx.bytes,
		  STREAM_BYTES, rx.sum == tx.sum ? "ok" : "wrong");
	KT_ASSERT(skel->bss->calls_a > 0 && skel->bss->calls_b > 0,
		  "calls: pt_a %u pt_b %u", skel->bss->calls_a,
		  skel->bss->calls_b);
	kt_diag("%d swaps, %d connections during the stream", swaps, conns);
	close(tx.fd);
	close(rx.fd);
	close(lfd);
	KT_OK(bpf_link__destroy(l));
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/*
 * pt_bad: a connect verdict outside [-133, 0] (-1000, or 1) fails with
 * EPERM; a positive accept verdict refuses (EPERM in the event); a route
 * CID that is not local falls back to the default device.
 */
static int t_bad_returns(const struct kt_case *tc __maybe_unused)
{
	struct policy_test_bpf *skel = pt_open();
	unsigned int P = case_base();
	struct rdev d;
	int lfd;

	KT_ASSERT(skel, "skeleton");
	KT_ASSERT(!rdev_open(&d, 1, 2300), "raw guest device");
	skel->bss->connect_port = P;
	KT_ASSERT(pt_attach(skel->maps.pt_bad), "attach");

	KT_EQ(try_connect(ANY, 2, P, false, NULL), EPERM);
	EV_CHECK(skel->bss->events[PT_CONNECT], 1, -EPERM, (int)d.id, 2300);
	KT_EQ(try_connect(ANY, 2, P + 1, false, NULL), EPERM);
	KT_ASSERT(!nothing_on(&d, "bad connect verdicts"), "nothing sent");
	/* the route event of those two: not local, default device */
	EV_CHECK(skel->bss->events[PT_ROUTE], 2, -EADDRNOTAVAIL, (int)d.id,
		 ANY);

	lfd = KT_OK(vs_listen(P + 2, true));
	KT_EQ(try_connect(1, 1, P + 2, false, NULL), ECONNRESET);
	KT_ERRNO(accept(lfd, NULL, NULL), EAGAIN);
	EV_CHECK(skel->bss->events[PT_ACCEPT], 1, -EPERM, lo_dev_id(), 1);
	close(lfd);
	close(d.fd);
	policy_test_bpf__destroy(skel);
	return KT_PASS;
}

/* a kfunc on an untrusted or possibly NULL socket: the verifier refuses */
static int t_unsafe_rejected(const struct kt_case *tc __maybe_unused)
{
	static const char * const names[] = { "bad_untrusted", "bad_maybe_null" };
	static const char * const why[] = { "must be referenced or trusted",
			      "Possibly NULL pointer passed to trusted" };

	for (unsigned int i = 0; i < 2; i++) {
		struct policy_test_bpf *skel = policy_test_bpf__open();
		struct bpf_program *p;
		int err;

		KT_ASSERT(skel, "open");
		p = bpf_object__find_program_by_name(skel->obj, names[i]);
		KT_ASSERT(p, "%s in the object", names[i]);
		bpf_program__set_autoload(p, true);
		bt_want = why[i];
		bt_seen = false;
		err = policy_test_bpf__load(skel);
		bt_want = NULL;
		policy_test_bpf__destroy(skel);
		KT_ASSERT(err, "%s loaded: the verifier should refuse it",
			  names[i]);
		KT_ASSERT(bt_seen, "%s refused (%d) but not for '%s'",
			  names[i], err, why[i]);
	}
	return KT_PASS;
}

/* ---- the example programs in bpf/ --------------------------------------- */

struct loader {
	pid_t pid;
	FILE *out;
};

/* start @argv (a loader), wait for its "attached" line */
static int loader_start(struct loader *ld, char *const argv[])
{
	char line[256];
	int p[2];

	if (pipe(p))
		return -1;
	ld->pid = fork();
	if (ld->pid < 0)
		return -1;
	if (!ld->pid) {
		dup2(p[1], 1);
		close(p[0]);
		execv(argv[0], argv);
		fprintf(stderr, "# exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	ld->out = fdopen(p[0], "r");
	while (fgets(line, sizeof(line), ld->out)) {
		if (verbose)
			kt_diag("%s: %s", argv[0], strtok(line, "\n"));
		if (!strncmp(line, "attached", 8))
			return 0;
	}
	kt_diag("%s exited before attaching", argv[0]);
	return -1;
}

/* SIGINT: the loader detaches and exits 0; its remaining output in @buf */
static int loader_stop(struct loader *ld, char *buf, size_t len)
{
	size_t n = 0;
	int status;

	kill(ld->pid, SIGINT);
	while (n + 1 < len && fgets(buf + n, len - n, ld->out))
		n += strlen(buf + n);
	buf[n] = 0;
	fclose(ld->out);
	if (waitpid(ld->pid, &status, 0) != ld->pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		kt_diag("loader exit status %#x", status);
		return -1;
	}
	return 0;
}

static void example_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/../../bpf/%s", self_dir, name);
}

/*
 * host_policy: guests 3000 and 3001 behind host-role raw devices; each
 * may reach only its listed host ports. Every (CID, port) of the matrix
 * gets RESPONSE or RST as the rules say, and the loader printed exactly
 * the denials.
 */
static int t_example_host_policy(const struct kt_case *tc __maybe_unused)
{
	unsigned int P = case_base();
	char prog[4200], a1[64], a2[64], out[4096], want[64];
	struct { __u32 cid; unsigned int port; bool allow; } m[] = {
		{ 3000, P, true }, { 3000, P + 1, true }, { 3000, P + 2, false },
		{ 3001, P, false }, { 3001, P + 2, true }, { 3001, P + 1, false },
	};
	struct rdev g[2];
	struct loader ld;
	int lfd[3], i, wrong = 0, denials = 0;
	char *argv[5];

	example_path(prog, sizeof(prog), "host_policy");
	snprintf(a1, sizeof(a1), "3000:%u,%u", P, P + 1);
	snprintf(a2, sizeof(a2), "3001:%u", P + 2);
	argv[0] = prog;
	argv[1] = a1;
	argv[2] = a2;
	argv[3] = NULL;
	KT_ASSERT(!rdev_open(&g[0], 2, 3000), "host device for guest 3000");
	KT_ASSERT(!rdev_open(&g[1], 2, 3001), "host device for guest 3001");
	for (i = 0; i < 3; i++)
		lfd[i] = KT_OK(vs_listen(P + i, true));
	KT_ASSERT(!loader_start(&ld, argv), "host_policy started");
	for (i = 0; i < (int)ARRAY_SIZE(m); i++) {
		struct rdev *d = &g[m[i].cid - 3000];
		struct vhdr h;
		bool ok;

		KT_OK(rdev_write(d, m[i].cid, 5000 + i, 2, m[i].port,
				 OP_REQUEST));
		if (rdev_read(d, &h, 3000)) {
			kt_diag("CID %u port %u: no answer", m[i].cid, m[i].port);
			wrong++;
			continue;
		}
		ok = h.op == OP_RESPONSE;
		if (ok != m[i].allow || (h.op != OP_RESPONSE && h.op != OP_RST)) {
			kt_diag("CID %u port %u: op %u, want %s", m[i].cid,
				m[i].port, h.op, m[i].allow ? "RESPONSE" : "RST");
			wrong++;
		}
		if (ok)
			KT_OK(rdev_write(d, m[i].cid, 5000 + i, 2, m[i].port,
					 OP_RST));
	}
	KT_ASSERT(!loader_stop(&ld, out, sizeof(out)), "loader stopped");
	for (i = 0; i < (int)ARRAY_SIZE(m); i++) {
		if (m[i].allow)
			continue;
		snprintf(want, sizeof(want), "deny cid %u port %u", m[i].cid,
			 m[i].port);
		if (!strstr(out, want)) {
			kt_diag("loader did not print '%s'", want);
			wrong++;
		}
		denials++;
	}
	KT_ASSERT(!wrong, "%d wrong verdicts/logs; loader said:\n%s", wrong, out);
	KT_ASSERT(ops_is(""), "detached on SIGINT");
	kt_diag("%d cases, %d denials logged", (int)ARRAY_SIZE(m),
		denials);
	for (i = 0; i < 3; i++)
		close(lfd[i]);
	close(g[0].fd);
	close(g[1].fd);
	return KT_PASS;
}

/* route_policy: a host port through a chosen guest device */
static int t_example_route_policy(const struct kt_case *tc __maybe_unused)
{
	unsigned int P = case_base();
	char prog[4200], a1[64], out[4096];
	struct rdev d1, d2;
	struct loader ld;
	char *argv[3];
	int fd;

	example_path(prog, sizeof(prog), "route_policy");
	KT_ASSERT(!rdev_open(&d1, 1, 2400), "raw guest device 1");
	KT_ASSERT(!rdev_open(&d2, 1, 2401), "raw guest device 2");
	snprintf(a1, sizeof(a1), "%u:2401", P);
	argv[0] = prog;
	argv[1] = a1;
	argv[2] = NULL;
	KT_ASSERT(!loader_start(&ld, argv), "route_policy started");
	KT_EQ(try_connect(ANY, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d2, P, "routed port"), "via device 2");
	close_drain(fd, &d2);
	KT_EQ(try_connect(ANY, 2, P + 1, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P + 1, "other port"), "via the default");
	close_drain(fd, &d1);
	KT_EQ(try_connect(2400, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P, "bound socket"), "bound stays");
	KT_ASSERT(!nothing_on(&d2, "bound socket"), "bound: not device 2");
	close_drain(fd, &d1);
	KT_ASSERT(!loader_stop(&ld, out, sizeof(out)), "loader stopped");
	KT_ASSERT(ops_is(""), "detached on SIGINT");
	KT_EQ(try_connect(ANY, 2, P, true, &fd), EINPROGRESS);
	KT_ASSERT(!request_on(&d1, P, "after detach"), "default again");
	close(fd);
	close(d1.fd);
	close(d2.fd);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "attach_swap_detach", t_attach_detach, 0, CASE_TIMEOUT },
	{ "connect_deny_errno", t_connect_deny, 0, CASE_TIMEOUT },
	{ "accept_deny_reset", t_accept_deny, 0, CASE_TIMEOUT },
	{ "route_to_device", t_route, 0, CASE_TIMEOUT },
	{ "detach_restores_default", t_detach_default, 0, CASE_TIMEOUT },
	{ "update_while_streaming", t_update_streaming, 0, 300 },
	{ "bad_returns_fallback", t_bad_returns, 0, CASE_TIMEOUT },
	{ "unsafe_kfunc_args_rejected", t_unsafe_rejected, 0, CASE_TIMEOUT },
	{ "example_host_policy", t_example_host_policy, 0, CASE_TIMEOUT },
	{ "example_route_policy", t_example_route_policy, 0, CASE_TIMEOUT },
};

int main(int argc, char **argv)
{
	char *slash;

	if (!realpath("/proc/self/exe", self_dir))
		self_dir[0] = 0;
	slash = strrchr(self_dir, '/');
	if (slash)
		*slash = 0;
	bt_setup(argc, argv);
	return kt_run(argc, argv, cases, ARRAY_SIZE(cases));
}
