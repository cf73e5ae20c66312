// SPDX-License-Identifier: GPL-2.0
/*
 * host_policy: on a host, each guest CID may reach only the host ports
 * listed for it in the map "allow" (filled by the loader); other
 * connection requests from guests are refused (the guest gets RST) and
 * logged to the ring buffer "denials". Connections from this machine
 * itself (loopback, CID 1) are not filtered.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mvsock_bpf.h"
#include "host_policy.h"

#define ECONNREFUSED 111	/* <errno.h> is not for BPF programs */

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HP_MAX_RULES);
	__type(key, struct hp_key);
	__type(value, __u8);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} denials SEC(".maps");

SEC("struct_ops/hp_accept")
int BPF_PROG(hp_accept, struct sock *sk)
{
	struct hp_key key = {
		.cid = bpf_mvsock_peer_cid(sk),
		.port = bpf_mvsock_local_port(sk),
	};
	struct hp_denial *d;

	/* only requests from guests: CIDs 0-2 are hypervisor, local, host */
	if (key.cid <= MVSOCK_CID_HOST || bpf_map_lookup_elem(&allow, &key))
		return 0;
	d = bpf_ringbuf_reserve(&denials, sizeof(*d), 0);
	if (d) {
		d->cid = key.cid;
		d->port = key.port;
		d->peer_port = bpf_mvsock_peer_port(sk);
		d->dev_id = bpf_mvsock_dev_id(sk);
		d->cgroup_id = bpf_mvsock_cgroup_id();
		bpf_ringbuf_submit(d, 0);
	}
	return -ECONNREFUSED;
}

SEC(".struct_ops.link")
struct mvsock_bpf_ops host_policy = {
	.accept = (void *)hp_accept,
	.name = "host_policy",
};
