/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test-only raw device for mvsock: /dev/mvsock-rawdev lets a user-space
 * program play the peer of an mvsock device, writing raw virtio-vsock
 * packets (header + payload) that the core receives and reading the
 * packets the core sends. Never load it outside tests.
 */
#ifndef _MVSOCK_RAWDEV_H
#define _MVSOCK_RAWDEV_H

#include <linux/types.h>
#include <linux/ioctl.h>

struct mvsock_rawdev_cfg {
	__u32 role;	/* 1 = guest (we are @cid), 2 = host (peer is @cid) */
	__u32 cid;
	__u32 max_queue; /* packets queued for reading before drops; 0 = 1024 */
	__u32 flags;	/* MVSOCK_RAWDEV_F_* */
	__u32 priority;	/* with MVSOCK_RAWDEV_F_PRIORITY: as the virtio bit */
	__u32 pad;
};

/* the device has a priority (as MVSOCK_VIRTIO_F_PRIORITY would give) */
#define MVSOCK_RAWDEV_F_PRIORITY	(1U << 0)

struct mvsock_rawdev_stats {
	__u64 tx_pkts;	/* sent by the core */
	__u64 rx_pkts;	/* received by the core */
	__u64 rx_bad;	/* rejected by the core's header checks */
	__u64 rx_dropped;
	__u64 rst_sent;
	__u64 queue_drops; /* core packets dropped: reader too slow */
	__u32 dev_id;
	__u32 queued;
};

#define MVSOCK_RAWDEV_START	_IOW('M', 1, struct mvsock_rawdev_cfg)
#define MVSOCK_RAWDEV_STATS	_IOR('M', 2, struct mvsock_rawdev_stats)
#define MVSOCK_RAWDEV_STOP	_IO('M', 3)
/* the device's CID changes, as after a virtio TRANSPORT_RESET */
#define MVSOCK_RAWDEV_SET_CID	_IOW('M', 4, __u32)

#endif
