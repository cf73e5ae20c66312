/* SPDX-License-Identifier: GPL-2.0 */
/*
 * host_policy: shared by host_policy.bpf.c and its loader host_policy.c.
 * The allow map: (guest CID, host port) -> 1. A denial on the ring buffer.
 */
#ifndef HOST_POLICY_H
#define HOST_POLICY_H

#define HP_MAX_RULES 4096

struct hp_key {
	__u32 cid;
	__u32 port;
};

struct hp_denial {
	__u64 cgroup_id;	/* 0: decided in the receive path */
	__u32 cid;
	__u32 port;
	__u32 peer_port;
	__s32 dev_id;
};

#endif
