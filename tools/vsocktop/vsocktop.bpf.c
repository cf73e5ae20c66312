// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's BPF side: programs on the mvsock:* tracepoints (tp_btf, or
 * raw_tp where tp_btf cannot attach) count per device and per connection
 * into maps; on a stock kernel two programs on upstream's
 * vsock:virtio_transport_{alloc,recv}_pkt tracepoints fill the same maps.
 * Every event is a few map updates; nothing goes to user space per event.
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vt_dev_stats);
} dev_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vt_dev_max);
} dev_max SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct vt_dev_queues);
} dev_queues SEC(".maps");

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

/* zeroed values to insert from; too big for the BPF stack */
const struct vt_dev_stats zero_dev = {};
const struct vt_dev_max zero_max = {};

static __always_inline void *vt_lookup_init(void *map, const void *key,
					    const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline struct vt_dev_stats *vt_dev(__u32 id)
{
	return vt_lookup_init(&dev_stats, &id, &zero_dev);
}

/* this interval's slot of the device's maxima */
static __always_inline struct vt_dev_max_slot *vt_max_slot(__u32 id)
{
	struct vt_dev_max *m = vt_lookup_init(&dev_max, &id, &zero_max);
	__u64 e = epoch;
	struct vt_dev_max_slot *s;

	if (!m)
		return NULL;
	s = &m->slot[e & 1];
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

/* count one packet on a connection, from the side @key names */
static __always_inline void vt_conn_pkt(const struct vt_conn_key *key, bool tx,
					__u32 len, bool rw, __s32 dev_id)
{
	struct vt_conn_stats zero = {}, *c;

	c = bpf_map_lookup_elem(&conn_stats, key);
	if (!c) {
		bpf_map_update_elem(&conn_stats, key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&conn_stats, key);
		if (!c)
			return;
	}
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

static __always_inline void vt_dev_pkt(__u32 id, bool tx, __u32 len, bool rw)
{
	struct vt_dev_stats *d = vt_dev(id);

	if (!d)
		return;
	if (tx) {
		d->tx_pkts++;
		if (rw)
			d->tx_bytes += len;
	} else {
		d->rx_pkts++;
		if (rw)
			d->rx_bytes += len;
	}
}

/* ---- mvsock ------------------------------------------------------------ */

static __always_inline void vt_mv_pkt(const struct mvsock_dev *dev,
				      struct sk_buff *skb, bool tx)
{
	struct virtio_vsock_hdr hdr;
	struct vt_dev_max_slot *m;
	struct vt_conn_key key;
	__u32 id, depth;
	bool rw;

	if (!dev || !skb)
		return;
	if (bpf_probe_read_kernel(&hdr, sizeof(hdr), BPF_CORE_READ(skb, data)))
		return;
	id = BPF_CORE_READ(dev, id);
	rw = hdr.op == VT_OP_RW;
	vt_dev_pkt(id, tx, hdr.len, rw);
	if (tx) {
		key.local_cid = hdr.src_cid;
		key.local_port = hdr.src_port;
		key.peer_cid = hdr.dst_cid;
		key.peer_port = hdr.dst_port;
	} else {
		key.local_cid = hdr.dst_cid;
		key.local_port = hdr.dst_port;
		key.peer_cid = hdr.src_cid;
		key.peer_port = hdr.src_port;
	}
	vt_conn_pkt(&key, tx, hdr.len, rw, id);
	/* the depth as the packet events' queued field shows it */
	depth = BPF_CORE_READ(dev, queued.counter) + (tx ? 1 : 0);
	m = vt_max_slot(id);
	if (m && depth > m->queue_max)
		m->queue_max = depth;
}

static __always_inline void vt_mv_done(const struct mvsock_dev *dev,
				       __u64 latency_ns)
{
	struct vt_dev_max_slot *m;
	struct vt_dev_stats *d;
	__u32 id, slot;

	if (!dev || !latency_ns)
		return;
	id = BPF_CORE_READ(dev, id);
	d = vt_dev(id);
	if (!d)
		return;
	slot = vt_log2(latency_ns);
	if (slot < VT_SLOTS)
		d->tx_hist[slot]++;
	d->tx_sum_ns += latency_ns;
	m = vt_max_slot(id);
	if (m && latency_ns > m->tx_lat_max)
		m->tx_lat_max = latency_ns;
}

static __always_inline int vt_sk_dev(const struct sock *sk)
{
	const struct mvsock_sock *vsk = (const void *)sk;
	struct mvsock_dev *dev = BPF_CORE_READ(vsk, dev);

	return dev ? (int)BPF_CORE_READ(dev, id) : -1;
}

static __always_inline void vt_mv_deliver(const struct sock *sk, __u64 queue_ns)
{
	struct vt_dev_max_slot *m;
	struct vt_dev_stats *d;
	__u32 slot;
	int id;

	if (!sk || !queue_ns)
		return;
	id = vt_sk_dev(sk);
	if (id < 0)
		return;
	d = vt_dev(id);
	if (!d)
		return;
	slot = vt_log2(queue_ns);
	if (slot < VT_SLOTS)
		d->rx_hist[slot]++;
	d->rx_sum_ns += queue_ns;
	m = vt_max_slot(id);
	if (m && queue_ns > m->rx_lat_max)
		m->rx_lat_max = queue_ns;
}

/* a stall that began before vsocktop started counts from start_ns */
static __always_inline __u64 vt_clamp_stall(__u64 duration_ns)
{
	__u64 now = bpf_ktime_get_ns();

	return now - duration_ns < start_ns ? now - start_ns : duration_ns;
}

static __always_inline void vt_mv_stall(const struct sock *sk, bool begin,
					__u64 duration_ns)
{
	const struct mvsock_sock *vsk = (const void *)sk;
	struct vt_conn_stall zero = {}, *c;
	struct vt_dev_stats *d = NULL;
	struct vt_conn_key key;
	int id;

	if (!sk)
		return;
	key.local_cid = BPF_CORE_READ(vsk, src_cid);
	key.local_port = BPF_CORE_READ(vsk, local.svm_port);
	key.peer_cid = BPF_CORE_READ(vsk, remote.svm_cid);
	key.peer_port = BPF_CORE_READ(vsk, remote.svm_port);
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

static __always_inline void vt_mv_queue(const struct mvsock_dev *dev,
					__u32 kind, __u32 depth)
{
	struct vt_dev_queues init = { .depth = { -1, -1, -1, -1 } }, *q;
	__u32 id;

	if (!dev || kind >= 4)
		return;
	id = BPF_CORE_READ(dev, id);
	q = vt_lookup_init(&dev_queues, &id, &init);
	/* bound the index in the register the store uses */
	kind &= 3;
	barrier_var(kind);
	if (q && kind < 4)
		q->depth[kind] = depth;
}

/*
 * Each handler twice: tp_btf (BTF-typed arguments) and raw_tp, the
 * fallback where tp_btf cannot attach. vsocktop loads one set.
 */
#define VT_PROGS(name, args, body)				\
SEC("tp_btf/mvsock_" #name)					\
int BPF_PROG(btf_##name, args) body				\
SEC("raw_tp/mvsock_" #name)					\
int BPF_PROG(raw_##name, args) body

#define VT_ARGS(...) __VA_ARGS__

VT_PROGS(pkt_tx, VT_ARGS(const struct mvsock_dev *dev, struct sk_buff *skb),
{
	vt_mv_pkt(dev, skb, true);
	return 0;
})

VT_PROGS(pkt_rx, VT_ARGS(const struct mvsock_dev *dev, struct sk_buff *skb),
{
	vt_mv_pkt(dev, skb, false);
	return 0;
})

VT_PROGS(pkt_done, VT_ARGS(const struct mvsock_dev *dev, struct sk_buff *skb,
			   __u64 latency_ns),
{
	vt_mv_done(dev, latency_ns);
	return 0;
})

VT_PROGS(deliver, VT_ARGS(const struct sock *sk, __u32 len, __u64 queue_ns,
			  __u32 left),
{
	vt_mv_deliver(sk, queue_ns);
	return 0;
})

VT_PROGS(credit_stall, VT_ARGS(const struct sock *sk, bool begin, __u32 credit,
			       __u64 duration_ns),
{
	vt_mv_stall(sk, begin, duration_ns);
	return 0;
})

VT_PROGS(queue, VT_ARGS(const struct mvsock_dev *dev, __u32 kind, __u32 depth),
{
	vt_mv_queue(dev, kind, depth);
	return 0;
})

/* ---- stock vsock ------------------------------------------------------- */

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
