// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag for AF_VSOCK, so that iproute2's `ss --vsock` lists mvsock
 * sockets exactly as it lists stock ones; with MVSOCK_DIAG_SHOW_INFO in
 * the request, each socket also carries its queue, credit, byte counts and
 * owner (MVSOCK_DIAG_INFO, include/uapi/linux/mvsock.h) for vsocktop.
 */
#include <linux/module.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets_diag.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "mvsock.h"
#include "../include/uapi/linux/mvsock.h"

/*
 * Sampled under mvsock_table_lock, without the socket lock: each field is
 * read once, and the socket cannot go away meanwhile (it is unlinked from
 * mvsock_all_socks under that lock before it is freed).
 */
static void mvsock_diag_info_get(struct mvsock_sock *vsk,
				 struct mvsock_diag_info *info)
{
	struct mvsock_dev *dev = READ_ONCE(vsk->dev);
	u64 stall_start = READ_ONCE(vsk->stall_start);
	u64 now = ktime_get_ns();

	memset(info, 0, sizeof(*info));
	info->dev_id = dev ? (s32)dev->id : -1;
	info->src_cid = READ_ONCE(vsk->src_cid);
	info->rx_queued = READ_ONCE(vsk->rx_bytes);
	info->tx_queued = atomic_read(&vsk->tx_unsent);
	info->buf_alloc = READ_ONCE(vsk->buf_alloc);
	info->fwd_cnt = READ_ONCE(vsk->fwd_cnt);
	info->peer_buf_alloc = READ_ONCE(vsk->peer_buf_alloc);
	info->peer_fwd_cnt = READ_ONCE(vsk->peer_fwd_cnt);
	info->tx_cnt = READ_ONCE(vsk->tx_cnt);
	info->peer_credit = mvsock_peer_credit(vsk);
	if (READ_ONCE(vsk->stalled)) {
		info->flags |= MVSOCK_DIAG_F_STALLED;
		info->stall_ns = now > stall_start ? now - stall_start : 0;
	}
	if (READ_ONCE(vsk->credit_requested))
		info->flags |= MVSOCK_DIAG_F_CREDIT_REQUESTED;
	info->owner_pid = READ_ONCE(vsk->owner_pid);
	memcpy(info->owner_comm, vsk->owner_comm, sizeof(info->owner_comm));
	info->owner_comm[sizeof(info->owner_comm) - 1] = '\0';
	info->bytes_sent = READ_ONCE(vsk->tx_total);
	info->bytes_received = READ_ONCE(vsk->rx_total);
	info->created_ns = vsk->created_ns;
}

static int mvsock_diag_put_info(struct sk_buff *skb, struct mvsock_sock *vsk)
{
	struct nlattr *attr;

	attr = nla_reserve(skb, MVSOCK_DIAG_INFO, sizeof(struct mvsock_diag_info));
	if (!attr)
		return -EMSGSIZE;
	mvsock_diag_info_get(vsk, nla_data(attr));
	return 0;
}

static int mvsock_diag_fill(struct sock *sk, struct sk_buff *skb, u32 portid,
			    u32 seq, u16 flags, u32 show)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);
	struct vsock_diag_msg *r;
	struct nlmsghdr *nlh;

	nlh = nlmsg_put(skb, portid, seq, SOCK_DIAG_BY_FAMILY, sizeof(*r),
			flags);
	if (!nlh)
		return -EMSGSIZE;
	r = nlmsg_data(nlh);
	r->vdiag_family = AF_VSOCK;
	r->vdiag_type = sk->sk_type;
	r->vdiag_state = sk->sk_state;
	r->vdiag_shutdown = sk->sk_shutdown;
	r->vdiag_src_cid = vsk->local.svm_cid;
	r->vdiag_src_port = vsk->local.svm_port;
	r->vdiag_dst_cid = vsk->remote.svm_cid;
	r->vdiag_dst_port = vsk->remote.svm_port;
	r->vdiag_ino = sock_i_ino(sk);
	sock_diag_save_cookie(sk, r->vdiag_cookie);
	if ((show & MVSOCK_DIAG_SHOW_INFO) && mvsock_diag_put_info(skb, vsk)) {
		nlmsg_cancel(skb, nlh);
		return -EMSGSIZE;
	}
	nlmsg_end(skb, nlh);
	return 0;
}

/* cb->args[0]: how many matching sockets earlier calls already sent. */
static int mvsock_diag_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct vsock_diag_req *req = nlmsg_data(cb->nlh);
	struct net *net = sock_net(skb->sk);
	struct mvsock_sock *vsk;
	long skip = cb->args[0], i = 0;

	spin_lock_bh(&mvsock_table_lock);
	hlist_for_each_entry(vsk, &mvsock_all_socks, all_node) {
		struct sock *sk = &vsk->sk;

		if (!net_eq(sock_net(sk), net) ||
		    !(req->vdiag_states & (1 << sk->sk_state)))
			continue;
		if (i++ < skip)
			continue;
		if (mvsock_diag_fill(sk, skb, NETLINK_CB(cb->skb).portid,
				     cb->nlh->nlmsg_seq, NLM_F_MULTI,
				     req->vdiag_show) < 0) {
			i--;
			break;
		}
	}
	spin_unlock_bh(&mvsock_table_lock);
	cb->args[0] = i;
	return skb->len;
}

static int mvsock_diag_handler_dump(struct sk_buff *skb, struct nlmsghdr *h)
{
	struct net *net = sock_net(skb->sk);
	struct netlink_dump_control c = {
		.dump = mvsock_diag_dump,
	};

	if (nlmsg_len(h) < sizeof(struct vsock_diag_req))
		return -EINVAL;
	if (!(h->nlmsg_flags & NLM_F_DUMP))
		return -EOPNOTSUPP;
	return netlink_dump_start(net->diag_nlsk, skb, h, &c);
}

static const struct sock_diag_handler mvsock_diag_handler = {
	.owner = THIS_MODULE,
	.family = AF_VSOCK,
	.dump = mvsock_diag_handler_dump,
};

int mvsock_diag_init(void)
{
	return sock_diag_register(&mvsock_diag_handler);
}

void mvsock_diag_exit(void)
{
	sock_diag_unregister(&mvsock_diag_handler);
}
