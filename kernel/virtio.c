// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock_virtio.ko: the guest driver. It binds every virtio-vsock device
 * (virtio ID 19) a guest has, each one a guest-role device in the mvsock
 * registry with its own CID, virtqueues and workqueue, so traffic on one
 * device never waits behind another's.
 *
 * Virtqueues: 0 = rx (host -> guest), 1 = tx (guest -> host), 2 = event.
 */
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <linux/scatterlist.h>
#include <linux/workqueue.h>

#include "mvsock_dev.h"
#include "../include/uapi/linux/mvsock.h"

enum { MVG_RX, MVG_TX, MVG_EVENT, MVG_NVQ };

/* rx buffers: header + payload in one linear skb filling a 16 KiB slab */
#define MVG_RX_BUF	SKB_WITH_OVERHEAD(16384)
#define MVG_EVENTS	8
#define MVG_MAX_REPLIES	256

struct mvg {
	struct virtio_device *vdev;
	struct virtqueue *vqs[MVG_NVQ];
	struct mvsock_dev *dev;
	struct workqueue_struct *wq;

	struct mutex rx_lock;	/* guards the rx vq and rx_bufs */
	int rx_bufs;
	struct work_struct rx_work;

	spinlock_t tx_lock;	/* guards the tx vq and the order of sendq */
	struct sk_buff_head sendq;	/* sendq.lock guards the queue */
	atomic_t replies;	/* control packets queued or in the tx vq */
	int tx_inflight;	/* skbs in the tx vq; tx_lock */
	/* a packet's pieces for the tx vq; tx_lock (not on senders' stacks) */
	struct scatterlist tx_sg[MAX_SKB_FRAGS + 1];
	struct work_struct tx_work;

	struct mutex event_lock;	/* guards the event vq */
	struct virtio_vsock_event events[MVG_EVENTS];
	struct work_struct event_work;

	bool running;	/* false once removal began (under all three locks) */
	/* queue depths last traced: rx_lock for RX_POSTED, else tx_lock */
	u32 q_seen[MVSOCK_Q_TX_INFLIGHT + 1];
};

/* Trace a queue's depth (enum mvsock_queue_kind) when it changed. */
static void mvg_trace_queue(struct mvg *g, u32 kind, u32 depth)
{
	if (g->q_seen[kind] == depth)
		return;
	g->q_seen[kind] = depth;
	mvsock_dev_trace_queue(g->dev, kind, depth);
}

/* ---- tx --------------------------------------------------------------- */

/* Give back the buffers the device consumed; tx_lock held. */
static void mvg_tx_reclaim(struct mvg *g, bool *restart_rx)
{
	struct sk_buff *skb;
	unsigned int len;

	while ((skb = virtqueue_get_buf(g->vqs[MVG_TX], &len))) {
		if (mvsock_reply_done(&g->replies, MVG_MAX_REPLIES, skb))
			*restart_rx = true;
		g->tx_inflight--;
		mvsock_dev_tx_complete(g->dev, skb);
		consume_skb(skb);
	}
}

/* tx_lock held */
static int mvg_tx_add(struct mvg *g, struct sk_buff *skb, gfp_t gfp)
{
	struct scatterlist *sg = g->tx_sg;
	struct scatterlist *sgs[1] = { sg };
	int n;

	sg_init_table(sg, ARRAY_SIZE(g->tx_sg));
	n = skb_to_sgvec(skb, sg, 0, skb->len);
	if (n < 0)
		return n;
	sg_mark_end(&sg[n - 1]);
	return virtqueue_add_sgs(g->vqs[MVG_TX], sgs, 1, 0, skb, gfp);
}

/* @skb could not be put in the tx vq and never will: drop it. */
static void mvg_tx_drop(struct mvg *g, struct sk_buff *skb)
{
	mvsock_reply_done(&g->replies, MVG_MAX_REPLIES, skb);
	mvsock_dev_tx_done(g->dev, 1);
	MVSOCK_STAT(g->dev, tx_dropped, 1);
	kfree_skb(skb);
}

static void mvg_tx_trace(struct mvg *g)
{
	mvg_trace_queue(g, MVSOCK_Q_TX_PENDING, skb_queue_len(&g->sendq));
	mvg_trace_queue(g, MVSOCK_Q_TX_INFLIGHT, g->tx_inflight);
}

/*
 * Put @skb straight into the tx vq when nothing waits before it, from the
 * sender's context: a round trip then needs no tx worker to be scheduled,
 * which under CPU load is one wait less. tx_lock held. False: queue it.
 */
static bool mvg_tx_direct(struct mvg *g, struct sk_buff *skb)
{
	int err;

	if (!g->running || !skb_queue_empty(&g->sendq))
		return false;
	err = mvg_tx_add(g, skb, GFP_ATOMIC);
	if (err == -ENOSPC)
		return false;	/* the tx worker retries after a completion */
	if (err) {
		mvg_tx_drop(g, skb);
		return true;
	}
	g->tx_inflight++;
	virtqueue_kick(g->vqs[MVG_TX]);
	mvg_tx_trace(g);
	return true;
}

/* Called under rcu_read_lock(), from process or softirq context. */
static int mvg_send_pkt(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct mvg *g = dev->priv;
	int len = skb->len;
	bool sent;

	if (mvsock_reply_charge(dev, &g->replies, MVG_MAX_REPLIES, skb))
		return -ENOBUFS;
	spin_lock_bh(&g->tx_lock);
	sent = mvg_tx_direct(g, skb);
	if (!sent)
		skb_queue_tail(&g->sendq, skb);
	spin_unlock_bh(&g->tx_lock);
	if (!sent)
		queue_work(g->wq, &g->tx_work);
	return len;
}

static void mvg_tx_work(struct work_struct *work)
{
	struct mvg *g = container_of(work, struct mvg, tx_work);
	bool kick = false, restart_rx = false;
	struct sk_buff *skb;

	spin_lock_bh(&g->tx_lock);
	if (!g->running)
		goto out;
	do {
		virtqueue_disable_cb(g->vqs[MVG_TX]);
		mvg_tx_reclaim(g, &restart_rx);
	} while (!virtqueue_enable_cb(g->vqs[MVG_TX]));
	while ((skb = skb_dequeue(&g->sendq))) {
		int err = mvg_tx_add(g, skb, GFP_ATOMIC);

		if (err == -ENOSPC) {
			/* ring full: the next used-buffer interrupt resumes */
			skb_queue_head(&g->sendq, skb);
			break;
		}
		if (err) {
			mvg_tx_drop(g, skb);
			continue;
		}
		g->tx_inflight++;
		kick = true;
	}
	if (kick)
		virtqueue_kick(g->vqs[MVG_TX]);
	mvg_tx_trace(g);
out:
	spin_unlock_bh(&g->tx_lock);
	if (restart_rx)
		queue_work(g->wq, &g->rx_work);
}

static void mvg_tx_done(struct virtqueue *vq)
{
	struct mvg *g = vq->vdev->priv;

	queue_work(g->wq, &g->tx_work);
}

/* ---- rx --------------------------------------------------------------- */

/* Post empty buffers until the ring is full; rx_lock held. */
static void mvg_rx_fill(struct mvg *g)
{
	struct virtqueue *vq = g->vqs[MVG_RX];
	struct scatterlist sg;
	struct sk_buff *skb;

	while (vq->num_free) {
		skb = alloc_skb(MVG_RX_BUF, GFP_KERNEL);
		if (!skb)
			break;
		sg_init_one(&sg, skb->data, skb_tailroom(skb));
		if (virtqueue_add_inbuf(vq, &sg, 1, skb, GFP_KERNEL)) {
			kfree_skb(skb);
			break;
		}
		g->rx_bufs++;
	}
	virtqueue_kick(vq);
	mvg_trace_queue(g, MVSOCK_Q_RX_POSTED, g->rx_bufs);
}

static void mvg_rx_work(struct work_struct *work)
{
	struct mvg *g = container_of(work, struct mvg, rx_work);
	struct virtqueue *vq = g->vqs[MVG_RX];
	struct sk_buff *skb;
	unsigned int len;

	mutex_lock(&g->rx_lock);
	if (!g->running)
		goto out;
	do {
		virtqueue_disable_cb(vq);
		for (;;) {
			/* too many replies unsent: let tx catch up first */
			if (atomic_read(&g->replies) >= MVG_MAX_REPLIES)
				goto refill;
			skb = virtqueue_get_buf(vq, &len);
			if (!skb)
				break;
			g->rx_bufs--;
			if (len < MVSOCK_HDR_LEN || len > skb_tailroom(skb)) {
				MVSOCK_STAT(g->dev, rx_bad, 1);
				kfree_skb(skb);
				continue;
			}
			skb_put(skb, len);
			mvsock_rx_pkt(g->dev, skb);
			/*
			 * A full ring is 128 packets: on a kernel with
			 * voluntary preemption, let another device's
			 * worker (or any task) in between.
			 */
			cond_resched();
		}
	} while (!virtqueue_enable_cb(vq));
refill:
	mvg_trace_queue(g, MVSOCK_Q_RX_POSTED, g->rx_bufs);
	mvg_rx_fill(g);
out:
	mutex_unlock(&g->rx_lock);
}

static void mvg_rx_done(struct virtqueue *vq)
{
	struct mvg *g = vq->vdev->priv;

	queue_work(g->wq, &g->rx_work);
}

/* ---- events ----------------------------------------------------------- */

static void mvg_event_post(struct mvg *g, struct virtio_vsock_event *ev)
{
	struct scatterlist sg;

	sg_init_one(&sg, ev, sizeof(*ev));
	virtqueue_add_inbuf(g->vqs[MVG_EVENT], &sg, 1, ev, GFP_KERNEL);
}

static u32 mvg_read_cid(struct virtio_device *vdev)
{
	u64 cid;

	virtio_cread_le(vdev, struct virtio_vsock_config, guest_cid, &cid);
	return (u32)cid;
}

/* TRANSPORT_RESET (e.g. after migration): new CID, this device's sockets reset */
static void mvg_transport_reset(struct mvg *g)
{
	u32 cid = mvg_read_cid(g->vdev);
	int err = mvsock_dev_set_cid(g->dev, cid);

	if (err)
		dev_warn(&g->vdev->dev, "new CID %u refused (%d)\n", cid,
			 err);
}

static void mvg_event_work(struct work_struct *work)
{
	struct mvg *g = container_of(work, struct mvg, event_work);
	struct virtio_vsock_event *ev;
	unsigned int len;

	mutex_lock(&g->event_lock);
	if (!g->running)
		goto out;
	do {
		virtqueue_disable_cb(g->vqs[MVG_EVENT]);
		while ((ev = virtqueue_get_buf(g->vqs[MVG_EVENT], &len))) {
			if (len == sizeof(*ev) &&
			    le32_to_cpu(ev->id) ==
			    VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)
				mvg_transport_reset(g);
			mvg_event_post(g, ev);
		}
	} while (!virtqueue_enable_cb(g->vqs[MVG_EVENT]));
	virtqueue_kick(g->vqs[MVG_EVENT]);
out:
	mutex_unlock(&g->event_lock);
}

static void mvg_event_done(struct virtqueue *vq)
{
	struct mvg *g = vq->vdev->priv;

	queue_work(g->wq, &g->event_work);
}

/* ---- probe / remove --------------------------------------------------- */

static const struct mvsock_dev_ops mvg_ops = {
	.send_pkt = mvg_send_pkt,
};

static int mvg_find_vqs(struct mvg *g)
{
	struct virtqueue_info info[MVG_NVQ] = {
		[MVG_RX] = { "rx", mvg_rx_done },
		[MVG_TX] = { "tx", mvg_tx_done },
		[MVG_EVENT] = { "event", mvg_event_done },
	};

	return virtio_find_vqs(g->vdev, MVG_NVQ, g->vqs, info, NULL);
}

static void mvg_set_running(struct mvg *g, bool on)
{
	mutex_lock(&g->rx_lock);
	mutex_lock(&g->event_lock);
	spin_lock_bh(&g->tx_lock);
	g->running = on;
	spin_unlock_bh(&g->tx_lock);
	mutex_unlock(&g->event_lock);
	mutex_unlock(&g->rx_lock);
}

static void mvg_start_queues(struct mvg *g)
{
	int i;

	mutex_lock(&g->rx_lock);
	mvg_rx_fill(g);
	mutex_unlock(&g->rx_lock);
	mutex_lock(&g->event_lock);
	for (i = 0; i < MVG_EVENTS; i++)
		mvg_event_post(g, &g->events[i]);
	virtqueue_kick(g->vqs[MVG_EVENT]);
	mutex_unlock(&g->event_lock);
}

static void mvg_drain(struct mvg *g)
{
	struct sk_buff *skb;
	void *buf;

	while ((buf = virtqueue_detach_unused_buf(g->vqs[MVG_RX])))
		kfree_skb(buf);
	while ((buf = virtqueue_detach_unused_buf(g->vqs[MVG_TX]))) {
		g->tx_inflight--;
		mvsock_dev_tx_done(g->dev, 1);
		kfree_skb(buf);
	}
	while (virtqueue_detach_unused_buf(g->vqs[MVG_EVENT]))
		;
	while ((skb = skb_dequeue(&g->sendq))) {
		mvsock_dev_tx_done(g->dev, 1);
		kfree_skb(skb);
	}
}

static int mvg_probe(struct virtio_device *vdev)
{
	struct mvg *g;
	u32 prio = MVSOCK_PRIO_NONE;
	int err;

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (!g)
		return -ENOMEM;
	g->vdev = vdev;
	vdev->priv = g;
	mutex_init(&g->rx_lock);
	spin_lock_init(&g->tx_lock);
	mutex_init(&g->event_lock);
	skb_queue_head_init(&g->sendq);
	INIT_WORK(&g->rx_work, mvg_rx_work);
	INIT_WORK(&g->tx_work, mvg_tx_work);
	INIT_WORK(&g->event_work, mvg_event_work);
	/*
	 * WQ_SYSFS: /sys/devices/virtual/workqueue/mvsock-virtioN lets the
	 * administrator place each device's workers (cpumask, nice)
	 */
	g->wq = alloc_workqueue("mvsock-virtio%d",
				WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_SYSFS, 0,
				vdev->index);
	if (!g->wq) {
		err = -ENOMEM;
		goto err_free;
	}
	err = mvg_find_vqs(g);
	if (err)
		goto err_wq;
	if (virtio_has_feature(vdev, MVSOCK_VIRTIO_F_PRIORITY))
		prio = virtio_cread32(vdev, sizeof(struct virtio_vsock_config));
	g->dev = mvsock_dev_alloc(dev_name(&vdev->dev), MVSOCK_ROLE_GUEST,
				  mvg_read_cid(vdev), &mvg_ops, g);
	if (IS_ERR(g->dev)) {
		err = PTR_ERR(g->dev);
		goto err_vqs;
	}
	g->dev->priority = prio;
	g->dev->seqpacket = virtio_has_feature(vdev, VIRTIO_VSOCK_F_SEQPACKET);
	g->running = true;
	virtio_device_ready(vdev);
	mvg_start_queues(g);
	err = mvsock_dev_register(g->dev);
	if (err) {
		dev_err(&vdev->dev, "CID %u already in use (%d)\n",
			g->dev->cid, err);
		goto err_reset;
	}
	return 0;

err_reset:
	mvg_set_running(g, false);
	virtio_reset_device(vdev);
	flush_workqueue(g->wq);
	mvg_drain(g);
	mvsock_dev_put(g->dev);
err_vqs:
	vdev->config->del_vqs(vdev);
err_wq:
	destroy_workqueue(g->wq);
err_free:
	kfree(g);
	return err;
}

static void mvg_remove(struct virtio_device *vdev)
{
	struct mvg *g = vdev->priv;

	/* stop our workers, then reset this device's sockets only */
	mvg_set_running(g, false);
	mvsock_dev_unregister(g->dev);
	virtio_reset_device(vdev);
	flush_workqueue(g->wq);
	mvg_drain(g);
	vdev->config->del_vqs(vdev);
	destroy_workqueue(g->wq);
	mvsock_dev_put(g->dev);
	kfree(g);
}

static const struct virtio_device_id mvg_id_table[] = {
	{ VIRTIO_ID_VSOCK, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int mvg_features[] = {
	VIRTIO_VSOCK_F_SEQPACKET,
	MVSOCK_VIRTIO_F_PRIORITY,
};

static struct virtio_driver mvg_driver = {
	.feature_table = mvg_features,
	.feature_table_size = ARRAY_SIZE(mvg_features),
	.driver.name = "mvsock_virtio",
	.id_table = mvg_id_table,
	.probe = mvg_probe,
	.remove = mvg_remove,
};

module_virtio_driver(mvg_driver);
MODULE_DEVICE_TABLE(virtio, mvg_id_table);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mvsock guest driver: every virtio-vsock device of a guest");
MODULE_AUTHOR("The mvsock authors");
MODULE_VERSION(MVSOCK_MOD_VERSION);
