// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock device registry and CID routing.
 *
 * Every transport endpoint (loopback, each guest virtio-vsock device,
 * each host vhost instance) is one struct mvsock_dev. The socket core
 * only ever talks to devices through this registry.
 */
#include <linux/idr.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/percpu.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>

#include "mvsock.h"
#include "mvsock_trace.h"
#include "../include/uapi/linux/mvsock.h"

/*
 * mvsock_dev_lock guards changes of mvsock_devs (readers walk it under
 * RCU), every device's is_default flag and CID, and
 * mvsock_default_pinned.
 */
static DEFINE_MUTEX(mvsock_dev_lock);
static LIST_HEAD(mvsock_devs);
static DEFINE_IDA(mvsock_dev_ida);
/* host drivers loaded: CID 2 is ours even before the first guest starts */
static atomic_t mvsock_host_users = ATOMIC_INIT(0);

void mvsock_host_get(void)
{
	atomic_inc(&mvsock_host_users);
}
EXPORT_SYMBOL_GPL(mvsock_host_get);

void mvsock_host_put(void)
{
	atomic_dec(&mvsock_host_users);
}
EXPORT_SYMBOL_GPL(mvsock_host_put);

static void mvsock_dev_release(struct kref *ref)
{
	struct mvsock_dev *dev = container_of(ref, struct mvsock_dev, ref);

	ida_free(&mvsock_dev_ida, dev->id);
	free_percpu(dev->stats);
	kfree_rcu(dev, rcu);
}

struct mvsock_dev *mvsock_dev_alloc(const char *name, enum mvsock_dev_role role,
				    u32 cid, const struct mvsock_dev_ops *ops,
				    void *priv)
{
	struct mvsock_dev *dev;
	int id;

	if (!ops || !ops->send_pkt)
		return ERR_PTR(-EINVAL);
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->stats = alloc_percpu(struct mvsock_dev_stats);
	if (!dev->stats)
		goto err_free;
	id = ida_alloc(&mvsock_dev_ida, GFP_KERNEL);
	if (id < 0)
		goto err_stats;
	dev->id = id;
	kref_init(&dev->ref);
	INIT_LIST_HEAD(&dev->node);
	dev->role = role;
	dev->cid = cid;
	dev->priority = MVSOCK_PRIO_NONE;
	dev->seqpacket = true;
	dev->ops = ops;
	dev->priv = priv;
	strscpy(dev->name, name, sizeof(dev->name));
	return dev;

err_stats:
	free_percpu(dev->stats);
err_free:
	kfree(dev);
	return ERR_PTR(-ENOMEM);
}
EXPORT_SYMBOL_GPL(mvsock_dev_alloc);

struct mvsock_dev *mvsock_dev_get(struct mvsock_dev *dev)
{
	kref_get(&dev->ref);
	return dev;
}
EXPORT_SYMBOL_GPL(mvsock_dev_get);

void mvsock_dev_put(struct mvsock_dev *dev)
{
	kref_put(&dev->ref, mvsock_dev_release);
}
EXPORT_SYMBOL_GPL(mvsock_dev_put);

void mvsock_dev_stat_add(struct mvsock_dev *dev, size_t off, u64 val)
{
	/* one instruction on x86: safe against softirqs on this CPU */
	this_cpu_add(*(u64 __percpu *)((char __percpu *)dev->stats + off), val);
}
EXPORT_SYMBOL_GPL(mvsock_dev_stat_add);

/* Would @cid in @role clash with a registered device other than @self? */
static bool mvsock_dev_clash(enum mvsock_dev_role role, u32 cid,
			     struct mvsock_dev *self)
{
	struct mvsock_dev *d;

	list_for_each_entry(d, &mvsock_devs, node) {
		if (d == self)
			continue;
		if (d->role == role && d->cid == cid)
			return true;
		/* a guest CID must not shadow a host-side guest CID */
		if (d->role != MVSOCK_ROLE_LOCAL &&
		    role != MVSOCK_ROLE_LOCAL && d->cid == cid)
			return true;
	}
	return false;
}

/* The next default: lowest priority, then the earliest registered. */
static struct mvsock_dev *mvsock_first_guest_locked(void)
{
	struct mvsock_dev *d, *best = NULL;

	list_for_each_entry(d, &mvsock_devs, node)
		if (d->role == MVSOCK_ROLE_GUEST &&
		    (!best || d->priority < best->priority))
			best = d;
	return best;
}

static struct mvsock_dev *mvsock_default_locked(void)
{
	struct mvsock_dev *d;

	list_for_each_entry(d, &mvsock_devs, node)
		if (d->is_default)
			return d;
	return NULL;
}

/*
 * An administrator's choice (sysfs, vsockctl) beats device priorities;
 * mvsock_dev_lock.
 */
static bool mvsock_default_pinned;

/*
 * Registers @dev. The first guest device becomes the default; a device
 * with a priority (MVSOCK_VIRTIO_F_PRIORITY) takes over from one without
 * or with a higher value, unless the default was set by hand.
 */
int mvsock_dev_register(struct mvsock_dev *dev)
{
	struct mvsock_dev *def;
	bool take = false;

	mutex_lock(&mvsock_dev_lock);
	if (mvsock_dev_clash(dev->role, dev->cid, dev)) {
		mutex_unlock(&mvsock_dev_lock);
		return -EADDRINUSE;
	}
	def = mvsock_default_locked();
	if (dev->role == MVSOCK_ROLE_GUEST)
		take = !def || (!mvsock_default_pinned &&
				dev->priority < def->priority);
	if (take) {
		if (def)
			def->is_default = false;
		dev->is_default = true;
	}
	list_add_tail_rcu(&dev->node, &mvsock_devs);
	mutex_unlock(&mvsock_dev_lock);
	trace_mvsock_dev_add(dev);
	if (take)
		trace_mvsock_dev_default(dev);
	return 0;
}
EXPORT_SYMBOL_GPL(mvsock_dev_register);

/*
 * The device's CID changed (virtio TRANSPORT_RESET after migration): its
 * connections are reset, the device keeps its id and default flag. With
 * -EADDRINUSE (another device has @cid) it keeps its old CID, and its
 * connections are reset all the same: the peer has forgotten them.
 */
int mvsock_dev_set_cid(struct mvsock_dev *dev, u32 cid)
{
	u32 old = dev->cid;
	int err = 0;

	mutex_lock(&mvsock_dev_lock);
	if (mvsock_dev_clash(dev->role, cid, dev))
		err = -EADDRINUSE;	/* keep the old CID */
	else
		WRITE_ONCE(dev->cid, cid);
	mutex_unlock(&mvsock_dev_lock);
	synchronize_rcu();
	trace_mvsock_dev_cid(dev, old, cid, err);
	/* the peer forgot our connections either way */
	mvsock_dev_reset_socks(dev);
	return err;
}
EXPORT_SYMBOL_GPL(mvsock_dev_set_cid);

int mvsock_dev_get_default_id(void)
{
	struct mvsock_dev *d;
	int id = -1;

	rcu_read_lock();
	list_for_each_entry_rcu(d, &mvsock_devs, node)
		if (d->is_default)
			id = d->id;
	rcu_read_unlock();
	return id;
}

/*
 * Removes @dev from routing, then resets every socket that uses it. The
 * caller's reference stays valid; drop it with mvsock_dev_put().
 */
void mvsock_dev_unregister(struct mvsock_dev *dev)
{
	struct mvsock_dev *next;

	mutex_lock(&mvsock_dev_lock);
	WRITE_ONCE(dev->dead, true);
	list_del_rcu(&dev->node);
	/* is_default: whether it was the default when it went */
	trace_mvsock_dev_remove(dev);
	if (dev->is_default) {
		dev->is_default = false;
		/* the administrator's choice went away with it */
		mvsock_default_pinned = false;
		next = mvsock_first_guest_locked();
		if (next) {
			next->is_default = true;
			trace_mvsock_dev_default(next);
		}
	}
	mutex_unlock(&mvsock_dev_lock);
	synchronize_rcu();
	mvsock_dev_reset_socks(dev);
}
EXPORT_SYMBOL_GPL(mvsock_dev_unregister);

int mvsock_dev_set_default(u32 id)
{
	struct mvsock_dev *d, *want = NULL;

	mutex_lock(&mvsock_dev_lock);
	list_for_each_entry(d, &mvsock_devs, node)
		if (d->id == id)
			want = d;
	if (!want || want->role != MVSOCK_ROLE_GUEST) {
		mutex_unlock(&mvsock_dev_lock);
		return want ? -EINVAL : -ENODEV;
	}
	list_for_each_entry(d, &mvsock_devs, node)
		d->is_default = (d == want);
	mvsock_default_pinned = true;
	mutex_unlock(&mvsock_dev_lock);
	trace_mvsock_dev_default(want);
	return 0;
}
EXPORT_SYMBOL_GPL(mvsock_dev_set_default);

/* Back to the automatic choice: lowest priority, then earliest probed. */
void mvsock_dev_unpin_default(void)
{
	struct mvsock_dev *d, *best, *old;

	mutex_lock(&mvsock_dev_lock);
	mvsock_default_pinned = false;
	old = mvsock_default_locked();
	best = mvsock_first_guest_locked();
	list_for_each_entry(d, &mvsock_devs, node)
		d->is_default = (d == best);
	if (best && best != old)
		trace_mvsock_dev_default(best);
	mutex_unlock(&mvsock_dev_lock);
}
EXPORT_SYMBOL_GPL(mvsock_dev_unpin_default);

/*
 * The CIDs of a device's two ends, by role: the source CID of the
 * packets we send on @dev ...
 */
u32 mvsock_dev_local_cid(const struct mvsock_dev *dev)
{
	return dev->role == MVSOCK_ROLE_HOST ? VMADDR_CID_HOST :
					       READ_ONCE(dev->cid);
}

/* ... and the CID of its peer (loopback: itself). */
u32 mvsock_dev_peer_cid(const struct mvsock_dev *dev)
{
	return dev->role == MVSOCK_ROLE_GUEST ? VMADDR_CID_HOST :
						READ_ONCE(dev->cid);
}

/* Is @cid one of ours (bindable)? */
bool mvsock_cid_is_local(u32 cid)
{
	struct mvsock_dev *d;
	bool ret = false;

	if (cid == VMADDR_CID_HOST && atomic_read(&mvsock_host_users))
		return true;
	rcu_read_lock();
	list_for_each_entry_rcu(d, &mvsock_devs, node) {
		if (cid == mvsock_dev_local_cid(d)) {
			ret = true;
			break;
		}
	}
	rcu_read_unlock();
	return ret;
}

/* What IOCTL_VM_SOCKETS_GET_LOCAL_CID reports. */
u32 mvsock_default_local_cid(void)
{
	struct mvsock_dev *d;
	u32 cid = VMADDR_CID_ANY;
	bool host = atomic_read(&mvsock_host_users) > 0, local = false;

	rcu_read_lock();
	list_for_each_entry_rcu(d, &mvsock_devs, node) {
		if (d->role == MVSOCK_ROLE_GUEST && d->is_default)
			cid = mvsock_dev_local_cid(d);
		host |= d->role == MVSOCK_ROLE_HOST;
		local |= d->role == MVSOCK_ROLE_LOCAL;
	}
	rcu_read_unlock();
	if (cid == VMADDR_CID_ANY && host)
		cid = VMADDR_CID_HOST;
	if (cid == VMADDR_CID_ANY && local)
		cid = VMADDR_CID_LOCAL;
	return cid;
}

/* Why mvsock_route() chose a device: the route event's reason. */
enum mvsock_route_reason {
	MVSOCK_RR_LOCAL,	/* loopback */
	MVSOCK_RR_BOUND,	/* the guest device of the bound local CID */
	MVSOCK_RR_DEFAULT,	/* the default guest device */
	MVSOCK_RR_HOST_GUEST,	/* the host device of that guest CID */
	MVSOCK_RR_NO_DEVICE,	/* none: -ENODEV */
	MVSOCK_RR_BPF,		/* the route program chose the local CID */
};

static const char * const mvsock_route_reason_name[] = {
	[MVSOCK_RR_LOCAL] = "local",
	[MVSOCK_RR_BOUND] = "bound",
	[MVSOCK_RR_DEFAULT] = "default",
	[MVSOCK_RR_HOST_GUEST] = "host-guest",
	[MVSOCK_RR_NO_DEVICE] = "no-device",
	[MVSOCK_RR_BPF] = "bpf",
};

/* Pick a device for @remote_cid given @vsk's bound local CID. */
static struct mvsock_dev *mvsock_route_rcu(u32 local_cid, u32 remote_cid,
					   enum mvsock_route_reason *reason)
{
	struct mvsock_dev *d, *def = NULL, *local = NULL, *guest = NULL;

	list_for_each_entry_rcu(d, &mvsock_devs, node) {
		switch (d->role) {
		case MVSOCK_ROLE_LOCAL:
			local = d;
			break;
		case MVSOCK_ROLE_HOST:
			if (mvsock_dev_peer_cid(d) == remote_cid) {
				*reason = MVSOCK_RR_HOST_GUEST;
				return d;
			}
			break;
		case MVSOCK_ROLE_GUEST:
			if (local_cid != VMADDR_CID_ANY &&
			    mvsock_dev_local_cid(d) == local_cid)
				guest = d;
			if (d->is_default)
				def = d;
			break;
		}
	}
	/* without a guest device, CID 2 is this machine: loopback */
	if (remote_cid == VMADDR_CID_LOCAL ||
	    (remote_cid == VMADDR_CID_HOST && !def && !guest) ||
	    (local_cid == VMADDR_CID_LOCAL && local) ||
	    (remote_cid == local_cid && local)) {
		*reason = MVSOCK_RR_LOCAL;
		return local;
	}
	if (guest) {
		*reason = MVSOCK_RR_BOUND;
		return guest;
	}
	*reason = MVSOCK_RR_DEFAULT;
	if (def && remote_cid == mvsock_dev_local_cid(def) && local) {
		*reason = MVSOCK_RR_LOCAL;
		return local;
	}
	/* a guest reaches the host and other CIDs through its device */
	if (def && remote_cid != VMADDR_CID_ANY)
		return def;
	return NULL;
}

/*
 * An unbound socket asks the route program (if any) for the local CID to
 * route by; the policy event records its verdict and the outcome.
 */
static int mvsock_route_bpf(struct mvsock_sock *vsk,
			    const struct sockaddr_vm *remote, u32 *local_cid)
{
	if (!mvsock_bpf_on() || vsk->local.svm_cid != VMADDR_CID_ANY ||
	    remote->svm_cid == VMADDR_CID_ANY)
		return 1;
	return mvsock_bpf_route(vsk, remote->svm_cid, remote->svm_port,
				local_cid);
}

/*
 * Routing for an outgoing connection. On success *out holds a device
 * reference; the caller takes the CID the peer will see from the bound
 * CID or, unbound, from that device (mvsock_dev_local_cid()).
 */
int mvsock_route(struct mvsock_sock *vsk, const struct sockaddr_vm *remote,
		 struct mvsock_dev **out)
{
	u32 remote_cid = remote->svm_cid, local_cid = vsk->local.svm_cid;
	enum mvsock_route_reason reason = MVSOCK_RR_NO_DEVICE;
	struct mvsock_dev *dev;
	int bpf;

	bpf = mvsock_route_bpf(vsk, remote, &local_cid);
	rcu_read_lock();
	dev = remote_cid == VMADDR_CID_ANY ? NULL :
	      mvsock_route_rcu(local_cid, remote_cid, &reason);
	if (dev && !READ_ONCE(dev->dead))
		mvsock_dev_get(dev);
	else
		dev = NULL;
	rcu_read_unlock();
	if (dev && bpf == 0)
		reason = MVSOCK_RR_BPF;
	trace_mvsock_route(&vsk->sk, remote_cid, dev,
			   mvsock_route_reason_name[dev ? reason :
						    MVSOCK_RR_NO_DEVICE],
			   remote->svm_port);
	if (bpf <= 0)
		trace_mvsock_policy(&vsk->sk, remote_cid, remote->svm_port,
				    vsk->local.svm_port, "route", bpf,
				    dev ? (s32)dev->id : -1, local_cid);
	if (!dev)
		return -ENODEV;	/* as stock: no transport for that CID */
	*out = dev;
	return 0;
}

int mvsock_list_cids(void __user *arg)
{
	struct mvsock_cid_list hdr;
	struct mvsock_cid_entry e;
	struct mvsock_cid_entry __user *ue;
	struct mvsock_dev *d;
	u32 n = 0, total = 0;
	int err = 0;

	/* the uapi's role ids are the registry's roles */
	BUILD_BUG_ON((int)MVSOCK_ROLE_ID_LOCAL != (int)MVSOCK_ROLE_LOCAL);
	BUILD_BUG_ON((int)MVSOCK_ROLE_ID_GUEST != (int)MVSOCK_ROLE_GUEST);
	BUILD_BUG_ON((int)MVSOCK_ROLE_ID_HOST != (int)MVSOCK_ROLE_HOST);
	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.reserved)
		return -EINVAL;
	ue = (struct mvsock_cid_entry __user *)((char __user *)arg +
						 sizeof(hdr));
	mutex_lock(&mvsock_dev_lock);
	list_for_each_entry(d, &mvsock_devs, node) {
		total++;
		if (n >= hdr.count)
			continue;
		memset(&e, 0, sizeof(e));
		e.cid = mvsock_dev_local_cid(d);
		e.dev_id = d->id;
		e.role = d->role;
		e.flags = d->is_default ? MVSOCK_CID_F_DEFAULT : 0;
		if (d->role == MVSOCK_ROLE_HOST)	/* else 0 (uapi) */
			e.peer_cid = mvsock_dev_peer_cid(d);
		if (copy_to_user(&ue[n], &e, sizeof(e))) {
			err = -EFAULT;
			break;
		}
		n++;
	}
	mutex_unlock(&mvsock_dev_lock);
	if (err)
		return err;
	hdr.count = n;
	hdr.total = total;
	if (copy_to_user(arg, &hdr, sizeof(hdr)))
		return -EFAULT;
	return 0;
}

/* Sum a device's per-CPU counters into @out. */
void mvsock_dev_stats_read(struct mvsock_dev *dev, struct mvsock_dev_stats *out)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		struct mvsock_dev_stats *s = per_cpu_ptr(dev->stats, cpu);

		out->tx_pkts += s->tx_pkts;
		out->tx_bytes += s->tx_bytes;
		out->rx_pkts += s->rx_pkts;
		out->rx_bytes += s->rx_bytes;
		out->rx_dropped += s->rx_dropped;
		out->rx_bad += s->rx_bad;
		out->rst_sent += s->rst_sent;
		out->tx_dropped += s->tx_dropped;
	}
}
EXPORT_SYMBOL_GPL(mvsock_dev_stats_read);

/*
 * Charge @skb to a transport's reply budget before queueing it. Past four
 * times @max the packet is dropped (and freed): -ENOBUFS. Data packets are
 * not charged.
 */
int mvsock_reply_charge(struct mvsock_dev *dev, atomic_t *replies, int max,
			struct sk_buff *skb)
{
	if (!mvsock_skb_is_reply(skb))
		return 0;
	if (atomic_read(replies) >= 4 * max) {
		mvsock_dev_tx_done(dev, 1);
		MVSOCK_STAT(dev, tx_dropped, 1);
		kfree_skb(skb);
		return -ENOBUFS;
	}
	atomic_inc(replies);
	return 0;
}
EXPORT_SYMBOL_GPL(mvsock_reply_charge);

/*
 * @skb left the transport (sent or dropped). True when the budget just
 * went below @max: the transport resumes taking packets from its peer.
 */
bool mvsock_reply_done(atomic_t *replies, int max, struct sk_buff *skb)
{
	return mvsock_skb_is_reply(skb) &&
	       atomic_dec_return(replies) == max - 1;
}
EXPORT_SYMBOL_GPL(mvsock_reply_done);

/*
 * /sys/module/mvsock/parameters/default_dev: read or pin the default;
 * "auto" unpins it (the device priorities, then probe order, decide).
 */
static int mvsock_param_default_set(const char *val,
				    const struct kernel_param *kp)
{
	u32 id;
	int err;

	if (sysfs_streq(val, "auto")) {
		mvsock_dev_unpin_default();
		return 0;
	}
	err = kstrtou32(val, 0, &id);
	return err ? err : mvsock_dev_set_default(id);
}

static int mvsock_param_default_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", mvsock_dev_get_default_id());
}

static const struct kernel_param_ops mvsock_default_ops = {
	.set = mvsock_param_default_set,
	.get = mvsock_param_default_get,
};
module_param_cb(default_dev, &mvsock_default_ops, NULL, 0644);
MODULE_PARM_DESC(default_dev,
		 "registry id of the default guest device (write to change)");

static const char * const mvsock_role_name[] = { "local", "guest", "host" };

/* a device's priority for the registry file: -1 when it offers none */
static int mvsock_dev_prio(const struct mvsock_dev *d)
{
	return d->priority == MVSOCK_PRIO_NONE ? -1 : (int)min_t(u32, d->priority, INT_MAX);
}

/*
 * /sys/module/mvsock/parameters/devices: one line per registry device.
 * Fields are only ever appended (vsocktop, vsockctl and scripts parse it).
 */
static int mvsock_param_devices_get(char *buf, const struct kernel_param *kp)
{
	struct mvsock_dev *d;
	int n, len = 0;

	mutex_lock(&mvsock_dev_lock);
	list_for_each_entry(d, &mvsock_devs, node) {
		struct mvsock_dev_stats t;

		mvsock_dev_stats_read(d, &t);
		n = scnprintf(buf + len, PAGE_SIZE - len,
			      "id=%u name=%s role=%s cid=%u default=%d tx_pkts=%llu tx_bytes=%llu rx_pkts=%llu rx_bytes=%llu rx_bad=%llu queued=%d priority=%d state=%s rx_dropped=%llu tx_dropped=%llu rst_sent=%llu\n",
			      d->id, d->name, mvsock_role_name[d->role],
			      d->cid, d->is_default, t.tx_pkts, t.tx_bytes,
			      t.rx_pkts, t.rx_bytes, t.rx_bad,
			      atomic_read(&d->queued), mvsock_dev_prio(d),
			      READ_ONCE(d->dead) ? "removing" : "up",
			      t.rx_dropped, t.tx_dropped, t.rst_sent);
		len += n;
	}
	mutex_unlock(&mvsock_dev_lock);
	return len;
}

static const struct kernel_param_ops mvsock_devices_ops = {
	.get = mvsock_param_devices_get,
};
module_param_cb(devices, &mvsock_devices_ops, NULL, 0444);
MODULE_PARM_DESC(devices, "the device registry (read only)");

void mvsock_dev_exit(void)
{
	WARN_ON_ONCE(!list_empty(&mvsock_devs));
}
