// SPDX-License-Identifier: GPL-2.0
/*
 * tp_test: BPF programs on every mvsock tracepoint (tp_test.bpf.c, libbpf
 * skeleton), known traffic over the loopback device (CID 1) and a raw
 * test device, and exact checks of the events: their number, every field,
 * their order where the protocol fixes it, and which socket they belong
 * to; durations and latencies within bounds. Only the events of each
 * case's own ports are kept (and, for queue events, which carry no port,
 * those of the one device the case names).
 *
 * Runs in the test VM only (it attaches BPF programs and opens AF_VSOCK
 * sockets), as root, with mvsock.ko and mvsock_loopback.ko loaded; the
 * device cases need the test-only selftests/kmod/mvsock_rawdev.ko too
 * (selftests/suites.d/70-bpf-tracepoints.sh loads it).
 *
 * Usage: tp_test [-l] [-v] [PATTERN...]
 *   -l  list the cases;  -v  libbpf's debug log and each case's run time
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/perf_event.h>
#include <linux/vm_sockets.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "tp_test.h"
#include "tp_test.skel.h"
#include "bpf_test.h"
#include "../lib/ktap.h"
#include "../kmod/mvsock_rawdev.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

#define ANY 0xffffffffu		/* VMADDR_CID_ANY, VMADDR_PORT_ANY */
#define NODEV (-1)		/* dev_id of a socket without a device */
#define BUF_DEF (256 * 1024)	/* default SO_VM_SOCKETS_BUFFER_SIZE */
#define TRACEFS "/sys/kernel/tracing"
#define CASE_TIMEOUT 90		/* seconds, TCG is slow */
#define MS (1000ull * 1000)	/* in ns */
#define NS_MAX (CASE_TIMEOUT * 1000 * MS)
#define WAIT_MS 20		/* a deliberate wait: durations at least this */
#define CREDIT_REQ_MS 200	/* MVSOCK_CREDIT_REQ_DELAY */

/* wire values (docs/tracepoints.md) */
enum { T_STREAM = 1, T_SEQPACKET = 2 };
enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW,
       OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };
enum { ST_ESTABLISHED = 1, ST_SYN_SENT = 2, ST_CLOSE = 7, ST_LISTEN = 10,
       ST_CLOSING = 11 };
enum { ROLE_LOCAL, ROLE_GUEST, ROLE_HOST };
/* mvsock_queue kinds */
enum { Q_QUEUED, Q_TX_PENDING, Q_RX_POSTED, Q_TX_INFLIGHT };

static const char *const tp_names[TP_NR] = {
	[TP_PKT_TX] = "mvsock_pkt_tx",
	[TP_PKT_RX] = "mvsock_pkt_rx",
	[TP_SOCK_STATE] = "mvsock_sock_state",
	[TP_ROUTE] = "mvsock_route",
	[TP_DEV_ADD] = "mvsock_dev_add",
	[TP_DEV_REMOVE] = "mvsock_dev_remove",
	[TP_DEV_DEFAULT] = "mvsock_dev_default",
	[TP_CREDIT_STALL] = "mvsock_credit_stall",
	[TP_POLICY] = "mvsock_policy",
	[TP_DEV_CID] = "mvsock_dev_cid",
	[TP_CREDIT_UPDATE] = "mvsock_credit_update",
	[TP_CREDIT_REQUEST] = "mvsock_credit_request",
	[TP_QUEUE] = "mvsock_queue",
	[TP_PKT_DONE] = "mvsock_pkt_done",
	[TP_DELIVER] = "mvsock_deliver",
};

/* ---- the skeleton and the events it collects --------------------------- */

#define MAX_EV 512

struct tpx {
	struct tp_test_bpf *skel;
	struct ring_buffer *rb;
	struct tp_event ev[MAX_EV];
	int nev;
	int overflow;
};

/* Each case's ports: [base, base + 15]. */
static unsigned int case_base(void)
{
	return 47000 + 16 * kt_cur_index;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tpx *t = ctx;

	if (size < sizeof(struct tp_event))
		return 0;
	if (t->nev < MAX_EV)
		memcpy(&t->ev[t->nev++], data, sizeof(struct tp_event));
	else
		t->overflow++;
	return 0;
}

/*
 * Load and attach everything (but hide_pkt_tx); keep the events of ports
 * [lo, hi] and the queue events of device @qdev (NODEV: none; tpx_qdev()
 * changes it later).
 */
static int tpx_open(struct tpx *t, unsigned int lo, unsigned int hi, int qdev)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->skel = tp_test_bpf__open();
	if (!t->skel) {
		kt_diag("tp_test_bpf__open: %s", strerror(errno));
		return -1;
	}
	t->skel->rodata->port_lo = lo;
	t->skel->rodata->port_hi = hi;
	t->skel->data->queue_dev = qdev;
	bpf_program__set_autoattach(t->skel->progs.hide_pkt_tx, false);
	err = tp_test_bpf__load(t->skel);
	if (err) {
		kt_diag("tp_test_bpf__load: %s (run with -v for libbpf's log)",
			strerror(-err));
		return -1;
	}
	err = tp_test_bpf__attach(t->skel);
	if (err) {
		kt_diag("tp_test_bpf__attach: %s", strerror(-err));
		return -1;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event,
				 t, NULL);
	if (!t->rb) {
		kt_diag("ring_buffer__new: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Keep the queue events of device @qdev from now on. */
static void tpx_qdev(struct tpx *t, int qdev)
{
	t->skel->data->queue_dev = qdev;
}

/* Collect events until there are @want, then 200 ms more for extras. */
static void tpx_collect(struct tpx *t, int want)
{
	long deadline = kt_now_ms() + 5000, quiet;

	while (t->nev < want && kt_now_ms() < deadline)
		ring_buffer__poll(t->rb, 50);
	quiet = kt_now_ms() + 200;
	while (kt_now_ms() < quiet)
		ring_buffer__poll(t->rb, 50);
}

/*
 * Wait for one event of @kind (already collected or coming); for packet
 * events, @op >= 0 also asks for that virtio-vsock op.
 */
static bool tpx_wait_kind(struct tpx *t, enum tp_kind kind, int op, long ms)
{
	long deadline = kt_now_ms() + ms;

	for (;;) {
		for (int i = 0; i < t->nev; i++)
			if (t->ev[i].kind == (__u32)kind &&
			    (op < 0 || t->ev[i].pkt.op == op))
				return true;
		if (kt_now_ms() >= deadline)
			return false;
		ring_buffer__poll(t->rb, 50);
	}
}

/* ---- what a case expects ------------------------------------------------ */

struct want {
	struct tp_event e;
	char sk;	/* socket tag: events with the same tag, same skaddr */
	__u64 ns_min, ns_max;	/* bounds of the event's ns field */
};

struct expect {
	struct want w[MAX_EV];
	int n;
	int qdev;	/* the device whose queue events the case keeps */
};

static void want_ns(struct expect *x, char sk, const struct tp_event *e,
		    __u64 ns_min, __u64 ns_max)
{
	if (x->n < MAX_EV) {
		x->w[x->n].e = *e;
		x->w[x->n].sk = sk;
		x->w[x->n].ns_min = ns_min;
		x->w[x->n].ns_max = ns_max;
		x->n++;
	}
}

/* an event without a duration (or one of 0 to NS_MAX) */
static void want(struct expect *x, char sk, const struct tp_event *e)
{
	want_ns(x, sk, e, 0, NS_MAX);
}

static struct tp_event ev_of(enum tp_kind kind)
{
	struct tp_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	return e;
}

static void want_pkt(struct expect *x, enum tp_kind kind, struct tp_pkt p)
{
	struct tp_event e = ev_of(kind);

	e.pkt = p;
	want(x, 0, &e);
}

static void want_queue(struct expect *x, __u32 dev, __u32 kind, __u32 depth)
{
	struct tp_event e = ev_of(TP_QUEUE);

	e.queue = (struct tp_queue){ .dev_id = dev, .kind = kind,
				     .depth = depth };
	want(x, 0, &e);
}

/* the device is done with packet @p, at least @ns_min after it got it */
static void want_done(struct expect *x, struct tp_pkt p, __u64 ns_min)
{
	struct tp_event e = ev_of(TP_PKT_DONE);

	e.done = (struct tp_done){ .dev_id = p.dev_id, .src_cid = p.src_cid,
				   .src_port = p.src_port, .dst_cid = p.dst_cid,
				   .dst_port = p.dst_port, .type = p.type,
				   .op = p.op, .len = p.len };
	want_ns(x, 0, &e, ns_min, NS_MAX);
}

/*
 * A loopback packet: traced once sent (tx), done as the device hands it
 * to the receiver, and received (rx). Loopback reports no queue events
 * (the core's count is the packets' queued field): x->qdev, if it is
 * loopback, must see none.
 */
static void want_pair(struct expect *x, struct tp_pkt p)
{
	want_pkt(x, TP_PKT_TX, p);
	want_done(x, p, 0);
	want_pkt(x, TP_PKT_RX, p);
}

/* A socket as its events show it. */
struct tsk {
	char tag;
	__u16 type;		/* SOCK_STREAM, SOCK_SEQPACKET */
	__u32 bound_cid;	/* local_cid of its state events */
	struct tp_sk a;		/* local_cid: the source CID of its packets */
};

static void want_state(struct expect *x, const struct tsk *k, __u8 old,
		       __u8 new)
{
	struct tp_event e = ev_of(TP_SOCK_STATE);

	e.state.sk = k->a;
	e.state.sk.local_cid = k->bound_cid;
	e.state.type = k->type;
	e.state.old_state = old;
	e.state.new_state = new;
	want(x, k->tag, &e);
}

/* begin (@ns_min 0: duration 0) or end, lasting at least @ns_min */
static void want_stall(struct expect *x, const struct tsk *k, bool begin,
		       __u32 credit, __u64 ns_min)
{
	struct tp_event e = ev_of(TP_CREDIT_STALL);

	e.stall.sk = k->a;
	e.stall.begin = begin;
	e.stall.credit = credit;
	want_ns(x, k->tag, &e, ns_min, begin ? 0 : NS_MAX);
}

static void want_credit(struct expect *x, const struct tsk *k,
			enum tp_kind kind, bool rx, __u32 buf_alloc,
			__u32 fwd_cnt, __u32 peer_credit)
{
	struct tp_event e = ev_of(kind);

	e.credit.sk = k->a;
	e.credit.rx = rx;
	e.credit.buf_alloc = buf_alloc;
	e.credit.fwd_cnt = fwd_cnt;
	e.credit.peer_credit = peer_credit;
	want(x, k->tag, &e);
}

/* recvmsg() took @len bytes, @left stayed, the oldest waited @ns_min+ */
static void want_deliver(struct expect *x, const struct tsk *k, __u32 len,
			 __u32 left, __u64 ns_min)
{
	struct tp_event e = ev_of(TP_DELIVER);

	e.deliver.sk = k->a;
	e.deliver.type = k->type;
	e.deliver.len = len;
	e.deliver.left = left;
	want_ns(x, k->tag, &e, ns_min, NS_MAX);
}

/* route of socket @k (bound CID and port so far) to its peer */
static void want_route(struct expect *x, const struct tsk *k, __u32 lport,
		       const char *reason)
{
	struct tp_event e = ev_of(TP_ROUTE);

	e.route.local_cid = k->bound_cid;
	e.route.local_port = lport;
	e.route.remote_cid = k->a.remote_cid;
	e.route.remote_port = k->a.remote_port;
	e.route.dev_id = k->a.dev_id;
	snprintf(e.route.reason, sizeof(e.route.reason), "%s", reason);
	want(x, k->tag, &e);
}

/* the accept verdict of listener @l on a REQUEST from @c's address */
static void want_accept(struct expect *x, const struct tsk *l,
			const struct tsk *c, __s32 verdict)
{
	struct tp_event e = ev_of(TP_POLICY);

	e.policy.peer_cid = c->a.local_cid;
	e.policy.peer_port = c->a.local_port;
	e.policy.local_port = l->a.local_port;
	e.policy.verdict = verdict;
	e.policy.dev_id = c->a.dev_id;
	e.policy.local_cid = c->a.remote_cid;
	snprintf(e.policy.hook, sizeof(e.policy.hook), "%s", "accept");
	want(x, l->tag, &e);
}

static void want_dev(struct expect *x, enum tp_kind kind, __u32 id,
		     __u32 role, __u32 cid, bool is_default, const char *name)
{
	struct tp_event e = ev_of(kind);

	e.dev.dev_id = id;
	e.dev.role = role;
	e.dev.cid = cid;
	e.dev.is_default = is_default;
	snprintf(e.dev.name, sizeof(e.dev.name), "%s", name);
	want(x, 0, &e);
}

static void want_dev_cid(struct expect *x, __u32 id, __u32 old, __u32 cid,
			 __s32 err, bool is_default, const char *name)
{
	struct tp_event e = ev_of(TP_DEV_CID);

	e.dev = (struct tp_dev){ .dev_id = id, .role = ROLE_GUEST, .cid = cid,
				 .old_cid = old, .err = err,
				 .is_default = is_default };
	snprintf(e.dev.name, sizeof(e.dev.name), "%s", name);
	want(x, 0, &e);
}

/*
 * Same kind, same fields: the per-kind structs have no padding and both
 * sides start zeroed (ev_of(), the BPF side's ev_new()), strings too.
 */
static bool ev_eq(const struct tp_event *a, const struct tp_event *b)
{
	return a->kind == b->kind && !memcmp(&a->pkt, &b->pkt,
					     sizeof(*a) -
					     offsetof(struct tp_event, pkt));
}

static bool want_fits(const struct want *w, const struct tp_event *e)
{
	return ev_eq(&w->e, e) && e->ns >= w->ns_min && e->ns <= w->ns_max;
}

static int sk_str(char *buf, size_t len, const char *n, const struct tp_sk *s)
{
	return snprintf(buf, len, "%s dev=%d %d:%d -> %d:%d", n, s->dev_id,
			(int)s->local_cid, (int)s->local_port,
			(int)s->remote_cid, (int)s->remote_port);
}

/* CIDs and ports as signed, so VMADDR_*_ANY reads -1 */
static const char *ev_str(const struct tp_event *e, char *buf, size_t len)
{
	const char *n = e->kind < TP_NR ? tp_names[e->kind] + 7 : "?";
	int o;

	switch (e->kind) {
	case TP_PKT_TX:
	case TP_PKT_RX:
		snprintf(buf, len, "%s dev=%u %d:%d -> %d:%d type=%u op=%u len=%u flags=%#x buf_alloc=%u fwd_cnt=%u queued=%u",
			 n, e->pkt.dev_id, (int)e->pkt.src_cid,
			 (int)e->pkt.src_port, (int)e->pkt.dst_cid,
			 (int)e->pkt.dst_port, e->pkt.type, e->pkt.op,
			 e->pkt.len, e->pkt.flags, e->pkt.buf_alloc,
			 e->pkt.fwd_cnt, e->pkt.queued);
		break;
	case TP_PKT_DONE:
		snprintf(buf, len, "%s dev=%u %d:%d -> %d:%d type=%u op=%u len=%u latency_ns=%llu",
			 n, e->done.dev_id, (int)e->done.src_cid,
			 (int)e->done.src_port, (int)e->done.dst_cid,
			 (int)e->done.dst_port, e->done.type, e->done.op,
			 e->done.len, (unsigned long long)e->ns);
		break;
	case TP_SOCK_STATE:
		o = sk_str(buf, len, n, &e->state.sk);
		snprintf(buf + o, len - o, " type=%u %u -> %u", e->state.type,
			 e->state.old_state, e->state.new_state);
		break;
	case TP_CREDIT_STALL:
		o = sk_str(buf, len, n, &e->stall.sk);
		snprintf(buf + o, len - o, " %s credit=%u duration_ns=%llu",
			 e->stall.begin ? "begin" : "end", e->stall.credit,
			 (unsigned long long)e->ns);
		break;
	case TP_CREDIT_UPDATE:
	case TP_CREDIT_REQUEST:
		o = sk_str(buf, len, n, &e->credit.sk);
		snprintf(buf + o, len - o, " %s buf_alloc=%u fwd_cnt=%u peer_credit=%u",
			 e->credit.rx ? "rx" : "tx", e->credit.buf_alloc,
			 e->credit.fwd_cnt, e->credit.peer_credit);
		break;
	case TP_DELIVER:
		o = sk_str(buf, len, n, &e->deliver.sk);
		snprintf(buf + o, len - o, " type=%u len=%u left=%u queue_ns=%llu",
			 e->deliver.type, e->deliver.len, e->deliver.left,
			 (unsigned long long)e->ns);
		break;
	case TP_ROUTE:
		snprintf(buf, len, "%s local=%d:%d remote=%d:%d dev=%d reason=%.32s",
			 n, (int)e->route.local_cid, (int)e->route.local_port,
			 (int)e->route.remote_cid, (int)e->route.remote_port,
			 e->route.dev_id, e->route.reason);
		break;
	case TP_DEV_ADD:
	case TP_DEV_REMOVE:
	case TP_DEV_DEFAULT:
	case TP_DEV_CID:
		snprintf(buf, len, "%s dev=%u name=%.32s role=%u cid=%u old_cid=%u err=%d default=%u",
			 n, e->dev.dev_id, e->dev.name, e->dev.role, e->dev.cid,
			 e->dev.old_cid, e->dev.err, e->dev.is_default);
		break;
	case TP_QUEUE:
		snprintf(buf, len, "%s dev=%u kind=%u depth=%u", n,
			 e->queue.dev_id, e->queue.kind, e->queue.depth);
		break;
	case TP_POLICY:
		snprintf(buf, len, "%s hook=%.32s peer=%d:%d local=%d:%d dev=%d verdict=%d",
			 n, e->policy.hook, (int)e->policy.peer_cid,
			 (int)e->policy.peer_port, (int)e->policy.local_cid,
			 (int)e->policy.local_port, e->policy.dev_id,
			 e->policy.verdict);
		break;
	default:
		snprintf(buf, len, "kind %u?", e->kind);
	}
	return buf;
}

static void dump_events(const char *what, const struct tp_event *ev, int n)
{
	char buf[256];

	kt_diag("%s (%d):", what, n);
	for (int i = 0; i < n; i++)
		kt_diag("  [%u] %s sk=%#llx", ev[i].seq,
			ev_str(&ev[i], buf, sizeof(buf)),
			(unsigned long long)ev[i].skaddr);
}

/*
 * The kinds whose order the protocol fixes for one run of a case: all but
 * route and policy; those of a socket (tagged) per socket.
 */
static bool ordered_kind(__u32 kind)
{
	return kind != TP_ROUTE && kind != TP_POLICY;
}

/* the seq ranges of the events of socket tags @a and @b intersect */
static bool tags_overlap(const struct tpx *t, const struct expect *x,
			 const int *match, char a, char b)
{
	__u32 lo[2] = { UINT32_MAX, UINT32_MAX }, hi[2] = { 0, 0 };

	for (int i = 0; i < x->n; i++) {
		int w = x->w[i].sk == a ? 0 : x->w[i].sk == b ? 1 : -1;
		__u32 seq = t->ev[match[i]].seq;

		if (w < 0)
			continue;
		if (seq < lo[w])
			lo[w] = seq;
		if (seq > hi[w])
			hi[w] = seq;
	}
	return lo[0] <= hi[1] && lo[1] <= hi[0];
}

/*
 * Exactly the expected events: each matched once (in order of the
 * expectation, first fit, durations within their bounds), none left
 * over; ordered kinds in order; the socket tags consistent (one skaddr
 * per tag, distinct tags distinct).
 */
static int check_events(struct tpx *t, const struct expect *x)
{
	int match[MAX_EV];
	bool used[MAX_EV] = { false };
	bool ok = true;
	char buf[256];

	tpx_collect(t, x->n);
	if (t->overflow) {
		kt_diag("more than %d events: %d not kept", MAX_EV, t->overflow);
		ok = false;
	}
	if (t->skel->bss->ring_drops) {
		kt_diag("%llu events dropped: ring buffer full",
			(unsigned long long)t->skel->bss->ring_drops);
		ok = false;
	}
	for (int i = 0; i < x->n; i++) {
		match[i] = -1;
		for (int j = 0; j < t->nev; j++) {
			if (!used[j] && want_fits(&x->w[i], &t->ev[j])) {
				match[i] = j;
				used[j] = true;
				break;
			}
		}
		if (match[i] < 0) {
			kt_diag("missing: %s (ns %llu..%llu)",
				ev_str(&x->w[i].e, buf, sizeof(buf)),
				(unsigned long long)x->w[i].ns_min,
				(unsigned long long)x->w[i].ns_max);
			ok = false;
		}
	}
	for (int j = 0; j < t->nev; j++) {
		if (!used[j]) {
			kt_diag("unexpected: %s",
				ev_str(&t->ev[j], buf, sizeof(buf)));
			ok = false;
		}
	}
	/* order: per kind (packets, devices), per kind and socket (states) */
	for (int i = 0; ok && i < x->n; i++) {
		if (!ordered_kind(x->w[i].e.kind))
			continue;
		for (int k = i + 1; k < x->n; k++) {
			if (x->w[k].e.kind != x->w[i].e.kind ||
			    x->w[k].sk != x->w[i].sk)
				continue;
			if (t->ev[match[k]].seq < t->ev[match[i]].seq) {
				kt_diag("out of order: %s",
					ev_str(&x->w[k].e, buf, sizeof(buf)));
				kt_diag("  came before: %s",
					ev_str(&x->w[i].e, buf, sizeof(buf)));
				ok = false;
			}
			break;
		}
	}
	/*
	 * Socket identity: one skaddr per tag; two tags whose events
	 * interleave (both sockets alive) have different ones. A socket
	 * freed before the next one is made may leave it its address.
	 */
	for (int i = 0; ok && i < x->n; i++) {
		__u64 a = t->ev[match[i]].skaddr;

		if (!x->w[i].sk)
			continue;
		if (!a) {
			kt_diag("skaddr 0: %s",
				ev_str(&x->w[i].e, buf, sizeof(buf)));
			ok = false;
		}
		for (int k = 0; k < x->n; k++) {
			__u64 b = t->ev[match[k]].skaddr;
			bool same = x->w[k].sk == x->w[i].sk;

			if (!x->w[k].sk || k == i)
				continue;
			if (!same && !tags_overlap(t, x, match, x->w[i].sk,
						   x->w[k].sk))
				continue;
			if (same != (a == b)) {
				kt_diag("socket %c vs %c: skaddr %#llx vs %#llx (%s)",
					x->w[i].sk, x->w[k].sk,
					(unsigned long long)a,
					(unsigned long long)b,
					ev_str(&x->w[k].e, buf, sizeof(buf)));
				ok = false;
				break;
			}
		}
	}
	if (!ok)
		dump_events("events seen", t->ev, t->nev);
	return ok ? 0 : -1;
}

/*
 * The tp_btf programs saw the same events as the classic ones (counts per
 * tracepoint), and the virtio-vsock headers they read from the skbs of
 * our ports (sent, received, done) add up to the classic events' packet
 * counts and lengths.
 */
static int check_btf(struct tpx *t)
{
	struct tp_test_bpf__bss *b = t->skel->bss;
	static const char *const dir[3] = { "tx", "rx", "done" };
	unsigned long long pkts[3] = { 0 }, bytes[3] = { 0 };
	bool ok = true;

	for (int k = 0; k < TP_NR; k++) {
		if (b->btf_hits[k] != b->hits[k]) {
			kt_diag("%s: tp_btf saw %llu events, tracepoint %llu",
				tp_names[k], (unsigned long long)b->btf_hits[k],
				(unsigned long long)b->hits[k]);
			ok = false;
		}
	}
	for (int i = 0; i < t->nev; i++) {
		__u32 k = t->ev[i].kind;
		int d = k == TP_PKT_TX ? 0 : k == TP_PKT_RX ? 1 :
			k == TP_PKT_DONE ? 2 : -1;

		if (d < 0)
			continue;
		pkts[d]++;
		bytes[d] += d == 2 ? t->ev[i].done.len : t->ev[i].pkt.len;
	}
	for (int d = 0; d < 3; d++) {
		if (b->btf_pkts[d] != pkts[d] || b->btf_bytes[d] != bytes[d]) {
			kt_diag("%s: skb headers %llu packets %llu bytes, tracepoint %llu packets %llu bytes",
				dir[d],
				(unsigned long long)b->btf_pkts[d],
				(unsigned long long)b->btf_bytes[d], pkts[d],
				bytes[d]);
			ok = false;
		}
	}
	return ok ? 0 : -1;
}

/* ---- helpers: registry, sockets ----------------------------------------- */

/* registry id of the first device of @role in /sys/module/mvsock/... */
static int dev_id_of(const char *role, int *count)
{
	char line[512], r[32];
	unsigned int id;
	int found = -1, n = 0;
	FILE *f = fopen("/sys/module/mvsock/parameters/devices", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "role=");

		if (sscanf(line, "id=%u", &id) != 1 || !p ||
		    sscanf(p, "role=%31s", r) != 1 || strcmp(r, role))
			continue;
		if (found < 0)
			found = (int)id;
		n++;
	}
	fclose(f);
	if (count)
		*count = n;
	return found;
}

static int lo_dev_id(void)
{
	int id = dev_id_of("local", NULL);

	if (id < 0)
		kt_diag("no local device in /sys/module/mvsock/parameters/devices (mvsock_loopback.ko loaded?)");
	return id;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int vs_socket(int type)
{
	int fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		set_timeouts(fd);
	return fd;
}

static int vs_bind(int fd, __u32 cid, __u32 port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid,
				 .svm_port = port };

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static int vs_connect(int fd, __u32 cid, __u32 port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid,
				 .svm_port = port };

	return connect(fd, (struct sockaddr *)&a, sizeof(a));
}

/* a listener on (@cid, @port) */
static int vs_listen(int type, __u32 cid, __u32 port, int backlog)
{
	int fd = vs_socket(type);

	if (fd < 0)
		return -1;
	if (vs_bind(fd, cid, port) || listen(fd, backlog)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* read exactly @len bytes */
static int read_all(int fd, size_t len)
{
	char buf[8192];

	while (len) {
		ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), 0);

		if (n <= 0) {
			kt_diag("recv: %zd (%s), %zu bytes missing", n,
				n ? kt_errname(errno) : "EOF", len);
			return -1;
		}
		len -= n;
	}
	return 0;
}

static int send_exact(int fd, size_t len, int flags)
{
	static char buf[65536];
	ssize_t n;

	memset(buf, 'x', sizeof(buf));
	n = send(fd, buf, len, flags);
	if (n != (ssize_t)len) {
		kt_diag("send(%zu): %zd (%s)", len, n, kt_errname(errno));
		return -1;
	}
	return 0;
}

/* ---- cases --------------------------------------------------------------- */

static int tracefs_ready(void)
{
	if (access(TRACEFS "/events/mvsock", F_OK)) {
		kt_diag(TRACEFS "/events/mvsock missing: tracefs not mounted or mvsock.ko not loaded");
		return -1;
	}
	return 0;
}

/*
 * Every tracepoint of the mvsock system has a classic and a tp_btf program
 * here, and every program of ours is attached (hide_pkt_tx excepted): a
 * tracepoint added to the kernel without a test fails this case.
 */
static int t_attach_all(const struct kt_case *tc)
{
	struct tpx t;
	struct bpf_program *prog;
	struct dirent *d;
	bool have[TP_NR] = { false };
	int n = 0, links = 0;
	DIR *dir;

	(void)tc;
	if (tracefs_ready())
		return KT_FAIL;
	dir = opendir(TRACEFS "/events/mvsock");
	KT_ASSERT(dir, "opendir: %s", strerror(errno));
	while ((d = readdir(dir))) {
		char path[512];
		int k;

		snprintf(path, sizeof(path), TRACEFS "/events/mvsock/%s/id",
			 d->d_name);
		if (access(path, F_OK))
			continue;	/* enable, filter, . and .. */
		for (k = 0; k < TP_NR; k++)
			if (!strcmp(d->d_name, tp_names[k]))
				break;
		if (k == TP_NR) {
			kt_diag("tracepoint mvsock:%s has no test", d->d_name);
			n = -1000;
		} else {
			have[k] = true;
			n++;
		}
	}
	closedir(dir);
	for (int k = 0; k < TP_NR; k++)
		if (!have[k]) {
			kt_diag("mvsock:%s: not in tracefs", tp_names[k]);
			n = -1000;
		}
	KT_ASSERT(n == TP_NR, "%d tracepoints in the mvsock system", n);

	if (tpx_open(&t, 1, 1, NODEV))
		return KT_FAIL;
	bpf_object__for_each_program(prog, t.skel->obj) {
		const char *name = bpf_program__name(prog);

		KT_ASSERT(bpf_program__fd(prog) >= 0, "%s not loaded", name);
	}
	/* the skeleton's links, one per attached program */
	for (int i = 0; i < t.skel->skeleton->prog_cnt; i++) {
		struct bpf_link *l = *t.skel->skeleton->progs[i].link;
		const char *name = t.skel->skeleton->progs[i].name;
		bool hider = !strcmp(name, "hide_pkt_tx");

		KT_ASSERT(hider ? !l : !!l, "%s: %s", name,
			  hider ? "attached" : "not attached");
		links += !!l;
	}
	KT_ASSERT(links == 2 * TP_NR, "%d programs attached, want %d", links,
		  2 * TP_NR);
	return KT_PASS;
}

/*
 * A loopback case's start: the loopback device's id in *@lo, the BPF
 * programs keeping ports [P, P + 15] and its queue events.
 */
static int lo_case_open(struct tpx *t, struct expect *x, int *lo)
{
	if (tracefs_ready() || (*lo = lo_dev_id()) < 0)
		return -1;
	x->n = 0;
	x->qdev = *lo;
	return tpx_open(t, case_base(), case_base() + 15, *lo);
}

/* a loopback packet of stream/seqpacket type @type, from @from to @to */
static struct tp_pkt lo_pkt(const struct tsk *from, const struct tsk *to,
			    __u16 op)
{
	return (struct tp_pkt){ .dev_id = from->a.dev_id,
				.src_cid = from->a.local_cid,
				.src_port = from->a.local_port,
				.dst_cid = to->a.local_cid,
				.dst_port = to->a.local_port,
				.type = from->type == SOCK_SEQPACKET ?
					T_SEQPACKET : T_STREAM,
				.op = op };
}

/*
 * The usual start of a loopback connection: listener L, client C routed
 * locally (C bound to port C.a.local_port so far), the REQUEST, the accept
 * verdict, the established child S, the RESPONSE (S advertising
 * @s_buf), C established.
 */
static void want_lo_connect(struct expect *x, const struct tsk *L,
			    const struct tsk *C, const struct tsk *S,
			    __u32 s_buf)
{
	struct tp_pkt p;

	want_state(x, L, ST_CLOSE, ST_LISTEN);
	want_route(x, C, C->a.local_port, "local");
	want_state(x, C, ST_CLOSE, ST_SYN_SENT);
	p = lo_pkt(C, S, OP_REQUEST);
	p.buf_alloc = BUF_DEF;
	want_pair(x, p);
	want_accept(x, L, C, 0);
	want_state(x, S, ST_CLOSE, ST_ESTABLISHED);
	p = lo_pkt(S, C, OP_RESPONSE);
	p.buf_alloc = s_buf;
	want_pair(x, p);
	want_state(x, C, ST_SYN_SENT, ST_ESTABLISHED);
}

/*
 * C closes (SHUTDOWN RCV|SEND; S, drained, answers RST with its @fwd_cnt),
 * then S and L close.
 */
static void want_lo_close(struct expect *x, const struct tsk *L,
			  const struct tsk *C, const struct tsk *S,
			  __u32 s_buf, __u32 fwd_cnt)
{
	struct tp_pkt p = lo_pkt(C, S, OP_SHUTDOWN);

	p.flags = 3;
	p.buf_alloc = BUF_DEF;
	want_pair(x, p);
	p = lo_pkt(S, C, OP_RST);
	p.buf_alloc = s_buf;
	p.fwd_cnt = fwd_cnt;
	want_pair(x, p);
	want_state(x, S, ST_ESTABLISHED, ST_CLOSING);
	want_state(x, C, ST_ESTABLISHED, ST_CLOSING);
	want_state(x, C, ST_CLOSING, ST_CLOSE);
	want_state(x, S, ST_CLOSING, ST_CLOSE);
	want_state(x, L, ST_LISTEN, ST_CLOSE);
}

/* listener L on (ANY, P); client C (bound to @bind_cid, P + 1); child S */
static void lo_socks(struct tsk *L, struct tsk *C, struct tsk *S, int lo,
		     int type, __u32 bind_cid, __u32 dst_cid)
{
	unsigned int P = case_base();

	*L = (struct tsk){ 'L', type, ANY, { NODEV, 0, P, ANY, ANY } };
	*C = (struct tsk){ 'C', type, bind_cid, { lo, 1, P + 1, dst_cid, P } };
	*S = (struct tsk){ 'S', type, 1, { lo, dst_cid, P, 1, P + 1 } };
}

/*
 * A STREAM (arg 0) or SEQPACKET (arg 1) connection over loopback: listener
 * L on (ANY, P), client C bound to (bind_cid, Cp), accepted socket S; the
 * client sends, S peeks (no delivery), waits WAIT_MS and reads everything
 * (deliveries that waited that long), C closes, S closes, L closes.
 * arg 2: STREAM with the client bound to CID 1.
 */
static int t_connection(const struct kt_case *tc)
{
	static const size_t stream_w[] = { 1000, 2000, 3000, 4000 };
	static const size_t seq_w[] = { 100, 200 };
	bool seq = tc->arg == 1;
	__u32 bind_cid = tc->arg == 2 ? VMADDR_CID_LOCAL : ANY;
	int stype = seq ? SOCK_SEQPACKET : SOCK_STREAM;
	const size_t *w = seq ? seq_w : stream_w;
	int nw = seq ? 2 : 4, lo, l, c, s;
	unsigned int P = case_base();
	struct tsk L, C, S;
	size_t total = 0;
	static struct expect x;
	char buf[8192];
	struct tpx t;

	if (lo_case_open(&t, &x, &lo))
		return KT_FAIL;
	lo_socks(&L, &C, &S, lo, stype, bind_cid, 1);

	l = KT_OK(vs_listen(stype, ANY, P, 4));
	c = KT_OK(vs_socket(stype));
	KT_OK(vs_bind(c, bind_cid, C.a.local_port));
	KT_OK(vs_connect(c, VMADDR_CID_LOCAL, P));
	s = KT_OK(accept(l, NULL, NULL));
	for (int i = 0; i < nw; i++) {
		KT_OK(send_exact(c, w[i], seq && i == 1 ? MSG_EOR : 0));
		total += w[i];
	}
	KT_EQ(recv(s, buf, 1, MSG_PEEK), 1);
	usleep(WAIT_MS * 1000);
	if (seq) {
		for (int i = 0; i < nw; i++)
			KT_EQ(recv(s, buf, sizeof(buf), 0), (long)w[i]);
	} else {
		KT_OK(read_all(s, total));
	}
	close(c);
	close(s);
	close(l);

	want_lo_connect(&x, &L, &C, &S, BUF_DEF);
	for (int i = 0; i < nw; i++) {
		struct tp_pkt p = lo_pkt(&C, &S, OP_RW);

		/* SEQPACKET: EOM ends each message, EOR with MSG_EOR */
		p.flags = !seq ? 0 : i == 1 ? 3 : 1;
		p.len = w[i];
		p.buf_alloc = BUF_DEF;
		want_pair(&x, p);
	}
	if (seq) {
		want_deliver(&x, &S, 100, 200, WAIT_MS * MS);
		want_deliver(&x, &S, 200, 0, WAIT_MS * MS);
	} else {
		/* read_all(): one recv() of 8192, then the rest */
		want_deliver(&x, &S, 8192, total - 8192, WAIT_MS * MS);
		want_deliver(&x, &S, total - 8192, 0, WAIT_MS * MS);
	}
	want_lo_close(&x, &L, &C, &S, BUF_DEF, total);
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	kt_diag("%d events, %zu bytes in %d writes", t.nev, total, nw);
	return KT_PASS;
}

/*
 * Backlog 0: the first REQUEST is queued for accept(), the second is
 * refused (policy verdict -ECONNREFUSED, RST from the listener's address).
 */
static int t_backlog_refused(const struct kt_case *tc)
{
	unsigned int P = case_base();
	static struct expect x;
	struct tsk L, C1, S, C2;
	struct tp_pkt p;
	struct tpx t;
	int lo, l, c1, c2;

	(void)tc;
	if (lo_case_open(&t, &x, &lo))
		return KT_FAIL;
	lo_socks(&L, &C1, &S, lo, SOCK_STREAM, ANY, 1);
	C2 = C1;
	C2.tag = '2';
	C2.a.local_port = P + 2;

	l = KT_OK(vs_listen(SOCK_STREAM, ANY, P, 0));
	c1 = KT_OK(vs_socket(SOCK_STREAM));
	KT_OK(vs_bind(c1, ANY, C1.a.local_port));
	KT_OK(vs_connect(c1, VMADDR_CID_LOCAL, P));
	c2 = KT_OK(vs_socket(SOCK_STREAM));
	KT_OK(vs_bind(c2, ANY, C2.a.local_port));
	KT_ERRNO(vs_connect(c2, VMADDR_CID_LOCAL, P), ECONNRESET);
	close(c2);
	close(c1);
	close(l);	/* S was never accepted: the listener finishes it */

	want_lo_connect(&x, &L, &C1, &S, BUF_DEF);
	/* the refused one */
	want_route(&x, &C2, C2.a.local_port, "local");
	want_state(&x, &C2, ST_CLOSE, ST_SYN_SENT);
	p = lo_pkt(&C2, &S, OP_REQUEST);
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_accept(&x, &L, &C2, -ECONNREFUSED);
	/* a reply RST (from the listener's address) carries no credit */
	want_pair(&x, lo_pkt(&S, &C2, OP_RST));
	want_state(&x, &C2, ST_SYN_SENT, ST_CLOSE);
	/* close(C1) */
	p = lo_pkt(&C1, &S, OP_SHUTDOWN);
	p.flags = 3;
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	p = lo_pkt(&S, &C1, OP_RST);
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_state(&x, &S, ST_ESTABLISHED, ST_CLOSING);
	want_state(&x, &C1, ST_ESTABLISHED, ST_CLOSING);
	want_state(&x, &C1, ST_CLOSING, ST_CLOSE);
	/* close(L) */
	want_state(&x, &S, ST_CLOSING, ST_CLOSE);
	want_state(&x, &L, ST_LISTEN, ST_CLOSE);
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	return KT_PASS;
}

/*
 * Routing failures: no listener on CID 2 (without a guest device CID 2 is
 * this machine: loopback; the REQUEST is answered with RST), and CID ANY
 * (no device at all: route event with dev -1, ENODEV; the socket was not
 * auto-bound yet).
 */
static int t_refused_and_no_device(const struct kt_case *tc)
{
	unsigned int P = case_base();
	static struct expect x;
	int lo, guests = 0, c, c2;
	struct tsk L, C, S, N;
	struct tp_pkt p;
	struct tpx t;

	(void)tc;
	if (lo_case_open(&t, &x, &lo))
		return KT_FAIL;
	dev_id_of("guest", &guests);
	KT_ASSERT(guests == 0, "%d guest devices registered: CID 2 would not be local",
		  guests);
	/* S: the RST's source, no socket */
	lo_socks(&L, &C, &S, lo, SOCK_STREAM, ANY, 2);
	N = (struct tsk){ 'N', SOCK_STREAM, ANY, { NODEV, 0, ANY, ANY, P } };
	c = KT_OK(vs_socket(SOCK_STREAM));
	KT_OK(vs_bind(c, ANY, C.a.local_port));
	KT_ERRNO(vs_connect(c, VMADDR_CID_HOST, P), ECONNRESET);
	close(c);
	c2 = KT_OK(vs_socket(SOCK_STREAM));
	KT_ERRNO(vs_connect(c2, ANY, P), ENODEV);
	close(c2);

	want_route(&x, &C, C.a.local_port, "local");
	want_state(&x, &C, ST_CLOSE, ST_SYN_SENT);
	p = lo_pkt(&C, &S, OP_REQUEST);
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_pair(&x, lo_pkt(&S, &C, OP_RST));
	want_state(&x, &C, ST_SYN_SENT, ST_CLOSE);
	want_route(&x, &N, ANY, "no-device");
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	return KT_PASS;
}

struct sender {
	int fd;
	size_t len;
	ssize_t ret;
	int err;
};

static void *sender_fn(void *arg)
{
	struct sender *s = arg;
	static char buf[65536];

	memset(buf, 'y', sizeof(buf));
	s->ret = send(s->fd, buf, s->len, 0);
	s->err = errno;
	return NULL;
}

/*
 * Credit: S advertises 4096 bytes (the listener's buffer size); C sends
 * 6144 in one call: 4096 go out and C stalls; as S does not read, C asks
 * for credit once its wait has lasted MVSOCK_CREDIT_REQ_DELAY (S answers
 * with a CREDIT_UPDATE that gives nothing); then S reads 4096, its
 * CREDIT_UPDATE lets C send the last 2048 and the stall ends with 2048
 * bytes of credit left, having lasted at least the request's delay. The
 * credit events show both ends' view: what each sent and received, and
 * the credit toward its peer afterwards.
 */
static int t_credit_stall(const struct kt_case *tc)
{
	unsigned int P = case_base();
	unsigned long long bufsz = 4096;
	const __u64 delay = CREDIT_REQ_MS * MS;
	static struct expect x;
	struct tsk L, C, S;
	struct sender snd;
	struct tp_pkt p;
	struct tpx t;
	pthread_t th;
	int lo, l, c, s;

	(void)tc;
	if (lo_case_open(&t, &x, &lo))
		return KT_FAIL;
	lo_socks(&L, &C, &S, lo, SOCK_STREAM, ANY, 1);
	l = KT_OK(vs_socket(SOCK_STREAM));
	KT_OK(setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &bufsz,
			 sizeof(bufsz)));
	KT_OK(vs_bind(l, ANY, P));
	KT_OK(listen(l, 4));
	c = KT_OK(vs_socket(SOCK_STREAM));
	KT_OK(vs_bind(c, ANY, C.a.local_port));
	KT_OK(vs_connect(c, VMADDR_CID_LOCAL, P));
	s = KT_OK(accept(l, NULL, NULL));

	snd = (struct sender){ .fd = c, .len = 6144 };
	KT_ASSERT(!pthread_create(&th, NULL, sender_fn, &snd), "pthread_create");
	if (!tpx_wait_kind(&t, TP_CREDIT_STALL, -1, 10000) ||
	    !tpx_wait_kind(&t, TP_PKT_RX, OP_CREDIT_UPDATE, 10000)) {
		kt_diag("no credit stall, or no answer to a credit request, within 10 s");
		shutdown(c, SHUT_RDWR);
		read_all(s, 6144);
		pthread_join(th, NULL);
		dump_events("events seen", t.ev, t.nev);
		return KT_FAIL;
	}
	/* one recv() of all 4096 queued bytes: one CREDIT_UPDATE */
	KT_EQ(recv(s, (char[8192]){ 0 }, 8192, 0), 4096);
	pthread_join(th, NULL);
	KT_ASSERT(snd.ret == 6144, "send: %zd (%s)", snd.ret,
		  kt_errname(snd.err));
	KT_EQ(recv(s, (char[8192]){ 0 }, 8192, 0), 2048);
	close(c);
	close(s);
	close(l);

	want_lo_connect(&x, &L, &C, &S, 4096);
	p = lo_pkt(&C, &S, OP_RW);
	p.len = 4096;
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_stall(&x, &C, true, 0, 0);
	want_credit(&x, &C, TP_CREDIT_REQUEST, false, BUF_DEF, 0, 0);
	p = lo_pkt(&C, &S, OP_CREDIT_REQUEST);
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_credit(&x, &S, TP_CREDIT_REQUEST, true, BUF_DEF, 0, 4096);
	/* S's answer: nothing read yet */
	want_credit(&x, &S, TP_CREDIT_UPDATE, false, 4096, 0, 4096);
	p = lo_pkt(&S, &C, OP_CREDIT_UPDATE);
	p.buf_alloc = 4096;
	want_pair(&x, p);
	want_credit(&x, &C, TP_CREDIT_UPDATE, true, 4096, 0, 0);
	/* S read 4096 */
	want_credit(&x, &S, TP_CREDIT_UPDATE, false, 4096, 4096, 4096);
	p.fwd_cnt = 4096;
	want_pair(&x, p);
	want_credit(&x, &C, TP_CREDIT_UPDATE, true, 4096, 4096, 4096);
	want_deliver(&x, &S, 4096, 0, delay);
	p = lo_pkt(&C, &S, OP_RW);
	p.len = 2048;
	p.buf_alloc = BUF_DEF;
	want_pair(&x, p);
	want_stall(&x, &C, false, 2048, delay);
	want_deliver(&x, &S, 2048, 0, 0);
	want_lo_close(&x, &L, &C, &S, 4096, 6144);
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	return KT_PASS;
}

/* ---- the raw test device ------------------------------------------------- */

/* next packet the core sent on the raw device; 0 or -1 */
static int raw_read(int fd, struct vhdr *h)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[sizeof(*h) + 4096];
	ssize_t n;

	if (poll(&p, 1, 5000) != 1) {
		kt_diag("raw device: no packet within 5 s");
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(*h)) {
		kt_diag("raw device read: %zd (%s)", n, kt_errname(errno));
		return -1;
	}
	memcpy(h, buf, sizeof(*h));
	return 0;
}

/* read the next packet: it must be @op from port @port; 0 or -1 */
static int raw_expect(int fd, __u16 op, __u32 port)
{
	struct vhdr h;

	if (raw_read(fd, &h))
		return -1;
	if (h.op != op || h.src_port != port) {
		kt_diag("raw device: op %u from port %u, expected op %u from %u",
			h.op, h.src_port, op, port);
		return -1;
	}
	return 0;
}

/* the host (2:@k's peer port) sends @op (@len payload bytes) to @k */
static int raw_write(int fd, const struct tsk *k, __u16 op, __u32 buf_alloc,
		     __u32 fwd_cnt, __u32 len)
{
	char buf[sizeof(struct vhdr) + 4096];
	struct vhdr h = { .src_cid = 2, .dst_cid = k->a.local_cid,
			  .src_port = k->a.remote_port,
			  .dst_port = k->a.local_port, .len = len,
			  .type = T_STREAM, .op = op, .buf_alloc = buf_alloc,
			  .fwd_cnt = fwd_cnt };
	size_t n = sizeof(h) + len;

	if (n > sizeof(buf))
		return -1;
	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 'z', len);
	if (write(fd, buf, n) != (ssize_t)n) {
		kt_diag("raw device write: %s", kt_errname(errno));
		return -1;
	}
	return 0;
}

static int write_default_dev(const char *val)
{
	int fd = open("/sys/module/mvsock/parameters/default_dev", O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* a started guest-role raw device with CID @cid; its registry id in *@id */
static int raw_start(__u32 cid, int *id)
{
	struct mvsock_rawdev_cfg cfg = { .role = ROLE_GUEST, .cid = cid };
	struct mvsock_rawdev_stats st;
	int rd = open("/dev/mvsock-rawdev", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (rd < 0) {
		kt_diag("open /dev/mvsock-rawdev: %s", kt_errname(errno));
		return -1;
	}
	if (ioctl(rd, MVSOCK_RAWDEV_START, &cfg) ||
	    ioctl(rd, MVSOCK_RAWDEV_STATS, &st)) {
		kt_diag("raw device start: %s", kt_errname(errno));
		close(rd);
		return -1;
	}
	*id = st.dev_id;
	return rd;
}

/* A raw device case's start: no guest device yet, the programs loaded. */
static int raw_case_open(struct tpx *t, struct expect *x)
{
	int guests = 0;

	if (tracefs_ready() || lo_dev_id() < 0)
		return -1;
	if (access("/dev/mvsock-rawdev", F_OK)) {
		kt_diag("/dev/mvsock-rawdev missing: load selftests/kmod/mvsock_rawdev.ko (suites.d/70-bpf-tracepoints.sh does)");
		return -1;
	}
	dev_id_of("guest", &guests);
	if (guests) {
		kt_diag("%d guest devices already registered", guests);
		return -1;
	}
	x->n = 0;
	x->qdev = NODEV;
	return tpx_open(t, case_base(), case_base() + 15, NODEV);
}

/*
 * Client @k connects (non-blocking) to the host through raw device @rd:
 * the REQUEST must come out; with @respond the host accepts. The socket,
 * or -1.
 */
static int raw_client(int rd, const struct tsk *k, bool respond)
{
	/* no connect timer RST while we play the host, however slow the VM */
	struct timeval ctmo = { .tv_sec = 60 };
	int c = vs_socket(SOCK_STREAM | SOCK_NONBLOCK);

	if (c < 0 || setsockopt(c, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT,
				&ctmo, sizeof(ctmo)) ||
	    vs_bind(c, k->bound_cid, k->a.local_port) ||
	    vs_connect(c, VMADDR_CID_HOST, k->a.remote_port) == 0 ||
	    errno != EINPROGRESS) {
		kt_diag("client %c: %s", k->tag, kt_errname(errno));
		return -1;
	}
	if (raw_expect(rd, OP_REQUEST, k->a.local_port) ||
	    (respond && raw_write(rd, k, OP_RESPONSE, 65536, 0, 0)))
		return -1;
	return c;
}

/* a packet of @k's on the raw device: sent (@rx false) or received */
static struct tp_pkt raw_pkt(const struct tsk *k, bool rx, __u16 op)
{
	struct tp_pkt p = { .dev_id = k->a.dev_id, .src_cid = k->a.local_cid,
			    .src_port = k->a.local_port,
			    .dst_cid = k->a.remote_cid,
			    .dst_port = k->a.remote_port, .type = T_STREAM,
			    .op = op, .buf_alloc = BUF_DEF };

	if (rx) {
		p.src_cid = k->a.remote_cid;
		p.src_port = k->a.remote_port;
		p.dst_cid = k->a.local_cid;
		p.dst_port = k->a.local_port;
		p.buf_alloc = 65536;
	}
	return p;
}

/*
 * @k sends @op: traced with @queued ahead of it; the raw device's backlog
 * (its tx_pending queue: packets the test has not read) grows
 */
static void want_raw_tx(struct expect *x, const struct tsk *k, __u16 op,
			__u32 len, __u32 queued)
{
	struct tp_pkt p = raw_pkt(k, false, op);

	p.len = len;
	p.queued = queued;
	want_pkt(x, TP_PKT_TX, p);
	want_queue(x, p.dev_id, Q_TX_PENDING, queued + 1);
}

/* the test read @k's @op off the device, @ns_min after it was sent */
static void want_raw_read(struct expect *x, const struct tsk *k, __u16 op,
			  __u32 len, __u32 left, __u64 ns_min)
{
	struct tp_pkt p = raw_pkt(k, false, op);

	p.len = len;
	want_done(x, p, ns_min);
	want_queue(x, p.dev_id, Q_TX_PENDING, left);
}

/*
 * A guest device (raw test device, CID X) comes and goes: dev_add and
 * dev_default (first guest device), an unbound connect to the host goes
 * out through it ("default") and a bound one ("bound"); packets on it
 * show the device's queue depth, and so do its queue events as packets
 * are sent and read; the ones read after WAIT_MS show that latency; the
 * default is pinned by sysfs (dev_default), "auto" changes nothing (no
 * event), and the device is removed while the default (dev_remove with
 * is_default 1).
 */
static int t_devices(const struct kt_case *tc)
{
	unsigned int P = case_base();
	const __u32 X = 7310 + kt_cur_index;
	static struct expect x;
	struct tsk C1, C2;
	char idbuf[16];
	int rd, c1, c2, id;
	struct tpx t;

	(void)tc;
	if (raw_case_open(&t, &x))
		return KT_FAIL;
	rd = KT_OK(raw_start(X, &id));
	tpx_qdev(&t, id);
	C1 = (struct tsk){ '1', SOCK_STREAM, ANY, { id, X, P + 1, 2, P + 8 } };
	C2 = (struct tsk){ '2', SOCK_STREAM, X, { id, X, P + 2, 2, P + 9 } };

	/* unbound: the default device; we play the host and accept */
	c1 = KT_OK(raw_client(rd, &C1, true));
	for (int i = 0; i < 3; i++)
		KT_OK(send_exact(c1, 100, 0));
	usleep(WAIT_MS * 1000);
	for (int i = 0; i < 3; i++)
		KT_OK(raw_expect(rd, OP_RW, C1.a.local_port));
	KT_OK(raw_write(rd, &C1, OP_RST, 65536, 300, 0));
	close(c1);

	/* bound to the device's CID; closed while connecting: RST */
	c2 = KT_OK(raw_client(rd, &C2, false));
	close(c2);
	KT_OK(raw_expect(rd, OP_RST, C2.a.local_port));

	snprintf(idbuf, sizeof(idbuf), "%d", id);
	KT_OK(write_default_dev(idbuf));
	KT_OK(write_default_dev("auto"));
	KT_OK(ioctl(rd, MVSOCK_RAWDEV_STOP));
	close(rd);

	want_dev(&x, TP_DEV_ADD, id, ROLE_GUEST, X, true, "rawdev");
	want_dev(&x, TP_DEV_DEFAULT, id, ROLE_GUEST, X, true, "rawdev");
	want_route(&x, &C1, C1.a.local_port, "default");
	want_state(&x, &C1, ST_CLOSE, ST_SYN_SENT);
	want_raw_tx(&x, &C1, OP_REQUEST, 0, 0);
	want_raw_read(&x, &C1, OP_REQUEST, 0, 0, 0);
	want_pkt(&x, TP_PKT_RX, raw_pkt(&C1, true, OP_RESPONSE));
	want_state(&x, &C1, ST_SYN_SENT, ST_ESTABLISHED);
	/* nobody reads the device meanwhile: its queue grows */
	for (int i = 0; i < 3; i++)
		want_raw_tx(&x, &C1, OP_RW, 100, i);
	for (int i = 0; i < 3; i++)
		want_raw_read(&x, &C1, OP_RW, 100, 2 - i, WAIT_MS * MS);
	{
		struct tp_pkt p = raw_pkt(&C1, true, OP_RST);

		p.fwd_cnt = 300;
		want_pkt(&x, TP_PKT_RX, p);
	}
	want_state(&x, &C1, ST_ESTABLISHED, ST_CLOSING);
	want_state(&x, &C1, ST_CLOSING, ST_CLOSE);
	want_route(&x, &C2, C2.a.local_port, "bound");
	want_state(&x, &C2, ST_CLOSE, ST_SYN_SENT);
	want_raw_tx(&x, &C2, OP_REQUEST, 0, 0);
	want_raw_read(&x, &C2, OP_REQUEST, 0, 0, 0);
	want_raw_tx(&x, &C2, OP_RST, 0, 0);
	want_raw_read(&x, &C2, OP_RST, 0, 0, 0);
	want_state(&x, &C2, ST_SYN_SENT, ST_CLOSE);
	want_dev(&x, TP_DEV_DEFAULT, id, ROLE_GUEST, X, true, "rawdev");
	/* it was the default when it went */
	want_dev(&x, TP_DEV_REMOVE, id, ROLE_GUEST, X, true, "rawdev");
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	return KT_PASS;
}

/*
 * Credit packets and a CID change on a raw guest device (CID X): the host
 * sends CREDIT_REQUEST (received, answered: one event each way), then a
 * CREDIT_UPDATE with a 1000-byte buffer (received: peer credit 1000), then
 * 50 bytes read after WAIT_MS (delivered, queue time at least that). The
 * device's CID changes to X2 (dev_cid, the connection reset); a second
 * device Y comes, and a change of the first to Y is refused (dev_cid with
 * -EADDRINUSE). The first goes while the default (dev_remove is_default
 * 1, before its successor's dev_default), then the second.
 */
static int t_credit_cid(const struct kt_case *tc)
{
	unsigned int P = case_base();
	const __u32 X = 7510 + kt_cur_index, X2 = X + 1000, Y = X + 2000;
	static struct expect x;
	int rd, rd2, c, id, id2;
	struct tp_pkt p;
	struct tsk C;
	struct tpx t;

	(void)tc;
	if (raw_case_open(&t, &x))
		return KT_FAIL;
	rd = KT_OK(raw_start(X, &id));
	tpx_qdev(&t, id);
	C = (struct tsk){ 'C', SOCK_STREAM, ANY, { id, X, P + 1, 2, P + 8 } };
	c = KT_OK(raw_client(rd, &C, true));
	KT_OK(raw_write(rd, &C, OP_CREDIT_REQUEST, 65536, 0, 0));
	usleep(WAIT_MS * 1000);
	KT_OK(raw_expect(rd, OP_CREDIT_UPDATE, C.a.local_port));
	KT_OK(raw_write(rd, &C, OP_CREDIT_UPDATE, 1000, 0, 0));
	KT_OK(raw_write(rd, &C, OP_RW, 1000, 0, 50));
	usleep(WAIT_MS * 1000);
	KT_EQ(recv(c, (char[100]){ 0 }, 100, 0), 50);
	KT_OK(ioctl(rd, MVSOCK_RAWDEV_SET_CID, &X2));
	close(c);
	rd2 = KT_OK(raw_start(Y, &id2));
	KT_ERRNO(ioctl(rd, MVSOCK_RAWDEV_SET_CID, &Y), EADDRINUSE);
	KT_OK(ioctl(rd, MVSOCK_RAWDEV_STOP));
	KT_OK(ioctl(rd2, MVSOCK_RAWDEV_STOP));
	close(rd);
	close(rd2);

	want_dev(&x, TP_DEV_ADD, id, ROLE_GUEST, X, true, "rawdev");
	want_dev(&x, TP_DEV_DEFAULT, id, ROLE_GUEST, X, true, "rawdev");
	want_route(&x, &C, C.a.local_port, "default");
	want_state(&x, &C, ST_CLOSE, ST_SYN_SENT);
	want_raw_tx(&x, &C, OP_REQUEST, 0, 0);
	want_raw_read(&x, &C, OP_REQUEST, 0, 0, 0);
	want_pkt(&x, TP_PKT_RX, raw_pkt(&C, true, OP_RESPONSE));
	want_state(&x, &C, ST_SYN_SENT, ST_ESTABLISHED);
	want_pkt(&x, TP_PKT_RX, raw_pkt(&C, true, OP_CREDIT_REQUEST));
	want_credit(&x, &C, TP_CREDIT_REQUEST, true, 65536, 0, 65536);
	want_credit(&x, &C, TP_CREDIT_UPDATE, false, BUF_DEF, 0, 65536);
	want_raw_tx(&x, &C, OP_CREDIT_UPDATE, 0, 0);
	want_raw_read(&x, &C, OP_CREDIT_UPDATE, 0, 0, WAIT_MS * MS);
	p = raw_pkt(&C, true, OP_CREDIT_UPDATE);
	p.buf_alloc = 1000;
	want_pkt(&x, TP_PKT_RX, p);
	want_credit(&x, &C, TP_CREDIT_UPDATE, true, 1000, 0, 1000);
	p.op = OP_RW;
	p.len = 50;
	want_pkt(&x, TP_PKT_RX, p);
	want_deliver(&x, &C, 50, 0, WAIT_MS * MS);
	want_dev_cid(&x, id, X, X2, 0, true, "rawdev");
	want_state(&x, &C, ST_ESTABLISHED, ST_CLOSE);
	want_dev(&x, TP_DEV_ADD, id2, ROLE_GUEST, Y, false, "rawdev");
	want_dev_cid(&x, id, X2, Y, -EADDRINUSE, true, "rawdev");
	want_dev(&x, TP_DEV_REMOVE, id, ROLE_GUEST, X2, true, "rawdev");
	want_dev(&x, TP_DEV_DEFAULT, id2, ROLE_GUEST, Y, true, "rawdev");
	want_dev(&x, TP_DEV_REMOVE, id2, ROLE_GUEST, Y, true, "rawdev");
	if (check_events(&t, &x) || check_btf(&t))
		return KT_FAIL;
	return KT_PASS;
}

/* ---- perf ---------------------------------------------------------------- */

#define MAX_CPUS 64

struct perfc {
	int fd[TP_NR][MAX_CPUS];
	int ncpu;
};

static int tp_id(const char *name)
{
	char path[256];
	int id = -1;
	FILE *f;

	snprintf(path, sizeof(path), TRACEFS "/events/mvsock/%s/id", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &id) != 1)
		id = -1;
	fclose(f);
	return id;
}

/* Counting perf events (what `perf stat -e mvsock:*` opens) on every CPU. */
static int perf_open(struct perfc *p)
{
	p->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (p->ncpu > MAX_CPUS)
		p->ncpu = MAX_CPUS;
	for (int k = 0; k < TP_NR; k++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_TRACEPOINT,
			.size = sizeof(a),
			.config = tp_id(tp_names[k]),
		};

		if ((int)a.config < 0) {
			kt_diag("%s: no tracepoint id", tp_names[k]);
			return -1;
		}
		for (int c = 0; c < p->ncpu; c++) {
			p->fd[k][c] = syscall(SYS_perf_event_open, &a, -1, c, -1,
					      PERF_FLAG_FD_CLOEXEC);
			if (p->fd[k][c] < 0) {
				kt_diag("perf_event_open(%s, cpu %d): %s",
					tp_names[k], c, kt_errname(errno));
				return -1;
			}
		}
	}
	return 0;
}

static void perf_read(struct perfc *p, unsigned long long *out)
{
	for (int k = 0; k < TP_NR; k++) {
		out[k] = 0;
		for (int c = 0; c < p->ncpu; c++) {
			unsigned long long v = 0;

			if (read(p->fd[k][c], &v, sizeof(v)) == sizeof(v))
				out[k] += v;
		}
	}
}

/* a short loopback connection: 2 writes, then close */
static int traffic(unsigned int P)
{
	int l, c, s;

	l = vs_listen(SOCK_STREAM, ANY, P, 4);
	c = vs_socket(SOCK_STREAM);
	if (l < 0 || c < 0 || vs_bind(c, ANY, P + 1) ||
	    vs_connect(c, VMADDR_CID_LOCAL, P)) {
		kt_diag("traffic: %s", kt_errname(errno));
		return -1;
	}
	s = accept(l, NULL, NULL);
	if (s < 0 || send_exact(c, 500, 0) || send_exact(c, 700, 0) ||
	    read_all(s, 1200))
		return -1;
	close(c);
	close(s);
	close(l);
	usleep(100 * 1000);
	return 0;
}

static void hits_read(struct tpx *t, unsigned long long *out)
{
	for (int k = 0; k < TP_NR; k++)
		out[k] = t->skel->bss->hits[k];
}

/*
 * Per tracepoint: events perf counted == events our programs saw, since
 * the snapshot @p0/@h0. With @hidden, pkt_tx must have been hidden from
 * perf (0 counted) while the programs saw it.
 */
static int perf_compare(struct tpx *t, struct perfc *pc,
			const unsigned long long *p0,
			const unsigned long long *h0, int hidden)
{
	unsigned long long p1[TP_NR], h1[TP_NR];
	bool ok = true;

	perf_read(pc, p1);
	hits_read(t, h1);
	for (int k = 0; k < TP_NR; k++) {
		unsigned long long dp = p1[k] - p0[k], dh = h1[k] - h0[k];
		bool want_hidden = hidden && k == TP_PKT_TX;

		if (want_hidden ? dp != 0 : dp != dh) {
			kt_diag("%s: perf counted %llu, BPF saw %llu%s",
				tp_names[k], dp, dh,
				want_hidden ? " (expected hidden from perf)" : "");
			ok = false;
		}
	}
	/* loopback traffic: no queue events (loopback reports none) */
	static const int seen[] = { TP_PKT_TX, TP_PKT_RX, TP_SOCK_STATE,
				    TP_ROUTE, TP_PKT_DONE, TP_DELIVER };

	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		int k = seen[i];

		if (h1[k] == h0[k]) {
			kt_diag("%s: no event at all", tp_names[k]);
			ok = false;
		}
	}
	return ok ? 0 : -1;
}

/*
 * Our classic tracepoint programs return 1: perf still sees every mvsock
 * event while they are attached.
 */
static int t_perf_sees_events(const struct kt_case *tc)
{
	unsigned long long p0[TP_NR], h0[TP_NR];
	unsigned int P = case_base();
	struct perfc pc;
	struct tpx t;

	(void)tc;
	if (tracefs_ready())
		return KT_FAIL;
	if (tpx_open(&t, P, P + 15, NODEV) || perf_open(&pc))
		return KT_FAIL;
	perf_read(&pc, p0);
	hits_read(&t, h0);
	KT_OK(traffic(P));
	KT_OK(perf_compare(&t, &pc, p0, h0, 0));
	return KT_PASS;
}

/*
 * The trap, shown: one program returning 0 on mvsock_pkt_tx hides the
 * event from perf (so the comparison above can fail); detached, perf
 * counts again.
 */
static int t_perf_return0_hides(const struct kt_case *tc)
{
	unsigned long long p0[TP_NR], h0[TP_NR];
	unsigned int P = case_base();
	struct bpf_link *hider;
	struct perfc pc;
	struct tpx t;

	(void)tc;
	if (tracefs_ready())
		return KT_FAIL;
	if (tpx_open(&t, P, P + 15, NODEV) || perf_open(&pc))
		return KT_FAIL;
	hider = bpf_program__attach(t.skel->progs.hide_pkt_tx);
	KT_ASSERT(hider, "attach hide_pkt_tx: %s", strerror(errno));
	perf_read(&pc, p0);
	hits_read(&t, h0);
	KT_OK(traffic(P));
	KT_OK(perf_compare(&t, &pc, p0, h0, 1));
	bpf_link__destroy(hider);

	perf_read(&pc, p0);
	hits_read(&t, h0);
	KT_OK(traffic(P + 4));
	KT_OK(perf_compare(&t, &pc, p0, h0, 0));
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "attach_all_tracepoints", t_attach_all, 0, CASE_TIMEOUT },
	{ "stream_loopback", t_connection, 0, CASE_TIMEOUT },
	{ "seqpacket_loopback", t_connection, 1, CASE_TIMEOUT },
	{ "stream_loopback_bound_cid1", t_connection, 2, CASE_TIMEOUT },
	{ "backlog_full_refused", t_backlog_refused, 0, CASE_TIMEOUT },
	{ "no_listener_and_no_device", t_refused_and_no_device, 0, CASE_TIMEOUT },
	{ "credit_stall", t_credit_stall, 0, CASE_TIMEOUT },
	{ "devices_and_routing_rawdev", t_devices, 0, CASE_TIMEOUT },
	{ "credit_and_cid_change_rawdev", t_credit_cid, 0, CASE_TIMEOUT },
	{ "perf_sees_events", t_perf_sees_events, 0, CASE_TIMEOUT },
	{ "perf_trap_return0_hides", t_perf_return0_hides, 0, CASE_TIMEOUT },
};

int main(int argc, char **argv)
{
	bt_setup(argc, argv);
	return kt_run(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
