// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock.ko: AF_VSOCK over virtio with several devices per guest.
 * Module entry points, /dev/vsock and the family registration.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/compat.h>
#include <net/sock.h>

#include "mvsock.h"
#include "../include/uapi/linux/mvsock.h"

#define CREATE_TRACE_POINTS
#include "mvsock_trace.h"

static long mvsock_misc_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	switch (cmd) {
	case IOCTL_VM_SOCKETS_GET_LOCAL_CID:
		return put_user(mvsock_default_local_cid(), (u32 __user *)arg);
	case IOCTL_MVSOCK_LIST_CIDS:
		return mvsock_list_cids((void __user *)arg);
	default:
		return -ENOIOCTLCMD;
	}
}

#ifdef CONFIG_COMPAT
static long mvsock_misc_compat_ioctl(struct file *file, unsigned int cmd,
				     unsigned long arg)
{
	return mvsock_misc_ioctl(file, cmd, (unsigned long)compat_ptr(arg));
}
#endif

static const struct file_operations mvsock_misc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = mvsock_misc_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl = mvsock_misc_compat_ioctl,
#endif
	.open = nonseekable_open,
};

static struct miscdevice mvsock_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vsock",
	.fops = &mvsock_misc_fops,
};

static int __init mvsock_init(void)
{
	int err;

	mvsock_table_init();
	err = proto_register(&mvsock_proto, 1);
	if (err)
		return err;
	err = sock_register(&mvsock_family_ops);
	if (err) {
		pr_err("AF_VSOCK is already owned by another module (stock vsock?); unload it and blacklist it, see docs/architecture.md\n");
		goto err_proto;
	}
	err = misc_register(&mvsock_misc);
	if (err) {
		pr_err("cannot register /dev/vsock (%d)\n", err);
		goto err_sock;
	}
	err = mvsock_diag_init();
	if (err) {
		pr_err("sock_diag for AF_VSOCK already registered (stock vsock_diag?) (%d)\n",
		       err);
		goto err_misc;
	}
	/* without module BTF there are no hooks, sockets work all the same */
	if (mvsock_bpf_init())
		pr_warn("BPF hooks unavailable\n");
	return 0;

err_misc:
	misc_deregister(&mvsock_misc);
err_sock:
	sock_unregister(AF_VSOCK);
err_proto:
	proto_unregister(&mvsock_proto);
	return err;
}

static void __exit mvsock_exit(void)
{
	mvsock_dev_exit();
	mvsock_diag_exit();
	misc_deregister(&mvsock_misc);
	sock_unregister(AF_VSOCK);
	proto_unregister(&mvsock_proto);
}

module_init(mvsock_init);
module_exit(mvsock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mvsock: AF_VSOCK over virtio with several devices per guest");
MODULE_AUTHOR("The mvsock authors");
MODULE_VERSION(MVSOCK_MOD_VERSION);
MODULE_ALIAS_NETPROTO(PF_VSOCK);
