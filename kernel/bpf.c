// SPDX-License-Identifier: GPL-2.0
/*
 * BPF connection policy: the struct_ops type "mvsock_bpf_ops" (connect,
 * accept and route hooks whose verdicts the core enforces) and the kfuncs
 * programs use to decide. See docs/bpf.md.
 *
 * One set of programs is attached at a time. The hooks are behind the
 * static key mvsock_bpf_active, so without programs they cost a patched
 * jump; with programs they run under rcu_read_lock(), and the struct_ops
 * map frees a detached set only after an RCU grace period.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/bpf_verifier.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/cgroup.h>
#include <linux/filter.h>
#include <linux/jump_label.h>
#include <linux/module.h>

#include "mvsock.h"
#include "mvsock_trace.h"

DEFINE_STATIC_KEY_FALSE(mvsock_bpf_active);

static DEFINE_MUTEX(mvsock_bpf_lock);
/* the attached set; written under mvsock_bpf_lock, read under RCU */
static struct mvsock_bpf_ops __rcu *mvsock_bpf_cur;

/* 0, or a negative errno user space can see; anything else: -EPERM */
static int mvsock_bpf_verdict(int ret)
{
	if (ret == 0 || (ret < 0 && ret >= -MVSOCK_BPF_ERRNO_MAX))
		return ret;
	return -EPERM;
}

static void mvsock_bpf_trace(struct mvsock_sock *vsk, const char *hook,
			     int verdict)
{
	struct mvsock_dev *dev = vsk->dev;

	trace_mvsock_policy(&vsk->sk, vsk->remote.svm_cid,
			    vsk->remote.svm_port, vsk->local.svm_port, hook,
			    verdict, dev ? (s32)dev->id : -1, vsk->src_cid);
}

/* Outgoing REQUEST about to be sent; @vsk is routed and locked. */
int mvsock_bpf_connect(struct mvsock_sock *vsk)
{
	struct mvsock_bpf_ops *ops;
	int verdict;

	rcu_read_lock();
	ops = rcu_dereference(mvsock_bpf_cur);
	if (!ops || !ops->connect) {
		rcu_read_unlock();
		return 0;
	}
	verdict = mvsock_bpf_verdict(ops->connect(&vsk->sk));
	rcu_read_unlock();
	mvsock_bpf_trace(vsk, "connect", verdict);
	return verdict;
}

/*
 * Incoming REQUEST at a listener: @child carries its addresses, device
 * and the peer's credit but is not visible anywhere yet.
 */
int mvsock_bpf_accept(struct mvsock_sock *child)
{
	struct mvsock_bpf_ops *ops;
	int verdict = 0;

	rcu_read_lock();
	ops = rcu_dereference(mvsock_bpf_cur);
	if (ops && ops->accept)
		verdict = mvsock_bpf_verdict(ops->accept(&child->sk));
	rcu_read_unlock();
	return verdict;
}

/*
 * Device choice for an unbound socket: *@cid becomes the local CID to
 * route by (VMADDR_CID_ANY: the default rules). Returns the verdict for
 * the policy event: 0 the program's CID is used, -ENOENT it asked for
 * the default, -EADDRNOTAVAIL its CID is not local (default used),
 * 1 no route program.
 */
int mvsock_bpf_route(struct mvsock_sock *vsk, u32 peer_cid, u32 peer_port,
		     u32 *cid)
{
	struct mvsock_bpf_ops *ops;
	u32 ret;

	rcu_read_lock();
	ops = rcu_dereference(mvsock_bpf_cur);
	if (!ops || !ops->route) {
		rcu_read_unlock();
		return 1;
	}
	ret = ops->route(&vsk->sk, peer_cid, peer_port);
	rcu_read_unlock();
	*cid = VMADDR_CID_ANY;
	if (ret == VMADDR_CID_ANY)
		return -ENOENT;
	if (!mvsock_cid_is_local(ret))
		return -EADDRNOTAVAIL;
	*cid = ret;
	return 0;
}

/* ---- kfuncs ------------------------------------------------------------ */

/* @sk as an mvsock socket, or NULL when it belongs to another family. */
static struct mvsock_sock *mvsock_bpf_vsk(struct sock *sk)
{
	if (sk->sk_family != AF_VSOCK || READ_ONCE(sk->sk_prot) != &mvsock_proto)
		return NULL;
	return mvsock_sk(sk);
}

__bpf_kfunc_start_defs();

/**
 * bpf_mvsock_local_cid() - the CID the peer sees for @sk
 * @sk: an AF_VSOCK socket
 *
 * Before routing, the bound CID (VMADDR_CID_ANY if unbound).
 * Return: the CID, VMADDR_CID_ANY for a socket of another family.
 */
__bpf_kfunc u32 bpf_mvsock_local_cid(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	if (!vsk)
		return VMADDR_CID_ANY;
	return READ_ONCE(vsk->dev) ? READ_ONCE(vsk->src_cid) :
				     READ_ONCE(vsk->local.svm_cid);
}

/**
 * bpf_mvsock_local_port() - the local port of @sk
 * @sk: an AF_VSOCK socket
 *
 * Return: the port, VMADDR_PORT_ANY if unbound or of another family.
 */
__bpf_kfunc u32 bpf_mvsock_local_port(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	return vsk ? READ_ONCE(vsk->local.svm_port) : VMADDR_PORT_ANY;
}

/**
 * bpf_mvsock_peer_cid() - the peer's CID of @sk
 * @sk: an AF_VSOCK socket
 *
 * Return: the CID, VMADDR_CID_ANY when there is none.
 */
__bpf_kfunc u32 bpf_mvsock_peer_cid(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	return vsk ? READ_ONCE(vsk->remote.svm_cid) : VMADDR_CID_ANY;
}

/**
 * bpf_mvsock_peer_port() - the peer's port of @sk
 * @sk: an AF_VSOCK socket
 *
 * Return: the port, VMADDR_PORT_ANY when there is none.
 */
__bpf_kfunc u32 bpf_mvsock_peer_port(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	return vsk ? READ_ONCE(vsk->remote.svm_port) : VMADDR_PORT_ANY;
}

/**
 * bpf_mvsock_dev_id() - registry id of the device @sk uses
 * @sk: an AF_VSOCK socket
 *
 * Return: the id, -1 when the socket has no device (yet).
 */
__bpf_kfunc s32 bpf_mvsock_dev_id(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);
	struct mvsock_dev *dev;
	s32 id = -1;

	if (!vsk)
		return -1;
	rcu_read_lock();	/* devices are freed after a grace period */
	dev = READ_ONCE(vsk->dev);
	if (dev)
		id = dev->id;
	rcu_read_unlock();
	return id;
}

/**
 * bpf_mvsock_dev_cid() - CID of the device @sk uses
 * @sk: an AF_VSOCK socket
 *
 * Return: a guest or local device's own CID, a host device's guest CID;
 * VMADDR_CID_ANY when the socket has no device.
 */
__bpf_kfunc u32 bpf_mvsock_dev_cid(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);
	struct mvsock_dev *dev;
	u32 cid = VMADDR_CID_ANY;

	if (!vsk)
		return cid;
	rcu_read_lock();
	dev = READ_ONCE(vsk->dev);
	if (dev)
		cid = READ_ONCE(dev->cid);
	rcu_read_unlock();
	return cid;
}

/**
 * bpf_mvsock_peer_credit() - bytes @sk may send before the peer's buffer
 * is full
 * @sk: an AF_VSOCK socket
 *
 * Return: the credit, 0 for a socket of another family.
 */
__bpf_kfunc u32 bpf_mvsock_peer_credit(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	return vsk ? mvsock_peer_credit(vsk) : 0;
}

/**
 * bpf_mvsock_cgroup_id() - cgroup v2 id of the current task
 *
 * Return: the id, 0 outside task context (the accept hook runs in the
 * receive path, where the current task is unrelated).
 */
__bpf_kfunc u64 bpf_mvsock_cgroup_id(void)
{
	u64 id = 0;

#ifdef CONFIG_CGROUPS
	if (in_task()) {
		rcu_read_lock();
		id = cgroup_id(task_dfl_cgroup(current));
		rcu_read_unlock();
	}
#endif
	return id;
}

/**
 * bpf_mvsock_owner_pid() - the process that owns @sk
 * @sk: an AF_VSOCK socket
 *
 * The owner is the process that created the socket or accepted it; a
 * child not yet accepted (the accept hook) has its listener's owner.
 * Return: its tgid, 0 for a socket of another family.
 */
__bpf_kfunc u32 bpf_mvsock_owner_pid(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);

	return vsk ? READ_ONCE(vsk->owner_pid) : 0;
}

/**
 * bpf_mvsock_owner_comm() - the command name of @sk's owner
 * @sk: an AF_VSOCK socket
 * @buf: where to copy it
 * @buf__sz: size of @buf
 *
 * Copies at most @buf__sz - 1 bytes and a NUL (an empty string for a
 * socket of another family).
 * Return: the length copied without the NUL, -EINVAL when @buf__sz is 0.
 */
__bpf_kfunc int bpf_mvsock_owner_comm(struct sock *sk, char *buf, u32 buf__sz)
{
	struct mvsock_sock *vsk = mvsock_bpf_vsk(sk);
	u32 i, n;

	if (!buf__sz)
		return -EINVAL;
	n = vsk ? min_t(u32, buf__sz - 1, sizeof(vsk->owner_comm) - 1) : 0;
	/* a racing accept may rewrite it: copy bytewise, stop at a NUL */
	for (i = 0; i < n; i++) {
		buf[i] = READ_ONCE(vsk->owner_comm[i]);
		if (!buf[i])
			break;
	}
	buf[i] = '\0';
	return i;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(mvsock_kfunc_ids)
BTF_ID_FLAGS(func, bpf_mvsock_local_cid, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_local_port, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_peer_cid, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_peer_port, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_dev_id, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_dev_cid, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_peer_credit, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_cgroup_id)
BTF_ID_FLAGS(func, bpf_mvsock_owner_pid, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_mvsock_owner_comm, KF_TRUSTED_ARGS)
BTF_KFUNCS_END(mvsock_kfunc_ids)

static const struct btf_kfunc_id_set mvsock_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &mvsock_kfunc_ids,
};

/* ---- the struct_ops type ------------------------------------------------ */

static int mvsock_bpf_stub_connect(struct sock *sk)
{
	return 0;
}

static int mvsock_bpf_stub_accept(struct sock *sk)
{
	return 0;
}

static u32 mvsock_bpf_stub_route(struct sock *sk, u32 peer_cid, u32 peer_port)
{
	return VMADDR_CID_ANY;
}

static struct mvsock_bpf_ops mvsock_bpf_stubs = {
	.connect = mvsock_bpf_stub_connect,
	.accept = mvsock_bpf_stub_accept,
	.route = mvsock_bpf_stub_route,
};

static bool mvsock_bpf_is_valid_access(int off, int size,
				       enum bpf_access_type type,
				       const struct bpf_prog *prog,
				       struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

static const struct bpf_func_proto *
mvsock_bpf_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
{
	return bpf_base_func_proto(func_id, prog);
}

static const struct bpf_verifier_ops mvsock_bpf_verifier_ops = {
	.get_func_proto = mvsock_bpf_func_proto,
	.is_valid_access = mvsock_bpf_is_valid_access,
};

static int mvsock_bpf_init_btf(struct btf *btf)
{
	return 0;
}

/* the hooks run under RCU, some in the receive path: nothing sleepable */
static int mvsock_bpf_check_member(const struct btf_type *t,
				   const struct btf_member *member,
				   const struct bpf_prog *prog)
{
	return prog->sleepable ? -EINVAL : 0;
}

static int mvsock_bpf_init_member(const struct btf_type *t,
				  const struct btf_member *member,
				  void *kdata, const void *udata)
{
	const struct mvsock_bpf_ops *uops = udata;
	struct mvsock_bpf_ops *ops = kdata;

	if (__btf_member_bit_offset(t, member) !=
	    offsetof(struct mvsock_bpf_ops, name) * 8)
		return 0;
	if (strscpy(ops->name, uops->name, sizeof(ops->name)) <= 0)
		return -EINVAL;
	return 1;
}

static int mvsock_bpf_reg(void *kdata, struct bpf_link *link)
{
	int err = 0;

	mutex_lock(&mvsock_bpf_lock);
	if (rcu_access_pointer(mvsock_bpf_cur)) {
		err = -EBUSY;
		goto out;
	}
	rcu_assign_pointer(mvsock_bpf_cur, (struct mvsock_bpf_ops *)kdata);
	static_branch_enable(&mvsock_bpf_active);
out:
	mutex_unlock(&mvsock_bpf_lock);
	return err;
}

static void mvsock_bpf_unreg(void *kdata, struct bpf_link *link)
{
	mutex_lock(&mvsock_bpf_lock);
	if (rcu_access_pointer(mvsock_bpf_cur) == kdata) {
		static_branch_disable(&mvsock_bpf_active);
		RCU_INIT_POINTER(mvsock_bpf_cur, NULL);
	}
	mutex_unlock(&mvsock_bpf_lock);
	/* the map frees kdata after a grace period: no wait needed here */
}

/* link update: the new set replaces the old one in a single store */
static int mvsock_bpf_update(void *kdata, void *old_kdata,
			     struct bpf_link *link)
{
	int err = 0;

	mutex_lock(&mvsock_bpf_lock);
	if (rcu_access_pointer(mvsock_bpf_cur) != old_kdata)
		err = -ENOENT;
	else
		rcu_assign_pointer(mvsock_bpf_cur,
				   (struct mvsock_bpf_ops *)kdata);
	mutex_unlock(&mvsock_bpf_lock);
	return err;
}

static struct bpf_struct_ops mvsock_bpf_struct_ops = {
	.verifier_ops = &mvsock_bpf_verifier_ops,
	.init = mvsock_bpf_init_btf,
	.check_member = mvsock_bpf_check_member,
	.init_member = mvsock_bpf_init_member,
	.reg = mvsock_bpf_reg,
	.unreg = mvsock_bpf_unreg,
	.update = mvsock_bpf_update,
	.cfi_stubs = &mvsock_bpf_stubs,
	.owner = THIS_MODULE,
	.name = "mvsock_bpf_ops",
};

/* The attached set's name, for /sys/module/mvsock/parameters/bpf_ops. */
static int mvsock_param_bpf_get(char *buf, const struct kernel_param *kp)
{
	struct mvsock_bpf_ops *ops;
	int n;

	rcu_read_lock();
	ops = rcu_dereference(mvsock_bpf_cur);
	n = sysfs_emit(buf, "%s\n", ops ? ops->name : "");
	rcu_read_unlock();
	return n;
}

static const struct kernel_param_ops mvsock_bpf_param_ops = {
	.get = mvsock_param_bpf_get,
};
module_param_cb(bpf_ops, &mvsock_bpf_param_ops, NULL, 0444);
MODULE_PARM_DESC(bpf_ops, "name of the attached mvsock_bpf_ops set (empty: none)");

int mvsock_bpf_init(void)
{
	int err;

	/* into the module's BTF: programs read the limit from vmlinux.h */
	BTF_TYPE_EMIT(enum mvsock_bpf_limits);
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_STRUCT_OPS,
					&mvsock_kfunc_set);
	if (err)
		goto err_out;
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING,
					&mvsock_kfunc_set);
	if (err)
		goto err_out;
	err = register_bpf_struct_ops(&mvsock_bpf_struct_ops, mvsock_bpf_ops);
	if (err)
		goto err_out;
	return 0;

err_out:
	pr_err("cannot register the BPF hooks (%d)\n", err);
	return err;
}
