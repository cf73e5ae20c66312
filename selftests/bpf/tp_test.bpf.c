// SPDX-License-Identifier: GPL-2.0
/*
 * BPF side of tp_test: one classic tracepoint program per event of the
 * mvsock trace system, copying every field into a ring buffer (only for
 * the test's own ports, see below), plus a tp_btf program per event that
 * counts and, for packets, reads the virtio-vsock header straight from
 * the skb.
 *
 * Classic tracepoint programs return 1: with perf_event attachment the
 * kernel only passes the event on to perf (and ftrace-style perf users)
 * when every attached program returns non-zero; returning 0 would hide
 * mvsock events from `perf record -e mvsock:*`. hide_pkt_tx returns 0 on
 * purpose: tp_test attaches it by hand to prove that trap and that the
 * perf check can fail.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tp_test.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by tp_test before load. port_hi == 0: keep everything. */
const volatile __u32 port_lo = 0;
const volatile __u32 port_hi = 0;
/* queue events carry no port: keep those of this device (-1: none);
 * tp_test changes it after load
 */
__s32 queue_dev = -1;

/* every event, unfiltered: compared with perf's counts */
__u64 hits[TP_NR] = {};
/* the same from the tp_btf programs */
__u64 btf_hits[TP_NR] = {};
/* tp_btf, packets of our ports (tx, rx, done): count and payload bytes
 * from the header
 */
__u64 btf_pkts[3] = {};
__u64 btf_bytes[3] = {};
/* events we kept but could not put in the ring buffer */
__u64 ring_drops = 0;
__u32 seq = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline bool port_ours(__u32 port)
{
	return !port_hi || (port >= port_lo && port <= port_hi);
}

static __always_inline struct tp_event *ev_new(enum tp_kind kind)
{
	struct tp_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&ring_drops, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->seq = __sync_fetch_and_add(&seq, 1);
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	return e;
}

/* A __data_loc string: offset in the low 16 bits, from the entry start. */
static __always_inline void read_loc_str(char *dst, void *ctx, __u32 loc)
{
	bpf_probe_read_kernel_str(dst, TP_STR_LEN,
				  (void *)((unsigned long)ctx + (loc & 0xffff)));
}

static __always_inline int on_pkt(struct trace_event_raw_mvsock_pkt_class *ctx,
				  enum tp_kind kind)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[kind], 1);
	if (!port_ours(ctx->src_port) && !port_ours(ctx->dst_port))
		return 1;
	e = ev_new(kind);
	if (!e)
		return 1;
	e->pkt.dev_id = ctx->dev_id;
	e->pkt.src_cid = ctx->src_cid;
	e->pkt.src_port = ctx->src_port;
	e->pkt.dst_cid = ctx->dst_cid;
	e->pkt.dst_port = ctx->dst_port;
	e->pkt.type = ctx->type;
	e->pkt.op = ctx->op;
	e->pkt.len = ctx->len;
	e->pkt.flags = ctx->flags;
	e->pkt.buf_alloc = ctx->buf_alloc;
	e->pkt.fwd_cnt = ctx->fwd_cnt;
	e->pkt.queued = ctx->queued;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_pkt_tx")
int tp_pkt_tx(struct trace_event_raw_mvsock_pkt_class *ctx)
{
	return on_pkt(ctx, TP_PKT_TX);
}

SEC("tp/mvsock/mvsock_pkt_rx")
int tp_pkt_rx(struct trace_event_raw_mvsock_pkt_class *ctx)
{
	return on_pkt(ctx, TP_PKT_RX);
}

/*
 * A socket event of one of our ports: counted, and a ring buffer entry
 * with the shared socket fields filled in (NULL: not ours or no room).
 */
#define SK_EV(ctx, kind, member)					\
({									\
	struct tp_event *__e = NULL;					\
									\
	__sync_fetch_and_add(&hits[kind], 1);				\
	if (port_ours((ctx)->local_port) || port_ours((ctx)->remote_port)) \
		__e = ev_new(kind);					\
	if (__e) {							\
		__e->skaddr = (__u64)(ctx)->skaddr;			\
		__e->member.sk.dev_id = (ctx)->dev_id;			\
		__e->member.sk.local_cid = (ctx)->local_cid;		\
		__e->member.sk.local_port = (ctx)->local_port;		\
		__e->member.sk.remote_cid = (ctx)->remote_cid;		\
		__e->member.sk.remote_port = (ctx)->remote_port;	\
	}								\
	__e;								\
})

SEC("tp/mvsock/mvsock_sock_state")
int tp_sock_state(struct trace_event_raw_mvsock_sock_state *ctx)
{
	struct tp_event *e = SK_EV(ctx, TP_SOCK_STATE, state);

	if (!e)
		return 1;
	e->state.type = ctx->type;
	e->state.old_state = ctx->old_state;
	e->state.new_state = ctx->new_state;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_route")
int tp_route(struct trace_event_raw_mvsock_route *ctx)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[TP_ROUTE], 1);
	if (!port_ours(ctx->local_port) && !port_ours(ctx->remote_port))
		return 1;
	e = ev_new(TP_ROUTE);
	if (!e)
		return 1;
	e->skaddr = (__u64)ctx->skaddr;
	e->route.local_cid = ctx->local_cid;
	e->route.local_port = ctx->local_port;
	e->route.remote_cid = ctx->remote_cid;
	e->route.remote_port = ctx->remote_port;
	e->route.dev_id = ctx->dev_id;
	read_loc_str(e->route.reason, ctx, ctx->__data_loc_reason);
	bpf_ringbuf_submit(e, 0);
	return 1;
}

static __always_inline int on_dev(struct trace_event_raw_mvsock_dev_class *ctx,
				  enum tp_kind kind)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[kind], 1);
	e = ev_new(kind);
	if (!e)
		return 1;
	e->dev.dev_id = ctx->dev_id;
	e->dev.role = ctx->role;
	e->dev.cid = ctx->cid;
	e->dev.is_default = ctx->is_default;
	bpf_probe_read_kernel_str(e->dev.name, sizeof(e->dev.name), ctx->name);
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_dev_add")
int tp_dev_add(struct trace_event_raw_mvsock_dev_class *ctx)
{
	return on_dev(ctx, TP_DEV_ADD);
}

SEC("tp/mvsock/mvsock_dev_remove")
int tp_dev_remove(struct trace_event_raw_mvsock_dev_class *ctx)
{
	return on_dev(ctx, TP_DEV_REMOVE);
}

SEC("tp/mvsock/mvsock_dev_default")
int tp_dev_default(struct trace_event_raw_mvsock_dev_class *ctx)
{
	return on_dev(ctx, TP_DEV_DEFAULT);
}

SEC("tp/mvsock/mvsock_dev_cid")
int tp_dev_cid(struct trace_event_raw_mvsock_dev_cid *ctx)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[TP_DEV_CID], 1);
	e = ev_new(TP_DEV_CID);
	if (!e)
		return 1;
	e->dev.dev_id = ctx->dev_id;
	e->dev.role = ctx->role;
	e->dev.cid = ctx->new_cid;
	e->dev.old_cid = ctx->old_cid;
	e->dev.err = ctx->err;
	e->dev.is_default = ctx->is_default;
	bpf_probe_read_kernel_str(e->dev.name, sizeof(e->dev.name), ctx->name);
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_credit_stall")
int tp_credit_stall(struct trace_event_raw_mvsock_credit_stall *ctx)
{
	struct tp_event *e = SK_EV(ctx, TP_CREDIT_STALL, stall);

	if (!e)
		return 1;
	e->ns = ctx->duration_ns;
	e->stall.begin = ctx->begin;
	e->stall.credit = ctx->credit;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

static __always_inline int on_credit(struct trace_event_raw_mvsock_credit_class *ctx,
				     enum tp_kind kind)
{
	struct tp_event *e = SK_EV(ctx, kind, credit);

	if (!e)
		return 1;
	e->credit.rx = ctx->rx;
	e->credit.buf_alloc = ctx->buf_alloc;
	e->credit.fwd_cnt = ctx->fwd_cnt;
	e->credit.peer_credit = ctx->peer_credit;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_credit_update")
int tp_credit_update(struct trace_event_raw_mvsock_credit_class *ctx)
{
	return on_credit(ctx, TP_CREDIT_UPDATE);
}

SEC("tp/mvsock/mvsock_credit_request")
int tp_credit_request(struct trace_event_raw_mvsock_credit_class *ctx)
{
	return on_credit(ctx, TP_CREDIT_REQUEST);
}

SEC("tp/mvsock/mvsock_queue")
int tp_queue(struct trace_event_raw_mvsock_queue *ctx)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[TP_QUEUE], 1);
	if ((__s32)ctx->dev_id != queue_dev)
		return 1;
	e = ev_new(TP_QUEUE);
	if (!e)
		return 1;
	e->queue.dev_id = ctx->dev_id;
	e->queue.kind = ctx->kind;
	e->queue.depth = ctx->depth;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_pkt_done")
int tp_pkt_done(struct trace_event_raw_mvsock_pkt_done *ctx)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[TP_PKT_DONE], 1);
	if (!port_ours(ctx->src_port) && !port_ours(ctx->dst_port))
		return 1;
	e = ev_new(TP_PKT_DONE);
	if (!e)
		return 1;
	e->ns = ctx->latency_ns;
	e->done.dev_id = ctx->dev_id;
	e->done.src_cid = ctx->src_cid;
	e->done.src_port = ctx->src_port;
	e->done.dst_cid = ctx->dst_cid;
	e->done.dst_port = ctx->dst_port;
	e->done.type = ctx->type;
	e->done.op = ctx->op;
	e->done.len = ctx->len;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_deliver")
int tp_deliver(struct trace_event_raw_mvsock_deliver *ctx)
{
	struct tp_event *e = SK_EV(ctx, TP_DELIVER, deliver);

	if (!e)
		return 1;
	e->ns = ctx->queue_ns;
	e->deliver.type = ctx->type;
	e->deliver.len = ctx->len;
	e->deliver.left = ctx->left;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tp/mvsock/mvsock_policy")
int tp_policy(struct trace_event_raw_mvsock_policy *ctx)
{
	struct tp_event *e;

	__sync_fetch_and_add(&hits[TP_POLICY], 1);
	if (!port_ours(ctx->local_port) && !port_ours(ctx->peer_port))
		return 1;
	e = ev_new(TP_POLICY);
	if (!e)
		return 1;
	e->skaddr = (__u64)ctx->skaddr;
	e->policy.peer_cid = ctx->peer_cid;
	e->policy.peer_port = ctx->peer_port;
	e->policy.local_port = ctx->local_port;
	e->policy.verdict = ctx->verdict;
	e->policy.dev_id = ctx->dev_id;
	e->policy.local_cid = ctx->local_cid;
	read_loc_str(e->policy.hook, ctx, ctx->__data_loc_hook);
	bpf_ringbuf_submit(e, 0);
	return 1;
}

/* The trap: a classic tracepoint program returning 0 hides the event from
 * perf. Not attached automatically (tp_test attaches it in one case).
 */
SEC("tp/mvsock/mvsock_pkt_tx")
int hide_pkt_tx(void *ctx)
{
	return 0;
}

/* ---- tp_btf: the raw tracepoint arguments, through module BTF ---------- */

static __always_inline void btf_pkt(struct sk_buff *skb, int dir)
{
	struct virtio_vsock_hdr hdr;

	/* raw tracepoint arguments may be NULL as far as the verifier knows */
	if (!skb)
		return;
	/* the header is at skb->data on both tx and rx when traced */
	if (bpf_probe_read_kernel(&hdr, sizeof(hdr), skb->data))
		return;
	if (!port_ours(hdr.src_port) && !port_ours(hdr.dst_port))
		return;
	__sync_fetch_and_add(&btf_pkts[dir], 1);
	__sync_fetch_and_add(&btf_bytes[dir], hdr.len);
}

SEC("tp_btf/mvsock_pkt_tx")
int BPF_PROG(btf_pkt_tx, const struct mvsock_dev *dev, struct sk_buff *skb)
{
	__sync_fetch_and_add(&btf_hits[TP_PKT_TX], 1);
	btf_pkt(skb, 0);
	return 0;
}

SEC("tp_btf/mvsock_pkt_rx")
int BPF_PROG(btf_pkt_rx, const struct mvsock_dev *dev, struct sk_buff *skb)
{
	__sync_fetch_and_add(&btf_hits[TP_PKT_RX], 1);
	btf_pkt(skb, 1);
	return 0;
}

/* the device is done with the skb: its header is still at skb->data */
SEC("tp_btf/mvsock_pkt_done")
int BPF_PROG(btf_pkt_done, const struct mvsock_dev *dev, struct sk_buff *skb,
	     u64 latency_ns)
{
	__sync_fetch_and_add(&btf_hits[TP_PKT_DONE], 1);
	btf_pkt(skb, 2);
	return 0;
}

#define BTF_COUNT(tp, kind)				\
SEC("tp_btf/" #tp)					\
int btf_##tp(void *ctx)					\
{							\
	__sync_fetch_and_add(&btf_hits[kind], 1);	\
	return 0;					\
}

BTF_COUNT(mvsock_sock_state, TP_SOCK_STATE)
BTF_COUNT(mvsock_route, TP_ROUTE)
BTF_COUNT(mvsock_dev_add, TP_DEV_ADD)
BTF_COUNT(mvsock_dev_remove, TP_DEV_REMOVE)
BTF_COUNT(mvsock_dev_default, TP_DEV_DEFAULT)
BTF_COUNT(mvsock_credit_stall, TP_CREDIT_STALL)
BTF_COUNT(mvsock_policy, TP_POLICY)
BTF_COUNT(mvsock_dev_cid, TP_DEV_CID)
BTF_COUNT(mvsock_credit_update, TP_CREDIT_UPDATE)
BTF_COUNT(mvsock_credit_request, TP_CREDIT_REQUEST)
BTF_COUNT(mvsock_queue, TP_QUEUE)
BTF_COUNT(mvsock_deliver, TP_DELIVER)
