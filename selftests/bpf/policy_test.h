/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by policy_test.bpf.c and policy_test.c: what the hooks of the
 * test sets saw through the kfuncs, and the last policy event per hook.
 */
#ifndef POLICY_TEST_H
#define POLICY_TEST_H

enum pt_hook { PT_CONNECT, PT_ACCEPT, PT_ROUTE, PT_NR };

/* one hook call, as the kfuncs describe its socket */
struct pt_seen {
	__u32 calls;
	__u32 local_cid;
	__u32 local_port;
	__u32 peer_cid;
	__u32 peer_port;
	__s32 dev_id;
	__u32 dev_cid;
	__u32 peer_credit;
	__u64 cgroup_id;
};

/* the last mvsock_policy event of the test's ports, per hook */
struct pt_event {
	__u32 count;
	__s32 verdict;
	__s32 dev_id;
	__u32 local_cid;
	__u32 peer_cid;
	__u32 peer_port;
	__u32 local_port;
};

#endif
