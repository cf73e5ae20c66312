/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsockctl's rules language (docs/policy.md): parse a rules file, print
 * it in normal form, compile it to the entries vsockctl.bpf.c scans.
 * Pure user space: no libbpf, no mvsock needed (the "via" check and the
 * cgroup lookup use what the caller passes in vc_parse_opts).
 */
#ifndef VSOCKCTL_RULES_H
#define VSOCKCTL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/types.h>

#include "vsockctl.h"

#define VC_MAX_ITEMS	64	/* items of one cid or port list */
#define VC_LINE_MAX	4096	/* bytes of one line, newline included */

struct vc_range {
	uint32_t lo, hi;	/* inclusive */
};

/* One rule line as parsed; lists sorted, overlaps and neighbours merged. */
struct vc_rule {
	unsigned int line;
	enum vc_dir dir;		/* VC_DIR_IN, VC_DIR_OUT, VC_DIR_ROUTE */
	bool deny;
	unsigned int n_cid, n_port;	/* 0: any */
	struct vc_range cid[VC_MAX_ITEMS];
	struct vc_range port[VC_MAX_ITEMS];
	int32_t dev;			/* -1: any */
	char *cgroup;			/* NULL: any; "/" or "/a/b", no trailing / */
	uint64_t cgroup_id;		/* inode of the cgroup's directory */
	unsigned int cgroup_level;	/* "/" 0, "/a" 1, "/a/b" 2 */
	int err;			/* out deny: positive errno; else 0 */
	uint32_t via;			/* route: the local device's CID */
};

struct vc_policy {
	bool default_deny;
	unsigned int default_line;	/* 0: no default line (allow) */
	unsigned int n_rules;
	struct vc_rule *rules;		/* n_rules, file order */
};

struct vc_parse_opts {
	/* where cgroup v2 is mounted (NULL: "/sys/fs/cgroup") */
	const char *cgroup_root;
	/*
	 * The CIDs of this machine's devices that "via" may name (guest and
	 * loopback devices' CIDs, 2 with a host device); NULL: no check.
	 */
	const uint32_t *local_cids;
	unsigned int n_local_cids;
	/* warnings ("NAME:LINE: warning: ..."), NULL: not printed */
	FILE *warn;
};

/* What the programs read (their .rodata) */
struct vc_compiled {
	bool default_deny;
	unsigned int n_rules;
	unsigned int n[VC_NDIRS];
	struct vc_entry entry[VC_NDIRS][VC_MAX_ENTRIES];
	struct vc_rule_info info[VC_MAX_RULES];
};

/*
 * Parse @in (named @name in messages, "-": "<stdin>"). Returns 0, or -1
 * with "NAME:LINE: message" (no newline) in @err: the first error; @p is
 * then empty. Free @p with vc_policy_free().
 */
int vc_parse(FILE *in, const char *name, const struct vc_parse_opts *o,
	     struct vc_policy *p, char *err, size_t errlen);

void vc_policy_free(struct vc_policy *p);

/*
 * The normal form: "default allow|deny" on the first line, then rule i on
 * line i + 2, clauses in the order of the grammar, "any" and defaults
 * left out, lists sorted and merged; it parses back to the same policy.
 * Returns the length written (without NUL), or -1 when @len is too small.
 */
int vc_format(const struct vc_policy *p, char *buf, size_t len);

/* rule @r alone on one line (no newline), as in vc_format() */
int vc_format_rule(const struct vc_rule *r, char *buf, size_t len);

/*
 * Entries for the programs. Returns 0, or -1 with "NAME:LINE: message"
 * in @err when a limit (VC_MAX_RULES, VC_MAX_ENTRIES, VC_TEXT_MAX for
 * the normal form with its NUL) is exceeded.
 */
int vc_compile(const struct vc_policy *p, const char *name,
	       struct vc_compiled *c, char *err, size_t errlen);

/* "ECONNREFUSED" for 111, NULL for an errno without a name */
const char *vc_errno_name(int err);

#endif
