// SPDX-License-Identifier: GPL-2.0
/*
 * vsockctl's rules language (docs/policy.md): the parser, the normal form
 * and the compiler to the entries of vsockctl.bpf.c.
 *
 *   # comment (also after a rule)
 *   default allow|deny
 *   allow|deny in|out [cid SPEC] [port SPEC] [dev ID] [cgroup PATH] [errno NAME]
 *   route port SPEC [cid SPEC] via CID
 *
 * One line at a time, first error wins: every message is
 * "NAME:LINE: text", with the file's bytes quoted printable (\xNN).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/mvsock.h>

#include "rules.h"
#include "../lib/num.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define VC_VAL_MAX	0xfffffffeU	/* largest CID and port: ANY is not one */
#define VC_DEV_MAX	2147483647U
#define VC_ERRNO_MAX	MVSOCK_BPF_ERRNO_MAX	/* EHWPOISON */
#define VC_LEVEL_MAX	255		/* vc_entry.cgroup_level is a __u8 */
#define VC_CGROUP2_MAGIC 0x63677270	/* CGROUP2_SUPER_MAGIC */
#define VC_QUOTE_MAX	64		/* bytes of a token quoted in a message */
#define VC_DEFAULT_ROOT	"/sys/fs/cgroup"

/* the clauses of a rule, in the order of the normal form */
enum {
	VC_CL_CID,
	VC_CL_PORT,
	VC_CL_DEV,
	VC_CL_CGROUP,
	VC_CL_ERRNO,
	VC_CL_VIA,
	VC_NCLAUSES,
};

static const char *const vc_clause_names[VC_NCLAUSES] = {
	"cid", "port", "dev", "cgroup", "errno", "via",
};

static const char *const vc_dir_names[VC_NDIRS] = { "in", "out", "route" };

struct vc_parser {
	FILE *in;
	const char *name;
	const struct vc_parse_opts *o;
	struct vc_policy *p;
	char *err;
	size_t errlen;
	unsigned int line;
	unsigned int cap;		/* rules allocated in p->rules */
	bool cgroup_checked;		/* the root is a cgroup2 mount */
	unsigned int ntok;
	char *tok[VC_LINE_MAX / 2 + 1];
	char buf[VC_LINE_MAX + 1];
	char fmt[VC_LINE_MAX];		/* a rule in normal form */
	unsigned int qi;
	char q[2][VC_QUOTE_MAX * 4 + 4];
};

/* ---- messages ------------------------------------------------------------ */

static const char *vc_display_name(const char *name)
{
	return strcmp(name, "-") ? name : "<stdin>";
}

static void vc_verror(char *err, size_t errlen, const char *name,
		      unsigned int line, const char *fmt, va_list ap)
{
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "%s:%u: ", vc_display_name(name), line);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
}

__attribute__((format(printf, 5, 6)))
static void vc_error(char *err, size_t errlen, const char *name,
		     unsigned int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vc_verror(err, errlen, name, line, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static int vc_fail(struct vc_parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vc_verror(ps->err, ps->errlen, ps->name, ps->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* @len bytes of @s for a message: printable ASCII, the rest \xNN, cut */
static const char *vc_qn(struct vc_parser *ps, const char *s, size_t len)
{
	char *d = ps->q[ps->qi++ & 1];
	size_t i, k = 0;

	for (i = 0; i < len && i < VC_QUOTE_MAX; i++) {
		unsigned char c = s[i];

		if (c > ' ' && c < 0x7f)
			d[k++] = c;
		else
			k += sprintf(d + k, "\\x%02x", c);
	}
	if (len > VC_QUOTE_MAX) {
		memcpy(d + k, "...", 3);
		k += 3;
	}
	d[k] = '\0';
	return d;
}

static const char *vc_q(struct vc_parser *ps, const char *s)
{
	return vc_qn(ps, s, strlen(s));
}

/* ---- lines and tokens ---------------------------------------------------- */

/* 1: a line in ps->buf, 0: end of file, -1: error */
static int vc_read_line(struct vc_parser *ps)
{
	size_t n = 0;
	int c;

	ps->line++;
	while ((c = getc(ps->in)) != EOF && c != '\n') {
		if (c == '\0')
			return vc_fail(ps, "NUL byte");
		if (n == VC_LINE_MAX - 1)
			return vc_fail(ps, "line too long (limit %d bytes)",
				       VC_LINE_MAX - 1);
		ps->buf[n++] = c;
	}
	if (ferror(ps->in))
		return vc_fail(ps, "read error: %s", strerror(errno));
	if (c == EOF && n == 0)
		return 0;
	if (n && ps->buf[n - 1] == '\r')
		n--;
	ps->buf[n] = '\0';
	return 1;
}

static bool vc_is_sep(char c)
{
	return c == ' ' || c == '\t';
}

/* split ps->buf at spaces and tabs, up to a '#' */
static void vc_tokenize(struct vc_parser *ps)
{
	char *s = ps->buf;

	ps->ntok = 0;
	for (;;) {
		while (vc_is_sep(*s))
			s++;
		if (!*s || *s == '#')
			return;
		ps->tok[ps->ntok++] = s;
		while (*s && !vc_is_sep(*s) && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			return;
		}
		if (*s)
			*s++ = '\0';
	}
}

/* ---- values -------------------------------------------------------------- */

/*
 * A decimal number of @len bytes: digits only, no leading zero. Values
 * above UINT32_MAX come back as UINT64_MAX.
 */
/* a decimal number without leading zeros, at most @max */
static int vc_parse_bounded(struct vc_parser *ps, const char *s, size_t len,
			    const char *what, uint64_t max, uint32_t *v)
{
	uint64_t x;
	int err = -EINVAL;

	if (len == 1 || (len > 1 && s[0] != '0'))
		err = num_u64n(s, len, 10, 0, max, &x);
	if (err == -EINVAL)
		return vc_fail(ps, "bad number %s", vc_qn(ps, s, len));
	if (err)
		return vc_fail(ps, "%s out of range: %s", what, vc_qn(ps, s, len));
	*v = x;
	return 0;
}

/* one item of a list: N or A-B */
static int vc_parse_item(struct vc_parser *ps, const char *s, size_t len,
			 const char *what, struct vc_range *r)
{
	const char *dash = memchr(s, '-', len);
	size_t lo_len, hi_len;

	if (!dash || dash == s) {
		if (vc_parse_bounded(ps, s, len, what, VC_VAL_MAX, &r->lo))
			return -1;
		r->hi = r->lo;
		return 0;
	}
	lo_len = dash - s;
	hi_len = len - lo_len - 1;
	if (!hi_len || memchr(dash + 1, '-', hi_len))
		return vc_fail(ps, "bad range %s", vc_qn(ps, s, len));
	if (vc_parse_bounded(ps, s, lo_len, what, VC_VAL_MAX, &r->lo) ||
	    vc_parse_bounded(ps, dash + 1, hi_len, what, VC_VAL_MAX, &r->hi))
		return -1;
	if (r->lo > r->hi)
		return vc_fail(ps, "reversed range %s", vc_qn(ps, s, len));
	return 0;
}

static int vc_cmp_range(const void *a, const void *b)
{
	const struct vc_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* sort, merge overlapping and adjacent ranges; the new count */
static unsigned int vc_merge(struct vc_range *r, unsigned int n)
{
	unsigned int i, k = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), vc_cmp_range);
	for (i = 1; i < n; i++) {
		if ((uint64_t)r[i].lo <= (uint64_t)r[k].hi + 1) {
			if (r[i].hi > r[k].hi)
				r[k].hi = r[i].hi;
		} else {
			r[++k] = r[i];
		}
	}
	return k + 1;
}

/* SPEC: any, or N, A-B, and comma-separated lists of them; 0 items: any */
static int vc_parse_spec(struct vc_parser *ps, const char *s, const char *what,
			 struct vc_range *out, unsigned int *n)
{
	const char *item = s;
	unsigned int k = 0;

	*n = 0;
	if (!strcmp(s, "any"))
		return 0;
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);

		if (!len)
			return vc_fail(ps, "empty item in list %s", vc_q(ps, s));
		if (len == 3 && !memcmp(item, "any", 3))
			return vc_fail(ps, "any cannot be part of a list");
		if (k == VC_MAX_ITEMS)
			return vc_fail(ps, "too many items in list (limit %d)",
				       VC_MAX_ITEMS);
		if (vc_parse_item(ps, item, len, what, &out[k]))
			return -1;
		k++;
		if (!comma)
			break;
		item = comma + 1;
	}
	k = vc_merge(out, k);
	if (k == 1 && out[0].lo == 0 && out[0].hi == VC_VAL_MAX)
		k = 0;
	*n = k;
	return 0;
}

/* a value that must be one number: dev ID, via CID */
static bool vc_is_list_or_range(const char *s)
{
	return strchr(s, ',') || (s[0] != '-' && strchr(s, '-')) ||
	       !strcmp(s, "any");
}

static int vc_parse_dev(struct vc_parser *ps, struct vc_rule *r, const char *s)
{
	uint32_t v;

	if (vc_is_list_or_range(s))
		return vc_fail(ps, "dev takes a single number");
	if (vc_parse_bounded(ps, s, strlen(s), "dev", VC_DEV_MAX, &v))
		return -1;
	r->dev = v;
	return 0;
}

static bool vc_is_local_cid(const struct vc_parse_opts *o, uint32_t cid)
{
	unsigned int i;

	for (i = 0; i < o->n_local_cids; i++)
		if (o->local_cids[i] == cid)
			return true;
	return false;
}

static int vc_parse_via(struct vc_parser *ps, struct vc_rule *r, const char *s)
{
	const struct vc_parse_opts *o = ps->o;

	if (vc_is_list_or_range(s))
		return vc_fail(ps, "via takes a single CID");
	if (vc_parse_bounded(ps, s, strlen(s), "via CID", VC_VAL_MAX, &r->via))
		return -1;
	if (!r->via)
		return vc_fail(ps, "via CID 0 is the hypervisor, not a local device");
	if (o && o->local_cids && o->warn && !vc_is_local_cid(o, r->via))
		fprintf(o->warn, "%s:%u: warning: via CID %u is not a local device now\n",
			vc_display_name(ps->name), ps->line, r->via);
	return 0;
}

/* ---- errno --------------------------------------------------------------- */

const char *vc_errno_name(int err)
{
	if (err < 1 || err > VC_ERRNO_MAX)
		return NULL;
	return strerrorname_np(err);
}

/* names <errno.h> has for the same number as another */
static const struct {
	const char *alias, *name;
} vc_errno_aliases[] = {
	{ "EWOULDBLOCK", "EAGAIN" },
	{ "EDEADLOCK", "EDEADLK" },
	{ "ENOTSUP", "EOPNOTSUPP" },
};

static int vc_errno_number(const char *name)
{
	size_t i;
	int e;

	for (i = 0; i < ARRAY_SIZE(vc_errno_aliases); i++)
		if (!strcmp(name, vc_errno_aliases[i].alias))
			name = vc_errno_aliases[i].name;
	for (e = 1; e <= VC_ERRNO_MAX; e++) {
		const char *n = vc_errno_name(e);

		if (n && !strcmp(n, name))
			return e;
	}
	return 0;
}

/* errors a connect() caller would take for "not yet" or "already" */
static bool vc_errno_misread(int e)
{
	return e == EINPROGRESS || e == EALREADY || e == EINTR ||
	       e == EAGAIN || e == EISCONN;
}

static int vc_parse_errno(struct vc_parser *ps, struct vc_rule *r, const char *s)
{
	int e = vc_errno_number(s);

	if (!e)
		return vc_fail(ps, "unknown errno %s", vc_q(ps, s));
	if (vc_errno_misread(e))
		return vc_fail(ps, "errno %s does not mean refused", vc_q(ps, s));
	r->err = e;
	return 0;
}

/* ---- cgroup -------------------------------------------------------------- */

static const char *vc_cgroup_root(const struct vc_parse_opts *o)
{
	return o && o->cgroup_root ? o->cgroup_root : VC_DEFAULT_ROOT;
}

static int vc_check_cgroup_root(struct vc_parser *ps, const char *root)
{
	struct statfs sf;

	if (ps->cgroup_checked)
		return 0;
	if (statfs(root, &sf) || (unsigned long)sf.f_type != VC_CGROUP2_MAGIC)
		return vc_fail(ps, "cgroup v2 is not mounted at %s", root);
	ps->cgroup_checked = true;
	return 0;
}

/*
 * @s into @norm ("/" or "/a/b": no empty, "." or ".." components);
 * returns the number of components or -1.
 */
static int vc_normalise_cgroup(struct vc_parser *ps, const char *s, char *norm)
{
	const char *c = s;
	size_t k = 0;
	int level = 0;

	if (s[0] != '/')
		return vc_fail(ps, "cgroup path must start with /: %s", vc_q(ps, s));
	for (;;) {
		size_t len;

		while (*c == '/')
			c++;
		if (!*c)
			break;
		len = strcspn(c, "/");
		if ((len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return vc_fail(ps, "bad cgroup path %s (. and .. are not allowed)",
				       vc_q(ps, s));
		norm[k++] = '/';
		memcpy(norm + k, c, len);
		k += len;
		c += len;
		level++;
	}
	if (!k)
		norm[k++] = '/';
	norm[k] = '\0';
	return level;
}

static bool vc_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return true;
	return false;
}

static int vc_resolve_cgroup(struct vc_parser *ps, struct vc_rule *r,
			     const char *s, const char *norm)
{
	const char *root = vc_cgroup_root(ps->o);
	size_t rlen = strlen(root);
	struct stat st;
	char *full;
	int ret;

	if (vc_check_cgroup_root(ps, root))
		return -1;
	full = malloc(rlen + strlen(norm) + 1);
	if (!full)
		return vc_fail(ps, "out of memory");
	memcpy(full, root, rlen);
	strcpy(full + rlen, strcmp(norm, "/") ? norm : "");
	ret = stat(full, &st);
	free(full);
	if (ret || !S_ISDIR(st.st_mode))
		return vc_fail(ps, "unknown cgroup %s", vc_q(ps, s));
	r->cgroup_id = st.st_ino;
	return 0;
}

static int vc_parse_cgroup(struct vc_parser *ps, struct vc_rule *r, const char *s)
{
	char *norm;
	int level;

	if (vc_has_control(s))
		return vc_fail(ps, "bad character in cgroup path %s", vc_q(ps, s));
	norm = malloc(strlen(s) + 2);
	if (!norm)
		return vc_fail(ps, "out of memory");
	level = vc_normalise_cgroup(ps, s, norm);
	if (level > VC_LEVEL_MAX) {
		vc_fail(ps, "cgroup path too deep (limit %d levels)", VC_LEVEL_MAX);
		level = -1;
	}
	if (level < 0 || vc_resolve_cgroup(ps, r, s, norm)) {
		free(norm);
		return -1;
	}
	r->cgroup = norm;
	r->cgroup_level = level;
	return 0;
}

/* ---- lines --------------------------------------------------------------- */

static int vc_clause(const char *s)
{
	int i;

	for (i = 0; i < VC_NCLAUSES; i++)
		if (!strcmp(s, vc_clause_names[i]))
			return i;
	return -1;
}

static bool vc_is_word(const char *s)
{
	for (; *s; s++)
		if ((*s < 'a' || *s > 'z') && (*s < 'A' || *s > 'Z'))
			return false;
	return true;
}

/* a token where a clause keyword belongs */
static int vc_unexpected(struct vc_parser *ps, const struct vc_rule *r,
			 const char *s)
{
	static const char *const known[] = {
		"default", "allow", "deny", "route", "in", "out", "any",
	};
	size_t i;

	if (r->dir == VC_DIR_ROUTE && (!strcmp(s, "allow") || !strcmp(s, "deny")))
		return vc_fail(ps, "route takes no allow or deny");
	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(s, known[i]))
			return vc_fail(ps, "unexpected %s", s);
	if (vc_is_word(s))
		return vc_fail(ps, "unknown keyword %s", vc_q(ps, s));
	return vc_fail(ps, "unexpected %s", vc_q(ps, s));
}

/* may clause @c appear in rule @r? */
static int vc_clause_applies(struct vc_parser *ps, const struct vc_rule *r, int c)
{
	const char *k = vc_clause_names[c];

	if (r->dir == VC_DIR_ROUTE) {
		if (c == VC_CL_DEV || c == VC_CL_CGROUP || c == VC_CL_ERRNO)
			return vc_fail(ps, "%s does not apply to route rules", k);
		return 0;
	}
	if (c == VC_CL_VIA)
		return vc_fail(ps, "via applies to route rules only");
	if (c == VC_CL_ERRNO && !r->deny)
		return vc_fail(ps, "errno applies to deny rules only");
	if ((c == VC_CL_ERRNO || c == VC_CL_CGROUP) && r->dir != VC_DIR_OUT)
		return vc_fail(ps, "%s applies to out rules only", k);
	return 0;
}

static int vc_parse_value(struct vc_parser *ps, struct vc_rule *r, int c,
			  const char *v)
{
	switch (c) {
	case VC_CL_CID:
		return vc_parse_spec(ps, v, "CID", r->cid, &r->n_cid);
	case VC_CL_PORT:
		return vc_parse_spec(ps, v, "port", r->port, &r->n_port);
	case VC_CL_DEV:
		return vc_parse_dev(ps, r, v);
	case VC_CL_CGROUP:
		return vc_parse_cgroup(ps, r, v);
	case VC_CL_ERRNO:
		return vc_parse_errno(ps, r, v);
	default:
		return vc_parse_via(ps, r, v);
	}
}

static int vc_parse_clauses(struct vc_parser *ps, struct vc_rule *r,
			    unsigned int i)
{
	unsigned int seen = 0;

	for (; i < ps->ntok; i += 2) {
		const char *k = ps->tok[i];
		int c = vc_clause(k);

		if (c < 0)
			return vc_unexpected(ps, r, k);
		if (vc_clause_applies(ps, r, c))
			return -1;
		if (seen & (1U << c))
			return vc_fail(ps, "duplicate %s", k);
		seen |= 1U << c;
		if (i + 1 == ps->ntok || vc_clause(ps->tok[i + 1]) >= 0)
			return vc_fail(ps, "missing value after %s", k);
		if (vc_parse_value(ps, r, c, ps->tok[i + 1]))
			return -1;
	}
	if (r->dir == VC_DIR_ROUTE && !(seen & (1U << VC_CL_PORT)))
		return vc_fail(ps, "route needs port");
	if (r->dir == VC_DIR_ROUTE && !(seen & (1U << VC_CL_VIA)))
		return vc_fail(ps, "route needs via");
	return 0;
}

static struct vc_rule *vc_new_rule(struct vc_parser *ps)
{
	struct vc_policy *p = ps->p;
	struct vc_rule *r;

	if (p->n_rules == ps->cap) {
		unsigned int cap = ps->cap ? ps->cap * 2 : 16;

		r = realloc(p->rules, cap * sizeof(*r));
		if (!r)
			return NULL;
		p->rules = r;
		ps->cap = cap;
	}
	r = &p->rules[p->n_rules++];
	memset(r, 0, sizeof(*r));
	r->line = ps->line;
	r->dev = -1;
	return r;
}

static int vc_parse_rule(struct vc_parser *ps)
{
	const char *t0 = ps->tok[0];
	struct vc_rule *r;
	unsigned int i = 1;

	if (ps->p->n_rules == VC_MAX_RULES)
		return vc_fail(ps, "too many rules (limit %d)", VC_MAX_RULES);
	r = vc_new_rule(ps);
	if (!r)
		return vc_fail(ps, "out of memory");
	if (!strcmp(t0, "route")) {
		r->dir = VC_DIR_ROUTE;
	} else {
		r->deny = !strcmp(t0, "deny");
		if (ps->ntok < 2 ||
		    (strcmp(ps->tok[1], "in") && strcmp(ps->tok[1], "out")))
			return vc_fail(ps, "expected in or out after %s", t0);
		r->dir = strcmp(ps->tok[1], "in") ? VC_DIR_OUT : VC_DIR_IN;
		i = 2;
	}
	if (vc_parse_clauses(ps, r, i))
		return -1;
	if (r->deny && r->dir == VC_DIR_OUT && !r->err)
		r->err = ECONNREFUSED;
	if (vc_format_rule(r, ps->fmt, sizeof(ps->fmt)) < 0)
		return vc_fail(ps, "rule too long in normal form (limit %d bytes)",
			       VC_LINE_MAX - 1);
	return 0;
}

static int vc_parse_default(struct vc_parser *ps)
{
	struct vc_policy *p = ps->p;

	if (ps->ntok < 2 ||
	    (strcmp(ps->tok[1], "allow") && strcmp(ps->tok[1], "deny")))
		return vc_fail(ps, "expected allow or deny after default");
	if (ps->ntok > 2)
		return vc_fail(ps, "trailing %s", vc_q(ps, ps->tok[2]));
	if (p->default_line)
		return vc_fail(ps, "duplicate default (first on line %u)",
			       p->default_line);
	p->default_line = ps->line;
	p->default_deny = !strcmp(ps->tok[1], "deny");
	return 0;
}

static int vc_parse_line(struct vc_parser *ps)
{
	const char *t0;

	vc_tokenize(ps);
	if (!ps->ntok)
		return 0;
	t0 = ps->tok[0];
	if (!strcmp(t0, "default"))
		return vc_parse_default(ps);
	if (!strcmp(t0, "allow") || !strcmp(t0, "deny") || !strcmp(t0, "route"))
		return vc_parse_rule(ps);
	return vc_fail(ps, "unknown keyword %s", vc_q(ps, t0));
}

void vc_policy_free(struct vc_policy *p)
{
	unsigned int i;

	for (i = 0; i < p->n_rules; i++)
		free(p->rules[i].cgroup);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

int vc_parse(FILE *in, const char *name, const struct vc_parse_opts *o,
	     struct vc_policy *p, char *err, size_t errlen)
{
	struct vc_parser *ps;
	int ret;

	memset(p, 0, sizeof(*p));
	if (err && errlen)
		err[0] = '\0';
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		vc_error(err, errlen, name, 0, "out of memory");
		return -1;
	}
	ps->in = in;
	ps->name = name;
	ps->o = o;
	ps->p = p;
	ps->err = err;
	ps->errlen = errlen;
	while ((ret = vc_read_line(ps)) > 0)
		if (vc_parse_line(ps)) {
			ret = -1;
			break;
		}
	free(ps);
	if (ret < 0) {
		vc_policy_free(p);
		return -1;
	}
	return 0;
}

/* ---- normal form --------------------------------------------------------- */

struct vc_out {
	char *buf;
	size_t len, pos;
	bool over;
};

__attribute__((format(printf, 2, 3)))
static void vc_put(struct vc_out *b, const char *fmt, ...)
{
	size_t room = b->pos < b->len ? b->len - b->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->buf + b->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		b->over = true;
	if (n > 0)
		b->pos += n;
}

static int vc_put_end(struct vc_out *b)
{
	if (b->over || b->pos > (size_t)INT32_MAX)
		return -1;
	return b->pos;
}

static void vc_put_list(struct vc_out *b, const char *kw,
			const struct vc_range *r, unsigned int n, bool any)
{
	unsigned int i;

	if (!n) {
		if (any)
			vc_put(b, " %s any", kw);
		return;
	}
	vc_put(b, " %s ", kw);
	for (i = 0; i < n; i++) {
		vc_put(b, "%s%u", i ? "," : "", r[i].lo);
		if (r[i].hi != r[i].lo)
			vc_put(b, "-%u", r[i].hi);
	}
}

static void vc_put_rule(struct vc_out *b, const struct vc_rule *r)
{
	if (r->dir == VC_DIR_ROUTE) {
		/* "port" is required: "any" stays */
		vc_put(b, "route");
		vc_put_list(b, "port", r->port, r->n_port, true);
		vc_put_list(b, "cid", r->cid, r->n_cid, false);
		vc_put(b, " via %u", r->via);
		return;
	}
	vc_put(b, "%s %s", r->deny ? "deny" : "allow", vc_dir_names[r->dir]);
	vc_put_list(b, "cid", r->cid, r->n_cid, false);
	vc_put_list(b, "port", r->port, r->n_port, false);
	if (r->dev >= 0)
		vc_put(b, " dev %d", r->dev);
	if (r->cgroup)
		vc_put(b, " cgroup %s", r->cgroup);
	if (r->err && r->err != ECONNREFUSED) {
		const char *e = vc_errno_name(r->err);

		if (e)
			vc_put(b, " errno %s", e);
		else
			b->over = true;
	}
}

int vc_format_rule(const struct vc_rule *r, char *buf, size_t len)
{
	struct vc_out b = { .buf = buf, .len = len };

	vc_put_rule(&b, r);
	return vc_put_end(&b);
}

int vc_format(const struct vc_policy *p, char *buf, size_t len)
{
	struct vc_out b = { .buf = buf, .len = len };
	unsigned int i;

	vc_put(&b, "default %s\n", p->default_deny ? "deny" : "allow");
	for (i = 0; i < p->n_rules; i++) {
		vc_put_rule(&b, &p->rules[i]);
		vc_put(&b, "\n");
	}
	return vc_put_end(&b);
}

/* ---- compiled form ------------------------------------------------------- */

static bool vc_names_local(const struct vc_rule *r)
{
	unsigned int i;

	for (i = 0; i < r->n_cid; i++)
		if (r->cid[i].lo <= VC_LOCAL_CID && VC_LOCAL_CID <= r->cid[i].hi)
			return true;
	return false;
}

static const struct vc_range vc_any_range = { 0, VC_VAL_MAX };

static void vc_emit(struct vc_compiled *c, const struct vc_rule *r,
		    unsigned int idx)
{
	unsigned int nc = r->n_cid ? r->n_cid : 1;
	unsigned int np = r->n_port ? r->n_port : 1;
	__u8 flags = vc_names_local(r) ? VC_E_LOCAL : 0;
	unsigned int i, j;

	for (i = 0; i < nc; i++) {
		const struct vc_range *cr = r->n_cid ? &r->cid[i] : &vc_any_range;

		for (j = 0; j < np; j++) {
			const struct vc_range *pr = r->n_port ? &r->port[j] :
								&vc_any_range;
			struct vc_entry *e = &c->entry[r->dir][c->n[r->dir]++];

			e->cid_lo = cr->lo;
			e->cid_hi = cr->hi;
			e->port_lo = pr->lo;
			e->port_hi = pr->hi;
			e->cgroup_id = r->cgroup ? r->cgroup_id : 0;
			e->cgroup_level = r->cgroup ? r->cgroup_level : 0;
			e->dev = r->dev;
			e->rule = idx;
			e->flags = flags;
		}
	}
}

static __s32 vc_verdict(const struct vc_rule *r)
{
	if (r->dir == VC_DIR_ROUTE)
		return (__s32)r->via;
	if (!r->deny)
		return 0;
	return -(r->err ? r->err : ECONNREFUSED);
}

int vc_compile(const struct vc_policy *p, const char *name,
	       struct vc_compiled *c, char *err, size_t errlen)
{
	size_t text = strlen("default allow\n") + 1;
	char line[VC_LINE_MAX];
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->default_deny = p->default_deny;
	for (i = 0; i < p->n_rules; i++) {
		const struct vc_rule *r = &p->rules[i];
		unsigned int n = (r->n_cid ? r->n_cid : 1) *
				 (r->n_port ? r->n_port : 1);
		int len = vc_format_rule(r, line, sizeof(line));

		if (i == VC_MAX_RULES) {
			vc_error(err, errlen, name, r->line,
				 "too many rules (limit %d)", VC_MAX_RULES);
			goto fail;
		}
		if (c->n[r->dir] + n > VC_MAX_ENTRIES) {
			vc_error(err, errlen, name, r->line,
				 "too many entries for %s rules (limit %d; each cid item times each port item counts)",
				 vc_dir_names[r->dir], VC_MAX_ENTRIES);
			goto fail;
		}
		text += len < 0 ? VC_TEXT_MAX : (size_t)len + 1;
		if (text > VC_TEXT_MAX) {
			vc_error(err, errlen, name, r->line,
				 "rules too long in normal form (limit %d bytes)",
				 VC_TEXT_MAX - 1);
			goto fail;
		}
		vc_emit(c, r, i);
		c->info[i].line = r->line;
		c->info[i].verdict = vc_verdict(r);
	}
	c->n_rules = p->n_rules;
	return 0;
fail:
	memset(c, 0, sizeof(*c));
	return -1;
}
