// SPDX-License-Identifier: GPL-2.0
/*
 * route_policy: an unbound socket connecting to a host port listed in
 * the map "routes" leaves through the device whose local CID the map
 * gives; everything else follows the default rules. Sockets bound to a
 * CID are never asked (the kernel routes them by their CID).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mvsock_bpf.h"
#include "route_policy.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RP_MAX_ROUTES);
	__type(key, __u32);	/* host port */
	__type(value, __u32);	/* local CID */
} routes SEC(".maps");

__u64 routed;

SEC("struct_ops/rp_route")
__u32 BPF_PROG(rp_route, struct sock *sk, __u32 peer_cid, __u32 peer_port)
{
	__u32 *cid;

	if (peer_cid != MVSOCK_CID_HOST)
		return MVSOCK_ROUTE_DEFAULT;
	cid = bpf_map_lookup_elem(&routes, &peer_port);
	if (!cid)
		return MVSOCK_ROUTE_DEFAULT;
	__sync_fetch_and_add(&routed, 1);
	return *cid;
}

SEC(".struct_ops.link")
struct mvsock_bpf_ops route_policy = {
	.route = (void *)rp_route,
	.name = "route_policy",
};
