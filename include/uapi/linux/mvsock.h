/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mvsock user API additions to <linux/vm_sockets.h>.
 *
 * IOCTL_MVSOCK_LIST_CIDS, on /dev/vsock or on an AF_VSOCK socket, lists
 * every local endpoint: each device's CID, registry id, role and whether
 * it is the default device for unbound guest-to-host connections.
 *
 * Usage: allocate a struct mvsock_cid_list followed by @count entries,
 * set @count (and @reserved to 0), call the ioctl. On return @count is
 * the number of entries written and @total the number of devices (which
 * may exceed @count: call again with a larger buffer).
 */
#ifndef _UAPI_LINUX_MVSOCK_H
#define _UAPI_LINUX_MVSOCK_H

#include <linux/types.h>
#include <linux/ioctl.h>

enum mvsock_role {
	MVSOCK_ROLE_ID_LOCAL = 0,	/* loopback device, CID 1 */
	MVSOCK_ROLE_ID_GUEST = 1,	/* guest virtio-vsock device */
	MVSOCK_ROLE_ID_HOST = 2,	/* host vhost-vsock instance */
};

#define MVSOCK_CID_F_DEFAULT	(1U << 0)

struct mvsock_cid_entry {
	__u32 cid;	/* local CID of the endpoint (host: 2) */
	__u32 dev_id;	/* registry id */
	__u32 role;	/* enum mvsock_role */
	__u32 flags;	/* MVSOCK_CID_F_* */
	__u32 peer_cid;	/* host role: the guest's CID; else 0 */
	__u32 pad;
};

struct mvsock_cid_list {
	__u32 count;	/* in: room for entries; out: entries written */
	__u32 total;	/* out: number of devices */
	__u32 reserved;	/* must be 0 */
	__u32 pad;
	struct mvsock_cid_entry entries[];
};

/* Same ioctl type as IOCTL_VM_SOCKETS_GET_LOCAL_CID (7, 0xb9). */
#define IOCTL_MVSOCK_LIST_CIDS	_IOWR(7, 0xc0, struct mvsock_cid_list)

/*
 * sock_diag additions. Set MVSOCK_DIAG_SHOW_INFO in the request's
 * vdiag_show (struct vsock_diag_req, <linux/vm_sockets_diag.h>) and every
 * struct vsock_diag_msg of the dump is followed by a netlink attribute
 * MVSOCK_DIAG_INFO carrying a struct mvsock_diag_info: the socket's queue,
 * credit, byte counts and owner, as INET_DIAG_INFO carries struct
 * tcp_info. The stock vsock_diag ignores vdiag_show: no attribute, so a
 * reader knows it talks to the stock stack. Fields are only ever
 * appended; a reader takes what the attribute's length covers.
 *
 * The values are sampled without the socket lock: each is a value the
 * socket had, but two fields may come from moments a packet apart.
 */
#define MVSOCK_DIAG_SHOW_INFO	(1U << 0)

enum {
	MVSOCK_DIAG_NONE,
	MVSOCK_DIAG_INFO,	/* struct mvsock_diag_info */
	__MVSOCK_DIAG_MAX,
};

#define MVSOCK_DIAG_F_STALLED		(1U << 0) /* a sender waits for credit */
#define MVSOCK_DIAG_F_CREDIT_REQUESTED	(1U << 1) /* CREDIT_REQUEST unanswered */

struct mvsock_diag_info {
	__s32 dev_id;		/* the socket's device (registry id), -1: none */
	__u32 src_cid;		/* source CID of the socket's packets */
	__u32 rx_queued;	/* bytes queued for the application to read */
	__u32 tx_queued;	/* bytes sent, not yet consumed by the device */
	__u32 buf_alloc;	/* our receive buffer, as advertised */
	__u32 fwd_cnt;		/* bytes the application consumed (mod 2^32) */
	__u32 peer_buf_alloc;	/* the peer's receive buffer */
	__u32 peer_fwd_cnt;	/* bytes the peer consumed, as it last said */
	__u32 tx_cnt;		/* bytes we sent (mod 2^32) */
	__u32 peer_credit;	/* bytes we may send now (the engine's bound) */
	__u32 flags;		/* MVSOCK_DIAG_F_* */
	__s32 owner_pid;	/* tgid that created or accepted it, 0: none */
	__u64 stall_ns;		/* stalled: how long so far (CLOCK_MONOTONIC) */
	char owner_comm[16];	/* that task's comm */
	__u64 bytes_sent;	/* payload bytes sent since the socket was made */
	__u64 bytes_received;	/* payload bytes received (queued) likewise */
	__u64 created_ns;	/* when the socket was made (CLOCK_MONOTONIC) */
};

/*
 * BPF hooks (struct mvsock_bpf_ops): a connect or accept verdict from -1
 * to -MVSOCK_BPF_ERRNO_MAX (-EHWPOISON, the last errno user space knows)
 * is the errno the caller gets; any other non-zero verdict becomes -EPERM.
 */
#define MVSOCK_BPF_ERRNO_MAX	133

/*
 * Proposed virtio-vsock feature bit (not in the virtio spec): the device
 * config space carries a __le32 priority after guest_cid; among devices
 * offering it the lowest priority becomes the default device. Bits 0-2
 * are the spec's, bit 3 is used by the virtio DGRAM proposal.
 */
#define MVSOCK_VIRTIO_F_PRIORITY	8

#endif /* _UAPI_LINUX_MVSOCK_H */
