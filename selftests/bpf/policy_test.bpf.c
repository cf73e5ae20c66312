// SPDX-License-Identifier: GPL-2.0
/*
 * Programs of policy_test: two well-behaved mvsock_bpf_ops sets (pt_a and
 * pt_b, for attach, swap and detach), one that returns bad values
 * (pt_bad), and a tp_btf program on mvsock_policy that keeps the last
 * event of the test's ports per hook. User space sets the knobs below
 * through the skeleton. Hooks only act on ports in [port_lo, port_hi],
 * so other traffic in the VM is left alone.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mvsock_bpf.h"
#include "policy_test.h"

char LICENSE[] SEC("license") = "GPL";

__u32 port_lo, port_hi;
__u32 connect_port;	/* connect to this port: connect_ret */
int connect_ret;
__u32 accept_port;	/* REQUEST to this port: accept_ret */
int accept_ret;
__u32 route_port;	/* unbound connect to this port: route_cid */
__u32 route_cid = MVSOCK_ROUTE_DEFAULT;

struct pt_seen seen[PT_NR];
__u32 calls_a, calls_b;
struct pt_event events[PT_NR];

static __always_inline bool ours(__u32 port)
{
	return port >= port_lo && port <= port_hi;
}

static __always_inline void record(enum pt_hook h, struct sock *sk)
{
	struct pt_seen *s = &seen[h];

	s->local_cid = bpf_mvsock_local_cid(sk);
	s->local_port = bpf_mvsock_local_port(sk);
	s->peer_cid = bpf_mvsock_peer_cid(sk);
	s->peer_port = bpf_mvsock_peer_port(sk);
	s->dev_id = bpf_mvsock_dev_id(sk);
	s->dev_cid = bpf_mvsock_dev_cid(sk);
	s->peer_credit = bpf_mvsock_peer_credit(sk);
	s->cgroup_id = bpf_mvsock_cgroup_id();
	__sync_fetch_and_add(&s->calls, 1);
}

static __always_inline int do_connect(struct sock *sk)
{
	__u32 port = bpf_mvsock_peer_port(sk);

	if (!ours(port))
		return 0;
	record(PT_CONNECT, sk);
	return port == connect_port ? connect_ret : 0;
}

static __always_inline int do_accept(struct sock *sk)
{
	__u32 port = bpf_mvsock_local_port(sk);

	if (!ours(port))
		return 0;
	record(PT_ACCEPT, sk);
	return port == accept_port ? accept_ret : 0;
}

static __always_inline __u32 do_route(struct sock *sk, __u32 peer_port)
{
	if (!ours(peer_port))
		return MVSOCK_ROUTE_DEFAULT;
	__sync_fetch_and_add(&seen[PT_ROUTE].calls, 1);
	seen[PT_ROUTE].local_cid = bpf_mvsock_local_cid(sk);
	return peer_port == route_port ? route_cid : MVSOCK_ROUTE_DEFAULT;
}

SEC("struct_ops/a_connect")
int BPF_PROG(a_connect, struct sock *sk)
{
	__sync_fetch_and_add(&calls_a, 1);
	return do_connect(sk);
}

SEC("struct_ops/a_accept")
int BPF_PROG(a_accept, struct sock *sk)
{
	return do_accept(sk);
}

SEC("struct_ops/a_route")
__u32 BPF_PROG(a_route, struct sock *sk, __u32 peer_cid, __u32 peer_port)
{
	return do_route(sk, peer_port);
}

SEC("struct_ops/b_connect")
int BPF_PROG(b_connect, struct sock *sk)
{
	__sync_fetch_and_add(&calls_b, 1);
	return do_connect(sk);
}

/*
 * pt_bad: an errno out of range (connect_port), a positive verdict
 * (connect_port + 1), a refusal that is no errno, a CID that is not ours
 */
SEC("struct_ops/bad_connect")
int BPF_PROG(bad_connect, struct sock *sk)
{
	__u32 port = bpf_mvsock_peer_port(sk);

	if (port == connect_port)
		return -1000;
	return port == connect_port + 1 ? 1 : 0;
}

SEC("struct_ops/bad_accept")
int BPF_PROG(bad_accept, struct sock *sk)
{
	return ours(bpf_mvsock_local_port(sk)) ? 7 : 0;
}

SEC("struct_ops/bad_route")
__u32 BPF_PROG(bad_route, struct sock *sk, __u32 peer_cid, __u32 peer_port)
{
	return ours(peer_port) ? 77777 : MVSOCK_ROUTE_DEFAULT;
}

SEC(".struct_ops.link")
struct mvsock_bpf_ops pt_a = {
	.connect = (void *)a_connect,
	.accept = (void *)a_accept,
	.route = (void *)a_route,
	.name = "pt_a",
};

SEC(".struct_ops.link")
struct mvsock_bpf_ops pt_b = {
	.connect = (void *)b_connect,
	.accept = (void *)a_accept,
	.route = (void *)a_route,
	.name = "pt_b",
};

SEC(".struct_ops.link")
struct mvsock_bpf_ops pt_bad = {
	.connect = (void *)bad_connect,
	.accept = (void *)bad_accept,
	.route = (void *)bad_route,
	.name = "pt_bad",
};

SEC("tp_btf/mvsock_policy")
int BPF_PROG(on_policy, const struct sock *sk, u32 peer_cid, u32 peer_port,
	     u32 local_port, const char *hook, int verdict, s32 dev_id,
	     u32 local_cid)
{
	struct pt_event *e;
	char h[8] = {};

	if (!ours(peer_port) && !ours(local_port))
		return 0;
	bpf_probe_read_kernel_str(h, sizeof(h), hook);
	if (h[0] == 'c')
		e = &events[PT_CONNECT];
	else if (h[0] == 'a')
		e = &events[PT_ACCEPT];
	else
		e = &events[PT_ROUTE];
	e->verdict = verdict;
	e->dev_id = dev_id;
	e->local_cid = local_cid;
	e->peer_cid = peer_cid;
	e->peer_port = peer_port;
	e->local_port = local_port;
	__sync_fetch_and_add(&e->count, 1);
	return 0;
}

/* kfuncs from a tracing program: the socket of every state change */
struct pt_seen traced;

SEC("tp_btf/mvsock_sock_state")
int BPF_PROG(on_state, const struct sock *sk, int old, int new)
{
	struct sock *s = (struct sock *)sk;

	/* raw tracepoint arguments may be NULL as far as the verifier knows */
	if (!s || new != 1 /* TCP_ESTABLISHED */ || !ours(bpf_mvsock_local_port(s)))
		return 0;
	traced.local_cid = bpf_mvsock_local_cid(s);
	traced.local_port = bpf_mvsock_local_port(s);
	traced.peer_cid = bpf_mvsock_peer_cid(s);
	traced.peer_port = bpf_mvsock_peer_port(s);
	traced.dev_id = bpf_mvsock_dev_id(s);
	traced.dev_cid = bpf_mvsock_dev_cid(s);
	__sync_fetch_and_add(&traced.calls, 1);
	return 0;
}

/*
 * Must not load (autoload off; policy_test turns one on at a time): the
 * kfuncs want a trusted socket, and neither an fentry argument nor a
 * tp_btf argument without a NULL check is one.
 */
SEC("?fentry/mvsock_set_state")
int BPF_PROG(bad_untrusted, struct sock *sk, int state)
{
	return bpf_mvsock_dev_id(sk);
}

SEC("?tp_btf/mvsock_sock_state")
int BPF_PROG(bad_maybe_null, const struct sock *sk, int old, int new)
{
	return bpf_mvsock_dev_id((struct sock *)sk);
}
