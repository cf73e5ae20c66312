// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-vsock protocol engine: packet build and parse, the
 * connection state machine and credit-based flow control. Every device
 * (loopback, virtio guest, vhost host) runs through this file, so what
 * loopback tests is what the virtio transports run.
 */
#include <linux/skbuff.h>
#include <net/sock.h>

#include "mvsock.h"
#include "mvsock_trace.h"

u16 mvsock_wire_type(const struct sock *sk)
{
	return sk->sk_type == SOCK_SEQPACKET ? VIRTIO_VSOCK_TYPE_SEQPACKET :
					       VIRTIO_VSOCK_TYPE_STREAM;
}

void mvsock_set_state(struct sock *sk, int state)
{
	int old = sk->sk_state;

	if (old == state)
		return;
	trace_mvsock_sock_state(sk, old, state, mvsock_sk(sk));
	WRITE_ONCE(sk->sk_state, state);
}

/*
 * Wake waiters on @sk. While the receive path holds the socket spinlock
 * (wake_defer) the wakeups are collected and done after the unlock, so a
 * woken task does not spin on the lock we still hold.
 */
static void mvsock_do_wake(struct sock *sk, u8 what)
{
	if (what & MVSOCK_WAKE_STATE)
		sk->sk_state_change(sk);
	if (what & MVSOCK_WAKE_DATA)
		sk->sk_data_ready(sk);
	if (what & MVSOCK_WAKE_SPACE)
		sk->sk_write_space(sk);
	if (what & MVSOCK_WAKE_ERROR)
		sk_error_report(sk);
}

static void mvsock_wake(struct sock *sk, u8 what)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	if (vsk->wake_defer)
		vsk->wake_pending |= what;
	else
		mvsock_do_wake(sk, what);
}

/*
 * Bytes the peer can still take: its buffer minus what is in flight. Like
 * stock, the window is also bounded by our own buffer size.
 */
u32 mvsock_peer_credit(struct mvsock_sock *vsk)
{
	s64 credit = (s64)min(vsk->peer_buf_alloc, vsk->buf_alloc) -
		     (s64)(u32)(vsk->tx_cnt - vsk->peer_fwd_cnt);

	return credit > 0 ? (u32)credit : 0;
}

/*
 * How much we may send now: the peer's credit, further bounded by what
 * this socket already handed to its device and the device has not
 * consumed, so a peer advertising a huge buffer cannot make us queue
 * without bound.
 */
u32 mvsock_tx_room(struct mvsock_sock *vsk)
{
	int unsent = atomic_read(&vsk->tx_unsent);
	u32 room = unsent < MVSOCK_TX_LIMIT ? MVSOCK_TX_LIMIT - unsent : 0;

	return min(room, mvsock_peer_credit(vsk));
}

/* Transmit-side accounting: bytes handed to a device, not yet consumed. */
static void mvsock_tx_destructor(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	int left;

	left = atomic_sub_return(mvsock_cb(skb)->len, &vsk->tx_unsent);
	if (left < MVSOCK_TX_LIMIT && left + mvsock_cb(skb)->len >= MVSOCK_TX_LIMIT)
		sk->sk_write_space(sk);
	sock_put(sk);
}

static void mvsock_fill_hdr(struct sk_buff *skb, struct mvsock_sock *vsk,
			    u16 op, u32 flags, u32 len)
{
	struct virtio_vsock_hdr *hdr = (struct virtio_vsock_hdr *)skb->data;
	struct mvsock_cb *cb = mvsock_cb(skb);

	cb->src_cid = vsk->src_cid;
	cb->dst_cid = vsk->remote.svm_cid;
	cb->src_port = vsk->local.svm_port;
	cb->dst_port = vsk->remote.svm_port;
	cb->len = len;
	cb->type = mvsock_wire_type(&vsk->sk);
	cb->op = op;
	cb->flags = flags;
	cb->buf_alloc = vsk->buf_alloc;
	cb->fwd_cnt = vsk->fwd_cnt;
	cb->offset = 0;

	hdr->src_cid = cpu_to_le64(cb->src_cid);
	hdr->dst_cid = cpu_to_le64(cb->dst_cid);
	hdr->src_port = cpu_to_le32(cb->src_port);
	hdr->dst_port = cpu_to_le32(cb->dst_port);
	hdr->len = cpu_to_le32(len);
	hdr->type = cpu_to_le16(cb->type);
	hdr->op = cpu_to_le16(op);
	hdr->flags = cpu_to_le32(flags);
	hdr->buf_alloc = cpu_to_le32(cb->buf_alloc);
	hdr->fwd_cnt = cpu_to_le32(cb->fwd_cnt);

	vsk->last_fwd_cnt = vsk->fwd_cnt;
	vsk->last_buf_alloc = vsk->buf_alloc;
}

/*
 * Hand @skb to @dev. The RCU read section pairs with the synchronize_rcu()
 * in mvsock_dev_unregister(): once that returns, no send_pkt call into the
 * transport is still running, so it may free its queues.
 */
static int mvsock_xmit(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	int ret;

	rcu_read_lock();
	if (READ_ONCE(dev->dead)) {
		rcu_read_unlock();
		kfree_skb(skb);
		return -ENODEV;
	}
	trace_mvsock_pkt_tx(dev, skb);
	MVSOCK_STAT(dev, tx_pkts, 1);
	MVSOCK_STAT(dev, tx_bytes, cb->len);
	if (cb->op == VIRTIO_VSOCK_OP_RST)
		MVSOCK_STAT(dev, rst_sent, 1);
	/* for mvsock_pkt_done's latency; only while someone listens */
	skb->tstamp = trace_mvsock_pkt_done_enabled() ?
		      ns_to_ktime(ktime_get_ns()) : 0;
	/* the packet events carry this depth (kind 0 is not emitted) */
	atomic_inc(&dev->queued);
	ret = dev->ops->send_pkt(dev, skb);
	rcu_read_unlock();
	return ret;
}

static struct sk_buff *mvsock_alloc_hdr_skb(u32 payload, gfp_t gfp)
{
	struct sk_buff *skb;

	skb = alloc_skb(MVSOCK_HDR_LEN + payload, gfp);
	if (!skb)
		return NULL;
	skb_put(skb, MVSOCK_HDR_LEN);
	return skb;
}

/*
 * An skb for a packet of @payload bytes: the header's room and the
 * payload's, both counted in skb->len and left for the caller to fill
 * (skb_copy_datagram_from_iter() at MVSOCK_HDR_LEN suits either layout).
 * Payloads up to MVSOCK_LINEAR_MAX sit in the linear part, bigger ones in
 * page frags: a 64 KiB packet then takes 64 KiB of pages, not a 128 KiB
 * linear allocation (kmalloc rounds up to a power of two, and every byte
 * of it is zeroed where init_on_alloc is on, as on Debian).
 */
struct sk_buff *mvsock_alloc_data_skb(u32 payload, gfp_t gfp)
{
	struct sk_buff *skb;
	int err;

	if (payload <= MVSOCK_LINEAR_MAX) {
		skb = mvsock_alloc_hdr_skb(payload, gfp);
		if (skb)
			skb_put(skb, payload);
		return skb;
	}
	skb = alloc_skb_with_frags(MVSOCK_HDR_LEN, payload,
				   PAGE_ALLOC_COSTLY_ORDER, &err, gfp);
	if (!skb)
		return NULL;
	skb_put(skb, MVSOCK_HDR_LEN);
	skb->data_len = payload;
	skb->len += payload;
	return skb;
}
EXPORT_SYMBOL_GPL(mvsock_alloc_data_skb);

/* An explicit credit packet of @vsk's, sent (@rx false) or received. */
static void mvsock_trace_credit(struct mvsock_sock *vsk, u16 op, bool rx,
				u32 buf_alloc, u32 fwd_cnt)
{
	struct sock *sk = &vsk->sk;

	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
		trace_mvsock_credit_update(sk, rx, buf_alloc, fwd_cnt,
					   mvsock_peer_credit(vsk));
	else if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		trace_mvsock_credit_request(sk, rx, buf_alloc, fwd_cnt,
					    mvsock_peer_credit(vsk));
}

/* Send a packet without payload on @vsk's connection. */
int mvsock_send_ctl(struct mvsock_sock *vsk, u16 op, u32 flags)
{
	struct sk_buff *skb;

	if (!vsk->dev)
		return -ENOTCONN;
	if (op == VIRTIO_VSOCK_OP_RST && test_bit(MVSOCK_F_REAPED, &vsk->flags))
		return 0;
	/* control packets are sent from the receive path too: no sleeping */
	skb = mvsock_alloc_hdr_skb(0, GFP_ATOMIC);
	if (!skb)
		return -ENOMEM;
	mvsock_fill_hdr(skb, vsk, op, flags, 0);
	if (op == VIRTIO_VSOCK_OP_RST)
		vsk->rst_sent = true;
	mvsock_trace_credit(vsk, op, false, vsk->buf_alloc, vsk->fwd_cnt);
	return mvsock_xmit(vsk->dev, skb);
}

/* Answer @in (which found no usable socket) with RST, unless it is one. */
int mvsock_send_rst_reply(struct mvsock_dev *dev, struct sk_buff *in)
{
	struct mvsock_cb *icb = mvsock_cb(in);
	struct virtio_vsock_hdr *hdr;
	struct sk_buff *skb;
	struct mvsock_cb *cb;

	if (icb->op == VIRTIO_VSOCK_OP_RST)
		return 0;
	skb = mvsock_alloc_hdr_skb(0, GFP_ATOMIC);
	if (!skb)
		return -ENOMEM;
	cb = mvsock_cb(skb);
	memset(cb, 0, sizeof(*cb));
	cb->src_cid = icb->dst_cid;
	cb->dst_cid = icb->src_cid;
	cb->src_port = icb->dst_port;
	cb->dst_port = icb->src_port;
	cb->type = icb->type;
	cb->op = VIRTIO_VSOCK_OP_RST;
	hdr = (struct virtio_vsock_hdr *)skb->data;
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = cpu_to_le64(cb->src_cid);
	hdr->dst_cid = cpu_to_le64(cb->dst_cid);
	hdr->src_port = cpu_to_le32(cb->src_port);
	hdr->dst_port = cpu_to_le32(cb->dst_port);
	hdr->type = cpu_to_le16(cb->type);
	hdr->op = cpu_to_le16(VIRTIO_VSOCK_OP_RST);
	return mvsock_xmit(dev, skb);
}

/* ---- receive queue ---------------------------------------------------- */

void mvsock_purge_rx(struct mvsock_sock *vsk)
{
	struct sk_buff *skb;

	while ((skb = __skb_dequeue(&vsk->rxq)))
		consume_skb(skb);
	vsk->rx_bytes = 0;
	vsk->rx_mem = 0;
	vsk->msg_count = 0;
}

static u32 mvsock_rx_mem_limit(struct mvsock_sock *vsk)
{
	return 2 * vsk->buf_alloc + 2 * 1024 * 1024;
}

/*
 * Queue the payload of an RW packet. Small stream payloads are copied
 * into the tail of the previous skb so a peer sending tiny packets cannot
 * pin one skb per byte. Returns false when the peer broke the credit
 * contract (more bytes in flight than we ever advertised).
 */
static bool mvsock_rx_enqueue(struct mvsock_sock *vsk, struct sk_buff *skb)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	u32 allowed = max(vsk->buf_alloc, vsk->last_buf_alloc);
	struct sk_buff *last;

	if ((u64)vsk->rx_bytes + cb->len > allowed)
		return false;
	if (cb->len == 0 && !(cb->flags & VIRTIO_VSOCK_SEQ_EOM)) {
		consume_skb(skb);
		return true;
	}
	vsk->rx_bytes += cb->len;
	vsk->rx_total += cb->len;
	if (vsk->sk.sk_type == SOCK_SEQPACKET &&
	    (cb->flags & VIRTIO_VSOCK_SEQ_EOM))
		vsk->msg_count++;
	/* for mvsock_deliver's queue_ns; a merged payload keeps the first's */
	skb->tstamp = trace_mvsock_deliver_enabled() ?
		      ns_to_ktime(ktime_get_ns()) : 0;

	last = skb_peek_tail(&vsk->rxq);
	if (last && cb->len <= MVSOCK_MERGE_LEN && !skb_is_nonlinear(last) &&
	    !(mvsock_cb(last)->flags & VIRTIO_VSOCK_SEQ_EOM) &&
	    vsk->sk.sk_type == SOCK_STREAM && skb_tailroom(last) >= cb->len) {
		if (!skb_copy_bits(skb, 0, skb_put(last, cb->len), cb->len)) {
			mvsock_cb(last)->len += cb->len;
			consume_skb(skb);
			return true;
		}
		/* copy failed: undo the put and queue the skb itself */
		__skb_trim(last, last->len - cb->len);
	}
	vsk->rx_mem += skb->truesize;
	if (vsk->rx_mem > mvsock_rx_mem_limit(vsk)) {
		vsk->rx_mem -= skb->truesize;
		vsk->rx_bytes -= cb->len;
		vsk->rx_total -= cb->len;
		return false;
	}
	__skb_queue_tail(&vsk->rxq, skb);
	return true;
}

/* How much freed space we let accumulate before telling the peer. */
static u32 mvsock_credit_step(u32 window)
{
	return max(window / 4, min_t(u32, MVSOCK_MAX_PKT_LEN, window / 2));
}

/*
 * Tell the peer about freed buffer space when it may be waiting for it:
 * when a step of it has accumulated, or when its view of our free space
 * is too small to reach our SO_RCVLOWAT.
 */
void mvsock_update_credit_after_read(struct mvsock_sock *vsk)
{
	struct sock *sk = &vsk->sk;
	u32 unsent = vsk->fwd_cnt - vsk->last_fwd_cnt;
	u32 free_space, window;
	s64 peer_view;

	if (!unsent || sk->sk_state != TCP_ESTABLISHED || !vsk->in_conn ||
	    (vsk->peer_shutdown & SEND_SHUTDOWN))
		return;
	/*
	 * The peer's window is bounded by its own buffer too (it tells us
	 * its size in every header), so judge its view with that bound.
	 */
	window = min(vsk->buf_alloc, vsk->peer_buf_alloc);
	free_space = window > vsk->rx_bytes ? window - vsk->rx_bytes : 0;
	peer_view = (s64)free_space - unsent;
	/*
	 * Report when more than a quarter window (at least one packet, at
	 * most half the window) was freed since the last report, so a fast
	 * sender never runs dry while we read. Bytes still queued do not
	 * count: behind a slow reader, a report per small read would dribble
	 * the peer credit a few KiB at a time. A reader waiting for
	 * SO_RCVLOWAT bytes must get them too. (A peer left with no credit
	 * has its whole window queued or unreported, so by the time the
	 * queue is read, more than a step has been freed.)
	 */
	if (unsent > mvsock_credit_step(window) ||
	    peer_view < (s64)READ_ONCE(sk->sk_rcvlowat) - vsk->rx_bytes)
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
}

/* ---- sending data ----------------------------------------------------- */

static bool mvsock_tx_blocked_by_peer(struct mvsock_sock *vsk)
{
	return (vsk->sk.sk_shutdown & SEND_SHUTDOWN) ||
	       (vsk->peer_shutdown & RCV_SHUTDOWN);
}

/*
 * Ask a peer that keeps us short of credit for an update. A correct peer
 * sends one by itself as it reads, so a blocking sender asks only once
 * its wait has lasted MVSOCK_CREDIT_REQ_DELAY; a non-blocking one, which
 * is not going to wait here, asks at once.
 */
static void mvsock_request_credit(struct mvsock_sock *vsk, u32 need)
{
	if (vsk->credit_requested || mvsock_peer_credit(vsk) >= need)
		return;
	vsk->credit_requested = true;
	mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
}

static bool mvsock_wait_credit_done(struct mvsock_sock *vsk, u32 need)
{
	struct sock *sk = &vsk->sk;

	return mvsock_tx_room(vsk) >= need || sk->sk_err ||
	       mvsock_tx_blocked_by_peer(vsk) ||
	       sk->sk_state != TCP_ESTABLISHED;
}

/* A stalled sender can send again, or its connection is over. */
static void mvsock_stall_end(struct mvsock_sock *vsk)
{
	vsk->stalled = false;
	trace_mvsock_credit_stall(&vsk->sk, false, mvsock_peer_credit(vsk),
				  ktime_get_ns() - vsk->stall_start);
}

static int mvsock_wait_credit(struct mvsock_sock *vsk, long *timeo, u32 need)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	unsigned long ask_at = jiffies + MVSOCK_CREDIT_REQ_DELAY;
	struct sock *sk = &vsk->sk;
	long slice, left;
	int err = 0;

	if (!*timeo)
		mvsock_request_credit(vsk, need);
	if (!vsk->stalled) {
		vsk->stalled = true;
		vsk->stall_start = ktime_get_ns();
		trace_mvsock_credit_stall(sk, true, mvsock_peer_credit(vsk), 0);
	}
	add_wait_queue(sk_sleep(sk), &wait);
	while (mvsock_tx_room(vsk) < need) {
		if (sk->sk_err || mvsock_tx_blocked_by_peer(vsk) ||
		    sk->sk_state != TCP_ESTABLISHED) {
			err = 1;
			break;
		}
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		/* sleep in slices that end when the credit request is due */
		slice = *timeo;
		if (!vsk->credit_requested) {
			left = (long)(ask_at - jiffies);
			if (left <= 0)
				mvsock_request_credit(vsk, need);
			else if (left < slice)
				slice = left;
		}
		left = *timeo - slice;
		sk_wait_event(sk, &slice, mvsock_wait_credit_done(vsk, need),
			      &wait);
		*timeo = left + slice;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/*
 * Pin the user pages behind @from into @skb's frags (MSG_ZEROCOPY).
 * Stops early when the frags run out; the caller sends what was pinned.
 * Returns 0 or the pinning's error (-EFAULT, -ENOMEM).
 */
static int mvsock_zc_fill(struct sk_buff *skb, struct iov_iter *from,
			  size_t length)
{
	int frag = skb_shinfo(skb)->nr_frags;

	while (length && frag < MAX_SKB_FRAGS) {
		struct page *pages[MAX_SKB_FRAGS];
		size_t start;
		ssize_t got;
		int i, n;

		got = iov_iter_get_pages2(from, pages, length,
					  MAX_SKB_FRAGS - frag, &start);
		if (got <= 0)
			return got;
		length -= got;
		skb->len += got;
		skb->data_len += got;
		skb->truesize += PAGE_ALIGN(got + start);
		n = DIV_ROUND_UP(got + start, PAGE_SIZE);
		for (i = 0; i < n; i++) {
			size_t size = min_t(size_t, got, PAGE_SIZE - start);

			skb_fill_page_desc_noacc(skb, frag++, pages[i], start,
						 size);
			got -= size;
			start = 0;
		}
	}
	return 0;
}

static struct sk_buff *mvsock_build_data(struct mvsock_sock *vsk,
					 struct msghdr *msg, u32 *chunk,
					 struct ubuf_info *uarg, int *err)
{
	struct sk_buff *skb;

	if (uarg) {
		skb = mvsock_alloc_hdr_skb(0, GFP_KERNEL);
		if (!skb) {
			*err = -ENOMEM;
			return NULL;
		}
		*err = mvsock_zc_fill(skb, &msg->msg_iter, *chunk);
		if (*err || skb->len == MVSOCK_HDR_LEN) {
			/*
			 * Pages that cannot be pinned (a bad address, or no
			 * memory) fail the send with -ENOMEM, as in the stock
			 * stack, whose skb allocation fails: upstream
			 * vsock_test expects it for an unmapped buffer.
			 */
			kfree_skb(skb);
			*err = -ENOMEM;
			return NULL;
		}
		*chunk = skb->len - MVSOCK_HDR_LEN;
		skb_zcopy_set(skb, uarg, NULL);
		return skb;
	}
	skb = mvsock_alloc_data_skb(*chunk, GFP_KERNEL);
	if (!skb) {
		*err = -ENOMEM;
		return NULL;
	}
	if (skb_copy_datagram_from_iter(skb, MVSOCK_HDR_LEN, &msg->msg_iter,
					*chunk)) {
		kfree_skb(skb);
		*err = -EFAULT;
		return NULL;
	}
	return skb;
}

/* Queue one data packet of up to *@chunk bytes from @msg. */
static int mvsock_send_chunk(struct mvsock_sock *vsk, struct msghdr *msg,
			     u32 *chunk, u32 flags, struct ubuf_info *uarg)
{
	u32 want = *chunk;
	struct sk_buff *skb;
	int err;

	skb = mvsock_build_data(vsk, msg, chunk, uarg, &err);
	if (!skb)
		return err;
	if (*chunk < want)
		flags = 0;	/* the message continues in the next packet */
	mvsock_fill_hdr(skb, vsk, VIRTIO_VSOCK_OP_RW, flags, *chunk);
	sock_hold(&vsk->sk);
	skb->sk = &vsk->sk;
	skb->destructor = mvsock_tx_destructor;
	atomic_add(*chunk, &vsk->tx_unsent);
	vsk->tx_cnt += *chunk;
	vsk->tx_total += *chunk;
	err = mvsock_xmit(vsk->dev, skb);
	return err < 0 ? err : 0;
}

static struct ubuf_info *mvsock_zc_begin(struct mvsock_sock *vsk,
					 struct msghdr *msg, size_t len)
{
	struct ubuf_info *uarg;

	if (!(msg->msg_flags & MSG_ZEROCOPY) ||
	    !sock_flag(&vsk->sk, SOCK_ZEROCOPY))
		return NULL;
	uarg = msg_zerocopy_realloc(&vsk->sk, len, NULL);
	if (!uarg)
		return ERR_PTR(-ENOBUFS);
	/* Data that cannot fit the peer's buffer in one go is copied. */
	if (len > vsk->peer_buf_alloc || !iter_is_iovec(&msg->msg_iter))
		uarg_to_msgzc(uarg)->zerocopy = 0;
	return uarg;
}

/*
 * Send @len bytes from @msg on a connected socket; lock_sock held.
 * SEQPACKET messages end with EOM (and EOR when MSG_EOR is given).
 */
ssize_t mvsock_send_data(struct mvsock_sock *vsk, struct msghdr *msg,
			 size_t len, bool eom)
{
	struct sock *sk = &vsk->sk;
	bool seq = sk->sk_type == SOCK_SEQPACKET;
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	struct ubuf_info *uarg;
	size_t sent = 0;
	int err = 0;

	uarg = mvsock_zc_begin(vsk, msg, len);
	if (IS_ERR(uarg))
		return PTR_ERR(uarg);

	do {
		u32 chunk = min_t(size_t, len - sent, MVSOCK_MAX_PKT_LEN);
		u32 need = 1;
		u32 flags = 0;

		/* a non-blocking SEQPACKET message goes out whole or not */
		if (seq && !sent && !timeo)
			need = max_t(u32, len, 1);
		if (mvsock_tx_room(vsk) < need) {
			err = mvsock_wait_credit(vsk, &timeo, need);
			if (err)
				break;
		}
		chunk = min(chunk, mvsock_tx_room(vsk));
		if (seq && sent + chunk == len) {
			flags |= VIRTIO_VSOCK_SEQ_EOM;
			if (msg->msg_flags & MSG_EOR)
				flags |= VIRTIO_VSOCK_SEQ_EOR;
		}
		err = mvsock_send_chunk(vsk, msg, &chunk, flags,
					uarg && uarg_to_msgzc(uarg)->zerocopy ?
					uarg : NULL);
		if (err)
			break;
		sent += chunk;
	} while (sent < len);
	if (vsk->stalled && mvsock_peer_credit(vsk))
		mvsock_stall_end(vsk);
	if (uarg) {
		if (!sent)
			net_zcopy_put_abort(uarg, true);
		else
			net_zcopy_put(uarg);
	}
	if (sent)
		return sent;
	if (err == 1)
		err = sk->sk_err ? -sk->sk_err : -EPIPE;
	return err;
}

/* ---- receiving data --------------------------------------------------- */

static void mvsock_consumed(struct mvsock_sock *vsk, struct sk_buff *skb)
{
	__skb_unlink(skb, &vsk->rxq);
	vsk->rx_mem -= min(vsk->rx_mem, skb->truesize);
	consume_skb(skb);
}

/* Stream read of up to @len queued bytes; returns bytes or -EFAULT. */
static ssize_t mvsock_stream_dequeue(struct mvsock_sock *vsk,
				     struct msghdr *msg, size_t len, bool peek)
{
	struct sk_buff *skb, *tmp;
	size_t copied = 0;

	skb_queue_walk_safe(&vsk->rxq, skb, tmp) {
		struct mvsock_cb *cb = mvsock_cb(skb);
		u32 n = min_t(size_t, cb->len - cb->offset, len - copied);

		if (!n && copied >= len)
			break;
		if (skb_copy_datagram_msg(skb, cb->offset, msg, n))
			return copied ? copied : -EFAULT;
		copied += n;
		if (peek) {
			if (copied >= len)
				break;
			continue;
		}
		cb->offset += n;
		vsk->rx_bytes -= n;
		vsk->fwd_cnt += n;
		if (cb->offset == cb->len)
			mvsock_consumed(vsk, skb);
		if (copied >= len)
			break;
	}
	return copied;
}

/* Read one SEQPACKET message; the whole message is consumed unless peek. */
static ssize_t mvsock_seq_dequeue(struct mvsock_sock *vsk, struct msghdr *msg,
				  size_t len, int flags)
{
	bool peek = flags & MSG_PEEK;
	struct sk_buff *skb, *tmp;
	size_t copied = 0, total = 0;
	bool fault = false, eor = false;

	skb_queue_walk_safe(&vsk->rxq, skb, tmp) {
		struct mvsock_cb *cb = mvsock_cb(skb);
		u32 n = 0;
		bool eom = cb->flags & VIRTIO_VSOCK_SEQ_EOM;

		if (copied < len && !fault) {
			n = min_t(size_t, cb->len, len - copied);
			if (skb_copy_datagram_msg(skb, 0, msg, n))
				fault = true;
			else
				copied += n;
		}
		total += cb->len;
		if (eom)
			eor = cb->flags & VIRTIO_VSOCK_SEQ_EOR;
		if (!peek) {
			vsk->rx_bytes -= cb->len;
			vsk->fwd_cnt += cb->len;
			mvsock_consumed(vsk, skb);
		}
		if (eom) {
			if (!peek)
				vsk->msg_count--;
			break;
		}
	}
	if (fault)
		return -EFAULT;
	if (eor)
		msg->msg_flags |= MSG_EOR;
	if (total > copied)
		msg->msg_flags |= MSG_TRUNC;
	return (flags & MSG_TRUNC) ? total : copied;
}

static bool mvsock_rx_eof(struct mvsock_sock *vsk)
{
	struct sock *sk = &vsk->sk;

	return (sk->sk_shutdown & RCV_SHUTDOWN) ||
	       (vsk->peer_shutdown & SEND_SHUTDOWN) ||
	       sock_flag(sk, SOCK_DONE) || sk->sk_state != TCP_ESTABLISHED;
}

static bool mvsock_rx_ready(struct mvsock_sock *vsk, u32 need)
{
	if (vsk->sk.sk_type == SOCK_SEQPACKET)
		return vsk->msg_count > 0;
	return vsk->rx_bytes >= need;
}

/* Wait for data; 0 when ready, 1 on EOF, negative errno otherwise. */
static int mvsock_wait_data(struct mvsock_sock *vsk, long *timeo, u32 need)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = &vsk->sk;
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	while (!mvsock_rx_ready(vsk, need)) {
		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (mvsock_rx_eof(vsk)) {
			err = 1;
			break;
		}
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		sk_wait_event(sk, timeo, mvsock_rx_ready(vsk, need) ||
			      sk->sk_err || mvsock_rx_eof(vsk), &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/* When the oldest byte still queued was queued (0: not recorded). */
static u64 mvsock_rx_head_ns(struct mvsock_sock *vsk)
{
	struct sk_buff *skb = skb_peek(&vsk->rxq);

	return skb ? ktime_to_ns(skb->tstamp) : 0;
}

/* recvmsg() took @len bytes that were queued since @queued_at. */
static void mvsock_trace_deliver(struct mvsock_sock *vsk, size_t len,
				 u64 queued_at)
{
	u64 now;

	if (!trace_mvsock_deliver_enabled())
		return;
	now = ktime_get_ns();
	trace_mvsock_deliver(&vsk->sk, len,
			     queued_at && now > queued_at ? now - queued_at : 0,
			     vsk->rx_bytes, mvsock_sk_dev_id(vsk));
}

static ssize_t mvsock_seq_recv(struct mvsock_sock *vsk, struct msghdr *msg,
			       size_t len, int flags, long *timeo)
{
	u64 queued_at;
	ssize_t n;
	int err;

	err = mvsock_wait_data(vsk, timeo, 1);
	if (err)
		return err == 1 ? 0 : err;
	queued_at = mvsock_rx_head_ns(vsk);
	n = mvsock_seq_dequeue(vsk, msg, len, flags);
	if (!(flags & MSG_PEEK)) {
		mvsock_update_credit_after_read(vsk);
		if (n >= 0)
			mvsock_trace_deliver(vsk, min_t(size_t, n, len),
					     queued_at);
	}
	return n;
}

/* recvmsg() body for connected sockets; lock_sock held. */
ssize_t mvsock_recv_data(struct mvsock_sock *vsk, struct msghdr *msg,
			 size_t len, int flags)
{
	struct sock *sk = &vsk->sk;
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	int target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	size_t copied = 0;
	u64 queued_at = 0;
	ssize_t n = 0;
	int err;

	if (sk->sk_type == SOCK_SEQPACKET)
		return mvsock_seq_recv(vsk, msg, len, flags, &timeo);
	if (!len)
		return 0;
	while (copied < len) {
		u32 need = max_t(int, target - (int)copied, 1);

		if (copied && !vsk->rx_bytes)
			break;
		err = mvsock_wait_data(vsk, &timeo,
				       min_t(u32, need, vsk->buf_alloc));
		if (err == -EAGAIN && vsk->rx_bytes && !copied)
			err = 0; /* fewer than rcvlowat: still read */
		if (err && (copied || err == 1))
			break;
		if (err)
			return err;
		if (!copied)
			queued_at = mvsock_rx_head_ns(vsk);
		n = mvsock_stream_dequeue(vsk, msg, len - copied,
					  flags & MSG_PEEK);
		if (n < 0)
			break;
		copied += n;
		if (!(flags & MSG_PEEK))
			mvsock_update_credit_after_read(vsk);
		if ((flags & MSG_PEEK) || copied >= target)
			break;
	}
	if (!copied)
		return n < 0 ? n : 0;
	if (!(flags & MSG_PEEK))
		mvsock_trace_deliver(vsk, copied, queued_at);
	return copied;
}

/* ---- connection state machine ----------------------------------------- */

static void mvsock_close_work_fn(struct work_struct *work)
{
	struct mvsock_sock *vsk = container_of(to_delayed_work(work),
					       struct mvsock_sock, close_work);
	struct sock *sk = &vsk->sk;

	lock_sock(sk);
	if (vsk->close_pending) {
		vsk->close_pending = false;
		/* only while the 4-tuple is still ours: it may be reused */
		if (!vsk->rst_sent && vsk->in_conn && vsk->dev)
			mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_finish_close(sk);
		sock_put(sk);	/* the close timer's reference */
	}
	release_sock(sk);
	sock_put(sk);	/* the work's reference */
}

static void mvsock_connect_work_fn(struct work_struct *work)
{
	struct mvsock_sock *vsk = container_of(to_delayed_work(work),
					       struct mvsock_sock,
					       connect_work);
	struct sock *sk = &vsk->sk;

	lock_sock(sk);
	if (sk->sk_state == TCP_SYN_SENT && sk->sk_socket &&
	    sk->sk_socket->state == SS_CONNECTING) {
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_remove_connected(vsk);
		mvsock_set_state(sk, TCP_CLOSE);
		sk->sk_socket->state = SS_UNCONNECTED;
		sk->sk_err = ETIMEDOUT;
		sk_error_report(sk);
	}
	release_sock(sk);
	sock_put(sk);
}

void mvsock_sk_init_proto(struct mvsock_sock *vsk, struct mvsock_sock *parent)
{
	__skb_queue_head_init(&vsk->rxq);
	INIT_LIST_HEAD(&vsk->accept_q);
	INIT_LIST_HEAD(&vsk->accept_node);
	INIT_DELAYED_WORK(&vsk->close_work, mvsock_close_work_fn);
	INIT_DELAYED_WORK(&vsk->connect_work, mvsock_connect_work_fn);
	vsk->local.svm_family = AF_VSOCK;
	vsk->local.svm_cid = VMADDR_CID_ANY;
	vsk->local.svm_port = VMADDR_PORT_ANY;
	vsk->remote = vsk->local;
	if (parent) {
		vsk->buf_size = parent->buf_size;
		vsk->buf_min = parent->buf_min;
		vsk->buf_max = parent->buf_max;
		vsk->connect_timeout = parent->connect_timeout;
	} else {
		vsk->buf_size = MVSOCK_DEF_BUF_SIZE;
		vsk->buf_min = MVSOCK_DEF_BUF_MIN;
		vsk->buf_max = MVSOCK_DEF_BUF_MAX;
		vsk->connect_timeout = MVSOCK_CONNECT_TIMEOUT;
	}
	vsk->buf_alloc = min_t(u64, vsk->buf_size, MVSOCK_BUF_LIMIT);
}

/* The connection is over for good: forget the 4-tuple. */
void mvsock_finish_close(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	if (vsk->close_pending && cancel_delayed_work(&vsk->close_work)) {
		vsk->close_pending = false;
		sock_put(sk);	/* the close timer's reference */
		sock_put(sk);	/* the work's reference */
	}
	sock_set_flag(sk, SOCK_DONE);
	if (vsk->stalled)
		mvsock_stall_end(vsk);
	mvsock_set_state(sk, TCP_CLOSE);
	mvsock_remove_connected(vsk);
}

/* Local reset: the connection died (device gone, protocol error). */
void mvsock_reset_local(struct sock *sk, int err)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	vsk->peer_shutdown = SHUTDOWN_MASK;
	if (sk->sk_state == TCP_SYN_SENT || err) {
		sk->sk_err = err ? err : ECONNRESET;
		if (sk->sk_socket && sk->sk_state == TCP_SYN_SENT)
			sk->sk_socket->state = SS_UNCONNECTED;
	}
	mvsock_finish_close(sk);
	mvsock_wake(sk, MVSOCK_WAKE_STATE);
	if (sk->sk_err)
		mvsock_wake(sk, MVSOCK_WAKE_ERROR);
}

/*
 * close() on a connected socket: tell the peer we are done and wait (in
 * the background) for its RST; a timer bounds the wait.
 */
void mvsock_begin_close(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	switch (sk->sk_state) {
	case TCP_SYN_SENT:
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_finish_close(sk);
		return;
	case TCP_ESTABLISHED:
	case TCP_CLOSING:
		break;
	default:
		mvsock_finish_close(sk);
		return;
	}
	if (!vsk->in_conn || vsk->rst_sent ||
	    vsk->peer_shutdown == SHUTDOWN_MASK || sock_flag(sk, SOCK_DONE)) {
		if (vsk->in_conn && !vsk->rst_sent)
			mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_finish_close(sk);
		return;
	}
	if ((sk->sk_shutdown & SHUTDOWN_MASK) != SHUTDOWN_MASK)
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_SHUTDOWN,
				VIRTIO_VSOCK_SHUTDOWN_RCV |
				VIRTIO_VSOCK_SHUTDOWN_SEND);
	sk->sk_shutdown = SHUTDOWN_MASK;
	mvsock_set_state(sk, TCP_CLOSING);
	vsk->close_pending = true;
	sock_hold(sk);	/* the close timer's reference */
	sock_hold(sk);	/* the work's reference */
	schedule_delayed_work(&vsk->close_work, MVSOCK_CLOSE_TIMEOUT);
}

static void mvsock_update_peer_credit(struct mvsock_sock *vsk,
				      struct mvsock_cb *cb)
{
	struct sock *sk = &vsk->sk;
	u32 before = mvsock_peer_credit(vsk);

	vsk->peer_buf_alloc = cb->buf_alloc;
	vsk->peer_fwd_cnt = cb->fwd_cnt;
	if (mvsock_peer_credit(vsk) > before) {
		vsk->credit_requested = false;
		mvsock_wake(sk, MVSOCK_WAKE_SPACE);
	}
}

/* A child for @cb's REQUEST, not yet visible anywhere (state CLOSE). */
static struct sock *mvsock_new_child(struct sock *listener,
				     struct mvsock_dev *dev,
				     struct mvsock_cb *cb)
{
	struct mvsock_sock *child;
	struct sock *csk;

	csk = mvsock_create_child(listener);
	if (!csk)
		return NULL;
	child = mvsock_sk(csk);
	child->local.svm_cid = cb->dst_cid;
	child->src_cid = cb->dst_cid;
	child->local.svm_port = cb->dst_port;
	child->remote.svm_cid = cb->src_cid;
	child->remote.svm_port = cb->src_port;
	child->dev = mvsock_dev_get(dev);
	child->peer_buf_alloc = cb->buf_alloc;
	child->peer_fwd_cnt = cb->fwd_cnt;
	return csk;
}

/* @csk is established and waits on the listener's accept queue. */
static void mvsock_publish_child(struct sock *listener, struct sock *csk)
{
	struct mvsock_sock *child = mvsock_sk(csk);

	mvsock_set_state(csk, TCP_ESTABLISHED);
	mvsock_reap_stale(child);
	mvsock_insert_connected(child);

	list_add_tail(&child->accept_node, &mvsock_sk(listener)->accept_q);
	sock_hold(listener);
	child->listener = listener;
	sk_acceptq_added(listener);
}

/* The accept program's verdict on @csk; a refused child is freed. */
static int mvsock_accept_verdict(struct sock *csk)
{
	int verdict;

	if (!mvsock_bpf_on())
		return 0;
	verdict = mvsock_bpf_accept(mvsock_sk(csk));
	if (verdict) {
		sock_set_flag(csk, SOCK_DEAD);
		sock_put(csk);
	}
	return verdict;
}

static void mvsock_rx_listen(struct sock *sk, struct mvsock_dev *dev,
			     struct sk_buff *skb)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	struct sock *child = NULL;
	int verdict = 0;

	if (cb->op != VIRTIO_VSOCK_OP_REQUEST) {
		mvsock_send_rst_reply(dev, skb);
		return;
	}
	if (sk_acceptq_is_full(sk))
		verdict = -ECONNREFUSED;
	if (!verdict) {
		child = mvsock_new_child(sk, dev, cb);
		verdict = child ? mvsock_accept_verdict(child) : -ENOMEM;
	}
	trace_mvsock_policy(sk, cb->src_cid, cb->src_port, cb->dst_port,
			    "accept", verdict, dev->id, cb->dst_cid);
	if (verdict) {
		mvsock_send_rst_reply(dev, skb);
		return;
	}
	mvsock_publish_child(sk, child);
	mvsock_send_ctl(mvsock_sk(child), VIRTIO_VSOCK_OP_RESPONSE, 0);
	mvsock_wake(sk, MVSOCK_WAKE_DATA);
}

static void mvsock_rx_syn_sent(struct sock *sk, struct mvsock_dev *dev,
			       struct sk_buff *skb)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);
	struct mvsock_cb *cb = mvsock_cb(skb);

	switch (cb->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		mvsock_update_peer_credit(vsk, cb);
		mvsock_set_state(sk, TCP_ESTABLISHED);
		if (sk->sk_socket)
			sk->sk_socket->state = SS_CONNECTED;
		mvsock_wake(sk, MVSOCK_WAKE_STATE);
		break;
	case VIRTIO_VSOCK_OP_RST:
		mvsock_remove_connected(vsk);
		mvsock_set_state(sk, TCP_CLOSE);
		if (sk->sk_socket)
			sk->sk_socket->state = SS_UNCONNECTED;
		sk->sk_err = ECONNRESET;
		mvsock_wake(sk, MVSOCK_WAKE_ERROR);
		break;
	default:
		/* anything else while connecting is a protocol error */
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_reset_local(sk, EPROTO);
		break;
	}
}

/* The peer finished (full SHUTDOWN or RST): let our reader drain. */
static void mvsock_peer_done(struct sock *sk, bool send_rst)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	vsk->peer_shutdown = SHUTDOWN_MASK;
	if (send_rst && !vsk->rst_sent)
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
	sock_set_flag(sk, SOCK_DONE);
	if (!vsk->rx_bytes && !vsk->msg_count)
		mvsock_set_state(sk, TCP_CLOSING);
	/* the 4-tuple is free: the peer may reuse its port at once */
	mvsock_remove_connected(vsk);
	if (sock_flag(sk, SOCK_DEAD) || vsk->close_pending)
		mvsock_finish_close(sk);
	mvsock_wake(sk, MVSOCK_WAKE_STATE);
}

static void mvsock_rx_shutdown(struct sock *sk, struct mvsock_cb *cb)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	if (cb->flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		vsk->peer_shutdown |= RCV_SHUTDOWN;
	if (cb->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		vsk->peer_shutdown |= SEND_SHUTDOWN;
	if (vsk->peer_shutdown == SHUTDOWN_MASK) {
		mvsock_peer_done(sk, true);
		return;
	}
	mvsock_wake(sk, MVSOCK_WAKE_STATE);
	if (vsk->peer_shutdown & RCV_SHUTDOWN)
		mvsock_wake(sk, MVSOCK_WAKE_SPACE);
}

static void mvsock_rx_connected(struct sock *sk, struct mvsock_dev *dev,
				struct sk_buff *skb, bool *consumed)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);
	struct mvsock_cb *cb = mvsock_cb(skb);

	if (cb->op != VIRTIO_VSOCK_OP_RST)
		mvsock_update_peer_credit(vsk, cb);
	switch (cb->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (sk->sk_state != TCP_ESTABLISHED ||
		    (sk->sk_shutdown & RCV_SHUTDOWN) ||
		    (vsk->peer_shutdown & SEND_SHUTDOWN)) {
			/* data after close/shutdown: drop it, as stock does */
			MVSOCK_STAT(dev, rx_dropped, 1);
			break;
		}
		skb_orphan(skb);
		if (!mvsock_rx_enqueue(vsk, skb)) {
			/* the peer overran the credit we gave it */
			MVSOCK_STAT(dev, rx_bad, 1);
			mvsock_purge_rx(vsk);
			mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
			mvsock_reset_local(sk, ECONNRESET);
			break;
		}
		*consumed = true;
		mvsock_wake(sk, MVSOCK_WAKE_DATA);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		mvsock_trace_credit(vsk, cb->op, true, cb->buf_alloc,
				    cb->fwd_cnt);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		mvsock_trace_credit(vsk, cb->op, true, cb->buf_alloc,
				    cb->fwd_cnt);
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		mvsock_rx_shutdown(sk, cb);
		break;
	case VIRTIO_VSOCK_OP_RST:
		mvsock_peer_done(sk, false);
		break;
	default:
		MVSOCK_STAT(dev, rx_bad, 1);
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_reset_local(sk, ECONNRESET);
		break;
	}
}

/* Parse and validate the header; false means drop. */
static bool mvsock_parse(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	struct virtio_vsock_hdr hdr;
	u32 local = mvsock_dev_local_cid(dev);
	u32 peer = mvsock_dev_peer_cid(dev);

	if (skb_copy_bits(skb, 0, &hdr, sizeof(hdr)))
		return false;
	/* CIDs are 32 bits wide in every address we hand out */
	if (le64_to_cpu(hdr.src_cid) > U32_MAX ||
	    le64_to_cpu(hdr.dst_cid) > U32_MAX)
		return false;
	cb->dev = dev;
	cb->src_cid = le64_to_cpu(hdr.src_cid);
	cb->dst_cid = le64_to_cpu(hdr.dst_cid);
	cb->src_port = le32_to_cpu(hdr.src_port);
	cb->dst_port = le32_to_cpu(hdr.dst_port);
	cb->len = le32_to_cpu(hdr.len);
	cb->type = le16_to_cpu(hdr.type);
	cb->op = le16_to_cpu(hdr.op);
	cb->flags = le32_to_cpu(hdr.flags);
	cb->buf_alloc = le32_to_cpu(hdr.buf_alloc);
	cb->fwd_cnt = le32_to_cpu(hdr.fwd_cnt);
	cb->offset = 0;

	if (cb->len != skb->len - MVSOCK_HDR_LEN || cb->len > MVSOCK_MAX_PKT_LEN)
		return false;
	/* anti-spoofing: the device decides who the peer is */
	if (dev->role != MVSOCK_ROLE_LOCAL &&
	    (cb->dst_cid != local || cb->src_cid != peer))
		return false;
	if (cb->op == VIRTIO_VSOCK_OP_INVALID ||
	    cb->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return false;
	if (cb->op != VIRTIO_VSOCK_OP_RW && cb->len)
		return false;
	return true;
}

static bool mvsock_type_matches(struct sock *sk, struct mvsock_cb *cb)
{
	return mvsock_wire_type(sk) == cb->type;
}

/*
 * Dispatch @skb to @sk by state. Runs with the socket spinlock held and
 * BHs off, or from the backlog with the socket owned: never sleeps.
 * Returns true when the skb was queued on the socket.
 */
static bool mvsock_rx_locked(struct sock *sk, struct sk_buff *skb)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	struct mvsock_dev *dev = cb->dev;
	bool consumed = false;

	if (!mvsock_type_matches(sk, cb) ||
	    (sk->sk_state != TCP_LISTEN && mvsock_sk(sk)->dev != dev)) {
		mvsock_send_rst_reply(dev, skb);
		return false;
	}
	switch (sk->sk_state) {
	case TCP_LISTEN:
		mvsock_rx_listen(sk, dev, skb);
		break;
	case TCP_SYN_SENT:
		mvsock_rx_syn_sent(sk, dev, skb);
		break;
	case TCP_ESTABLISHED:
	case TCP_CLOSING:
		mvsock_rx_connected(sk, dev, skb, &consumed);
		break;
	default:
		mvsock_send_rst_reply(dev, skb);
		break;
	}
	return consumed;
}

/*
 * The socket a parsed packet is for, with a reference: the connected (or
 * connecting) socket of its 4-tuple, else a listener bound to its
 * destination; NULL when there is none.
 */
static struct sock *mvsock_rx_lookup(struct mvsock_cb *cb)
{
	struct sock *sk;

	sk = mvsock_lookup_connected(cb->src_cid, cb->src_port,
				     cb->dst_cid, cb->dst_port);
	if (sk)
		return sk;
	sk = mvsock_lookup_bound(cb->dst_cid, cb->dst_port);
	if (sk && sk->sk_state != TCP_LISTEN) {
		sock_put(sk);
		sk = NULL;
	}
	return sk;
}

static bool mvsock_rx_type_ok(struct mvsock_dev *dev, struct mvsock_cb *cb)
{
	if (cb->type == VIRTIO_VSOCK_TYPE_STREAM)
		return true;
	return cb->type == VIRTIO_VSOCK_TYPE_SEQPACKET &&
	       READ_ONCE(dev->seqpacket);
}

/*
 * Receive one packet: the entry point for every packet a device receives,
 * from process or softirq context (not hardirq). The skb holds the header
 * at skb->data; the core owns it from here. With @try (a transport
 * calling from the receive path of another socket, BHs off) we only
 * trylock the destination socket and return false, leaving @skb
 * untouched, when that fails: the caller then queues it. Otherwise the
 * packet is always taken.
 */
static bool mvsock_rx(struct mvsock_dev *dev, struct sk_buff *skb, bool try)
{
	struct mvsock_cb *cb = mvsock_cb(skb);
	bool consumed = false;
	struct sock *sk = NULL;
	u8 wake = 0;

	if (READ_ONCE(dev->dead) || !mvsock_parse(dev, skb)) {
		if (try)
			mvsock_dev_tx_done(dev, 1);
		MVSOCK_STAT(dev, rx_bad, 1);
		kfree_skb(skb);
		return true;
	}
	if (mvsock_rx_type_ok(dev, cb))
		sk = mvsock_rx_lookup(cb);
	local_bh_disable();
	if (sk) {
		if (try && !spin_trylock(&sk->sk_lock.slock)) {
			local_bh_enable();
			sock_put(sk);
			return false;
		}
		if (!try)
			bh_lock_sock(sk);
	}
	/* taken: a synchronous sender's device is done with it */
	if (try)
		mvsock_dev_tx_complete(dev, skb);
	trace_mvsock_pkt_rx(dev, skb);
	MVSOCK_STAT(dev, rx_pkts, 1);
	MVSOCK_STAT(dev, rx_bytes, cb->len);
	skb_pull(skb, MVSOCK_HDR_LEN);
	if (!sk) {
		/* no socket, or a type we do not (or may not) speak */
		mvsock_send_rst_reply(dev, skb);
		local_bh_enable();
		consume_skb(skb);
		return true;
	}
	/*
	 * Like TCP: process now under the socket spinlock, or leave the
	 * packet on the socket backlog for its owner's release_sock().
	 */
	if (!sock_owned_by_user(sk)) {
		mvsock_sk(sk)->wake_defer = true;
		consumed = mvsock_rx_locked(sk, skb);
		mvsock_sk(sk)->wake_defer = false;
		wake = mvsock_sk(sk)->wake_pending;
		mvsock_sk(sk)->wake_pending = 0;
	} else {
		mvsock_dev_get(dev);
		if (sk_add_backlog(sk, skb, mvsock_rx_mem_limit(mvsock_sk(sk)))) {
			mvsock_dev_put(dev);
			MVSOCK_STAT(dev, rx_dropped, 1);
		} else {
			consumed = true;
		}
	}
	bh_unlock_sock(sk);
	local_bh_enable();
	if (wake)
		mvsock_do_wake(sk, wake);
	sock_put(sk);
	if (!consumed)
		consume_skb(skb);
	return true;
}

void mvsock_rx_pkt(struct mvsock_dev *dev, struct sk_buff *skb)
{
	mvsock_rx(dev, skb, false);
}
EXPORT_SYMBOL_GPL(mvsock_rx_pkt);

/*
 * For transports that deliver synchronously (loopback): a packet sent
 * from the receive path of another socket. Returns false, skb untouched,
 * when the destination socket's spinlock is busy. Once taken, the packet
 * counts as done on @dev (mvsock_dev_tx_complete(), before its pkt_rx
 * event) or, when malformed, as dropped.
 */
bool mvsock_rx_pkt_try(struct mvsock_dev *dev, struct sk_buff *skb)
{
	return mvsock_rx(dev, skb, true);
}
EXPORT_SYMBOL_GPL(mvsock_rx_pkt_try);

/* proto->backlog_rcv: the owner runs what arrived while it held the lock */
int mvsock_backlog_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct mvsock_dev *dev = mvsock_cb(skb)->dev;

	if (!mvsock_rx_locked(sk, skb))
		consume_skb(skb);
	mvsock_dev_put(dev);
	return 0;
}

/*
 * Called by transports for @n packets they dropped (or, without the
 * packet at hand, handed to their peer): they no longer count as queued.
 */
void mvsock_dev_tx_done(struct mvsock_dev *dev, int n)
{
	atomic_sub(n, &dev->queued);
}
EXPORT_SYMBOL_GPL(mvsock_dev_tx_done);

/*
 * Called by transports when the device is done with @skb (handed to the
 * peer, or its tx buffer came back), before they free it; skb->cb must
 * still be as mvsock_xmit() left it.
 */
void mvsock_dev_tx_complete(struct mvsock_dev *dev, struct sk_buff *skb)
{
	u64 sent = ktime_to_ns(skb->tstamp), now;

	mvsock_dev_tx_done(dev, 1);
	if (!trace_mvsock_pkt_done_enabled())
		return;
	now = ktime_get_ns();
	trace_mvsock_pkt_done(dev, skb, sent && now > sent ? now - sent : 0);
}
EXPORT_SYMBOL_GPL(mvsock_dev_tx_complete);

/* A driver's own queue (enum mvsock_queue_kind) has a new depth. */
void mvsock_dev_trace_queue(struct mvsock_dev *dev, u32 kind, u32 depth)
{
	trace_mvsock_queue(dev, kind, depth);
}
EXPORT_SYMBOL_GPL(mvsock_dev_trace_queue);

static void mvsock_dev_reset_one(struct sock *sk, void *arg)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	lock_sock(sk);
	if (vsk->dev == arg) {
		mvsock_purge_rx(vsk);
		mvsock_reset_local(sk, ECONNRESET);
	}
	release_sock(sk);
}

/* The device went away: every connection over it is reset. */
void mvsock_dev_reset_socks(struct mvsock_dev *dev)
{
	mvsock_visit_socks(mvsock_dev_reset_one, dev);
}
