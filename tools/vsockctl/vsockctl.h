/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vsockctl.bpf.c and vsockctl's user space share: the compiled form
 * of a rules file (docs/policy.md) as the programs read it from their
 * read-only data, the hit counters' layout and the denial records of the
 * log ring buffer.
 *
 * A rule line becomes one entry per (cid range, port range) pair of its
 * lists; the entries of one direction are scanned in file order and the
 * first match decides, so a rule's entries are contiguous and keep its
 * position.
 */
#ifndef VSOCKCTL_H
#define VSOCKCTL_H

#define VC_MAX_RULES	512	/* rule lines (allow/deny/route) */
#define VC_MAX_ENTRIES	1024	/* entries per direction (in, out, route) */
#define VC_TEXT_MAX	65536	/* the normalised rules text, with its NUL */
#define VC_SOURCE_MAX	256	/* the loaded file's name, with its NUL */

#define VC_ANY_CID	0xffffffffU	/* VMADDR_CID_ANY */
#define VC_LOCAL_CID	1U		/* VMADDR_CID_LOCAL: the loopback */

enum vc_dir {
	VC_DIR_IN,
	VC_DIR_OUT,
	VC_DIR_ROUTE,
	VC_NDIRS,
};

/* vc_entry.flags */
#define VC_E_LOCAL	0x1	/* the cid list names CID 1: local connections match */

struct vc_entry {
	__u32 cid_lo, cid_hi;		/* inclusive; 0-0xfffffffe: any */
	__u32 port_lo, port_hi;
	__u64 cgroup_id;		/* 0: any cgroup */
	__s32 dev;			/* registry id, -1: any device */
	__u16 rule;			/* index into vc_rules[] */
	__u8 cgroup_level;		/* depth of cgroup_id below the root */
	__u8 flags;			/* VC_E_* */
};

struct vc_rule_info {
	__u32 line;			/* line in the loaded file */
	__s32 verdict;			/* 0 allow, -errno deny; route: the via CID */
};

/*
 * Counters (per-CPU array "hits"): one per rule, then the defaults and
 * the log's losses.
 */
enum {
	VC_HIT_DEFAULT_IN = VC_MAX_RULES,	/* in requests no rule matched */
	VC_HIT_DEFAULT_OUT,			/* out connects no rule matched */
	VC_HIT_LOCAL,				/* local, no cid-1 rule: allowed */
	VC_HIT_LOG_LOST,			/* denials the full log dropped */
	VC_NHITS,
};

/* One denial in the ring buffer "log". */
struct vc_denial {
	__u64 boot_ns;			/* CLOCK_BOOTTIME */
	__u32 local_cid, local_port;
	__u32 peer_cid, peer_port;
	__s32 dev;			/* -1: none */
	__u32 line;			/* rule's line, 0: the default */
	__s32 err;			/* positive errno the peer or caller got */
	__u32 pid;			/* socket's owner, 0: unknown */
	__u8 dir;			/* VC_DIR_IN or VC_DIR_OUT */
	char comm[16];
};

#endif
