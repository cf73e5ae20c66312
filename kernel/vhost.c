// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock_vhost.ko: the host side. /dev/vhost-vsock speaks the standard
 * vhost-vsock user API (what QEMU's vhost-vsock-pci and other VMMs use)
 * on top of the kernel's vhost core; each open instance with a guest CID
 * is one host-role device in the mvsock registry.
 *
 * Virtqueues (from the guest's point of view): 0 = rx (we fill it with
 * packets for the guest), 1 = tx (packets from the guest). The event
 * queue stays with the VMM.
 *
 * The guest is the side that attacks us: every packet it sends is copied
 * into a fresh skb and checked by the core (length, addressing, op), and
 * what we queue for it is bounded: data by the sockets' credit and send
 * limits, control replies by MVSOCK_VHOST_MAX_REPLIES (when that many
 * wait for rx buffers we stop reading the guest's tx queue).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/vhost.h>
#include <linux/virtio_vsock.h>
#include <uapi/linux/virtio_ring.h>

#include "vhost.h"	/* the vhost core's API, from the kernel tree */
#include "mvsock_dev.h"

#define MVSOCK_VHOST_RXQ	0
#define MVSOCK_VHOST_TXQ	1
#define MVSOCK_VHOST_NVQ	2
/* work budget per handler run before yielding, as other vhost drivers */
#define MVSOCK_VHOST_WEIGHT	0x80000
#define MVSOCK_VHOST_PKT_WEIGHT	256
#define MVSOCK_VHOST_MAX_REPLIES 1024

#define MVSOCK_VHOST_FEATURES (VHOST_FEATURES | \
			       (1ULL << VIRTIO_F_ACCESS_PLATFORM) | \
			       (1ULL << VIRTIO_VSOCK_F_SEQPACKET))
#define MVSOCK_VHOST_BACKEND_FEATURES (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2)

struct mvh {
	struct vhost_dev vdev;
	struct vhost_virtqueue vqs[MVSOCK_VHOST_NVQ];
	/*
	 * The registry entry: changed under vdev.mutex plus both vq
	 * mutexes, so a handler holding its vq mutex sees a stable value.
	 */
	struct mvsock_dev *dev;
	u32 guest_cid;		/* guarded by vdev.mutex */
	bool seqpacket;		/* guest acked SEQPACKET; vdev.mutex */
	/* packets for the guest; sendq.lock guards the queue */
	struct sk_buff_head sendq;
	struct vhost_work send_work;
	atomic_t replies;	/* control packets waiting in sendq */
	u32 pending_seen;	/* sendq length last traced; rx vq mutex */
	/*
	 * Payload bytes of sendq's head already copied to the guest (a
	 * packet larger than a guest rx buffer goes in pieces; it stays at
	 * the head meanwhile); rx vq mutex
	 */
	u32 send_off;
};

/* ---- host -> guest ---------------------------------------------------- */

static int mvh_send_pkt(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct mvh *h = dev->priv;
	int len = skb->len;

	/* a guest that never reads cannot make us queue forever */
	if (mvsock_reply_charge(dev, &h->replies, MVSOCK_VHOST_MAX_REPLIES, skb))
		return -ENOBUFS;
	skb_queue_tail(&h->sendq, skb);
	vhost_vq_work_queue(&h->vqs[MVSOCK_VHOST_RXQ], &h->send_work);
	return len;
}

static void mvh_sent(struct mvh *h, struct sk_buff *skb, bool *restart_tx)
{
	if (mvsock_reply_done(&h->replies, MVSOCK_VHOST_MAX_REPLIES, skb))
		*restart_tx = true;
	if (h->dev)	/* stable: we hold the rx vq mutex */
		mvsock_dev_tx_complete(h->dev, skb);
	consume_skb(skb);
}

/*
 * Copy the next piece of @skb, the head of sendq, into one guest rx
 * buffer. A packet larger than the buffer is split; only the last piece
 * keeps the SEQPACKET EOM/EOR flags. Returns bytes written to the guest,
 * or -EFAULT. *@done: the whole packet is out.
 */
static int mvh_copy_to_guest(struct mvh *h, struct sk_buff *skb,
			     struct iov_iter *it, size_t room, bool *done)
{
	struct virtio_vsock_hdr hdr;
	u32 left, n;

	memcpy(&hdr, skb->data, sizeof(hdr));
	left = le32_to_cpu(hdr.len) - h->send_off;
	n = min_t(size_t, left, room - sizeof(hdr));
	hdr.len = cpu_to_le32(n);
	if (n < left)
		hdr.flags &= ~cpu_to_le32(VIRTIO_VSOCK_SEQ_EOM |
					  VIRTIO_VSOCK_SEQ_EOR);
	if (copy_to_iter(&hdr, sizeof(hdr), it) != sizeof(hdr))
		return -EFAULT;
	if (n && skb_copy_datagram_iter(skb, MVSOCK_HDR_LEN + h->send_off, it,
					n))
		return -EFAULT;
	*done = n == left;
	h->send_off = *done ? 0 : h->send_off + n;
	return sizeof(hdr) + n;
}

/* Trace the packets waiting for guest rx buffers when that changed. */
static void mvh_trace_pending(struct mvh *h)
{
	u32 n = skb_queue_len(&h->sendq);

	if (!h->dev || n == h->pending_seen)
		return;
	h->pending_seen = n;
	mvsock_dev_trace_queue(h->dev, MVSOCK_Q_TX_PENDING, n);
}

static void mvh_do_send(struct mvh *h)
{
	struct vhost_virtqueue *vq = &h->vqs[MVSOCK_VHOST_RXQ];
	int pkts = 0, total = 0;
	bool added = false, restart_tx = false;
	struct sk_buff *skb;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq) || !vq_meta_prefetch(vq))
		goto out;
	vhost_disable_notify(&h->vdev, vq);
	do {
		unsigned int out, in;
		struct iov_iter it;
		bool done;
		size_t room;
		int head, n;

		skb = skb_dequeue(&h->sendq);
		if (!skb) {
			vhost_enable_notify(&h->vdev, vq);
			break;
		}
		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, NULL, NULL);
		if (head < 0 || head == vq->num) {
			skb_queue_head(&h->sendq, skb);
			if (head == vq->num &&
			    unlikely(vhost_enable_notify(&h->vdev, vq))) {
				vhost_disable_notify(&h->vdev, vq);
				continue;
			}
			break;
		}
		room = iov_length(&vq->iov[out], in);
		if (out || room < sizeof(struct virtio_vsock_hdr)) {
			/* unusable buffer: give it back empty, keep the pkt */
			skb_queue_head(&h->sendq, skb);
			vhost_add_used(vq, head, 0);
			added = true;
			continue;
		}
		iov_iter_init(&it, ITER_DEST, &vq->iov[out], in, room);
		n = mvh_copy_to_guest(h, skb, &it, room, &done);
		if (n < 0) {
			vq_err(vq, "faulted writing a packet\n");
			vhost_discard_vq_desc(vq, 1);
			skb_queue_head(&h->sendq, skb);
			break;
		}
		vhost_add_used(vq, head, n);
		added = true;
		total += n;
		if (done)
			mvh_sent(h, skb, &restart_tx);
		else
			skb_queue_head(&h->sendq, skb);
	} while (likely(!vhost_exceeds_weight(vq, ++pkts, total)));
	if (added)
		vhost_signal(&h->vdev, vq);
	mvh_trace_pending(h);
out:
	mutex_unlock(&vq->mutex);
	if (restart_tx)
		vhost_poll_queue(&h->vqs[MVSOCK_VHOST_TXQ].poll);
}

static void mvh_send_work(struct vhost_work *work)
{
	mvh_do_send(container_of(work, struct mvh, send_work));
}

static void mvh_rx_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);

	mvh_do_send(container_of(vq->dev, struct mvh, vdev));
}

/* ---- guest -> host ---------------------------------------------------- */

/*
 * Copy one guest tx chain into an skb holding header + payload (a big
 * payload in page frags: mvsock_alloc_data_skb()).
 */
static struct sk_buff *mvh_pkt_from_guest(struct vhost_virtqueue *vq,
					  unsigned int out, unsigned int in)
{
	struct virtio_vsock_hdr hdr;
	struct iov_iter it;
	struct sk_buff *skb;
	size_t len;
	u32 plen;

	if (in)
		return NULL;
	len = iov_length(vq->iov, out);
	if (len < sizeof(hdr) || len > sizeof(hdr) + MVSOCK_MAX_PKT_LEN)
		return NULL;
	iov_iter_init(&it, ITER_SOURCE, vq->iov, out, len);
	if (copy_from_iter(&hdr, sizeof(hdr), &it) != sizeof(hdr))
		return NULL;
	plen = le32_to_cpu(hdr.len);
	/* the header may not claim more than the chain carries */
	if (plen > len - sizeof(hdr))
		return NULL;
	skb = mvsock_alloc_data_skb(plen, GFP_KERNEL);
	if (!skb)
		return NULL;
	memcpy(skb->data, &hdr, sizeof(hdr));
	if (plen && skb_copy_datagram_from_iter(skb, sizeof(hdr), &it, plen)) {
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

static void mvh_tx_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);
	struct mvh *h = container_of(vq->dev, struct mvh, vdev);
	int pkts = 0, total = 0;
	bool added = false;

	mutex_lock(&vq->mutex);
	if (!vhost_vq_get_backend(vq) || !vq_meta_prefetch(vq))
		goto out;
	vhost_disable_notify(&h->vdev, vq);
	do {
		struct mvsock_dev *dev = READ_ONCE(h->dev);
		unsigned int out, in;
		struct sk_buff *skb;
		int head;

		/* too many replies the guest has not read: wait for it */
		if (atomic_read(&h->replies) >= MVSOCK_VHOST_MAX_REPLIES)
			break;
		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, NULL, NULL);
		if (head < 0)
			break;
		if (head == vq->num) {
			if (unlikely(vhost_enable_notify(&h->vdev, vq))) {
				vhost_disable_notify(&h->vdev, vq);
				continue;
			}
			break;
		}
		skb = mvh_pkt_from_guest(vq, out, in);
		if (skb) {
			total += skb->len;
			if (dev)
				mvsock_rx_pkt(dev, skb);
			else
				kfree_skb(skb);
		} else if (dev) {
			MVSOCK_STAT(dev, rx_bad, 1);
		}
		vhost_add_used(vq, head, 0);
		added = true;
	} while (likely(!vhost_exceeds_weight(vq, ++pkts, total)));
	if (added)
		vhost_signal(&h->vdev, vq);
out:
	mutex_unlock(&vq->mutex);
}

/* ---- device lifecycle ------------------------------------------------- */

static const struct mvsock_dev_ops mvh_ops = {
	.send_pkt = mvh_send_pkt,
};

static int mvh_open(struct inode *inode, struct file *file)
{
	struct vhost_virtqueue **vqs;
	struct mvh *h;

	h = kvzalloc(sizeof(*h), GFP_KERNEL | __GFP_RETRY_MAYFAIL);
	if (!h)
		return -ENOMEM;
	vqs = kmalloc_array(MVSOCK_VHOST_NVQ, sizeof(*vqs), GFP_KERNEL);
	if (!vqs) {
		kvfree(h);
		return -ENOMEM;
	}
	vqs[MVSOCK_VHOST_RXQ] = &h->vqs[MVSOCK_VHOST_RXQ];
	vqs[MVSOCK_VHOST_TXQ] = &h->vqs[MVSOCK_VHOST_TXQ];
	h->vqs[MVSOCK_VHOST_RXQ].handle_kick = mvh_rx_kick;
	h->vqs[MVSOCK_VHOST_TXQ].handle_kick = mvh_tx_kick;
	vhost_dev_init(&h->vdev, vqs, MVSOCK_VHOST_NVQ, UIO_MAXIOV,
		       MVSOCK_VHOST_PKT_WEIGHT, MVSOCK_VHOST_WEIGHT, true,
		       NULL);
	skb_queue_head_init(&h->sendq);
	vhost_work_init(&h->send_work, mvh_send_work);
	file->private_data = h;
	return 0;
}

/* Point the handlers at @dev (or NULL); returns the previous entry. */
static struct mvsock_dev *mvh_swap_dev(struct mvh *h, struct mvsock_dev *dev)
{
	struct mvsock_dev *old;

	mutex_lock(&h->vqs[MVSOCK_VHOST_RXQ].mutex);
	mutex_lock(&h->vqs[MVSOCK_VHOST_TXQ].mutex);
	old = h->dev;
	WRITE_ONCE(h->dev, dev);
	h->pending_seen = 0;
	mutex_unlock(&h->vqs[MVSOCK_VHOST_TXQ].mutex);
	mutex_unlock(&h->vqs[MVSOCK_VHOST_RXQ].mutex);
	return old;
}

/*
 * Retire a registry entry: unregistering resets its sockets and waits
 * until no send_pkt into us is running; then what it queued is dropped.
 */
static void mvh_retire(struct mvh *h, struct mvsock_dev *old)
{
	struct sk_buff *skb;

	if (!old)
		return;
	mvsock_dev_unregister(old);
	mutex_lock(&h->vqs[MVSOCK_VHOST_RXQ].mutex);
	h->send_off = 0;
	while ((skb = skb_dequeue(&h->sendq))) {
		mvsock_reply_done(&h->replies, MVSOCK_VHOST_MAX_REPLIES, skb);
		mvsock_dev_tx_done(old, 1);
		consume_skb(skb);
	}
	mutex_unlock(&h->vqs[MVSOCK_VHOST_RXQ].mutex);
	mvsock_dev_put(old);
}

static void mvh_set_backend(struct mvh *h, void *backend)
{
	int i;

	for (i = 0; i < MVSOCK_VHOST_NVQ; i++) {
		mutex_lock(&h->vqs[i].mutex);
		vhost_vq_set_backend(&h->vqs[i], backend);
		mutex_unlock(&h->vqs[i].mutex);
	}
}

static int mvh_release(struct inode *inode, struct file *file)
{
	struct mvh *h = file->private_data;

	mutex_lock(&h->vdev.mutex);
	mvh_retire(h, mvh_swap_dev(h, NULL));
	h->guest_cid = 0;
	mutex_unlock(&h->vdev.mutex);
	mvh_set_backend(h, NULL);
	vhost_dev_flush(&h->vdev);
	vhost_dev_stop(&h->vdev);
	skb_queue_purge(&h->sendq);
	vhost_dev_cleanup(&h->vdev);
	kfree(h->vdev.vqs);
	kvfree(h);
	return 0;
}

static int mvh_set_cid(struct mvh *h, u64 cid)
{
	struct mvsock_dev *dev;
	int err;

	if (cid <= VMADDR_CID_HOST || cid >= U32_MAX)
		return -EINVAL;
	mutex_lock(&h->vdev.mutex);
	if (h->dev && h->guest_cid == cid) {
		mutex_unlock(&h->vdev.mutex);
		return 0;
	}
	dev = mvsock_dev_alloc("vhost", MVSOCK_ROLE_HOST, cid, &mvh_ops, h);
	if (IS_ERR(dev)) {
		mutex_unlock(&h->vdev.mutex);
		return PTR_ERR(dev);
	}
	snprintf(dev->name, sizeof(dev->name), "vhost-%u", (u32)cid);
	dev->seqpacket = h->seqpacket;
	err = mvsock_dev_register(dev);
	if (err) {
		mutex_unlock(&h->vdev.mutex);
		mvsock_dev_put(dev);
		return err;
	}
	/* a new CID is a new peer: connections to the old one are gone */
	mvh_retire(h, mvh_swap_dev(h, dev));
	h->guest_cid = cid;
	mutex_unlock(&h->vdev.mutex);
	return 0;
}

static int mvh_start(struct mvh *h)
{
	int i, err = 0;

	mutex_lock(&h->vdev.mutex);
	err = vhost_dev_check_owner(&h->vdev);
	for (i = 0; !err && i < MVSOCK_VHOST_NVQ; i++) {
		struct vhost_virtqueue *vq = &h->vqs[i];

		mutex_lock(&vq->mutex);
		if (!vhost_vq_access_ok(vq))
			err = -EFAULT;
		else if (!vhost_vq_get_backend(vq)) {
			vhost_vq_set_backend(vq, h);
			err = vhost_vq_init_access(vq);
		}
		mutex_unlock(&vq->mutex);
	}
	if (err) {
		mutex_unlock(&h->vdev.mutex);
		mvh_set_backend(h, NULL);
		return err;
	}
	/* packets queued before the guest was running go out now */
	vhost_vq_work_queue(&h->vqs[MVSOCK_VHOST_RXQ], &h->send_work);
	mutex_unlock(&h->vdev.mutex);
	return 0;
}

static int mvh_stop(struct mvh *h)
{
	int err;

	mutex_lock(&h->vdev.mutex);
	err = vhost_dev_check_owner(&h->vdev);
	mutex_unlock(&h->vdev.mutex);
	if (!err)
		mvh_set_backend(h, NULL);
	return err;
}

static int mvh_set_features(struct mvh *h, u64 features)
{
	int i, err = 0;

	if (features & ~MVSOCK_VHOST_FEATURES)
		return -EOPNOTSUPP;
	mutex_lock(&h->vdev.mutex);
	if ((features & (1ULL << VHOST_F_LOG_ALL)) &&
	    !vhost_log_access_ok(&h->vdev))
		err = -EFAULT;
	else if (features & (1ULL << VIRTIO_F_ACCESS_PLATFORM))
		err = vhost_init_device_iotlb(&h->vdev) ? -EFAULT : 0;
	else
		vhost_clear_device_iotlb(&h->vdev);
	for (i = 0; !err && i < MVSOCK_VHOST_NVQ; i++) {
		mutex_lock(&h->vqs[i].mutex);
		h->vqs[i].acked_features = features;
		mutex_unlock(&h->vqs[i].mutex);
	}
	if (!err) {
		h->seqpacket = features & (1ULL << VIRTIO_VSOCK_F_SEQPACKET);
		if (h->dev)
			WRITE_ONCE(h->dev->seqpacket, h->seqpacket);
	}
	mutex_unlock(&h->vdev.mutex);
	return err;
}

static long mvh_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct mvh *h = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 v;
	int start;
	long r;

	switch (cmd) {
	case VHOST_VSOCK_SET_GUEST_CID:
		if (copy_from_user(&v, argp, sizeof(v)))
			return -EFAULT;
		return mvh_set_cid(h, v);
	case VHOST_VSOCK_SET_RUNNING:
		if (copy_from_user(&start, argp, sizeof(start)))
			return -EFAULT;
		return start ? mvh_start(h) : mvh_stop(h);
	case VHOST_GET_FEATURES:
		v = MVSOCK_VHOST_FEATURES;
		return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&v, argp, sizeof(v)))
			return -EFAULT;
		return mvh_set_features(h, v);
	case VHOST_GET_BACKEND_FEATURES:
		v = MVSOCK_VHOST_BACKEND_FEATURES;
		return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
	case VHOST_SET_BACKEND_FEATURES:
		if (copy_from_user(&v, argp, sizeof(v)))
			return -EFAULT;
		if (v & ~MVSOCK_VHOST_BACKEND_FEATURES)
			return -EOPNOTSUPP;
		vhost_set_backend_features(&h->vdev, v);
		return 0;
	default:
		mutex_lock(&h->vdev.mutex);
		r = vhost_dev_ioctl(&h->vdev, cmd, argp);
		if (r == -ENOIOCTLCMD)
			r = vhost_vring_ioctl(&h->vdev, cmd, argp);
		else
			vhost_dev_flush(&h->vdev);
		mutex_unlock(&h->vdev.mutex);
		return r;
	}
}

static ssize_t mvh_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct mvh *h = iocb->ki_filp->private_data;

	return vhost_chr_read_iter(&h->vdev, to,
				   iocb->ki_filp->f_flags & O_NONBLOCK);
}

static ssize_t mvh_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mvh *h = iocb->ki_filp->private_data;

	return vhost_chr_write_iter(&h->vdev, from);
}

static __poll_t mvh_poll(struct file *file, poll_table *wait)
{
	struct mvh *h = file->private_data;

	return vhost_chr_poll(file, &h->vdev, wait);
}

static const struct file_operations mvh_fops = {
	.owner = THIS_MODULE,
	.open = mvh_open,
	.release = mvh_release,
	.llseek = noop_llseek,
	.unlocked_ioctl = mvh_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read_iter = mvh_read_iter,
	.write_iter = mvh_write_iter,
	.poll = mvh_poll,
};

static struct miscdevice mvh_misc = {
	.minor = VHOST_VSOCK_MINOR,
	.name = "vhost-vsock",
	.fops = &mvh_fops,
};

static int __init mvh_init(void)
{
	int err;

	err = misc_register(&mvh_misc);
	if (err) {
		pr_err("/dev/vhost-vsock is taken (stock vhost_vsock loaded?): %d\n",
		       err);
		return err;
	}
	mvsock_host_get();
	return 0;
}

static void __exit mvh_exit(void)
{
	mvsock_host_put();
	misc_deregister(&mvh_misc);
}

module_init(mvh_init);
module_exit(mvh_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mvsock host driver: /dev/vhost-vsock over the vhost core");
MODULE_AUTHOR("The mvsock authors");
MODULE_VERSION(MVSOCK_MOD_VERSION);
MODULE_ALIAS_MISCDEV(VHOST_VSOCK_MINOR);
MODULE_ALIAS("devname:vhost-vsock");
