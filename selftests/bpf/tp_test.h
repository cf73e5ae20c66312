/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared between tp_test.bpf.c and tp_test.c: the events the BPF programs
 * on the mvsock tracepoints put in the ring buffer. The BPF side gets the
 * __u32 & co. from vmlinux.h, user space from <linux/types.h>. The
 * per-kind structs have no padding: tp_test compares them with memcmp().
 */
#ifndef MVSOCK_TP_TEST_H
#define MVSOCK_TP_TEST_H

/* one per tracepoint of the mvsock system (kernel/mvsock_trace.h) */
enum tp_kind {
	TP_PKT_TX,
	TP_PKT_RX,
	TP_SOCK_STATE,
	TP_ROUTE,
	TP_DEV_ADD,
	TP_DEV_REMOVE,
	TP_DEV_DEFAULT,
	TP_CREDIT_STALL,
	TP_POLICY,
	TP_DEV_CID,
	TP_CREDIT_UPDATE,
	TP_CREDIT_REQUEST,
	TP_QUEUE,
	TP_PKT_DONE,
	TP_DELIVER,
	TP_NR
};

#define TP_STR_LEN 32

struct tp_pkt {
	__u32 dev_id;
	__u32 src_cid;
	__u32 src_port;
	__u32 dst_cid;
	__u32 dst_port;
	__u16 type;
	__u16 op;
	__u32 len;
	__u32 flags;
	__u32 buf_alloc;
	__u32 fwd_cnt;
	__u32 queued;
};

/* the socket fields that socket events share */
struct tp_sk {
	__s32 dev_id;
	__u32 local_cid;
	__u32 local_port;
	__u32 remote_cid;
	__u32 remote_port;
};

struct tp_state {
	struct tp_sk sk;
	__u16 type;
	__u8 old_state;
	__u8 new_state;
};

struct tp_route {
	__u32 local_cid;
	__u32 local_port;
	__u32 remote_cid;
	__u32 remote_port;
	__s32 dev_id;
	char reason[TP_STR_LEN];
};

struct tp_dev {
	__u32 dev_id;
	__u32 role;
	__u32 cid;		/* mvsock_dev_cid: new_cid */
	__u32 old_cid;		/* mvsock_dev_cid only */
	__s32 err;		/* mvsock_dev_cid only */
	__u32 is_default;
	char name[TP_STR_LEN];
};

/* credit_stall: sk.local_cid is the event's local_cid (source CID) */
struct tp_stall {
	struct tp_sk sk;
	__u32 begin;
	__u32 credit;
};

struct tp_policy {
	__u32 peer_cid;
	__u32 peer_port;
	__u32 local_port;
	__s32 verdict;
	__s32 dev_id;
	__u32 local_cid;
	char hook[TP_STR_LEN];
};

struct tp_credit {
	struct tp_sk sk;
	__u32 rx;
	__u32 buf_alloc;
	__u32 fwd_cnt;
	__u32 peer_credit;
};

struct tp_queue {
	__u32 dev_id;
	__u32 kind;
	__u32 depth;
};

struct tp_done {
	__u32 dev_id;
	__u32 src_cid;
	__u32 src_port;
	__u32 dst_cid;
	__u32 dst_port;
	__u16 type;
	__u16 op;
	__u32 len;
};

struct tp_deliver {
	struct tp_sk sk;
	__u32 type;
	__u32 len;
	__u32 left;
};

struct tp_event {
	__u32 kind;		/* enum tp_kind */
	__u32 seq;		/* order of the events this program kept */
	__u32 tgid;		/* current task at the event */
	__u32 pad;
	__u64 skaddr;		/* socket events: the socket */
	/* credit_stall duration_ns, pkt_done latency_ns, deliver queue_ns */
	__u64 ns;
	union {
		struct tp_pkt pkt;
		struct tp_state state;
		struct tp_route route;
		struct tp_dev dev;
		struct tp_stall stall;
		struct tp_policy policy;
		struct tp_credit credit;
		struct tp_queue queue;
		struct tp_done done;
		struct tp_deliver deliver;
	};
};

#endif /* MVSOCK_TP_TEST_H */
