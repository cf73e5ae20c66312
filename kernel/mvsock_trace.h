/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mvsock tracepoints, system "mvsock". The fields are a stable ABI for
 * vsocktop and perf users: docs/tracepoints.md lists them. Add fields at
 * the end only (and tp_btf arguments too). Socket events carry the
 * socket's device as s32 dev_id, -1 before it has one.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mvsock

#if !defined(_MVSOCK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MVSOCK_TRACE_H

#include <linux/tracepoint.h>
#include <net/sock.h>

#include "mvsock.h"

/*
 * Names for the op, type and state fields in the events' text (perf
 * script, trace_pipe); the fields themselves keep their numeric values.
 * TRACE_DEFINE_ENUM() puts the numbers into the events' format files.
 */
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_INVALID);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_REQUEST);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_RESPONSE);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_RST);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_SHUTDOWN);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_RW);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_CREDIT_UPDATE);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_OP_CREDIT_REQUEST);

#define mvsock_show_op(op)						\
	__print_symbolic(op,						\
		{ VIRTIO_VSOCK_OP_INVALID, "INVALID" },			\
		{ VIRTIO_VSOCK_OP_REQUEST, "REQUEST" },			\
		{ VIRTIO_VSOCK_OP_RESPONSE, "RESPONSE" },		\
		{ VIRTIO_VSOCK_OP_RST, "RST" },				\
		{ VIRTIO_VSOCK_OP_SHUTDOWN, "SHUTDOWN" },		\
		{ VIRTIO_VSOCK_OP_RW, "RW" },				\
		{ VIRTIO_VSOCK_OP_CREDIT_UPDATE, "CREDIT_UPDATE" },	\
		{ VIRTIO_VSOCK_OP_CREDIT_REQUEST, "CREDIT_REQUEST" })

/* a packet's type (virtio) */
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_TYPE_STREAM);
TRACE_DEFINE_ENUM(VIRTIO_VSOCK_TYPE_SEQPACKET);

#define mvsock_show_wire_type(type)					\
	__print_symbolic(type,						\
		{ VIRTIO_VSOCK_TYPE_STREAM, "STREAM" },			\
		{ VIRTIO_VSOCK_TYPE_SEQPACKET, "SEQPACKET" })

/* a socket's type (sk_type) */
TRACE_DEFINE_ENUM(SOCK_STREAM);
TRACE_DEFINE_ENUM(SOCK_SEQPACKET);

#define mvsock_show_sk_type(type)					\
	__print_symbolic(type,						\
		{ SOCK_STREAM, "STREAM" },				\
		{ SOCK_SEQPACKET, "SEQPACKET" })

TRACE_DEFINE_ENUM(TCP_ESTABLISHED);
TRACE_DEFINE_ENUM(TCP_SYN_SENT);
TRACE_DEFINE_ENUM(TCP_SYN_RECV);
TRACE_DEFINE_ENUM(TCP_FIN_WAIT1);
TRACE_DEFINE_ENUM(TCP_FIN_WAIT2);
TRACE_DEFINE_ENUM(TCP_TIME_WAIT);
TRACE_DEFINE_ENUM(TCP_CLOSE);
TRACE_DEFINE_ENUM(TCP_CLOSE_WAIT);
TRACE_DEFINE_ENUM(TCP_LAST_ACK);
TRACE_DEFINE_ENUM(TCP_LISTEN);
TRACE_DEFINE_ENUM(TCP_CLOSING);

#define mvsock_show_state(state)					\
	__print_symbolic(state,						\
		{ TCP_ESTABLISHED, "ESTABLISHED" },			\
		{ TCP_SYN_SENT, "SYN_SENT" },				\
		{ TCP_SYN_RECV, "SYN_RECV" },				\
		{ TCP_FIN_WAIT1, "FIN_WAIT1" },				\
		{ TCP_FIN_WAIT2, "FIN_WAIT2" },				\
		{ TCP_TIME_WAIT, "TIME_WAIT" },				\
		{ TCP_CLOSE, "CLOSE" },					\
		{ TCP_CLOSE_WAIT, "CLOSE_WAIT" },			\
		{ TCP_LAST_ACK, "LAST_ACK" },				\
		{ TCP_LISTEN, "LISTEN" },				\
		{ TCP_CLOSING, "CLOSING" })

DECLARE_EVENT_CLASS(mvsock_pkt_class,
	TP_PROTO(const struct mvsock_dev *dev, struct sk_buff *skb),
	TP_ARGS(dev, skb),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(u32, src_cid)
		__field(u32, src_port)
		__field(u32, dst_cid)
		__field(u32, dst_port)
		__field(u16, type)
		__field(u16, op)
		__field(u32, len)
		__field(u32, flags)
		__field(u32, buf_alloc)
		__field(u32, fwd_cnt)
		__field(u32, queued)
	),
	TP_fast_assign(
		const struct mvsock_cb *cb = (const struct mvsock_cb *)skb->cb;

		__entry->dev_id = dev->id;
		__entry->src_cid = cb->src_cid;
		__entry->src_port = cb->src_port;
		__entry->dst_cid = cb->dst_cid;
		__entry->dst_port = cb->dst_port;
		__entry->type = cb->type;
		__entry->op = cb->op;
		__entry->len = cb->len;
		__entry->flags = cb->flags;
		__entry->buf_alloc = cb->buf_alloc;
		__entry->fwd_cnt = cb->fwd_cnt;
		__entry->queued = atomic_read(&dev->queued);
	),
	TP_printk("dev=%u %u:%u -> %u:%u type=%s op=%s len=%u flags=%#x buf_alloc=%u fwd_cnt=%u queued=%u",
		  __entry->dev_id, __entry->src_cid, __entry->src_port,
		  __entry->dst_cid, __entry->dst_port,
		  mvsock_show_wire_type(__entry->type),
		  mvsock_show_op(__entry->op), __entry->len, __entry->flags,
		  __entry->buf_alloc, __entry->fwd_cnt, __entry->queued)
);

DEFINE_EVENT(mvsock_pkt_class, mvsock_pkt_tx,
	TP_PROTO(const struct mvsock_dev *dev, struct sk_buff *skb),
	TP_ARGS(dev, skb));

DEFINE_EVENT(mvsock_pkt_class, mvsock_pkt_rx,
	TP_PROTO(const struct mvsock_dev *dev, struct sk_buff *skb),
	TP_ARGS(dev, skb));

TRACE_EVENT(mvsock_sock_state,
	TP_PROTO(const struct sock *sk, int old, int new,
		 const struct mvsock_sock *vsk),
	TP_ARGS(sk, old, new, vsk),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(u32, local_cid)
		__field(u32, local_port)
		__field(u32, remote_cid)
		__field(u32, remote_port)
		__field(u16, type)
		__field(u8, old_state)
		__field(u8, new_state)
		__field(s32, dev_id)
	),
	TP_fast_assign(
		__entry->skaddr = sk;
		__entry->local_cid = vsk->local.svm_cid;
		__entry->local_port = vsk->local.svm_port;
		__entry->remote_cid = vsk->remote.svm_cid;
		__entry->remote_port = vsk->remote.svm_port;
		__entry->type = sk->sk_type;
		__entry->old_state = old;
		__entry->new_state = new;
		__entry->dev_id = mvsock_sk_dev_id(vsk);
	),
	TP_printk("sk=%p %u:%u -> %u:%u type=%s state %s -> %s dev=%d",
		  __entry->skaddr, __entry->local_cid, __entry->local_port,
		  __entry->remote_cid, __entry->remote_port,
		  mvsock_show_sk_type(__entry->type),
		  mvsock_show_state(__entry->old_state),
		  mvsock_show_state(__entry->new_state), __entry->dev_id)
);

TRACE_EVENT(mvsock_route,
	TP_PROTO(const struct sock *sk, u32 remote_cid,
		 const struct mvsock_dev *dev, const char *reason,
		 u32 remote_port),
	TP_ARGS(sk, remote_cid, dev, reason, remote_port),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(u32, local_cid)
		__field(u32, remote_cid)
		__field(s32, dev_id)
		__string(reason, reason)
		__field(u32, local_port)
		__field(u32, remote_port)
	),
	TP_fast_assign(
		const struct mvsock_sock *vsk = (const struct mvsock_sock *)sk;

		__entry->skaddr = sk;
		__entry->local_cid = vsk->local.svm_cid;
		__entry->remote_cid = remote_cid;
		__entry->dev_id = dev ? (s32)dev->id : -1;
		__assign_str(reason);
		__entry->local_port = vsk->local.svm_port;
		__entry->remote_port = remote_port;
	),
	TP_printk("sk=%p local=%u:%u remote=%u:%u dev=%d reason=%s",
		  __entry->skaddr, __entry->local_cid, __entry->local_port,
		  __entry->remote_cid, __entry->remote_port, __entry->dev_id,
		  __get_str(reason))
);

DECLARE_EVENT_CLASS(mvsock_dev_class,
	TP_PROTO(const struct mvsock_dev *dev),
	TP_ARGS(dev),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(u32, role)
		__field(u32, cid)
		__field(u8, is_default)
		__array(char, name, 32)
	),
	TP_fast_assign(
		__entry->dev_id = dev->id;
		__entry->role = dev->role;
		__entry->cid = dev->cid;
		__entry->is_default = dev->is_default;
		memcpy(__entry->name, dev->name, 32);
	),
	TP_printk("dev=%u name=%s role=%u cid=%u default=%u",
		  __entry->dev_id, __entry->name, __entry->role, __entry->cid,
		  __entry->is_default)
);

DEFINE_EVENT(mvsock_dev_class, mvsock_dev_add,
	TP_PROTO(const struct mvsock_dev *dev), TP_ARGS(dev));
DEFINE_EVENT(mvsock_dev_class, mvsock_dev_remove,
	TP_PROTO(const struct mvsock_dev *dev), TP_ARGS(dev));
DEFINE_EVENT(mvsock_dev_class, mvsock_dev_default,
	TP_PROTO(const struct mvsock_dev *dev), TP_ARGS(dev));

/* A device's CID change was asked for (virtio TRANSPORT_RESET). */
TRACE_EVENT(mvsock_dev_cid,
	TP_PROTO(const struct mvsock_dev *dev, u32 old_cid, u32 new_cid,
		 int err),
	TP_ARGS(dev, old_cid, new_cid, err),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(u32, role)
		__field(u32, old_cid)
		__field(u32, new_cid)
		__field(s32, err)
		__field(u8, is_default)
		__array(char, name, 32)
	),
	TP_fast_assign(
		__entry->dev_id = dev->id;
		__entry->role = dev->role;
		__entry->old_cid = old_cid;
		__entry->new_cid = new_cid;
		__entry->err = err;
		__entry->is_default = dev->is_default;
		memcpy(__entry->name, dev->name, 32);
	),
	TP_printk("dev=%u name=%s role=%u cid %u -> %u err=%d default=%u",
		  __entry->dev_id, __entry->name, __entry->role,
		  __entry->old_cid, __entry->new_cid, __entry->err,
		  __entry->is_default)
);

TRACE_EVENT(mvsock_credit_stall,
	TP_PROTO(const struct sock *sk, bool begin, u32 credit,
		 u64 duration_ns),
	TP_ARGS(sk, begin, credit, duration_ns),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(u32, local_port)
		__field(u32, remote_cid)
		__field(u32, remote_port)
		__field(u8, begin)
		__field(u32, credit)
		__field(s32, dev_id)
		__field(u32, local_cid)
		__field(u64, duration_ns)
	),
	TP_fast_assign(
		const struct mvsock_sock *vsk = (const struct mvsock_sock *)sk;

		__entry->skaddr = sk;
		__entry->local_port = vsk->local.svm_port;
		__entry->remote_cid = vsk->remote.svm_cid;
		__entry->remote_port = vsk->remote.svm_port;
		__entry->begin = begin;
		__entry->credit = credit;
		__entry->dev_id = mvsock_sk_dev_id(vsk);
		__entry->local_cid = vsk->src_cid;
		__entry->duration_ns = duration_ns;
	),
	TP_printk("sk=%p dev=%d %u:%u -> %u:%u %s credit=%u duration_ns=%llu",
		  __entry->skaddr, __entry->dev_id, __entry->local_cid,
		  __entry->local_port, __entry->remote_cid,
		  __entry->remote_port, __entry->begin ? "begin" : "end",
		  __entry->credit, __entry->duration_ns)
);

/* An explicit credit packet (CREDIT_UPDATE, CREDIT_REQUEST) sent or received. */
DECLARE_EVENT_CLASS(mvsock_credit_class,
	TP_PROTO(const struct sock *sk, bool rx, u32 buf_alloc, u32 fwd_cnt,
		 u32 peer_credit),
	TP_ARGS(sk, rx, buf_alloc, fwd_cnt, peer_credit),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(s32, dev_id)
		__field(u32, local_cid)
		__field(u32, local_port)
		__field(u32, remote_cid)
		__field(u32, remote_port)
		__field(u8, rx)
		__field(u32, buf_alloc)
		__field(u32, fwd_cnt)
		__field(u32, peer_credit)
	),
	TP_fast_assign(
		const struct mvsock_sock *vsk = (const struct mvsock_sock *)sk;

		__entry->skaddr = sk;
		__entry->dev_id = mvsock_sk_dev_id(vsk);
		__entry->local_cid = vsk->src_cid;
		__entry->local_port = vsk->local.svm_port;
		__entry->remote_cid = vsk->remote.svm_cid;
		__entry->remote_port = vsk->remote.svm_port;
		__entry->rx = rx;
		__entry->buf_alloc = buf_alloc;
		__entry->fwd_cnt = fwd_cnt;
		__entry->peer_credit = peer_credit;
	),
	TP_printk("sk=%p dev=%d %u:%u -> %u:%u %s buf_alloc=%u fwd_cnt=%u peer_credit=%u",
		  __entry->skaddr, __entry->dev_id, __entry->local_cid,
		  __entry->local_port, __entry->remote_cid,
		  __entry->remote_port, __entry->rx ? "rx" : "tx",
		  __entry->buf_alloc, __entry->fwd_cnt, __entry->peer_credit)
);

DEFINE_EVENT(mvsock_credit_class, mvsock_credit_update,
	TP_PROTO(const struct sock *sk, bool rx, u32 buf_alloc, u32 fwd_cnt,
		 u32 peer_credit),
	TP_ARGS(sk, rx, buf_alloc, fwd_cnt, peer_credit));

DEFINE_EVENT(mvsock_credit_class, mvsock_credit_request,
	TP_PROTO(const struct sock *sk, bool rx, u32 buf_alloc, u32 fwd_cnt,
		 u32 peer_credit),
	TP_ARGS(sk, rx, buf_alloc, fwd_cnt, peer_credit));

/* A device queue's depth changed (enum mvsock_queue_kind). */
TRACE_EVENT(mvsock_queue,
	TP_PROTO(const struct mvsock_dev *dev, u32 kind, u32 depth),
	TP_ARGS(dev, kind, depth),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(u32, kind)
		__field(u32, depth)
	),
	TP_fast_assign(
		__entry->dev_id = dev->id;
		__entry->kind = kind;
		__entry->depth = depth;
	),
	TP_printk("dev=%u kind=%u depth=%u", __entry->dev_id, __entry->kind,
		  __entry->depth)
);

/* The device is done with a packet we handed it (sent to its peer). */
TRACE_EVENT(mvsock_pkt_done,
	TP_PROTO(const struct mvsock_dev *dev, struct sk_buff *skb,
		 u64 latency_ns),
	TP_ARGS(dev, skb, latency_ns),
	TP_STRUCT__entry(
		__field(u32, dev_id)
		__field(u32, src_cid)
		__field(u32, src_port)
		__field(u32, dst_cid)
		__field(u32, dst_port)
		__field(u16, type)
		__field(u16, op)
		__field(u32, len)
		__field(u64, latency_ns)
	),
	TP_fast_assign(
		const struct mvsock_cb *cb = (const struct mvsock_cb *)skb->cb;

		__entry->dev_id = dev->id;
		__entry->src_cid = cb->src_cid;
		__entry->src_port = cb->src_port;
		__entry->dst_cid = cb->dst_cid;
		__entry->dst_port = cb->dst_port;
		__entry->type = cb->type;
		__entry->op = cb->op;
		__entry->len = cb->len;
		__entry->latency_ns = latency_ns;
	),
	TP_printk("dev=%u %u:%u -> %u:%u type=%s op=%s len=%u latency_ns=%llu",
		  __entry->dev_id, __entry->src_cid, __entry->src_port,
		  __entry->dst_cid, __entry->dst_port,
		  mvsock_show_wire_type(__entry->type),
		  mvsock_show_op(__entry->op), __entry->len,
		  __entry->latency_ns)
);

/* recvmsg() took data off a socket's receive queue. */
TRACE_EVENT(mvsock_deliver,
	TP_PROTO(const struct sock *sk, u32 len, u64 queue_ns, u32 left,
		 s32 dev_id),
	TP_ARGS(sk, len, queue_ns, left, dev_id),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(s32, dev_id)
		__field(u32, local_cid)
		__field(u32, local_port)
		__field(u32, remote_cid)
		__field(u32, remote_port)
		__field(u16, type)
		__field(u32, len)
		__field(u64, queue_ns)
		__field(u32, left)
	),
	TP_fast_assign(
		const struct mvsock_sock *vsk = (const struct mvsock_sock *)sk;

		__entry->skaddr = sk;
		__entry->dev_id = dev_id;
		__entry->local_cid = vsk->src_cid;
		__entry->local_port = vsk->local.svm_port;
		__entry->remote_cid = vsk->remote.svm_cid;
		__entry->remote_port = vsk->remote.svm_port;
		__entry->type = sk->sk_type;
		__entry->len = len;
		__entry->queue_ns = queue_ns;
		__entry->left = left;
	),
	TP_printk("sk=%p dev=%d %u:%u <- %u:%u type=%s len=%u queue_ns=%llu left=%u",
		  __entry->skaddr, __entry->dev_id, __entry->local_cid,
		  __entry->local_port, __entry->remote_cid,
		  __entry->remote_port, mvsock_show_sk_type(__entry->type),
		  __entry->len, __entry->queue_ns, __entry->left)
);

TRACE_EVENT(mvsock_policy,
	TP_PROTO(const struct sock *sk, u32 peer_cid, u32 peer_port,
		 u32 local_port, const char *hook, int verdict, s32 dev_id,
		 u32 local_cid),
	TP_ARGS(sk, peer_cid, peer_port, local_port, hook, verdict, dev_id,
		local_cid),
	TP_STRUCT__entry(
		__field(const void *, skaddr)
		__field(u32, peer_cid)
		__field(u32, peer_port)
		__field(u32, local_port)
		__string(hook, hook)
		__field(s32, verdict)
		__field(s32, dev_id)
		__field(u32, local_cid)
	),
	TP_fast_assign(
		__entry->skaddr = sk;
		__entry->peer_cid = peer_cid;
		__entry->peer_port = peer_port;
		__entry->local_port = local_port;
		__assign_str(hook);
		__entry->verdict = verdict;
		__entry->dev_id = dev_id;
		__entry->local_cid = local_cid;
	),
	TP_printk("sk=%p hook=%s peer=%u:%u local=%u:%u dev=%d verdict=%d",
		  __entry->skaddr, __get_str(hook), __entry->peer_cid,
		  __entry->peer_port, __entry->local_cid, __entry->local_port,
		  __entry->dev_id, __entry->verdict)
);

#endif /* _MVSOCK_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE mvsock_trace
#include <trace/define_trace.h>
