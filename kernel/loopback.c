// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock_loopback.ko: the local device, CID 1. Packets a socket sends are
 * handed back to the protocol engine, so both ends of a local connection
 * run the same engine code as virtio. By default (direct_delivery) a
 * packet is delivered synchronously when nothing is queued ahead of it:
 * from process context straight away, from another socket's receive path
 * (BHs off) only when the destination's spinlock is free
 * (nested_delivery). Every other packet is queued and delivered from a
 * worker, in order.
 */
#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

#include "mvsock_dev.h"

struct mvsock_lo {
	struct mvsock_dev *dev;
	struct sk_buff_head q;	/* q.lock guards the queue and draining */
	bool draining;		/* the worker holds packets taken off q */
	struct work_struct work;
	struct workqueue_struct *wq;
};

static struct mvsock_lo mvsock_lo;

static bool unbound;
module_param(unbound, bool, 0444);
MODULE_PARM_DESC(unbound, "deliver from an unbound workqueue (default off: per-CPU)");

static bool direct_delivery = true;
module_param(direct_delivery, bool, 0444);
MODULE_PARM_DESC(direct_delivery,
		 "hand packets sent from process context straight to the receiver (default on)");

static bool nested_delivery = true;
module_param(nested_delivery, bool, 0444);
MODULE_PARM_DESC(nested_delivery,
		 "deliver replies from a receive path synchronously when the destination is free (default on)");

/* nesting of synchronous deliveries from receive paths, per CPU */
static DEFINE_PER_CPU(int, mvsock_lo_depth);
#define MVSOCK_LO_MAX_DEPTH 2

/*
 * Deliver synchronously when nothing is queued ahead (that keeps every
 * connection's packets in order). From process context the receiver is
 * simply called. From a receive path (BHs off, another socket's spinlock
 * held) we only trylock the destination and nest at most twice, so
 * delivery can neither deadlock nor recurse deeply; otherwise the packet
 * goes through the worker.
 */
static bool mvsock_lo_deliver(struct mvsock_lo *lo, struct sk_buff *skb)
{
	bool done;

	if (!in_softirq() && !in_hardirq() && !irqs_disabled()) {
		mvsock_dev_tx_complete(lo->dev, skb);
		mvsock_rx_pkt(lo->dev, skb);
		return true;
	}
	if (!nested_delivery || in_hardirq() || irqs_disabled() ||
	    this_cpu_read(mvsock_lo_depth) >= MVSOCK_LO_MAX_DEPTH)
		return false;
	/* taken, it counts as done before the receiver runs */
	this_cpu_inc(mvsock_lo_depth);
	done = mvsock_rx_pkt_try(lo->dev, skb);
	this_cpu_dec(mvsock_lo_depth);
	return done;
}

static int mvsock_lo_send(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct mvsock_lo *lo = dev->priv;
	int len = skb->len;
	bool ordered;

	spin_lock_bh(&lo->q.lock);
	ordered = direct_delivery && skb_queue_empty(&lo->q) && !lo->draining;
	spin_unlock_bh(&lo->q.lock);
	if (ordered && mvsock_lo_deliver(lo, skb))
		return len;

	spin_lock_bh(&lo->q.lock);
	__skb_queue_tail(&lo->q, skb);
	spin_unlock_bh(&lo->q.lock);
	queue_work(lo->wq, &lo->work);
	return len;
}

static void mvsock_lo_work(struct work_struct *work)
{
	struct mvsock_lo *lo = container_of(work, struct mvsock_lo, work);
	struct sk_buff_head batch;
	struct sk_buff *skb;

	__skb_queue_head_init(&batch);
	for (;;) {
		spin_lock_bh(&lo->q.lock);
		skb_queue_splice_tail_init(&lo->q, &batch);
		lo->draining = !skb_queue_empty(&batch);
		spin_unlock_bh(&lo->q.lock);
		if (skb_queue_empty(&batch))
			break;
		while ((skb = __skb_dequeue(&batch))) {
			mvsock_dev_tx_complete(lo->dev, skb);
			mvsock_rx_pkt(lo->dev, skb);
		}
		cond_resched();
	}
}

static const struct mvsock_dev_ops mvsock_lo_ops = {
	.send_pkt = mvsock_lo_send,
};

static int __init mvsock_lo_init(void)
{
	struct mvsock_lo *lo = &mvsock_lo;
	int err;

	skb_queue_head_init(&lo->q);
	INIT_WORK(&lo->work, mvsock_lo_work);
	lo->wq = alloc_workqueue("mvsock-lo", unbound ? WQ_UNBOUND : 0, 1);
	if (!lo->wq)
		return -ENOMEM;
	lo->dev = mvsock_dev_alloc("loopback", MVSOCK_ROLE_LOCAL,
				   VMADDR_CID_LOCAL, &mvsock_lo_ops, lo);
	if (IS_ERR(lo->dev)) {
		err = PTR_ERR(lo->dev);
		goto err_wq;
	}
	err = mvsock_dev_register(lo->dev);
	if (err)
		goto err_dev;
	return 0;

err_dev:
	mvsock_dev_put(lo->dev);
err_wq:
	destroy_workqueue(lo->wq);
	return err;
}

static void __exit mvsock_lo_exit(void)
{
	struct mvsock_lo *lo = &mvsock_lo;

	mvsock_dev_unregister(lo->dev);
	flush_workqueue(lo->wq);
	destroy_workqueue(lo->wq);
	skb_queue_purge(&lo->q);
	mvsock_dev_put(lo->dev);
}

module_init(mvsock_lo_init);
module_exit(mvsock_lo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mvsock loopback device (CID 1)");
MODULE_AUTHOR("The mvsock authors");
MODULE_VERSION(MVSOCK_MOD_VERSION);
