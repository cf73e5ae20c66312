/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mvsock internal interfaces: socket, socket tables, device registry,
 * protocol engine, BPF hooks. Transports see only mvsock_dev.h.
 *
 * Locking overview (see docs/architecture.md):
 *  - mvsock_table_lock (spinlock, BH-safe; table.c) guards the bind and
 *    connected hash tables, mvsock_all_socks and every socket's hash-node
 *    membership (bind_node, conn_node, all_node, in_bind, in_conn).
 *  - mvsock_dev_lock (mutex; dev.c) guards registry changes (the device
 *    list, every is_default flag, mvsock_default_pinned, a device's CID);
 *    readers walk the device list under RCU.
 *  - mvsock_bpf_lock (mutex; bpf.c) guards attaching and detaching the
 *    struct_ops set; the hooks read it under RCU.
 *  - lock_sock() guards every other field of struct mvsock_sock on the
 *    syscall path. The receive path (mvsock_rx_pkt() from a transport's
 *    worker in process context, or mvsock_rx_pkt_try() from loopback's
 *    synchronous delivery inside another socket's receive path, BHs off)
 *    takes the socket spinlock instead: it processes a packet only while
 *    no task owns the socket and leaves it on the socket backlog for the
 *    owner's release_sock() otherwise, as TCP does.
 */
#ifndef _MVSOCK_H
#define _MVSOCK_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/rculist.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <linux/jump_label.h>
#include <net/sock.h>

#include "compat.h"
#include "mvsock_dev.h"
#include "../include/uapi/linux/mvsock.h"

#define MVSOCK_DEF_BUF_SIZE	(256 * 1024)
#define MVSOCK_DEF_BUF_MIN	128
#define MVSOCK_DEF_BUF_MAX	(256 * 1024)
/* Hard ceiling for the advertised receive buffer, whatever users ask. */
#define MVSOCK_BUF_LIMIT	(64 * 1024 * 1024)
/* Bytes one socket may have queued on its device, not yet consumed. */
#define MVSOCK_TX_LIMIT		(4 * 1024 * 1024)
#define MVSOCK_CONNECT_TIMEOUT	(2 * HZ)
#define MVSOCK_CLOSE_TIMEOUT	(8 * HZ)
/* how long a blocked sender waits before it sends CREDIT_REQUEST */
#define MVSOCK_CREDIT_REQ_DELAY	msecs_to_jiffies(200)
#define MVSOCK_LAST_RESERVED_PORT 1023
/* Small payloads are appended to the previous queued skb to bound the
 * per-byte overhead of a peer that sends many tiny packets.
 */
#define MVSOCK_MERGE_LEN	256
/*
 * Payloads up to this size go in an skb's linear part (one kmalloc-8k
 * object at most, like the stock stack's small packets), bigger ones in
 * page frags: see mvsock_alloc_data_skb().
 */
#define MVSOCK_LINEAR_MAX	(SKB_WITH_OVERHEAD(8192) - MVSOCK_HDR_LEN)

/*
 * Per-socket state. Fields are guarded by lock_sock() (the socket
 * spinlock on the receive path, see above) unless noted.
 */
struct mvsock_sock {
	struct sock sk;
	/* guarded by mvsock_table_lock */
	struct hlist_node bind_node;
	struct hlist_node conn_node;
	struct hlist_node all_node;	/* every live socket, for sock_diag */
	bool in_bind;
	bool in_conn;

	struct sockaddr_vm local;	/* as bound: CID may be VMADDR_CID_ANY */
	struct sockaddr_vm remote;
	u32 src_cid;			/* source CID our packets carry */
	struct mvsock_dev *dev;

	/* listener: children waiting for accept(); child: its entry */
	struct list_head accept_q;
	struct list_head accept_node;
	struct sock *listener;

	u64 buf_size;
	u64 buf_min;
	u64 buf_max;
	long connect_timeout;

	/* receive side */
	struct sk_buff_head rxq;
	u64 rx_total;	/* payload bytes ever queued (sock_diag) */
	u32 rx_bytes;
	u32 rx_mem;	/* truesize of queued skbs */
	u32 buf_alloc;
	u32 fwd_cnt;
	u32 last_fwd_cnt;
	u32 last_buf_alloc;
	u32 msg_count;
	u32 peer_shutdown;

	/* send side */
	u64 tx_total;	/* payload bytes ever sent (sock_diag) */
	u32 tx_cnt;
	atomic_t tx_unsent;	/* handed to the device, not yet consumed */
	u32 peer_buf_alloc;
	u32 peer_fwd_cnt;
	bool credit_requested;
	bool stalled;
	u64 stall_start;	/* ktime_get_ns() when the stall began */

	/*
	 * The task that created the socket or accepted it (a child not yet
	 * accepted: its listener's), for sock_diag. Written under lock_sock()
	 * or before the socket is visible; sock_diag reads them without it.
	 */
	pid_t owner_pid;
	char owner_comm[TASK_COMM_LEN];
	u64 created_ns;		/* ktime_get_ns() at allocation, for sock_diag */

	bool rst_sent;
	bool close_pending;
	/* receive path under the socket spinlock: wakeups wait for unlock */
	bool wake_defer;
	u8 wake_pending;
	/* MVSOCK_F_* bits, atomic: may be set without the socket lock */
	unsigned long flags;
	struct delayed_work close_work;
	struct delayed_work connect_work;
};

static inline struct mvsock_sock *mvsock_sk(const struct sock *sk)
{
	return (struct mvsock_sock *)sk;
}

/* The socket's device for the tracepoints: -1 before it has one. */
static inline s32 mvsock_sk_dev_id(const struct mvsock_sock *vsk)
{
	return vsk->dev ? (s32)vsk->dev->id : -1;
}

#define MVSOCK_WAKE_STATE	BIT(0)
#define MVSOCK_WAKE_DATA	BIT(1)
#define MVSOCK_WAKE_SPACE	BIT(2)
#define MVSOCK_WAKE_ERROR	BIT(3)

#define MVSOCK_F_REAPED	0	/* unhashed for a reused 4-tuple: stay quiet */

/*
 * Per-packet control block: parsed header in host order. It fills all 48
 * bytes of skb->cb; the tracepoints' timestamps live in skb->tstamp
 * (ktime_get_ns(), 0 = not taken): on tx when the packet was handed to
 * its device, on rx when it was queued on the socket.
 */
struct mvsock_cb {
	struct mvsock_dev *dev;	/* receive side: device it came from */
	u32 src_cid;
	u32 dst_cid;
	u32 src_port;
	u32 dst_port;
	u32 len;
	u16 type;
	u16 op;
	u32 flags;
	u32 buf_alloc;
	u32 fwd_cnt;
	u32 offset;	/* receive side: payload bytes readers consumed */
};

static inline struct mvsock_cb *mvsock_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct mvsock_cb) > sizeof(skb->cb));
	return (struct mvsock_cb *)skb->cb;
}

/* table.c */
extern spinlock_t mvsock_table_lock;
int mvsock_bind_addr(struct mvsock_sock *vsk, struct sockaddr_vm *addr);
void mvsock_unbind(struct mvsock_sock *vsk);
void mvsock_insert_connected(struct mvsock_sock *vsk);
void mvsock_remove_connected(struct mvsock_sock *vsk);
struct sock *mvsock_lookup_connected(u32 src_cid, u32 src_port,
				     u32 dst_cid, u32 dst_port);
struct sock *mvsock_lookup_bound(u32 cid, u32 port);
void mvsock_reap_stale(struct mvsock_sock *vsk);
typedef void (*mvsock_sock_fn)(struct sock *sk, void *arg);
void mvsock_visit_socks(mvsock_sock_fn fn, void *arg);
void mvsock_track(struct mvsock_sock *vsk);
void mvsock_untrack(struct mvsock_sock *vsk);
extern struct hlist_head mvsock_all_socks;
void mvsock_table_init(void);

/*
 * dev.c: the device registry and CID routing (the transports' part of it
 * is in mvsock_dev.h)
 */
int mvsock_dev_set_default(u32 id);
void mvsock_dev_unpin_default(void);
int mvsock_dev_get_default_id(void);
u32 mvsock_dev_local_cid(const struct mvsock_dev *dev);
u32 mvsock_dev_peer_cid(const struct mvsock_dev *dev);
bool mvsock_cid_is_local(u32 cid);
u32 mvsock_default_local_cid(void);
int mvsock_route(struct mvsock_sock *vsk, const struct sockaddr_vm *remote,
		 struct mvsock_dev **out);
int mvsock_list_cids(void __user *arg);
void mvsock_dev_exit(void);

/* A control packet (anything but OP_RW): see mvsock_reply_charge(). */
static inline bool mvsock_skb_is_reply(struct sk_buff *skb)
{
	return mvsock_cb(skb)->op != VIRTIO_VSOCK_OP_RW;
}

/*
 * engine.c: the virtio-vsock protocol engine (its transport entry points,
 * mvsock_rx_pkt() and the tx completions, are in mvsock_dev.h)
 */
int mvsock_backlog_rcv(struct sock *sk, struct sk_buff *skb);
int mvsock_send_ctl(struct mvsock_sock *vsk, u16 op, u32 flags);
int mvsock_send_rst_reply(struct mvsock_dev *dev, struct sk_buff *skb);
ssize_t mvsock_send_data(struct mvsock_sock *vsk, struct msghdr *msg,
			 size_t len, bool eom);
ssize_t mvsock_recv_data(struct mvsock_sock *vsk, struct msghdr *msg,
			 size_t len, int flags);
u32 mvsock_peer_credit(struct mvsock_sock *vsk);
u32 mvsock_tx_room(struct mvsock_sock *vsk);
void mvsock_update_credit_after_read(struct mvsock_sock *vsk);
void mvsock_set_state(struct sock *sk, int state);
void mvsock_reset_local(struct sock *sk, int err);
void mvsock_begin_close(struct sock *sk);
void mvsock_finish_close(struct sock *sk);
void mvsock_sk_init_proto(struct mvsock_sock *vsk, struct mvsock_sock *parent);
void mvsock_purge_rx(struct mvsock_sock *vsk);
void mvsock_dev_reset_socks(struct mvsock_dev *dev);
u16 mvsock_wire_type(const struct sock *sk);

/* sock.c */
extern struct proto mvsock_proto;
extern const struct net_proto_family mvsock_family_ops;
struct sock *mvsock_create_child(struct sock *listener);
void mvsock_set_owner(struct mvsock_sock *vsk);

/*
 * bpf.c: the struct_ops hooks (docs/bpf.md). Programs implement any of
 * the members; the core calls them only while a set is attached.
 */
struct mvsock_bpf_ops {
	/* outgoing REQUEST: 0 allow, -errno: connect() fails with it */
	int (*connect)(struct sock *sk);
	/* incoming REQUEST, @sk the child to be: 0 accept, -errno refuse */
	int (*accept)(struct sock *sk);
	/* unbound socket's connect: a local CID, or VMADDR_CID_ANY */
	u32 (*route)(struct sock *sk, u32 peer_cid, u32 peer_port);
	char name[16];
};

/*
 * Hook verdicts beyond -MVSOCK_BPF_ERRNO_MAX (the uapi header's) become
 * -EPERM. Also as an enum, so that BPF programs, which cannot include the
 * uapi header next to vmlinux.h, get it from the module's BTF
 * (bpf/mvsock_bpf.h's MVSOCK_ERRNO_MAX).
 */
enum mvsock_bpf_limits {
	MVSOCK_BPF_ERRNO_LAST = MVSOCK_BPF_ERRNO_MAX,
};

#if IS_ENABLED(CONFIG_BPF_SYSCALL) && IS_ENABLED(CONFIG_BPF_JIT) && !defined(MVSOCK_NOHOOKS)
DECLARE_STATIC_KEY_FALSE(mvsock_bpf_active);
static inline bool mvsock_bpf_on(void)
{
	return static_branch_unlikely(&mvsock_bpf_active);
}

int mvsock_bpf_connect(struct mvsock_sock *vsk);
int mvsock_bpf_accept(struct mvsock_sock *child);
int mvsock_bpf_route(struct mvsock_sock *vsk, u32 peer_cid, u32 peer_port,
		     u32 *cid);
int mvsock_bpf_init(void);
#else
static inline bool mvsock_bpf_on(void)
{
	return false;
}

static inline int mvsock_bpf_connect(struct mvsock_sock *vsk)
{
	return 0;
}

static inline int mvsock_bpf_accept(struct mvsock_sock *child)
{
	return 0;
}

static inline int mvsock_bpf_route(struct mvsock_sock *vsk, u32 peer_cid,
				   u32 peer_port, u32 *cid)
{
	return 1;
}

static inline int mvsock_bpf_init(void)
{
	return 0;
}
#endif

/* diag.c */
int mvsock_diag_init(void);
void mvsock_diag_exit(void);

#endif /* _MVSOCK_H */
