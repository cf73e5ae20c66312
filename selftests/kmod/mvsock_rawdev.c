// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock_rawdev.ko: a test device for the mvsock protocol engine. Each
 * open file of /dev/mvsock-rawdev becomes one registry device after
 * MVSOCK_RAWDEV_START; write() injects one raw packet, read() returns the
 * next packet the core sent. See mvsock_rawdev.h.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/mutex.h>

#include "../../kernel/mvsock_dev.h"
#include "mvsock_rawdev.h"

struct rawdev {
	struct mutex lock;	/* guards dev: the ioctls and write() */
	struct mvsock_dev *dev;
	struct sk_buff_head q;	/* q.lock guards the queue */
	wait_queue_head_t wait;
	u32 max_queue;
	atomic64_t queue_drops;
};

static int rawdev_send(struct mvsock_dev *dev, struct sk_buff *skb)
{
	struct rawdev *rd = dev->priv;
	int len = skb->len;

	if (skb_queue_len(&rd->q) >= rd->max_queue) {
		atomic64_inc(&rd->queue_drops);
		mvsock_dev_tx_done(dev, 1);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	skb_queue_tail(&rd->q, skb);
	/* packets the test has not read yet: the device's tx backlog */
	mvsock_dev_trace_queue(dev, MVSOCK_Q_TX_PENDING, skb_queue_len(&rd->q));
	wake_up_interruptible(&rd->wait);
	return len;
}

static const struct mvsock_dev_ops rawdev_ops = {
	.send_pkt = rawdev_send,
};

static int rawdev_open(struct inode *inode, struct file *file)
{
	struct rawdev *rd = kzalloc(sizeof(*rd), GFP_KERNEL);

	if (!rd)
		return -ENOMEM;
	mutex_init(&rd->lock);
	skb_queue_head_init(&rd->q);
	init_waitqueue_head(&rd->wait);
	file->private_data = rd;
	return nonseekable_open(inode, file);
}

static void rawdev_stop(struct rawdev *rd)
{
	if (!rd->dev)
		return;
	mvsock_dev_unregister(rd->dev);
	skb_queue_purge(&rd->q);
	mvsock_dev_put(rd->dev);
	rd->dev = NULL;
}

static int rawdev_release(struct inode *inode, struct file *file)
{
	struct rawdev *rd = file->private_data;

	mutex_lock(&rd->lock);
	rawdev_stop(rd);
	mutex_unlock(&rd->lock);
	kfree(rd);
	return 0;
}

static ssize_t rawdev_read(struct file *file, char __user *buf, size_t len,
			   loff_t *ppos)
{
	struct rawdev *rd = file->private_data;
	struct sk_buff *skb;
	char *tmp;
	ssize_t ret;
	int err;

	for (;;) {
		skb = skb_dequeue(&rd->q);
		if (skb)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible(rd->wait,
					       !skb_queue_empty(&rd->q));
		if (err)
			return err;
	}
	if (rd->dev) {
		mvsock_dev_tx_complete(rd->dev, skb);
		mvsock_dev_trace_queue(rd->dev, MVSOCK_Q_TX_PENDING,
				       skb_queue_len(&rd->q));
	}
	ret = min_t(size_t, len, skb->len);
	tmp = kmalloc(max_t(size_t, ret, 1), GFP_KERNEL);
	if (!tmp)
		ret = -ENOMEM;
	else if (skb_copy_bits(skb, 0, tmp, ret) ||
		 copy_to_user(buf, tmp, ret))
		ret = -EFAULT;
	kfree(tmp);
	kfree_skb(skb);
	return ret;
}

static ssize_t rawdev_write(struct file *file, const char __user *buf,
			    size_t len, loff_t *ppos)
{
	struct rawdev *rd = file->private_data;
	struct sk_buff *skb;
	struct mvsock_dev *dev;

	if (len > MVSOCK_HDR_LEN + 2 * MVSOCK_MAX_PKT_LEN)
		return -EMSGSIZE;
	mutex_lock(&rd->lock);
	dev = rd->dev ? mvsock_dev_get(rd->dev) : NULL;
	mutex_unlock(&rd->lock);
	if (!dev)
		return -ENOTCONN;
	skb = alloc_skb(len, GFP_KERNEL);
	if (!skb) {
		mvsock_dev_put(dev);
		return -ENOMEM;
	}
	if (copy_from_user(skb_put(skb, len), buf, len)) {
		kfree_skb(skb);
		mvsock_dev_put(dev);
		return -EFAULT;
	}
	mvsock_rx_pkt(dev, skb);
	mvsock_dev_put(dev);
	return len;
}

static __poll_t rawdev_poll(struct file *file, poll_table *wait)
{
	struct rawdev *rd = file->private_data;

	poll_wait(file, &rd->wait, wait);
	return skb_queue_empty(&rd->q) ? EPOLLOUT : EPOLLIN | EPOLLOUT;
}

static long rawdev_start(struct rawdev *rd, void __user *arg)
{
	struct mvsock_rawdev_cfg cfg;
	struct mvsock_dev *dev;
	int err;

	if (copy_from_user(&cfg, arg, sizeof(cfg)))
		return -EFAULT;
	if ((cfg.role != MVSOCK_ROLE_GUEST && cfg.role != MVSOCK_ROLE_HOST) ||
	    cfg.cid <= VMADDR_CID_HOST || cfg.cid == VMADDR_CID_ANY ||
	    (cfg.flags & ~MVSOCK_RAWDEV_F_PRIORITY) || cfg.pad)
		return -EINVAL;
	if (rd->dev)
		return -EBUSY;
	rd->max_queue = cfg.max_queue ? cfg.max_queue : 1024;
	dev = mvsock_dev_alloc("rawdev", cfg.role, cfg.cid, &rawdev_ops, rd);
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	if (cfg.flags & MVSOCK_RAWDEV_F_PRIORITY)
		dev->priority = cfg.priority;
	err = mvsock_dev_register(dev);
	if (err) {
		mvsock_dev_put(dev);
		return err;
	}
	rd->dev = dev;
	return 0;
}

static long rawdev_stats(struct rawdev *rd, void __user *arg)
{
	struct mvsock_rawdev_stats st = {};
	struct mvsock_dev_stats s;

	if (!rd->dev)
		return -ENOTCONN;
	mvsock_dev_stats_read(rd->dev, &s);
	st.tx_pkts = s.tx_pkts;
	st.rx_pkts = s.rx_pkts;
	st.rx_bad = s.rx_bad;
	st.rx_dropped = s.rx_dropped;
	st.rst_sent = s.rst_sent;
	st.queue_drops = atomic64_read(&rd->queue_drops);
	st.dev_id = rd->dev->id;
	st.queued = skb_queue_len(&rd->q);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rawdev_set_cid(struct rawdev *rd, u32 __user *arg)
{
	u32 cid;

	if (!rd->dev)
		return -ENOTCONN;
	if (get_user(cid, arg))
		return -EFAULT;
	if (cid <= VMADDR_CID_HOST || cid == VMADDR_CID_ANY)
		return -EINVAL;
	return mvsock_dev_set_cid(rd->dev, cid);
}

static long rawdev_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct rawdev *rd = file->private_data;
	long ret;

	mutex_lock(&rd->lock);
	switch (cmd) {
	case MVSOCK_RAWDEV_START:
		ret = rawdev_start(rd, (void __user *)arg);
		break;
	case MVSOCK_RAWDEV_STATS:
		ret = rawdev_stats(rd, (void __user *)arg);
		break;
	case MVSOCK_RAWDEV_STOP:
		rawdev_stop(rd);
		ret = 0;
		break;
	case MVSOCK_RAWDEV_SET_CID:
		ret = rawdev_set_cid(rd, (u32 __user *)arg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&rd->lock);
	return ret;
}

static const struct file_operations rawdev_fops = {
	.owner = THIS_MODULE,
	.open = rawdev_open,
	.release = rawdev_release,
	.read = rawdev_read,
	.write = rawdev_write,
	.poll = rawdev_poll,
	.unlocked_ioctl = rawdev_ioctl,
};

static struct miscdevice rawdev_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "mvsock-rawdev",
	.fops = &rawdev_fops,
};

module_misc_device(rawdev_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mvsock test device: raw packet peer (tests only)");
