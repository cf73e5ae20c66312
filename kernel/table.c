// SPDX-License-Identifier: GPL-2.0
/*
 * mvsock socket tables: sockets bound to a local address, and connected
 * (or connecting) sockets keyed by both ends.
 */
#include <linux/hash.h>
#include <linux/random.h>

#include "mvsock.h"

#define MVSOCK_HASH_BITS 8
#define MVSOCK_HASH_SIZE (1 << MVSOCK_HASH_BITS)

/*
 * mvsock_table_lock guards both tables, mvsock_all_socks and every
 * socket's membership in them: vsk->{bind,conn,all}_node and in_bind,
 * in_conn.
 */
DEFINE_SPINLOCK(mvsock_table_lock);
static struct hlist_head mvsock_bind_table[MVSOCK_HASH_SIZE];
static struct hlist_head mvsock_conn_table[MVSOCK_HASH_SIZE];
HLIST_HEAD(mvsock_all_socks);
static u32 mvsock_next_port;	/* the next ephemeral port to try; ditto */

#define MVSOCK_PORT_RETRIES 24

static u32 mvsock_bind_hash(u32 port)
{
	return hash_32(port, MVSOCK_HASH_BITS);
}

static u32 mvsock_conn_hash(u32 local_port, u32 remote_cid, u32 remote_port)
{
	return hash_32(local_port ^ (remote_port * 31) ^ remote_cid,
		       MVSOCK_HASH_BITS);
}

void mvsock_table_init(void)
{
	int i;

	for (i = 0; i < MVSOCK_HASH_SIZE; i++) {
		INIT_HLIST_HEAD(&mvsock_bind_table[i]);
		INIT_HLIST_HEAD(&mvsock_conn_table[i]);
	}
	mvsock_next_port = get_random_u32_above(MVSOCK_LAST_RESERVED_PORT);
}

/*
 * Two bound addresses clash when ports match and either CID is the
 * wildcard or both CIDs are equal: a socket on one device's CID and a
 * socket on another device's CID may share a port.
 */
static struct mvsock_sock *mvsock_find_bound_locked(u32 cid, u32 port)
{
	struct mvsock_sock *vsk;

	hlist_for_each_entry(vsk, &mvsock_bind_table[mvsock_bind_hash(port)],
			     bind_node) {
		if (vsk->local.svm_port != port)
			continue;
		if (vsk->local.svm_cid == cid ||
		    vsk->local.svm_cid == VMADDR_CID_ANY ||
		    cid == VMADDR_CID_ANY)
			return vsk;
	}
	return NULL;
}

static void mvsock_bind_insert_locked(struct mvsock_sock *vsk)
{
	u32 idx = mvsock_bind_hash(vsk->local.svm_port);

	if (vsk->in_bind)
		hlist_del(&vsk->bind_node);
	else
		sock_hold(&vsk->sk);
	hlist_add_head(&vsk->bind_node, &mvsock_bind_table[idx]);
	vsk->in_bind = true;
}

static int mvsock_pick_port_locked(u32 cid, u32 *port)
{
	int i;

	for (i = 0; i < MVSOCK_PORT_RETRIES * MVSOCK_HASH_SIZE; i++) {
		u32 p = mvsock_next_port++;

		if (p <= MVSOCK_LAST_RESERVED_PORT || p == VMADDR_PORT_ANY) {
			mvsock_next_port = MVSOCK_LAST_RESERVED_PORT + 1;
			continue;
		}
		if (!mvsock_find_bound_locked(cid, p)) {
			*port = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

/* Caller holds lock_sock and has checked that @addr's CID is local. */
int mvsock_bind_addr(struct mvsock_sock *vsk, struct sockaddr_vm *addr)
{
	u32 cid = addr->svm_cid;
	u32 port = addr->svm_port;
	int err = 0;

	spin_lock_bh(&mvsock_table_lock);
	if (port == VMADDR_PORT_ANY)
		err = mvsock_pick_port_locked(cid, &port);
	else if (mvsock_find_bound_locked(cid, port))
		err = -EADDRINUSE;
	if (!err) {
		vsk->local.svm_cid = cid;
		vsk->local.svm_port = port;
		mvsock_bind_insert_locked(vsk);
	}
	spin_unlock_bh(&mvsock_table_lock);
	return err;
}

void mvsock_unbind(struct mvsock_sock *vsk)
{
	bool put = false;

	spin_lock_bh(&mvsock_table_lock);
	if (vsk->in_bind) {
		hlist_del_init(&vsk->bind_node);
		vsk->in_bind = false;
		put = true;
	}
	spin_unlock_bh(&mvsock_table_lock);
	if (put)
		sock_put(&vsk->sk);
}

static struct mvsock_sock *mvsock_find_conn_locked(u32 rcid, u32 rport,
						   u32 lcid, u32 lport)
{
	struct mvsock_sock *vsk;
	u32 idx = mvsock_conn_hash(lport, rcid, rport);

	hlist_for_each_entry(vsk, &mvsock_conn_table[idx], conn_node) {
		if (vsk->local.svm_port == lport &&
		    vsk->remote.svm_port == rport &&
		    vsk->remote.svm_cid == rcid &&
		    (vsk->local.svm_cid == lcid ||
		     vsk->local.svm_cid == VMADDR_CID_ANY))
			return vsk;
	}
	return NULL;
}

void mvsock_insert_connected(struct mvsock_sock *vsk)
{
	u32 idx = mvsock_conn_hash(vsk->local.svm_port, vsk->remote.svm_cid,
				   vsk->remote.svm_port);

	spin_lock_bh(&mvsock_table_lock);
	if (!vsk->in_conn) {
		sock_hold(&vsk->sk);
		hlist_add_head(&vsk->conn_node, &mvsock_conn_table[idx]);
		vsk->in_conn = true;
	}
	spin_unlock_bh(&mvsock_table_lock);
}

void mvsock_remove_connected(struct mvsock_sock *vsk)
{
	bool put = false;

	spin_lock_bh(&mvsock_table_lock);
	if (vsk->in_conn) {
		hlist_del_init(&vsk->conn_node);
		vsk->in_conn = false;
		put = true;
	}
	spin_unlock_bh(&mvsock_table_lock);
	if (put)
		sock_put(&vsk->sk);
}

/* Returns a held socket or NULL. */
struct sock *mvsock_lookup_connected(u32 src_cid, u32 src_port,
				     u32 dst_cid, u32 dst_port)
{
	struct mvsock_sock *vsk;
	struct sock *sk = NULL;

	spin_lock_bh(&mvsock_table_lock);
	vsk = mvsock_find_conn_locked(src_cid, src_port, dst_cid, dst_port);
	if (vsk) {
		sk = &vsk->sk;
		sock_hold(sk);
	}
	spin_unlock_bh(&mvsock_table_lock);
	return sk;
}

/* Exact CID match first, then a wildcard listener. Returns a held socket. */
struct sock *mvsock_lookup_bound(u32 cid, u32 port)
{
	struct mvsock_sock *vsk, *any = NULL, *hit = NULL;
	struct sock *sk = NULL;

	spin_lock_bh(&mvsock_table_lock);
	hlist_for_each_entry(vsk, &mvsock_bind_table[mvsock_bind_hash(port)],
			     bind_node) {
		if (vsk->local.svm_port != port)
			continue;
		if (vsk->local.svm_cid == cid) {
			hit = vsk;
			break;
		}
		if (vsk->local.svm_cid == VMADDR_CID_ANY)
			any = vsk;
	}
	if (!hit)
		hit = any;
	if (hit) {
		sk = &hit->sk;
		sock_hold(sk);
	}
	spin_unlock_bh(&mvsock_table_lock);
	return sk;
}

/*
 * A new connection reuses the 4-tuple of an orphaned socket that is still
 * waiting for its peer to finish the close: that old socket is dead
 * weight, finish it now so packets reach the new one.
 */
void mvsock_reap_stale(struct mvsock_sock *vsk)
{
	struct mvsock_sock *old;
	bool put = false;

	spin_lock_bh(&mvsock_table_lock);
	old = mvsock_find_conn_locked(vsk->remote.svm_cid, vsk->remote.svm_port,
				      vsk->local.svm_cid, vsk->local.svm_port);
	if (old && old != vsk && sock_flag(&old->sk, SOCK_DEAD)) {
		/* its close timer finishes it; it must not RST our tuple */
		set_bit(MVSOCK_F_REAPED, &old->flags);
		hlist_del_init(&old->conn_node);
		old->in_conn = false;
		put = true;
	}
	spin_unlock_bh(&mvsock_table_lock);
	if (put)
		sock_put(&old->sk);
}

static int mvsock_collect_locked(struct sock **batch, int cap)
{
	struct mvsock_sock *vsk;
	int b, n = 0;

	for (b = 0; b < MVSOCK_HASH_SIZE; b++) {
		hlist_for_each_entry(vsk, &mvsock_conn_table[b], conn_node) {
			if (n < cap && batch) {
				sock_hold(&vsk->sk);
				batch[n] = &vsk->sk;
			}
			n++;
		}
	}
	return n;
}

/*
 * Call @fn on every connected socket, each with a reference held and no
 * table lock taken, so @fn may sleep and lock the socket.
 */
void mvsock_visit_socks(mvsock_sock_fn fn, void *arg)
{
	struct sock **batch = NULL;
	int n, i, cap = 0;

	for (;;) {
		spin_lock_bh(&mvsock_table_lock);
		n = mvsock_collect_locked(batch, cap);
		spin_unlock_bh(&mvsock_table_lock);
		if (batch && n <= cap)
			break;
		for (i = 0; batch && i < cap; i++)
			sock_put(batch[i]);
		kvfree(batch);
		cap = n + 16;
		batch = kvcalloc(cap, sizeof(*batch), GFP_KERNEL);
		if (!batch)
			return;
	}
	for (i = 0; i < n; i++) {
		fn(batch[i], arg);
		sock_put(batch[i]);
	}
	kvfree(batch);
}


void mvsock_track(struct mvsock_sock *vsk)
{
	spin_lock_bh(&mvsock_table_lock);
	hlist_add_head(&vsk->all_node, &mvsock_all_socks);
	spin_unlock_bh(&mvsock_table_lock);
}

void mvsock_untrack(struct mvsock_sock *vsk)
{
	spin_lock_bh(&mvsock_table_lock);
	hlist_del_init(&vsk->all_node);
	spin_unlock_bh(&mvsock_table_lock);
}
