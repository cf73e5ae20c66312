/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mvsock transport API: what a device driver (loopback.c, virtio.c,
 * vhost.c, selftests/kmod/mvsock_rawdev.c) sees of the core. A transport
 * includes this header only; socket and engine internals are in mvsock.h.
 *
 * A transport allocates a struct mvsock_dev with mvsock_dev_alloc(), may
 * set ->priority and ->seqpacket (and ->name), then registers it. It
 * hands every packet it receives to mvsock_rx_pkt() and reports every
 * packet the core gave it (ops->send_pkt) as done with
 * mvsock_dev_tx_complete() (sent) or mvsock_dev_tx_done() (dropped).
 * Unregistering resets the device's sockets and waits until no send_pkt
 * call is running; then the transport frees its queues and puts its
 * reference.
 */
#ifndef _MVSOCK_DEV_H
#define _MVSOCK_DEV_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/vm_sockets.h>
#include <linux/virtio_vsock.h>

/* A packet's skb: the header (struct virtio_vsock_hdr) at skb->data. */
#define MVSOCK_HDR_LEN		sizeof(struct virtio_vsock_hdr)
#define MVSOCK_MAX_PKT_LEN	(64 * 1024)

/* ->priority of a device without MVSOCK_VIRTIO_F_PRIORITY */
#define MVSOCK_PRIO_NONE	U32_MAX

/*
 * The values are the uapi's enum mvsock_role (IOCTL_MVSOCK_LIST_CIDS);
 * dev.c checks that at build time, and holds the CIDs of each role
 * (mvsock_dev_local_cid(), mvsock_dev_peer_cid()).
 */
enum mvsock_dev_role {
	MVSOCK_ROLE_LOCAL,	/* loopback, CID 1 */
	MVSOCK_ROLE_GUEST,	/* guest driver: we are ->cid, peer is host */
	MVSOCK_ROLE_HOST,	/* host driver: peer guest is ->cid */
};

struct mvsock_dev;

/**
 * struct mvsock_dev_ops - what a transport provides to the core
 * @send_pkt: queue @skb (header at skb->data, little endian) for the peer.
 *	Consumes @skb whatever it returns. Called under rcu_read_lock(),
 *	possibly from the receive path with a socket spinlock held and BHs
 *	off: must not sleep. It may call mvsock_rx_pkt() synchronously only
 *	from process context with nothing queued ahead, and
 *	mvsock_rx_pkt_try() from the receive path (see loopback.c).
 *	Returns the packet length queued or a negative errno.
 */
struct mvsock_dev_ops {
	int (*send_pkt)(struct mvsock_dev *dev, struct sk_buff *skb);
};

/* Per-CPU packet counters of a device: MVSOCK_STAT() adds to them. */
struct mvsock_dev_stats {
	u64 tx_pkts;
	u64 tx_bytes;
	u64 rx_pkts;
	u64 rx_bytes;
	u64 rx_dropped;
	u64 rx_bad;
	u64 rst_sent;
	u64 tx_dropped;
};

/**
 * struct mvsock_dev - one endpoint in the device registry
 * @node: entry in the registry list (mvsock_dev_lock, RCU readers)
 * @ref: lifetime; sockets routed over the device hold a reference
 * @rcu: freed after a grace period (BPF kfuncs read devices under RCU)
 * @id: small registry id, stable for the device's lifetime
 * @role: local, guest or host
 * @cid: our CID (local, guest) or the guest's CID (host); changed only by
 *	mvsock_dev_set_cid(), under mvsock_dev_lock (READ_ONCE() outside)
 * @is_default: this is the default device for unbound guest sockets;
 *	mvsock_dev_lock
 * @dead: set once unregistration started; no new packets are sent
 * @seqpacket: the peer negotiated SEQPACKET (virtio feature bit 1); the
 *	transport sets it (WRITE_ONCE() once registered)
 * @priority: guest devices offering MVSOCK_VIRTIO_F_PRIORITY: lower wins
 *	the default; MVSOCK_PRIO_NONE otherwise. Set before registering.
 * @queued: packets handed to the transport and not yet done
 * @ops: the transport's operations
 * @priv: the transport's, for ops
 * @stats: per-CPU counters (MVSOCK_STAT(), mvsock_dev_stats_read())
 * @name: for logs and sysfs; may be rewritten before registering
 */
struct mvsock_dev {
	struct list_head node;
	struct kref ref;
	struct rcu_head rcu;
	u32 id;
	enum mvsock_dev_role role;
	u32 cid;
	bool is_default;
	bool dead;
	bool seqpacket;
	u32 priority;
	atomic_t queued;
	const struct mvsock_dev_ops *ops;
	void *priv;
	struct mvsock_dev_stats __percpu *stats;
	char name[32];
};

/* dev.c: the registry */
struct mvsock_dev *mvsock_dev_alloc(const char *name, enum mvsock_dev_role role,
				    u32 cid, const struct mvsock_dev_ops *ops,
				    void *priv);
int mvsock_dev_register(struct mvsock_dev *dev);
void mvsock_dev_unregister(struct mvsock_dev *dev);
struct mvsock_dev *mvsock_dev_get(struct mvsock_dev *dev);
void mvsock_dev_put(struct mvsock_dev *dev);
int mvsock_dev_set_cid(struct mvsock_dev *dev, u32 cid);
/* a host driver is loaded: CID 2 is ours even before a guest starts */
void mvsock_host_get(void);
void mvsock_host_put(void);

void mvsock_dev_stat_add(struct mvsock_dev *dev, size_t off, u64 val);
#define MVSOCK_STAT(dev, field, val) \
	mvsock_dev_stat_add(dev, offsetof(struct mvsock_dev_stats, field), val)
void mvsock_dev_stats_read(struct mvsock_dev *dev, struct mvsock_dev_stats *out);

/*
 * Control packets (anything but OP_RW) are not bounded by credit: a
 * transport counts those it holds in @replies and stops taking packets
 * from its peer while @max are unsent, so a peer that never reads cannot
 * make it queue without bound.
 */
int mvsock_reply_charge(struct mvsock_dev *dev, atomic_t *replies, int max,
			struct sk_buff *skb);
bool mvsock_reply_done(atomic_t *replies, int max, struct sk_buff *skb);

/* the queues of mvsock_queue events (docs/tracepoints.md) */
enum mvsock_queue_kind {
	/*
	 * core: handed to the device, not yet done; not emitted as a queue
	 * event (it would double the events per packet): the packet
	 * events' queued field carries it
	 */
	MVSOCK_Q_QUEUED,
	MVSOCK_Q_TX_PENDING,	/* driver: waiting for the ring */
	MVSOCK_Q_RX_POSTED,	/* driver: rx buffers posted to the device */
	MVSOCK_Q_TX_INFLIGHT,	/* driver: tx descriptors the device holds */
};

/* engine.c: packets in and out */
void mvsock_rx_pkt(struct mvsock_dev *dev, struct sk_buff *skb);
bool mvsock_rx_pkt_try(struct mvsock_dev *dev, struct sk_buff *skb);
void mvsock_dev_tx_done(struct mvsock_dev *dev, int n);
void mvsock_dev_tx_complete(struct mvsock_dev *dev, struct sk_buff *skb);
void mvsock_dev_trace_queue(struct mvsock_dev *dev, u32 kind, u32 depth);
struct sk_buff *mvsock_alloc_data_skb(u32 payload, gfp_t gfp);

#endif /* _MVSOCK_DEV_H */
