// SPDX-License-Identifier: GPL-2.0
/*
 * vsockctl's policy programs: the mvsock_bpf_ops set "vsockctl" that
 * `vsockctl policy load` attaches and pins. The rules are compiled into
 * the read-only data below (tools/vsockctl/rules.c); each hook scans its
 * direction's entries in file order and the first match decides:
 *
 *   accept  "in" rules: peer CID, local port, device
 *   connect "out" rules: peer CID and port, device, the caller's cgroup
 *   route   "route" rules: peer CID and port -> a local device's CID
 *
 * Connections over the loopback device count as CID 1 and match only
 * entries whose cid list names 1 (VC_E_LOCAL); without such a match they
 * are allowed. Every verdict of a rule, and of the default, counts in
 * "hits"; denials go to the ring buffer "denials" (vsockctl policy log).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mvsock_bpf.h"
#include "vsockctl.h"

#define ECONNREFUSED 111	/* <errno.h> is not for BPF programs */

char LICENSE[] SEC("license") = "GPL";

/* the compiled rules (struct vc_compiled in rules.h, field by field) */
const volatile bool vc_default_deny;
const volatile __u32 vc_n[VC_NDIRS];
const volatile struct vc_entry vc_entries[VC_NDIRS][VC_MAX_ENTRIES];
const volatile struct vc_rule_info vc_rules[VC_MAX_RULES];
/* for `vsockctl policy show` only: the rules in normal form, their file */
const volatile char vc_text[VC_TEXT_MAX];
const volatile char vc_source[VC_SOURCE_MAX];
const volatile __u64 vc_loaded_at;		/* CLOCK_REALTIME, seconds */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VC_NHITS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} denials SEC(".maps");

/* what a hook matches on */
struct vc_conn {
	__u32 cid, port;
	__s32 dev;
	bool local;
};

static void vc_count(__u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &idx);

	if (n)
		*n += 1;
}

static bool vc_cgroup_ok(const volatile struct vc_entry *e)
{
	if (!e->cgroup_id)
		return true;
	return bpf_get_current_ancestor_cgroup_id(e->cgroup_level) == e->cgroup_id;
}

/* ports first: most rules name one, so most entries fail there */
static bool vc_match(const volatile struct vc_entry *e, const struct vc_conn *c)
{
	if (c->port < e->port_lo || c->port > e->port_hi)
		return false;
	if (c->local && !(e->flags & VC_E_LOCAL))
		return false;
	if (c->cid < e->cid_lo || c->cid > e->cid_hi)
		return false;
	if (e->dev >= 0 && e->dev != c->dev)
		return false;
	return vc_cgroup_ok(e);
}

/* index of the first rule of @dir matching @c, -1: none */
static int vc_lookup(enum vc_dir dir, const struct vc_conn *c)
{
	__u32 n = vc_n[dir];
	int i;

	if (n > VC_MAX_ENTRIES)
		n = VC_MAX_ENTRIES;
	bpf_for(i, 0, n) {
		const volatile struct vc_entry *e = &vc_entries[dir][i];

		if (vc_match(e, c))
			return e->rule;
	}
	return -1;
}

/* @rule from vc_lookup() as an index into vc_rules[], -1: none */
static int vc_rule_index(int rule)
{
	/* the verifier must see the bound: keep the compiler from folding it */
	barrier_var(rule);
	return rule >= 0 && rule < VC_MAX_RULES ? rule : -1;
}

static void vc_log_denial(struct sock *sk, enum vc_dir dir, const struct vc_conn *c,
		   __u32 line, int err)
{
	struct vc_denial *d = bpf_ringbuf_reserve(&denials, sizeof(*d), 0);

	if (!d) {
		vc_count(VC_HIT_LOG_LOST);
		return;
	}
	d->boot_ns = bpf_ktime_get_boot_ns();
	d->local_cid = bpf_mvsock_local_cid(sk);
	d->local_port = bpf_mvsock_local_port(sk);
	d->peer_cid = bpf_mvsock_peer_cid(sk);
	d->peer_port = bpf_mvsock_peer_port(sk);
	d->dev = c->dev;
	d->line = line;
	d->err = err;
	d->pid = bpf_mvsock_owner_pid(sk);
	d->dir = dir;
	bpf_mvsock_owner_comm(sk, d->comm, sizeof(d->comm));
	bpf_ringbuf_submit(d, 0);
}

/* the verdict of @dir's rules for @c: 0 or -errno */
static int vc_decide(struct sock *sk, enum vc_dir dir, struct vc_conn *c)
{
	int rule, verdict;
	__u32 line = 0;

	c->dev = bpf_mvsock_dev_id(sk);
	/* the loopback device's CID is 1 (docs/bpf.md) */
	c->local = bpf_mvsock_dev_cid(sk) == VC_LOCAL_CID;
	if (c->local)
		c->cid = VC_LOCAL_CID;
	rule = vc_rule_index(vc_lookup(dir, c));
	if (rule >= 0) {
		vc_count(rule);
		verdict = vc_rules[rule].verdict;
		line = vc_rules[rule].line;
	} else if (c->local) {
		vc_count(VC_HIT_LOCAL);
		return 0;
	} else {
		vc_count(dir == VC_DIR_IN ? VC_HIT_DEFAULT_IN : VC_HIT_DEFAULT_OUT);
		verdict = vc_default_deny ? -ECONNREFUSED : 0;
	}
	if (verdict)
		vc_log_denial(sk, dir, c, line, -verdict);
	return verdict;
}

SEC("struct_ops/vc_accept")
int BPF_PROG(vc_accept, struct sock *sk)
{
	struct vc_conn c = {
		.cid = bpf_mvsock_peer_cid(sk),
		.port = bpf_mvsock_local_port(sk),
	};
	int verdict = vc_decide(sk, VC_DIR_IN, &c);

	/* the peer gets RST whatever the errno: keep it plain */
	return verdict ? -ECONNREFUSED : 0;
}

SEC("struct_ops/vc_connect")
int BPF_PROG(vc_connect, struct sock *sk)
{
	struct vc_conn c = {
		.cid = bpf_mvsock_peer_cid(sk),
		.port = bpf_mvsock_peer_port(sk),
	};

	return vc_decide(sk, VC_DIR_OUT, &c);
}

SEC("struct_ops/vc_route")
__u32 BPF_PROG(vc_route, struct sock *sk, __u32 peer_cid, __u32 peer_port)
{
	struct vc_conn c = {
		.cid = peer_cid,
		.port = peer_port,
		.dev = -1,
		.local = peer_cid == VC_LOCAL_CID,
	};
	int rule;

	if (!vc_n[VC_DIR_ROUTE])
		return MVSOCK_ROUTE_DEFAULT;
	rule = vc_rule_index(vc_lookup(VC_DIR_ROUTE, &c));
	if (rule < 0)
		return MVSOCK_ROUTE_DEFAULT;
	vc_count(rule);
	return vc_rules[rule].verdict;
}

SEC(".struct_ops.link")
struct mvsock_bpf_ops vsockctl = {
	.accept = (void *)vc_accept,
	.connect = (void *)vc_connect,
	.route = (void *)vc_route,
	.name = "vsockctl",
};
