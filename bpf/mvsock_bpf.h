/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For BPF programs on mvsock (include after vmlinux.h): the kfuncs of
 * mvsock.ko and the values of the struct_ops hooks (docs/bpf.md).
 * struct mvsock_bpf_ops itself comes from vmlinux.h (module BTF).
 */
#ifndef MVSOCK_BPF_H
#define MVSOCK_BPF_H

#define MVSOCK_CID_ANY		0xffffffffU	/* VMADDR_CID_ANY */
#define MVSOCK_PORT_ANY		0xffffffffU	/* VMADDR_PORT_ANY */
#define MVSOCK_CID_HOST		2U
/* route: "use the default rules" */
#define MVSOCK_ROUTE_DEFAULT	MVSOCK_CID_ANY
/*
 * connect/accept verdicts beyond -MVSOCK_ERRNO_MAX become -EPERM: the
 * uapi MVSOCK_BPF_ERRNO_MAX, through mvsock.ko's BTF (enum
 * mvsock_bpf_limits in vmlinux.h)
 */
#define MVSOCK_ERRNO_MAX	MVSOCK_BPF_ERRNO_LAST

u32 bpf_mvsock_local_cid(struct sock *sk) __ksym;
u32 bpf_mvsock_local_port(struct sock *sk) __ksym;
u32 bpf_mvsock_peer_cid(struct sock *sk) __ksym;
u32 bpf_mvsock_peer_port(struct sock *sk) __ksym;
s32 bpf_mvsock_dev_id(struct sock *sk) __ksym;
u32 bpf_mvsock_dev_cid(struct sock *sk) __ksym;
u32 bpf_mvsock_peer_credit(struct sock *sk) __ksym;
u64 bpf_mvsock_cgroup_id(void) __ksym;
u32 bpf_mvsock_owner_pid(struct sock *sk) __ksym;
int bpf_mvsock_owner_comm(struct sock *sk, char *buf, u32 buf__sz) __ksym;

#endif
