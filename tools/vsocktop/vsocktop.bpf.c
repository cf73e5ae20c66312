// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's BPF side. With mvsock, programs on five mvsock:* tracepoints
 * (tp_btf, or raw_tp where tp_btf cannot attach) fill per-device maps:
 * completion and delivery latency histograms, the interval's largest
 * queue depth, credit stalls, driver queues; and per connection its
 * stalls and, when it closes, its final byte counts. Packet and
 * byte counts are the kernel's own (the registry, sock_diag): no program
 * runs per packet sent or received, only per completion and per read.
 * On a stock kernel two programs on upstream's
 * vsock:virtio_transport_{alloc,recv}_pkt tracepoints count per device and
 * per connection. Nothing goes to user space per event.
 * Maps and their values: vsocktop.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "vsocktop.h"

char LICENSE[] SEC("license") = "GPL";

#define VT_OP_REQUEST	1
#define VT_OP_RESPONSE	2
#define VT_OP_RW	5

/* set by vsocktop: CLOCK_MONOTONIC ns at start; the interval's epoch */
volatile __u64 start_ns;
volatile __u64 epoch;

/* indexed by registry id (ids are reused, the smallest free first) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vt_dev_stats);
} dev_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vt_dev_queues);
} dev_queues SEC(".maps");

/*
 * stock: per connection (a map of the other mode is sized to 1 entry at
 * load time)
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, VT_MAX_CONNS);
	__type(key, struct vt_conn_key);
	__type(value, struct vt_conn_stats);
} conn_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VT_MAX_CONNS);
	__type(key, struct vt_conn_key);
	__type(value, struct vt_conn_stall);
} conn_stall SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VT_MAX_CONNS);
	__type(key, struct vt_conn_key);
	__type(value, struct vt_stock_conn);
} stock_conn SEC(".maps");

/* mvsock: the final byte counts of connections that closed with payload */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VT_MAX_CONNS);
	__type(key, struct vt_conn_key);
	__type(value, struct vt_conn_final);
} conn_closed SEC(".maps");

static __always_inline void *vt_lookup_init(void *map, const void *key,
					    const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* (an array lookup: the verifier inlines it) */
static __always_inline struct vt_dev_stats *vt_dev(__u32 id)
{
	if (id >= VT_MAX_DEVS)
		return NULL;
	return bpf_map_lookup_elem(&dev_stats, &id);
}

/* this interval's slot of the device's maxima */
static __always_inline struct vt_dev_max_slot *vt_max_slot(struct vt_dev_stats *d)
{
	__u64 e = epoch;
	struct vt_dev_max_slot *s;

	s = &d->max[e & 1];
	if (s->epoch != e) {
		s->epoch = e;
		s->queue_max = 0;
		s->tx_lat_max = 0;
		s->rx_lat_max = 0;
	}
	return s;
}

static __always_inline __u32 vt_log2(__u64 v)
{
	__u32 r = 0;

	if (v >= 1ULL << 32) {
		v >>= 32;
		r += 32;
	}
	if (v >= 1 << 16) {
		v >>= 16;
		r += 16;
	}
	if (v >= 1 << 8) {
		v >>= 8;
		r += 8;
	}
	if (v >= 1 << 4) {
		v >>= 4;
		r += 4;
	}
	if (v >= 1 << 2) {
		v >>= 2;
		r += 2;
	}
	if (v >= 1 << 1)
		r += 1;
	return r;
}

/*
 * A field of a tracepoint argument: a plain load in tp_btf programs (the
 * verifier knows the type), a CO-RE probe read in raw_tp programs. @btf
 * is a constant in each program, so only one of the two is compiled in.
 */
#define VT_READ(btf, ptr, ...) \
	((btf) ? (ptr)->__VA_ARGS__ : BPF_CORE_READ(ptr, __VA_ARGS__))

/* ---- mvsock ------------------------------------------------------------ */

/*
 * A device is done with a packet we handed it: its completion latency,
 * and the queue depth just before (the packet is no longer counted): the
 * largest depth of an interval shows at a completion, as each packet
 * handed to the device completes or is dropped. (The packet and byte
 * counts are the kernel's own, in the registry.)
 */
static __always_inline void vt_mv_done(const struct mvsock_dev *dev,
				       __u64 latency_ns, bool btf)
{
	struct vt_dev_max_slot *m;
	struct vt_dev_stats *d;
	__u32 slot, depth;

	if (!dev)
		return;
	d = vt_dev(VT_READ(btf, dev, id));
	if (!d)
		return;
	depth = VT_READ(btf, dev, queued.counter) + 1;
	m = vt_max_slot(d);
	if (depth > m->queue_max)
		m->queue_max = depth;
	if (!latency_ns)
		return;
	slot = vt_log2(latency_ns);
	if (slot < VT_SLOTS)
		d->tx_hist[slot]++;
	d->tx_sum_ns += latency_ns;
	if (latency_ns > m->tx_lat_max)
		m->tx_lat_max = latency_ns;
}

static __always_inline int vt_sk_dev(const struct sock *sk)
{
	const struct mvsock_sock *vsk = (const void *)sk;
	struct mvsock_dev *dev = BPF_CORE_READ(vsk, dev);

	return dev ? (int)BPF_CORE_READ(dev, id) : -1;
}

static __always_inline void vt_mv_deliver(int id, __u64 queue_ns)
{
	struct vt_dev_max_slot *m;
	struct vt_dev_stats *d;
	__u32 slot;

	if (id < 0 || !queue_ns)
		return;
	d = vt_dev(id);
	if (!d)
		return;
	slot = vt_log2(queue_ns);
	if (slot < VT_SLOTS)
		d->rx_hist[slot]++;
	d->rx_sum_ns += queue_ns;
	m = vt_max_slot(d);
	if (queue_ns > m->rx_lat_max)
		m->rx_lat_max = queue_ns;
}

/* a stall that began before vsocktop started counts from start_ns */
static __always_inline __u64 vt_clamp_stall(__u64 duration_ns)
{
	__u64 now = bpf_ktime_get_ns();

	return now - duration_ns < start_ns ? now - start_ns : duration_ns;
}

/* a socket's connection as the maps key it */
static __always_inline void vt_sk_key(const struct sock *sk, struct vt_conn_key *key)
{
	const struct mvsock_sock *vsk = (const void *)sk;

	key->local_cid = BPF_CORE_READ(vsk, src_cid);
	key->local_port = BPF_CORE_READ(vsk, local.svm_port);
	key->peer_cid = BPF_CORE_READ(vsk, remote.svm_cid);
	key->peer_port = BPF_CORE_READ(vsk, remote.svm_port);
}

static __always_inline void vt_mv_stall(const struct sock *sk, bool begin,
					__u64 duration_ns)
{
	struct vt_conn_stall zero = {}, *c;
	struct vt_dev_stats *d = NULL;
	struct vt_conn_key key;
	int id;

	if (!sk)
		return;
	vt_sk_key(sk, &key);
	c = vt_lookup_init(&conn_stall, &key, &zero);
	id = vt_sk_dev(sk);
	if (id >= 0)
		d = vt_dev(id);
	if (begin) {
		if (c) {
			__sync_fetch_and_add(&c->stalls, 1);
			c->begin_ns = bpf_ktime_get_ns();
		}
		if (d)
			d->stalls++;
		return;
	}
	duration_ns = vt_clamp_stall(duration_ns);
	if (c) {
		__sync_fetch_and_add(&c->limited_ns, duration_ns);
		c->begin_ns = 0;
	}
	if (d)
		d->limited_ns += duration_ns;
}

#define VT_TCP_CLOSE	7

/*
 * A connection is over: its final byte counts, when it moved any payload
 * (a connection without payload has nothing to add to the sums). @vsk is
 * the tracepoint's appended argument, so that tp_btf reads it directly.
 */
static __always_inline void vt_mv_state(const struct mvsock_sock *vsk, int state,
					bool btf)
{
	struct vt_conn_final f;
	struct vt_conn_key key;

	if (state != VT_TCP_CLOSE || !vsk)
		return;
	f.sent = VT_READ(btf, vsk, tx_total);
	f.received = VT_READ(btf, vsk, rx_total);
	if (!f.sent && !f.received)
		return;
	f.created_ns = VT_READ(btf, vsk, created_ns);
	key.local_cid = VT_READ(btf, vsk, src_cid);
	key.local_port = VT_READ(btf, vsk, local.svm_port);
	key.peer_cid = VT_READ(btf, vsk, remote.svm_cid);
	key.peer_port = VT_READ(btf, vsk, remote.svm_port);
	bpf_map_update_elem(&conn_closed, &key, &f, BPF_ANY);
}

static __always_inline void vt_mv_queue(const struct mvsock_dev *dev,
					__u32 kind, __u32 depth, bool btf)
{
	struct vt_dev_queues init = { .depth = { -1, -1, -1, -1 } }, *q;
	__u32 id;

	if (!dev || kind >= 4)
		return;
	id = VT_READ(btf, dev, id);
	q = vt_lookup_init(&dev_queues, &id, &init);
	/* bound the index in the register the store uses */
	kind &= 3;
	barrier_var(kind);
	if (q && kind < 4)
		q->depth[kind] = depth;
}

/*
 * Each handler twice: tp_btf (BTF-typed arguments) and raw_tp, the
 * fallback where tp_btf cannot attach; @btf tells the handler which. The
 * names stay within the kernel's 15 characters (bpftool prog show name).
 * vsocktop loads one set.
 */
#define VT_PROGS(name, tp, args, call)				\
SEC("tp_btf/mvsock_" #tp)					\
int BPF_PROG(btf_##name, args)					\
{								\
	const bool btf = true;					\
	(void)btf;						\
	call;							\
	return 0;						\
}								\
SEC("raw_tp/mvsock_" #tp)					\
int BPF_PROG(raw_##name, args)					\
{								\
	const bool btf = false;					\
	(void)btf;						\
	call;							\
	return 0;						\
}

#define VT_ARGS(...) __VA_ARGS__

VT_PROGS(pkt_done, pkt_done, VT_ARGS(const struct mvsock_dev *dev,
				     struct sk_buff *skb, __u64 latency_ns),
	 vt_mv_done(dev, latency_ns, btf))
VT_PROGS(sock_state, sock_state, VT_ARGS(const struct sock *sk, int old, int new,
					 const struct mvsock_sock *vsk),
	 vt_mv_state(vsk, new, btf))
VT_PROGS(deliver, deliver, VT_ARGS(const struct sock *sk, __u32 len, __u64 queue_ns,
				   __u32 left, int dev_id),
	 vt_mv_deliver(dev_id, queue_ns))
VT_PROGS(stall, credit_stall, VT_ARGS(const struct sock *sk, bool begin, __u32 credit,
				      __u64 duration_ns),
	 vt_mv_stall(sk, begin, duration_ns))
VT_PROGS(queue, queue, VT_ARGS(const struct mvsock_dev *dev, __u32 kind, __u32 depth),
	 vt_mv_queue(dev, kind, depth, btf))

/* ---- stock vsock ------------------------------------------------------- */

/* count one packet on a connection, from the side @key names */
static __always_inline void vt_conn_pkt(const struct vt_conn_key *key, bool tx,
					__u32 len, bool rw, __s32 dev_id)
{
	struct vt_conn_stats zero = {}, *c;

	c = vt_lookup_init(&conn_stats, key, &zero);
	if (!c)
		return;
	c->dev_id = dev_id;
	if (tx) {
		c->tx_pkts++;
		if (rw)
			c->tx_bytes += len;
	} else {
		c->rx_pkts++;
		if (rw)
			c->rx_bytes += len;
	}
}

static __always_inline struct vt_dev_stats *vt_dev_pkt(__u32 id, bool tx, __u32 len,
						       bool rw)
{
	struct vt_dev_stats *d = vt_dev(id);

	if (!d)
		return NULL;
	if (tx) {
		d->tx_pkts++;
		if (rw)
			d->tx_bytes += len;
	} else {
		d->rx_pkts++;
		if (rw)
			d->rx_bytes += len;
	}
	return d;
}


static __always_inline __u32 vt_stock_dev(__u32 src_cid, __u32 dst_cid)
{
	return src_cid == 1 || dst_cid == 1 ? VT_STOCK_LOOPBACK : VT_STOCK_VIRTIO;
}

static __always_inline struct vt_stock_conn *
vt_stock_conn(const struct vt_conn_key *key, __u16 op)
{
	struct vt_stock_conn zero = {};

	/* a connection seen from its handshake: tx_cnt is exact */
	if (op == VT_OP_REQUEST || op == VT_OP_RESPONSE) {
		zero.from_start = 1;
		bpf_map_update_elem(&stock_conn, key, &zero, BPF_ANY);
	}
	return vt_lookup_init(&stock_conn, key, &zero);
}

SEC("raw_tp/virtio_transport_alloc_pkt")
int BPF_PROG(stock_alloc_pkt, __u32 src_cid, __u32 src_port, __u32 dst_cid,
	     __u32 dst_port, __u32 len, __u16 type, __u16 op, __u32 flags)
{
	struct vt_conn_key key = {
		.local_cid = src_cid, .local_port = src_port,
		.peer_cid = dst_cid, .peer_port = dst_port,
	};
	__u32 id = vt_stock_dev(src_cid, dst_cid);
	bool rw = op == VT_OP_RW;
	struct vt_stock_conn *s;

	vt_dev_pkt(id, true, len, rw);
	vt_conn_pkt(&key, true, len, rw, id);
	s = vt_stock_conn(&key, op);
	if (s && rw)
		__sync_fetch_and_add(&s->tx_cnt, len);
	return 0;
}

SEC("raw_tp/virtio_transport_recv_pkt")
int BPF_PROG(stock_recv_pkt, __u32 src_cid, __u32 src_port, __u32 dst_cid,
	     __u32 dst_port, __u32 len, __u16 type, __u16 op, __u32 flags,
	     __u32 buf_alloc, __u32 fwd_cnt)
{
	struct vt_conn_key key = {
		.local_cid = dst_cid, .local_port = dst_port,
		.peer_cid = src_cid, .peer_port = src_port,
	};
	__u32 id = vt_stock_dev(src_cid, dst_cid);
	bool rw = op == VT_OP_RW;
	struct vt_stock_conn *s;

	vt_dev_pkt(id, false, len, rw);
	vt_conn_pkt(&key, false, len, rw, id);
	s = vt_stock_conn(&key, op);
	if (s) {
		s->peer_buf_alloc = buf_alloc;
		s->peer_fwd_cnt = fwd_cnt;
		s->have_peer = 1;
	}
	return 0;
}
