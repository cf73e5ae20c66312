// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock socket layer: the AF_VSOCK proto_ops for SOCK_STREAM and
 * SOCK_SEQPACKET. Protocol work is delegated to engine.c, device choice
 * to dev.c.
 */
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sockios.h>
#include <linux/termios.h>
#include <linux/errqueue.h>
#include <linux/capability.h>
#include <net/sock.h>

#include "mvsock.h"
#include "mvsock_trace.h"
#include "../include/uapi/linux/mvsock.h"

struct proto mvsock_proto = {
	.name = "AF_VSOCK",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct mvsock_sock),
	.backlog_rcv = mvsock_backlog_rcv,
};

static const struct proto_ops mvsock_ops;

static int mvsock_addr_from_user(struct sockaddr *addr, int len,
				 struct sockaddr_vm **out)
{
	struct sockaddr_vm *svm = (struct sockaddr_vm *)addr;

	if (!addr || len < (int)sizeof(*svm))
		return -EINVAL;
	if (svm->svm_family != AF_VSOCK)
		return -EAFNOSUPPORT;
	if (svm->svm_zero[0] || (svm->svm_flags & ~VMADDR_FLAG_TO_HOST))
		return -EINVAL;
	*out = svm;
	return 0;
}

static void mvsock_sk_destruct(struct sock *sk)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	mvsock_purge_rx(vsk);
	skb_queue_purge(&sk->sk_error_queue);
	if (vsk->dev) {
		mvsock_dev_put(vsk->dev);
		vsk->dev = NULL;
	}
	mvsock_untrack(vsk);
}

static struct sock *mvsock_sk_alloc(struct net *net, struct socket *sock,
				    int type, int kern,
				    struct mvsock_sock *parent)
{
	struct sock *sk;

	/* children are born in the receive path: no sleeping there */
	sk = sk_alloc(net, AF_VSOCK, parent ? GFP_ATOMIC : GFP_KERNEL,
		      &mvsock_proto, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sk->sk_backlog_rcv = mvsock_backlog_rcv;
	if (!sock)
		sk->sk_type = type;
	sk->sk_destruct = mvsock_sk_destruct;
	sk->sk_state = TCP_CLOSE;
	mvsock_sk_init_proto(mvsock_sk(sk), parent);
	mvsock_sk(sk)->created_ns = ktime_get_ns();
	if (parent) {
		mvsock_sk(sk)->owner_pid = parent->owner_pid;
		memcpy(mvsock_sk(sk)->owner_comm, parent->owner_comm,
		       sizeof(parent->owner_comm));
		sk->sk_rcvlowat = parent->sk.sk_rcvlowat;
		sk->sk_rcvtimeo = parent->sk.sk_rcvtimeo;
		sk->sk_sndtimeo = parent->sk.sk_sndtimeo;
		sock_copy_flags(sk, &parent->sk);
	}
	mvsock_track(mvsock_sk(sk));
	return sk;
}

/* the current task owns @vsk (sock_diag's owner_pid, owner_comm) */
void mvsock_set_owner(struct mvsock_sock *vsk)
{
	char comm[TASK_COMM_LEN];

	get_task_comm(comm, current);
	WRITE_ONCE(vsk->owner_pid, task_tgid_nr(current));
	memcpy(vsk->owner_comm, comm, sizeof(comm));
}

struct sock *mvsock_create_child(struct sock *listener)
{
	return mvsock_sk_alloc(sock_net(listener), NULL, listener->sk_type,
			       0, mvsock_sk(listener));
}

static int mvsock_create(struct net *net, struct socket *sock, int protocol,
			 int kern)
{
	struct sock *sk;

	if (protocol && protocol != PF_VSOCK)
		return -EPROTONOSUPPORT;
	switch (sock->type) {
	case SOCK_STREAM:
	case SOCK_SEQPACKET:
		/* one table: the handlers check sk_type where they differ */
		sock->ops = &mvsock_ops;
		break;
	case SOCK_DGRAM:
		return -ENODEV;	/* no datagram transport (yet) */
	default:
		return -ESOCKTNOSUPPORT;
	}
	sock->state = SS_UNCONNECTED;
	sk = mvsock_sk_alloc(net, sock, sock->type, kern, NULL);
	if (!sk)
		return -ENOMEM;
	mvsock_set_owner(mvsock_sk(sk));
	set_bit(SOCK_CUSTOM_SOCKOPT, &sock->flags);
	set_bit(SOCK_SUPPORT_ZC, &sock->flags);
	return 0;
}

const struct net_proto_family mvsock_family_ops = {
	.family = AF_VSOCK,
	.create = mvsock_create,
	.owner = THIS_MODULE,
};

/* Reset children that were never accepted; listener is locked. */
static void mvsock_flush_accept_q(struct sock *listener)
{
	struct mvsock_sock *lvsk = mvsock_sk(listener);
	struct mvsock_sock *child, *tmp;

	list_for_each_entry_safe(child, tmp, &lvsk->accept_q, accept_node) {
		struct sock *csk = &child->sk;

		list_del_init(&child->accept_node);
		sk_acceptq_removed(listener);
		lock_sock_nested(csk, SINGLE_DEPTH_NESTING);
		if (child->in_conn && !child->rst_sent)
			mvsock_send_ctl(child, VIRTIO_VSOCK_OP_RST, 0);
		mvsock_finish_close(csk);
		child->listener = NULL;
		sock_orphan(csk);
		release_sock(csk);
		sock_put(listener);
		sock_put(csk);	/* the accept queue's (owner) reference */
	}
}

static int mvsock_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk;

	if (!sk)
		return 0;
	vsk = mvsock_sk(sk);
	lock_sock(sk);
	if (cancel_delayed_work(&vsk->connect_work))
		sock_put(sk);
	if (sk->sk_state == TCP_LISTEN)
		mvsock_flush_accept_q(sk);
	mvsock_begin_close(sk);
	mvsock_unbind(vsk);
	mvsock_purge_rx(vsk);
	sock_orphan(sk);
	sk->sk_shutdown = SHUTDOWN_MASK;
	release_sock(sk);
	sock->sk = NULL;
	sock->state = SS_FREE;
	sock_put(sk);
	return 0;
}

static int mvsock_bind(struct socket *sock, struct sockaddr *addr, int len)
{
	struct mvsock_sock *vsk = mvsock_sk(sock->sk);
	struct sockaddr_vm *svm;
	int err;

	if (mvsock_addr_from_user(addr, len, &svm))
		return -EINVAL;
	lock_sock(&vsk->sk);
	if (vsk->in_bind) {
		err = -EINVAL;
	} else if (svm->svm_cid != VMADDR_CID_ANY &&
		   !mvsock_cid_is_local(svm->svm_cid)) {
		err = -EADDRNOTAVAIL;
	} else if (svm->svm_port != VMADDR_PORT_ANY &&
		   svm->svm_port <= MVSOCK_LAST_RESERVED_PORT &&
		   !capable(CAP_NET_BIND_SERVICE)) {
		err = -EACCES;
	} else {
		err = mvsock_bind_addr(vsk, svm);
	}
	release_sock(&vsk->sk);
	return err;
}

static int mvsock_autobind(struct mvsock_sock *vsk)
{
	struct sockaddr_vm any = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = VMADDR_PORT_ANY,
	};

	if (vsk->in_bind)
		return 0;
	return mvsock_bind_addr(vsk, &any);
}

/* Start a connection: route, bind, send REQUEST. Socket locked. */
static int mvsock_connect_start(struct mvsock_sock *vsk,
				struct sockaddr_vm *remote)
{
	struct sock *sk = &vsk->sk;
	struct mvsock_dev *dev;
	int err;

	err = mvsock_route(vsk, remote, &dev);
	if (err)
		return err;
	/* a virtio peer that did not negotiate SEQPACKET cannot take one */
	if (sk->sk_type == SOCK_SEQPACKET && !READ_ONCE(dev->seqpacket)) {
		err = -ESOCKTNOSUPPORT;
		goto err_put;
	}
	err = mvsock_autobind(vsk);
	if (err)
		goto err_put;
	if (vsk->dev)
		mvsock_dev_put(vsk->dev);
	vsk->dev = dev;
	/* getsockname() keeps the bound CID (ANY if unbound), as stock */
	vsk->src_cid = vsk->local.svm_cid != VMADDR_CID_ANY ?
		       vsk->local.svm_cid : mvsock_dev_local_cid(dev);
	vsk->remote.svm_cid = remote->svm_cid;
	vsk->remote.svm_port = remote->svm_port;
	vsk->remote.svm_flags = remote->svm_flags;
	vsk->peer_shutdown = 0;
	vsk->rst_sent = false;
	vsk->tx_cnt = 0;
	vsk->peer_buf_alloc = 0;
	vsk->peer_fwd_cnt = 0;
	if (mvsock_bpf_on()) {
		/* denied: nothing was sent, the socket stays unconnected */
		err = mvsock_bpf_connect(vsk);
		if (err)
			return err;
	}
	sk->sk_err = 0;
	sock_reset_flag(sk, SOCK_DONE);
	sk->sk_shutdown = 0;
	mvsock_set_state(sk, TCP_SYN_SENT);
	mvsock_reap_stale(vsk);
	mvsock_insert_connected(vsk);
	err = mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_REQUEST, 0);
	if (err < 0) {
		mvsock_remove_connected(vsk);
		mvsock_set_state(sk, TCP_CLOSE);
		return err;
	}
	return 0;

err_put:
	mvsock_dev_put(dev);
	return err;
}

static int mvsock_connect_wait(struct socket *sock, long timeout)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = sock->sk;
	int err = 0;

	/*
	 * Wait while the REQUEST is unanswered. Once a RESPONSE arrived the
	 * connect succeeded, even if the peer already closed again (state
	 * CLOSING by now): reads then return the data and EOF.
	 */
	add_wait_queue(sk_sleep(sk), &wait);
	while (sk->sk_state == TCP_SYN_SENT && !sk->sk_err) {
		if (signal_pending(current)) {
			err = sock_intr_errno(timeout);
			goto out;
		}
		if (!timeout) {
			err = -ETIMEDOUT;
			mvsock_send_ctl(mvsock_sk(sk), VIRTIO_VSOCK_OP_RST, 0);
			mvsock_remove_connected(mvsock_sk(sk));
			mvsock_set_state(sk, TCP_CLOSE);
			sock->state = SS_UNCONNECTED;
			goto out;
		}
		sk_wait_event(sk, &timeout, sk->sk_state != TCP_SYN_SENT ||
			      sk->sk_err, &wait);
	}
	if (sk->sk_err) {
		err = -sk->sk_err;
		sk->sk_err = 0;
		mvsock_set_state(sk, TCP_CLOSE);
		sock->state = SS_UNCONNECTED;
	} else {
		sock->state = SS_CONNECTED;
	}
out:
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

static int mvsock_connect(struct socket *sock, struct sockaddr *addr,
			  int len, int flags)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	struct sockaddr_vm *svm;
	int err;

	lock_sock(sk);
	switch (sock->state) {
	case SS_CONNECTED:
		err = -EISCONN;
		goto out;
	case SS_DISCONNECTING:
		err = -EINVAL;
		goto out;
	case SS_CONNECTING:
		err = -EALREADY;
		if (flags & O_NONBLOCK)
			goto out;
		break;
	default:
		if (sk->sk_state == TCP_LISTEN ||
		    mvsock_addr_from_user(addr, len, &svm)) {
			err = -EINVAL;
			goto out;
		}
		err = mvsock_connect_start(vsk, svm);
		if (err)
			goto out;
		sock->state = SS_CONNECTING;
		if (flags & O_NONBLOCK) {
			sock_hold(sk);
			if (!schedule_delayed_work(&vsk->connect_work,
						   vsk->connect_timeout))
				sock_put(sk);
			err = -EINPROGRESS;
			goto out;
		}
		break;
	}
	err = mvsock_connect_wait(sock, vsk->connect_timeout);
out:
	release_sock(sk);
	return err;
}

static int mvsock_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	int err = 0;

	lock_sock(sk);
	if (sock->state != SS_UNCONNECTED || !mvsock_sk(sk)->in_bind)
		err = -EINVAL;
	else {
		sk->sk_max_ack_backlog = backlog;
		mvsock_set_state(sk, TCP_LISTEN);
	}
	release_sock(sk);
	return err;
}

static struct sock *mvsock_dequeue_accept(struct sock *listener)
{
	struct mvsock_sock *lvsk = mvsock_sk(listener);
	struct mvsock_sock *child;

	child = list_first_entry_or_null(&lvsk->accept_q, struct mvsock_sock,
					 accept_node);
	if (!child)
		return NULL;
	list_del_init(&child->accept_node);
	sk_acceptq_removed(listener);
	child->listener = NULL;
	sock_put(listener);
	return &child->sk;
}

static int mvsock_accept(struct socket *sock, struct socket *newsock,
			 struct proto_accept_arg *arg)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *listener = sock->sk;
	struct sock *child = NULL;
	long timeo;
	int err = 0;

	lock_sock(listener);
	if (listener->sk_state != TCP_LISTEN) {
		err = -EINVAL;
		goto out;
	}
	timeo = sock_rcvtimeo(listener, arg->flags & O_NONBLOCK);
	add_wait_queue(sk_sleep(listener), &wait);
	while (!(child = mvsock_dequeue_accept(listener))) {
		if (listener->sk_state != TCP_LISTEN) {
			err = -EINVAL;
			break;
		}
		if (!timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			break;
		}
		sk_wait_event(listener, &timeo,
			      !list_empty(&mvsock_sk(listener)->accept_q) ||
			      listener->sk_state != TCP_LISTEN, &wait);
	}
	remove_wait_queue(sk_sleep(listener), &wait);
	if (child) {
		lock_sock_nested(child, SINGLE_DEPTH_NESTING);
		sock_graft(child, newsock);
		mvsock_set_owner(mvsock_sk(child));
		newsock->state = SS_CONNECTED;
		set_bit(SOCK_CUSTOM_SOCKOPT, &newsock->flags);
		set_bit(SOCK_SUPPORT_ZC, &newsock->flags);
		release_sock(child);
	}
out:
	release_sock(listener);
	return err;
}

static int mvsock_getname(struct socket *sock, struct sockaddr *addr,
			  int peer)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	struct sockaddr_vm *svm = (struct sockaddr_vm *)addr;

	lock_sock(sk);
	if (peer && sock->state != SS_CONNECTED) {
		release_sock(sk);
		return -ENOTCONN;
	}
	memset(svm, 0, sizeof(*svm));
	*svm = peer ? vsk->remote : vsk->local;
	svm->svm_family = AF_VSOCK;
	release_sock(sk);
	return sizeof(*svm);
}

static __poll_t mvsock_poll_shutdown(struct sock *sk, u32 peer_shutdown)
{
	__poll_t mask = 0;

	if (sk->sk_shutdown == SHUTDOWN_MASK ||
	    ((sk->sk_shutdown & SEND_SHUTDOWN) &&
	     (peer_shutdown & SEND_SHUTDOWN)))
		mask |= EPOLLHUP;
	if ((sk->sk_shutdown & RCV_SHUTDOWN) || (peer_shutdown & SEND_SHUTDOWN))
		mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
	return mask;
}

static bool mvsock_readable(struct mvsock_sock *vsk)
{
	struct sock *sk = &vsk->sk;

	u32 rx = READ_ONCE(vsk->rx_bytes);

	if (sk->sk_type == SOCK_SEQPACKET)
		return READ_ONCE(vsk->msg_count) > 0;
	return rx && rx >= (u32)sock_rcvlowat(sk, 0, INT_MAX);
}

static __poll_t mvsock_poll(struct file *file, struct socket *sock,
			    poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	__poll_t mask = 0;

	int state;
	u8 shut;

	/*
	 * Lockless, like tcp_poll(): the receive path runs under the socket
	 * spinlock and wakes sk_sleep() after every change, so a racy read
	 * here is followed by a wakeup and a fresh poll.
	 */
	poll_wait(file, sk_sleep(sk), wait);
	state = READ_ONCE(sk->sk_state);
	shut = READ_ONCE(sk->sk_shutdown);
	if (READ_ONCE(sk->sk_err) ||
	    !skb_queue_empty_lockless(&sk->sk_error_queue))
		mask |= EPOLLERR;
	if (state == TCP_LISTEN && !list_empty_careful(&vsk->accept_q))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (state != TCP_LISTEN && !(shut & RCV_SHUTDOWN) &&
	    mvsock_readable(vsk))
		mask |= EPOLLIN | EPOLLRDNORM;
	mask |= mvsock_poll_shutdown(sk, READ_ONCE(vsk->peer_shutdown));
	if (state == TCP_ESTABLISHED && !(shut & SEND_SHUTDOWN) &&
	    mvsock_tx_room(vsk))
		mask |= EPOLLOUT | EPOLLWRNORM;
	if ((state == TCP_CLOSE || state == TCP_CLOSING) &&
	    !(shut & SEND_SHUTDOWN))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static int mvsock_sock_ioctl(struct socket *sock, unsigned int cmd,
			     unsigned long arg)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	int __user *uarg = (int __user *)arg;
	int val, err = 0;

	switch (cmd) {
	case SIOCINQ:
	case SIOCOUTQ:
		lock_sock(sk);
		if (cmd == SIOCOUTQ && !vsk->dev)
			err = -EOPNOTSUPP;
		else if (sk->sk_state == TCP_LISTEN)
			err = -EINVAL;
		else if (cmd == SIOCINQ)
			val = vsk->rx_bytes;
		else
			val = atomic_read(&vsk->tx_unsent);
		release_sock(sk);
		if (!err)
			err = put_user(val, uarg);
		return err;
	case IOCTL_VM_SOCKETS_GET_LOCAL_CID:
		return put_user(mvsock_default_local_cid(), (u32 __user *)arg);
	case IOCTL_MVSOCK_LIST_CIDS:
		return mvsock_list_cids((void __user *)arg);
	default:
		return -ENOIOCTLCMD;
	}
}

static int mvsock_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	int mode = how + 1;	/* SHUT_RD/WR/RDWR -> RCV/SEND/both */
	u32 flags = 0;
	int err = 0;

	if ((mode & ~SHUTDOWN_MASK) || !mode)
		return -EINVAL;
	lock_sock(sk);
	if (sock->state == SS_UNCONNECTED) {
		err = -ENOTCONN;
		goto out;
	}
	sock->state = SS_DISCONNECTING;
	sk->sk_shutdown |= mode;
	sk->sk_state_change(sk);
	sock_reset_flag(sk, SOCK_DONE);
	if (mode & RCV_SHUTDOWN)
		flags |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	if (mode & SEND_SHUTDOWN)
		flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (vsk->in_conn && sk->sk_state == TCP_ESTABLISHED)
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_SHUTDOWN, flags);
out:
	release_sock(sk);
	return err;
}

/* Clamp into [min, max] and advertise the new buffer to the peer. */
static void mvsock_set_buf_size(struct mvsock_sock *vsk, u64 val)
{
	if (val < vsk->buf_min)
		val = vsk->buf_min;
	if (val > vsk->buf_max)
		val = vsk->buf_max;
	/* once connected the size travels in a 32-bit header field */
	if (vsk->dev && val > U32_MAX)
		val = U32_MAX;
	vsk->buf_size = val;
	vsk->buf_alloc = min_t(u64, val, MVSOCK_BUF_LIMIT);
	if (vsk->sk.sk_state == TCP_ESTABLISHED && vsk->in_conn &&
	    vsk->buf_alloc != vsk->last_buf_alloc)
		mvsock_send_ctl(vsk, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
}

static int mvsock_set_timeout(struct mvsock_sock *vsk, int optname,
			      sockptr_t optval, unsigned int optlen)
{
	struct __kernel_sock_timeval tv;
	int err;

	err = sock_copy_user_timeval(&tv, optval, optlen,
				     optname == SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD);
	if (err)
		return err;
	if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= USEC_PER_SEC ||
	    tv.tv_sec >= (MAX_SCHEDULE_TIMEOUT / HZ - 1))
		return -ERANGE;
	vsk->connect_timeout = tv.tv_sec * HZ +
			       DIV_ROUND_UP((unsigned long)tv.tv_usec,
					    USEC_PER_SEC / HZ);
	if (!vsk->connect_timeout)
		vsk->connect_timeout = MVSOCK_CONNECT_TIMEOUT;
	return 0;
}

static int mvsock_setsockopt(struct socket *sock, int level, int optname,
			     sockptr_t optval, unsigned int optlen)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	int err = 0;
	u64 val;
	int zc;

	if (level == SOL_SOCKET) {
		if (optname != SO_ZEROCOPY)
			return sock_setsockopt(sock, level, optname, optval,
					       optlen);
		if (optlen < sizeof(zc))
			return -EINVAL;
		if (copy_from_sockptr(&zc, optval, sizeof(zc)))
			return -EFAULT;
		if (zc < 0 || zc > 1)
			return -EINVAL;
		lock_sock(sk);
		sock_valbool_flag(sk, SOCK_ZEROCOPY, zc);
		release_sock(sk);
		return 0;
	}
	if (level != AF_VSOCK)
		return -ENOPROTOOPT;

	switch (optname) {
	case SO_VM_SOCKETS_BUFFER_SIZE:
	case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
	case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
		if (optlen < sizeof(val))
			return -EINVAL;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			return -EFAULT;
		break;
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD:
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW:
		break;
	default:
		return -ENOPROTOOPT;
	}

	lock_sock(sk);
	switch (optname) {
	case SO_VM_SOCKETS_BUFFER_SIZE:
		mvsock_set_buf_size(vsk, val);
		break;
	case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
		vsk->buf_min = val;
		mvsock_set_buf_size(vsk, vsk->buf_size);
		break;
	case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
		vsk->buf_max = val;
		mvsock_set_buf_size(vsk, vsk->buf_size);
		break;
	default:
		err = mvsock_set_timeout(vsk, optname, optval, optlen);
		break;
	}
	release_sock(sk);
	return err;
}

static int mvsock_getsockopt(struct socket *sock, int level, int optname,
			     char __user *optval, int __user *optlen)
{
	struct mvsock_sock *vsk = mvsock_sk(sock->sk);
	struct __kernel_sock_timeval tv;
	union {
		u64 val;
		struct __kernel_old_timeval old;
		struct __kernel_sock_timeval tv;
	} v;
	int len, size;

	if (level != AF_VSOCK)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	memset(&v, 0, sizeof(v));
	switch (optname) {
	case SO_VM_SOCKETS_BUFFER_SIZE:
		v.val = vsk->buf_size;
		size = sizeof(v.val);
		break;
	case SO_VM_SOCKETS_BUFFER_MIN_SIZE:
		v.val = vsk->buf_min;
		size = sizeof(v.val);
		break;
	case SO_VM_SOCKETS_BUFFER_MAX_SIZE:
		v.val = vsk->buf_max;
		size = sizeof(v.val);
		break;
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD:
	case SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW:
		tv.tv_sec = vsk->connect_timeout / HZ;
		tv.tv_usec = (vsk->connect_timeout % HZ) * (USEC_PER_SEC / HZ);
		if (optname == SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD) {
			v.old.tv_sec = tv.tv_sec;
			v.old.tv_usec = tv.tv_usec;
			size = sizeof(v.old);
		} else {
			v.tv = tv;
			size = sizeof(v.tv);
		}
		break;
	default:
		return -ENOPROTOOPT;
	}
	if (len < size)
		return -EINVAL;
	if (copy_to_user(optval, &v, size) || put_user(size, optlen))
		return -EFAULT;
	return 0;
}

static int mvsock_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	ssize_t ret;

	if (msg->msg_flags & MSG_OOB)
		return -EOPNOTSUPP;
	lock_sock(sk);
	if (msg->msg_namelen) {
		ret = sk->sk_state == TCP_ESTABLISHED ? -EISCONN : -EOPNOTSUPP;
		goto out;
	}
	if ((sk->sk_shutdown & SEND_SHUTDOWN) ||
	    (vsk->peer_shutdown & RCV_SHUTDOWN)) {
		ret = -EPIPE;
		goto out;
	}
	if (sk->sk_state != TCP_ESTABLISHED || !vsk->dev) {
		ret = -ENOTCONN;
		goto out;
	}
	if (sk->sk_type == SOCK_SEQPACKET) {
		if (!len) {
			ret = 0;	/* no empty records, as stock */
			goto out;
		}
		if (len > min_t(u64, vsk->buf_size, vsk->peer_buf_alloc)) {
			/* without credit a non-blocking send says so first */
			ret = (msg->msg_flags & MSG_DONTWAIT ||
			       sock->file->f_flags & O_NONBLOCK) &&
			      !mvsock_tx_room(vsk) ? -EAGAIN : -EMSGSIZE;
			goto out;
		}
	}
	ret = mvsock_send_data(vsk, msg, len, true);
out:
	if (ret == -EPIPE && sk->sk_type == SOCK_STREAM &&
	    !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	release_sock(sk);
	return ret;
}

static int mvsock_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
			  int flags)
{
	struct sock *sk = sock->sk;
	struct mvsock_sock *vsk = mvsock_sk(sk);
	ssize_t ret;

	if (flags & MSG_ERRQUEUE)
		return sock_recv_errqueue(sk, msg, len, SOL_VSOCK,
					  VSOCK_RECVERR);
	lock_sock(sk);
	if (sk->sk_state != TCP_ESTABLISHED && !vsk->rx_bytes &&
	    !vsk->msg_count) {
		if (sk->sk_err)
			ret = sock_error(sk);
		else
			ret = sock_flag(sk, SOCK_DONE) ? 0 : -ENOTCONN;
		goto out;
	}
	if (flags & MSG_OOB) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if ((sk->sk_shutdown & RCV_SHUTDOWN) || !len) {
		ret = 0;
		goto out;
	}
	if (sk->sk_type == SOCK_STREAM &&
	    sock_rcvlowat(sk, flags & MSG_WAITALL, len) >= vsk->buf_alloc) {
		ret = -ENOMEM;	/* the target could never be reached */
		goto out;
	}
	ret = mvsock_recv_data(vsk, msg, len, flags);
out:
	release_sock(sk);
	return ret;
}

static int mvsock_set_rcvlowat(struct sock *sk, int val)
{
	struct mvsock_sock *vsk = mvsock_sk(sk);

	/* sk_setsockopt() already holds the socket lock */
	if (sk->sk_type == SOCK_STREAM && val > vsk->buf_size)
		return -EINVAL;
	WRITE_ONCE(sk->sk_rcvlowat, val ? : 1);
	mvsock_update_credit_after_read(vsk);
	return 0;
}

/* SOCK_STREAM and SOCK_SEQPACKET */
static const struct proto_ops mvsock_ops = {
	.family = PF_VSOCK,
	.owner = THIS_MODULE,
	.release = mvsock_release,
	.bind = mvsock_bind,
	.connect = mvsock_connect,
	.socketpair = sock_no_socketpair,
	.accept = mvsock_accept,
	.getname = mvsock_getname,
	.poll = mvsock_poll,
	.ioctl = mvsock_sock_ioctl,
	.listen = mvsock_listen,
	.shutdown = mvsock_shutdown,
	.setsockopt = mvsock_setsockopt,
	.getsockopt = mvsock_getsockopt,
	.sendmsg = mvsock_sendmsg,
	.recvmsg = mvsock_recvmsg,
	.mmap = sock_no_mmap,
	.set_rcvlowat = mvsock_set_rcvlowat,
};
