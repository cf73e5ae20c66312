/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vsocktop.bpf.c and vsocktop.c share: the map keys and values. The
 * BPF programs only count into maps; user space reads them each interval
 * and computes rates, percentiles and per-interval deltas. Nothing is
 * sent to user space per event.
 */
#ifndef VSOCKTOP_H
#define VSOCKTOP_H

#define VT_SLOTS	64	/* log2 histogram of nanoseconds */
#define VT_MAX_DEVS	256	/* devices with a registry id >= this are not counted */
#define VT_MAX_CONNS	16384

/*
 * Stock mode has no device ids: packets of CID 1 count on pseudo device
 * VT_STOCK_LOOPBACK, the others on VT_STOCK_VIRTIO (the guest or host
 * transport, whichever is loaded).
 */
#define VT_STOCK_LOOPBACK	0
#define VT_STOCK_VIRTIO		1

/*
 * per device, per CPU: maxima of one interval. Slot (epoch & 1) belongs to
 * the current interval; a program that finds a slot of an older epoch
 * resets it first. User space bumps the epoch, then reads the other slot.
 */
struct vt_dev_max_slot {
	__u64 epoch;
	__u32 queue_max;
	__u32 pad;
	__u64 tx_lat_max, rx_lat_max;	/* ns */
};

/*
 * per device, per CPU: counters since the programs were loaded (mvsock:
 * the packet and byte counts are the kernel's own, from the registry)
 */
struct vt_dev_stats {
	__u64 tx_pkts, rx_pkts;		/* stock: every packet of every op */
	__u64 tx_bytes, rx_bytes;	/* stock: payload of OP_RW packets */
	__u64 stalls;			/* credit stalls begun */
	__u64 limited_ns;		/* credit-stall time of ended stalls */
	__u64 tx_hist[VT_SLOTS];	/* pkt_done latency_ns */
	__u64 rx_hist[VT_SLOTS];	/* deliver queue_ns */
	__u64 tx_sum_ns, rx_sum_ns;
	/* (in the same value: one map lookup per event) */
	struct vt_dev_max_slot max[2];
};

/* a device's driver queues (mvsock_queue events): last depth reported */
struct vt_dev_queues {
	__s64 depth[4];			/* by kind; -1: never reported */
};

/* a connection, from its own side */
struct vt_conn_key {
	__u32 local_cid, local_port;
	__u32 peer_cid, peer_port;
};

/* stock: per connection, per CPU: traffic counters */
struct vt_conn_stats {
	__u64 tx_pkts, rx_pkts;
	__u64 tx_bytes, rx_bytes;
	__s32 dev_id;			/* last device seen, -1: none */
	__u32 pad;
};

/*
 * mvsock: a connection's byte counters come from the socket itself
 * (sock_diag's MVSOCK_DIAG_INFO bytes_sent/bytes_received), not from a
 * map update per packet; one made after vsocktop started counts from 0
 * (created_ns). A connection that closed after moving payload leaves its
 * final counters (conn_closed) for the snapshot that finds it gone.
 */
struct vt_conn_final {
	__u64 sent, received;
	__u64 created_ns;		/* when the socket was made */
};

/* per connection, shared: credit stalls (rare events) */
struct vt_conn_stall {
	__u64 stalls;			/* begun since start */
	__u64 limited_ns;		/* ended stalls, counted from start */
	__u64 begin_ns;			/* ongoing stall's begin, 0: none */
};

/* stock mode, per connection, shared: what the packets say of credit */
struct vt_stock_conn {
	__u32 peer_buf_alloc;		/* from the peer's last packet */
	__u32 peer_fwd_cnt;
	__u32 tx_cnt;			/* payload bytes we sent (mod 2^32) */
	__u8 from_start;		/* seen since REQUEST/RESPONSE: tx_cnt exact */
	__u8 have_peer;			/* peer_* valid */
	__u16 pad;
};

#endif
