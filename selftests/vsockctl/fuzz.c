// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: vsockctl's rules parser, black box. Mutates rules files
 * deterministically (from --seed) and runs
 *
 *	BIN policy check --print FILE
 *
 * once per iteration (one fork+exec), FILE a temporary file. Every run
 * must end normally (no signal, within --timeout) with
 *   exit 1: nothing on stdout; on stderr "FILE:LINE: message", one line
 *	    of printable ASCII, LINE within the file ("FILE:LINE: warning:
 *	    ..." lines may come before it);
 *   exit 0: stdout a normal form ("default allow|deny" first, whole
 *	    lines), stderr only warning lines; every --fixpoint-every'th
 *	    accepted file's output is checked again and must come back
 *	    unchanged (the normal form is a fixed point).
 *
 *   fuzz --bin PATH [--seeds DIR|FILE]... [--iterations N] [--seed S]
 *	  [--out DIR] [--timeout SECS] [--fixpoint-every K] [--in-process]
 *	  [--verbose]
 *
 * --in-process: each run calls the parser (rules.c, linked in) as
 * `vsockctl policy check --print` does, with the same output and exit
 * status, in this process: the same checks without a fork and exec per
 * run (under TCG an exec of the static binary costs ~40 ms). A crash
 * kills the fuzz run, which then exits by that signal; the input is
 * saved as DIR/fuzz-crash.rules first.
 *
 * Without --seeds it starts from built-in rules files. A failing input
 * is saved as DIR/fuzz-fail-ITERATION.rules (--out, default "."; at most
 * 10 files). Last line: "fuzz: N runs, A accepted, R rejected, F
 * failures"; exit 0 iff F is 0 (2: bad usage or setup).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/vsockctl/rules.h"
#include "../../tools/lib/num.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define VC_BUF_MAX	(4 << 20)	/* a mutated file is cut here */
#define VC_SAVE_MAX	10		/* failing inputs saved */

struct vc_buf {
	char *d;
	size_t len, cap;
};

struct vc_opts {
	const char *bin;
	const char *out;
	unsigned long iterations;
	uint64_t seed;
	unsigned int timeout;
	unsigned int fixpoint_every;
	bool verbose;
	bool in_process;
};

/* one run of the binary */
struct vc_run {
	int status;
	struct vc_buf out, err;
};

static struct vc_buf *vc_seeds;
static unsigned int vc_nseeds;
static uint64_t vc_rng_state;
static char vc_dir[PATH_MAX];
static char vc_in_path[PATH_MAX + 16], vc_fix_path[PATH_MAX + 16];
static char vc_out_path[PATH_MAX + 16], vc_err_path[PATH_MAX + 16];

static const char *const vc_builtin_seeds[] = {
	"",
	"default deny\n",
	"# policy\ndefault deny\nallow in cid 3,5-7 port 22 dev 1\n"
	"deny out port 1024-65535 errno EACCES\nroute port 1234 cid 2 via 5\n",
	"allow in port 22 # ssh\r\ndeny\tin\r\nallow out cid 2 port 1-100,200\r\n",
	"default allow\ndeny out cid 1 port 0-1023 errno EPERM\n"
	"deny out cgroup /vctest/a\nallow out cgroup //vctest//a/ port 80\n",
	"route port 1,2,3,5-9 via 3\nroute port any cid 2 via 1\n"
	"allow in cid 0-4294967294\ndeny in port 4294967294\n",
	"deny out errno ETIMEDOUT port 443 cid 2\ndefault deny\n"
	"allow in dev 2147483647 cid 1\n",
};

static const char *const vc_dict[] = {
	"default", "allow", "deny", "in", "out", "route", "cid", "port", "dev",
	"cgroup", "errno", "via", "any", "#", "# comment", "\t", "\r", "\r\n",
	"\n", " ", "0", "1", "2", "3", "4294967295", "4294967294", "4294967296",
	"65535", "2147483647", "2147483648", "-1", "1-0", "0-0", "1-2", "5-9",
	"0-4294967294", "0-4294967295", "4294967294-4294967294", "1,2",
	"1,,2", "1,", ",1", ",", "any,1", "1-2-3", "1-", "-", "00", "010",
	"0x10", "+1", "99999999999999999999", "1,2,3,4,5,6,7,8,9",
	"ECONNREFUSED", "EACCES", "EPERM", "ENETUNREACH", "EHOSTUNREACH",
	"ETIMEDOUT", "EINPROGRESS", "EALREADY", "EINTR", "EAGAIN",
	"EWOULDBLOCK", "EISCONN", "ENOTSUP", "EDEADLOCK", "EHWPOISON",
	"EFOO", "econnrefused", "111", "/", "//", "/vctest", "/vctest/a",
	"//vctest//a/", "/nonexistent", "/.", "/..", "/vctest/../vctest",
	"kata", "Allow", "ANY", "\xff", "\xc3", "\xc3\xa9", "\xed\xa0\x80",
};

#define VC_NDICT ARRAY_SIZE(vc_dict)

static const char vc_bytes[] = {
	'\0', '\t', '\r', '\n', ' ', '#', ',', '-', '/', '0', '9', 'a',
	(char)0x7f, (char)0x80, (char)0xc3, (char)0xff,
};

static const uint32_t vc_numbers[] = {
	0, 1, 2, 3, 4, 5, 22, 1023, 1024, 65535, 65536, 2147483647,
	2147483648U, 4294967293U, 4294967294U, 4294967295U,
};

/* ---- helpers ------------------------------------------------------------- */

static void vc_die(const char *what)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t vc_rand(void)
{
	uint64_t z = (vc_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t vc_below(size_t n)
{
	return n ? vc_rand() % n : 0;
}

static void vc_reserve(struct vc_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	char *d;

	if (b->len + more + 1 <= b->cap)
		return;
	while (cap < b->len + more + 1)
		cap *= 2;
	d = realloc(b->d, cap);
	if (!d)
		vc_die("realloc");
	b->d = d;
	b->cap = cap;
}

static void vc_insert(struct vc_buf *b, size_t at, const char *s, size_t n)
{
	vc_reserve(b, n);
	memmove(b->d + at + n, b->d + at, b->len - at);
	memcpy(b->d + at, s, n);
	b->len += n;
}

static void vc_erase(struct vc_buf *b, size_t at, size_t n)
{
	memmove(b->d + at, b->d + at + n, b->len - at - n);
	b->len -= n;
}

static void vc_append(struct vc_buf *b, const char *s)
{
	vc_insert(b, b->len, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void vc_appendf(struct vc_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	vc_append(b, tmp);
}

static void vc_set(struct vc_buf *b, const char *s, size_t n)
{
	b->len = 0;
	vc_insert(b, 0, s, n);
}

static bool vc_is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* the @k-th token (modulo their number): start and length; false: none */
static bool vc_find_token(const struct vc_buf *b, size_t k, size_t *at,
			  size_t *n)
{
	size_t i, count = 0;

	for (i = 0; i < b->len; i++)
		if (!vc_is_sep(b->d[i]) && (!i || vc_is_sep(b->d[i - 1])))
			count++;
	if (!count)
		return false;
	k %= count;
	for (i = 0; i < b->len; i++) {
		if (vc_is_sep(b->d[i]) || (i && !vc_is_sep(b->d[i - 1])))
			continue;
		if (k--)
			continue;
		*at = i;
		for (*n = 0; i + *n < b->len && !vc_is_sep(b->d[i + *n]); (*n)++)
			;
		return true;
	}
	return false;
}

/* start and length (with its newline) of the line around byte @pos */
static void vc_line_at(const struct vc_buf *b, size_t pos, size_t *at, size_t *n)
{
	size_t s = pos, e = pos;

	while (s && b->d[s - 1] != '\n')
		s--;
	while (e < b->len && b->d[e] != '\n')
		e++;
	if (e < b->len)
		e++;
	*at = s;
	*n = e - s;
}

/* ---- generated text ------------------------------------------------------ */

static void vc_gen_number(struct vc_buf *b)
{
	if (vc_below(3))
		vc_appendf(b, "%u", vc_numbers[vc_below(ARRAY_SIZE(vc_numbers))]);
	else
		vc_appendf(b, "%u", (unsigned int)vc_below(70000));
}

static void vc_gen_item(struct vc_buf *b)
{
	uint32_t lo = vc_below(100000), hi = lo + vc_below(1000);

	switch (vc_below(6)) {
	case 0:
		vc_appendf(b, "%u-%u", lo, hi);
		break;
	case 1:
		vc_appendf(b, "%u-%u", hi, lo);
		break;
	case 2:
		vc_gen_number(b);
		vc_append(b, "-");
		vc_gen_number(b);
		break;
	default:
		vc_gen_number(b);
	}
}

/* an item that parses: N or A-B, A <= B; @wide: A-B may be any size */
static void vc_gen_good_item(struct vc_buf *b, bool wide)
{
	uint32_t lo = vc_rand() % 4294967293U;
	uint32_t hi = lo + vc_below(wide && !vc_below(4) ? 4294967295U - lo : 3);

	if (lo == hi)
		vc_appendf(b, "%u", lo);
	else
		vc_appendf(b, "%u-%u", lo, hi);
}

/* @good: 0 any items, 1 items that parse, 2 narrow ones that parse */
static void vc_gen_list(struct vc_buf *b, unsigned int n, unsigned int good)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (i)
			vc_append(b, ",");
		if (good)
			vc_gen_good_item(b, good == 1);
		else
			vc_gen_item(b);
	}
}

static void vc_gen_spec(struct vc_buf *b)
{
	static const unsigned int sizes[] = { 2, 3, 5, 17, 63, 64, 65 };

	switch (vc_below(8)) {
	case 0:
		vc_append(b, "any");
		break;
	case 1:
		vc_gen_list(b, sizes[vc_below(ARRAY_SIZE(sizes))],
			    vc_below(2));
		break;
	case 2:
	case 3:
		vc_gen_item(b);
		break;
	default:
		vc_gen_number(b);
	}
}

static void vc_gen_value(struct vc_buf *b, int clause)
{
	static const char *const errnos[] = {
		"EACCES", "EPERM", "ECONNREFUSED", "ENETUNREACH", "ETIMEDOUT",
		"EHOSTUNREACH", "EAGAIN", "ENOTSUP", "EFOO",
	};
	static const char *const cgroups[] = {
		"/", "/vctest", "/vctest/a", "//vctest//a/", "/nonexistent",
		"/vctest/..",
	};

	switch (clause) {
	case 0:
	case 1:
		vc_gen_spec(b);
		break;
	case 2:
		vc_appendf(b, "%u", (unsigned int)vc_below(5));
		break;
	case 3:
		vc_append(b, cgroups[vc_below(ARRAY_SIZE(cgroups))]);
		break;
	case 4:
		vc_append(b, errnos[vc_below(ARRAY_SIZE(errnos))]);
		break;
	default:
		vc_appendf(b, "%u", (unsigned int)vc_below(6));
	}
}

/* a rule line, mostly well-formed */
static void vc_gen_rule(struct vc_buf *b)
{
	static const char *const clauses[] = {
		"cid", "port", "dev", "cgroup", "errno", "via",
	};
	static const unsigned int route_clauses[] = { 0, 1, 5 };
	unsigned int i, kind = vc_below(8), used = 0;
	bool route = kind >= 6;

	if (kind == 5) {
		vc_append(b, vc_below(2) ? "default deny\n" : "default allow\n");
		return;
	}
	if (route)
		vc_append(b, "route");
	else
		vc_appendf(b, "%s %s", kind & 1 ? "deny" : "allow",
			   kind & 2 ? "out" : "in");
	for (i = 0; i < 4; i++) {
		unsigned int c = route ? route_clauses[vc_below(3)] :
					 vc_below(vc_below(8) ? 5 : 6);

		if ((used & (1U << c)) && vc_below(8))
			continue;
		used |= 1U << c;
		vc_appendf(b, " %s ", clauses[c]);
		vc_gen_value(b, c);
	}
	if (route && !(used & 2))
		vc_append(b, " port 1");
	if (route && !(used & 32))
		vc_append(b, " via 2");
	vc_append(b, vc_below(10) ? "\n" : " # note\n");
}

/* ---- mutations ----------------------------------------------------------- */

static void vc_mut_flip(struct vc_buf *b)
{
	if (b->len)
		b->d[vc_below(b->len)] ^= 1 << vc_below(8);
}

static void vc_mut_byte(struct vc_buf *b)
{
	char c = vc_bytes[vc_below(ARRAY_SIZE(vc_bytes))];

	if (b->len && vc_below(2))
		b->d[vc_below(b->len)] = c;
	else
		vc_insert(b, vc_below(b->len + 1), &c, 1);
}

static void vc_mut_token_insert(struct vc_buf *b)
{
	const char *t = vc_dict[vc_below(VC_NDICT)];
	size_t at, n;

	if (!vc_find_token(b, vc_rand(), &at, &n))
		at = n = 0;
	if (vc_below(2))
		at += n;
	vc_insert(b, at, " ", 1);
	vc_insert(b, at + (vc_below(2) ? 1 : 0), t, strlen(t));
}

static void vc_mut_token_replace(struct vc_buf *b)
{
	const char *t = vc_dict[vc_below(VC_NDICT)];
	size_t at, n;

	if (!vc_find_token(b, vc_rand(), &at, &n))
		return;
	vc_erase(b, at, n);
	vc_insert(b, at, t, strlen(t));
}

static void vc_mut_token_delete(struct vc_buf *b)
{
	size_t at, n;

	if (vc_find_token(b, vc_rand(), &at, &n))
		vc_erase(b, at, n);
}

static void vc_mut_token_dup(struct vc_buf *b)
{
	size_t at, n;
	char *t;

	if (!vc_find_token(b, vc_rand(), &at, &n))
		return;
	t = strndup(b->d + at, n);
	if (!t)
		vc_die("strndup");
	vc_insert(b, at + n, t, n);
	vc_insert(b, at + n, " ", 1);
	free(t);
}

static void vc_mut_line(struct vc_buf *b)
{
	size_t at, n, at2, n2;
	char *l;

	if (!b->len)
		return;
	vc_line_at(b, vc_below(b->len), &at, &n);
	switch (vc_below(3)) {
	case 0:
		vc_erase(b, at, n);
		return;
	case 1:
		l = strndup(b->d + at, n);
		if (!l)
			vc_die("strndup");
		vc_insert(b, at, l, n);
		free(l);
		return;
	default:
		/* move it before another line */
		l = strndup(b->d + at, n);
		if (!l)
			vc_die("strndup");
		vc_erase(b, at, n);
		vc_line_at(b, vc_below(b->len + 1), &at2, &n2);
		vc_insert(b, at2, l, n);
		free(l);
	}
}

/* a line of about VC_LINE_MAX bytes, newline not counted */
static void vc_mut_long_line(struct vc_buf *b)
{
	static const int lens[] = { -2, -1, 0, 1, 2, 5000, 20000 };
	size_t want = VC_LINE_MAX - 1 + lens[vc_below(ARRAY_SIZE(lens))];
	struct vc_buf l = { 0 };

	vc_append(&l, vc_below(2) ? "allow in port 22" : "deny out cid ");
	while (l.len < want) {
		switch (vc_below(4)) {
		case 0:
			vc_append(&l, " ");
			break;
		case 1:
			vc_append(&l, "\t");
			break;
		case 2:
			vc_append(&l, l.d[l.len - 1] == ' ' ? "#" : ",1");
			break;
		default:
			vc_append(&l, "0123456789");
		}
	}
	l.len = want;
	vc_append(&l, "\n");
	vc_insert(b, 0, l.d, l.len);
	free(l.d);
}

static void vc_mut_crlf(struct vc_buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (b->d[i] == '\n' && (!i || b->d[i - 1] != '\r')) {
			vc_insert(b, i, "\r", 1);
			i++;
		}
}

static void vc_mut_tabs(struct vc_buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (b->d[i] == ' ' && vc_below(2))
			b->d[i] = '\t';
}

static void vc_mut_truncate(struct vc_buf *b)
{
	b->len = vc_below(4) ? vc_below(b->len + 1) : 0;
}

static void vc_mut_huge_list(struct vc_buf *b)
{
	static const unsigned int sizes[] = { 63, 64, 65, 100, 600 };
	bool route = !vc_below(3);
	struct vc_buf l = { 0 };

	vc_append(&l, route ? "route via 3 port " : "allow in cid ");
	vc_gen_list(&l, sizes[vc_below(ARRAY_SIZE(sizes))],
		    vc_below(4) ? 2 : 0);
	if (vc_below(2)) {
		vc_append(&l, route ? " cid " : " port ");
		vc_gen_list(&l, 16 + vc_below(3), vc_below(4) ? 2 : 0);
	}
	vc_append(&l, "\n");
	vc_insert(b, vc_below(2) ? 0 : b->len, l.d, l.len);
	free(l.d);
}

static void vc_mut_many_rules(struct vc_buf *b)
{
	static const unsigned int counts[] = { 100, 511, 512, 513, 600 };
	unsigned int i, k = counts[vc_below(ARRAY_SIZE(counts))];
	struct vc_buf l = { 0 };

	if (b->len && vc_below(2)) {
		size_t at, n;

		vc_line_at(b, vc_below(b->len), &at, &n);
		vc_set(&l, b->d + at, n);
		if (!n || l.d[n - 1] != '\n')
			vc_append(&l, "\n");
	} else {
		static const char *const good[] = {
			"allow in port 22\n", "deny out cid 2 errno EPERM\n",
			"route port 1-5 via 2\n",
		};

		vc_append(&l, good[vc_below(ARRAY_SIZE(good))]);
	}
	for (i = 0; i < k && b->len + l.len < VC_BUF_MAX; i++)
		vc_append(b, l.d);
	free(l.d);
}

static void vc_mut_gen(struct vc_buf *b)
{
	struct vc_buf l = { 0 };
	size_t at = 0, n;

	vc_gen_rule(&l);
	if (b->len)
		vc_line_at(b, vc_below(b->len + 1), &at, &n);
	vc_insert(b, at, l.d, l.len);
	free(l.d);
}

static void vc_mut_splice(struct vc_buf *b)
{
	const struct vc_buf *s = &vc_seeds[vc_below(vc_nseeds)];
	size_t from = vc_below(s->len + 1);

	b->len = vc_below(b->len + 1);
	vc_insert(b, b->len, s->d + from, s->len - from);
}

static void (*const vc_mutators[])(struct vc_buf *) = {
	vc_mut_flip, vc_mut_byte, vc_mut_byte,
	vc_mut_token_insert, vc_mut_token_insert, vc_mut_token_insert,
	vc_mut_token_replace, vc_mut_token_replace, vc_mut_token_replace,
	vc_mut_token_delete, vc_mut_token_delete, vc_mut_token_dup,
	vc_mut_line, vc_mut_line, vc_mut_gen, vc_mut_gen, vc_mut_gen,
	vc_mut_gen, vc_mut_splice, vc_mut_crlf, vc_mut_tabs,
	vc_mut_truncate, vc_mut_long_line, vc_mut_huge_list,
	vc_mut_many_rules,
};

#define VC_NMUT ARRAY_SIZE(vc_mutators)

static void vc_mutate(struct vc_buf *b)
{
	unsigned int i, n = vc_below(3) ? 1 : 2 + vc_below(3);

	vc_set(b, "", 0);
	if (vc_nseeds) {
		const struct vc_buf *s = &vc_seeds[vc_below(vc_nseeds)];

		vc_set(b, s->d, s->len);
	}
	for (i = 0; i < n; i++) {
		vc_mutators[vc_below(VC_NMUT)](b);
		if (b->len > VC_BUF_MAX)
			b->len = VC_BUF_MAX;
	}
}

/* ---- seeds --------------------------------------------------------------- */

static void vc_add_seed(const char *d, size_t n)
{
	struct vc_buf *s = realloc(vc_seeds, (vc_nseeds + 1) * sizeof(*s));

	if (!s)
		vc_die("realloc");
	vc_seeds = s;
	s = &vc_seeds[vc_nseeds++];
	memset(s, 0, sizeof(*s));
	vc_set(s, d, n);
}

static int vc_read_file(const char *path, struct vc_buf *b)
{
	char tmp[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	b->len = 0;
	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0 && b->len < VC_BUF_MAX)
		vc_insert(b, b->len, tmp, n);
	close(fd);
	return n < 0 ? -1 : 0;
}

static void vc_seed_file(const char *path)
{
	struct vc_buf b = { 0 };

	if (vc_read_file(path, &b))
		vc_die(path);
	vc_add_seed(b.d ? b.d : "", b.len);
	free(b.d);
}

static int vc_seed_filter(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void vc_seed_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	char *p;
	int i, n;

	if (stat(path, &st))
		vc_die(path);
	if (!S_ISDIR(st.st_mode)) {
		vc_seed_file(path);
		return;
	}
	n = scandir(path, &names, vc_seed_filter, alphasort);
	if (n < 0)
		vc_die(path);
	for (i = 0; i < n; i++) {
		if (asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
			vc_die("asprintf");
		if (!stat(p, &st) && S_ISREG(st.st_mode))
			vc_seed_file(p);
		free(p);
		free(names[i]);
	}
	free(names);
}

/* ---- runs ---------------------------------------------------------------- */

static void vc_write_file(const char *path, const struct vc_buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		vc_die(path);
	while (off < b->len) {
		ssize_t n = write(fd, b->d + off, b->len - off);

		if (n < 0)
			vc_die(path);
		off += n;
	}
	close(fd);
}

static void vc_child(const struct vc_opts *o, const char *file)
{
	int in = open("/dev/null", O_RDONLY);
	int out = open(vc_out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = open(vc_err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 ||
	    dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	alarm(o->timeout);
	execl(o->bin, o->bin, "policy", "check", "--print", file, (char *)NULL);
	_exit(127);
}

/*
 * --in-process: what `vsockctl policy check --print FILE` does (minus the
 * via check, which needs mvsock), on @in with @file as its name; the
 * outputs into memory, the exit status as a wait status. A crash ends the
 * fuzz run itself (vc_on_crash() saves the input first); --timeout is an
 * alarm that ends it too.
 */
static struct vc_buf *vc_crash_input;
static const char *vc_crash_path;

static void vc_on_crash(int sig)
{
	int fd = open(vc_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0 && vc_crash_input) {
		/* nothing else to do about a failed write in a handler */
		(void)!write(fd, vc_crash_input->d, vc_crash_input->len);
		close(fd);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void vc_take(struct vc_buf *b, FILE *f, char **mem, size_t *len)
{
	fclose(f);
	vc_set(b, *mem, *len);
	free(*mem);
}

static int vc_check_inproc(FILE *in, const char *file, FILE *out, FILE *err)
{
	static struct vc_compiled c;
	static char text[VC_TEXT_MAX];
	struct vc_parse_opts po = { .warn = err };
	struct vc_policy p = { 0 };
	char msg[VC_LINE_MAX + 256];
	int rc = 1;

	if (vc_parse(in, file, &po, &p, msg, sizeof(msg)) ||
	    vc_compile(&p, file, &c, msg, sizeof(msg)))
		fprintf(err, "%s\n", msg);
	else if (vc_format(&p, text, sizeof(text)) < 0)
		fprintf(err, "vsockctl: %s: the rules in normal form exceed %d bytes\n",
			file, VC_TEXT_MAX - 1);
	else
		rc = 0;
	if (!rc)
		fputs(text, out);
	vc_policy_free(&p);
	return rc;
}

static void vc_run_inproc(const struct vc_opts *o, const struct vc_buf *b,
			  const char *file, struct vc_run *r)
{
	char *mo = NULL, *me = NULL;
	size_t lo = 0, le = 0;
	FILE *in = fmemopen(b->len ? b->d : (char *)"", b->len, "r");
	FILE *out = open_memstream(&mo, &lo), *err = open_memstream(&me, &le);
	int rc;

	if (!in || !out || !err)
		vc_die("memory streams");
	vc_crash_input = (struct vc_buf *)b;
	alarm(o->timeout);
	rc = vc_check_inproc(in, file, out, err);
	alarm(0);
	fclose(in);
	vc_take(&r->out, out, &mo, &lo);
	vc_take(&r->err, err, &me, &le);
	r->status = rc << 8;	/* as waitpid() reports exit(rc) */
}

static void vc_run(const struct vc_opts *o, const char *file, struct vc_run *r)
{
	pid_t pid = fork();

	if (pid < 0)
		vc_die("fork");
	if (!pid)
		vc_child(o, file);
	while (waitpid(pid, &r->status, 0) < 0)
		if (errno != EINTR)
			vc_die("waitpid");
	if (vc_read_file(vc_out_path, &r->out) || vc_read_file(vc_err_path, &r->err))
		vc_die("read output");
}

/* ---- checks -------------------------------------------------------------- */

static unsigned long vc_count_lines(const struct vc_buf *b)
{
	unsigned long n = 1;
	size_t i;

	for (i = 0; i < b->len; i++)
		n += b->d[i] == '\n';
	return n;
}

/*
 * Is @l (@n bytes, no newline) "FILE:LINE: text" with LINE in
 * 1..@max_line and printable text? Sets *@warning for ": warning: ".
 */
static bool vc_good_message(const char *l, size_t n, const char *file,
			    unsigned long max_line, bool *warning)
{
	size_t fl = strlen(file), i;
	unsigned long line = 0;

	if (n <= fl + 1 || memcmp(l, file, fl) || l[fl] != ':')
		return false;
	for (i = fl + 1; i < n && l[i] >= '0' && l[i] <= '9' && line <= max_line; i++)
		line = line * 10 + (l[i] - '0');
	if (i == fl + 1 || !line || line > max_line)
		return false;
	if (n < i + 3 || l[i] != ':' || l[i + 1] != ' ')
		return false;
	*warning = n - i >= 11 && !memcmp(l + i, ": warning: ", 11);
	for (i += 2; i < n; i++)
		if (l[i] < ' ' || l[i] > '~')
			return false;
	return true;
}

/*
 * stderr: only complete good lines, warnings but for the last when
 * @want_error; NULL or what is wrong
 */
static const char *vc_check_stderr(const struct vc_buf *e, const char *file,
				   unsigned long max_line, bool want_error)
{
	size_t at = 0;
	bool warning = false;

	if (!e->len)
		return want_error ? "exit 1 without a message" : NULL;
	if (e->d[e->len - 1] != '\n')
		return "stderr does not end with a newline";
	while (at < e->len) {
		const char *nl = memchr(e->d + at, '\n', e->len - at);
		size_t n = nl - (e->d + at);

		if (!vc_good_message(e->d + at, n, file, max_line, &warning))
			return "stderr line is not FILE:LINE: message";
		at += n + 1;
		if (!warning && (!want_error || at < e->len))
			return want_error ? "more than one error line" :
					    "exit 0 with an error message";
	}
	if (want_error && warning)
		return "exit 1 with only warnings";
	return NULL;
}

static const char *vc_check_normal_form(const struct vc_buf *out)
{
	if (out->len < 13 || (memcmp(out->d, "default allow\n", 14) &&
			      memcmp(out->d, "default deny\n", 13)))
		return "output does not start with a default line";
	if (out->d[out->len - 1] != '\n')
		return "output does not end with a newline";
	if (memchr(out->d, '\0', out->len) || memchr(out->d, '\r', out->len))
		return "output has NUL or CR bytes";
	return NULL;
}

static const char *vc_check_run(const struct vc_run *r, const char *file,
				unsigned long max_line)
{
	static char why[64];
	int code;

	if (WIFSIGNALED(r->status)) {
		snprintf(why, sizeof(why), "killed by signal %d (%s)",
			 WTERMSIG(r->status),
			 WTERMSIG(r->status) == SIGALRM ? "timeout" :
			 strsignal(WTERMSIG(r->status)));
		return why;
	}
	code = WEXITSTATUS(r->status);
	if (code == 1) {
		if (r->out.len)
			return "exit 1 with output on stdout";
		return vc_check_stderr(&r->err, file, max_line, true);
	}
	if (code != 0) {
		snprintf(why, sizeof(why), "exit status %d", code);
		return why;
	}
	return vc_check_stderr(&r->err, file, max_line, false) ?:
	       vc_check_normal_form(&r->out);
}

/* the normal form @first printed again: the same? */
static const char *vc_check_fixpoint(const struct vc_opts *o,
				     const struct vc_buf *first,
				     struct vc_run *r)
{
	const char *why;

	if (o->in_process) {
		vc_run_inproc(o, first, vc_fix_path, r);
	} else {
		vc_write_file(vc_fix_path, first);
		vc_run(o, vc_fix_path, r);
	}
	why = vc_check_run(r, vc_fix_path, vc_count_lines(first));
	if (why)
		return why;
	if (WEXITSTATUS(r->status))
		return "its normal form is rejected";
	if (r->out.len != first->len || memcmp(r->out.d, first->d, first->len))
		return "its normal form is not a fixed point";
	return NULL;
}

static size_t vc_first_line_len(const struct vc_buf *b, size_t max)
{
	const char *nl = b->len ? memchr(b->d, '\n', b->len) : NULL;
	size_t n = nl ? (size_t)(nl - b->d) : b->len;

	return n < max ? n : max;
}

static void vc_report(const struct vc_opts *o, unsigned long iter,
		      const struct vc_buf *in, const struct vc_run *r,
		      const char *why, unsigned int *saved)
{
	size_t n = vc_first_line_len(&r->err, 300);
	char path[PATH_MAX];

	printf("fuzz: iteration %lu: %s (wait status 0x%x)\n", iter, why,
	       r->status);
	if (n)
		printf("fuzz:   stderr: %.*s\n", (int)n, r->err.d);
	if (*saved >= VC_SAVE_MAX)
		return;
	snprintf(path, sizeof(path), "%s/fuzz-fail-%lu.rules", o->out, iter);
	vc_write_file(path, in);
	(*saved)++;
	printf("fuzz:   input saved as %s (%zu bytes)\n", path, in->len);
}

/* ---- main ---------------------------------------------------------------- */

static void vc_usage(void)
{
	fprintf(stderr,
		"usage: fuzz --bin PATH [--seeds DIR|FILE]... [--iterations N] [--seed S]\n"
		"            [--out DIR] [--timeout SECS] [--fixpoint-every K] [--in-process]\n"
		"            [--verbose]\n");
	exit(2);
}

static unsigned long vc_num_arg(const char *s)
{
	uint64_t v;

	if (num_u64(s, 0, 0, ULONG_MAX, &v))
		vc_usage();
	return v;
}

static void vc_parse_args(int argc, char **argv, struct vc_opts *o)
{
	static const struct option opts[] = {
		{ "bin", required_argument, NULL, 'b' },
		{ "seeds", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "out", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "fixpoint-every", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "in-process", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "b:s:n:S:o:t:f:vih", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->bin = optarg;
			break;
		case 's':
			vc_seed_path(optarg);
			break;
		case 'n':
			o->iterations = vc_num_arg(optarg);
			break;
		case 'S':
			o->seed = vc_num_arg(optarg);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 't':
			o->timeout = vc_num_arg(optarg);
			break;
		case 'f':
			o->fixpoint_every = vc_num_arg(optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'i':
			o->in_process = true;
			break;
		default:
			vc_usage();
		}
	}
	for (; optind < argc; optind++)
		vc_seed_path(argv[optind]);
	if (!o->bin)
		vc_usage();
}

static void vc_setup(const struct vc_opts *o)
{
	const char *tmp = getenv("TMPDIR");
	size_t i;

	if (access(o->bin, X_OK)) {
		fprintf(stderr, "fuzz: %s: %s\n", o->bin, strerror(errno));
		exit(2);
	}
	snprintf(vc_dir, sizeof(vc_dir), "%s/vcfuzz.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(vc_dir))
		vc_die("mkdtemp");
	snprintf(vc_in_path, sizeof(vc_in_path), "%s/in.rules", vc_dir);
	snprintf(vc_fix_path, sizeof(vc_fix_path), "%s/fix.rules", vc_dir);
	snprintf(vc_out_path, sizeof(vc_out_path), "%s/stdout", vc_dir);
	snprintf(vc_err_path, sizeof(vc_err_path), "%s/stderr", vc_dir);
	if (!vc_nseeds)
		for (i = 0; i < ARRAY_SIZE(vc_builtin_seeds); i++)
			vc_add_seed(vc_builtin_seeds[i], strlen(vc_builtin_seeds[i]));
}

static void vc_cleanup(void)
{
	unlink(vc_in_path);
	unlink(vc_fix_path);
	unlink(vc_out_path);
	unlink(vc_err_path);
	rmdir(vc_dir);
}

struct vc_stats {
	unsigned long accepted, rejected, failures, fixpoints;
	unsigned int saved;
};

/* one mutated file, checked; its normal form checked again now and then */
static void vc_iteration(const struct vc_opts *o, unsigned long iter,
			 struct vc_buf *in, struct vc_run *r, struct vc_run *r2,
			 struct vc_stats *st)
{
	const struct vc_run *bad = r;
	const char *why;

	vc_mutate(in);
	if (o->in_process) {
		vc_run_inproc(o, in, vc_in_path, r);
	} else {
		vc_write_file(vc_in_path, in);
		vc_run(o, vc_in_path, r);
	}
	why = vc_check_run(r, vc_in_path, vc_count_lines(in));
	if (o->verbose)
		printf("fuzz: %lu: %zu bytes, wait status 0x%x: %.*s\n", iter,
		       in->len, r->status, (int)vc_first_line_len(&r->err, 200),
		       r->err.d ? r->err.d : "");
	if (!why && WEXITSTATUS(r->status)) {
		st->rejected++;
	} else if (!why) {
		st->accepted++;
		if (o->fixpoint_every && st->accepted % o->fixpoint_every == 0) {
			st->fixpoints++;
			why = vc_check_fixpoint(o, &r->out, r2);
			bad = r2;
		}
	}
	if (why) {
		st->failures++;
		vc_report(o, iter, in, bad, why, &st->saved);
	}
}

int main(int argc, char **argv)
{
	struct vc_opts o = {
		.out = ".", .iterations = 1000, .seed = 1, .timeout = 10,
		.fixpoint_every = 10,
	};
	struct vc_run r = { 0 }, r2 = { 0 };
	struct vc_stats st = { 0 };
	struct vc_buf in = { 0 };
	struct timespec t0, t1;
	unsigned long i;

	vc_parse_args(argc, argv, &o);
	vc_setup(&o);
	if (o.in_process) {
		static char crash[PATH_MAX + 32];
		int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM };
		size_t k;

		snprintf(crash, sizeof(crash), "%s/fuzz-crash.rules", o.out);
		vc_crash_path = crash;
		for (k = 0; k < ARRAY_SIZE(sigs); k++)
			signal(sigs[k], vc_on_crash);
	}
	vc_rng_state = o.seed;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < o.iterations; i++)
		vc_iteration(&o, i, &in, &r, &r2, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	vc_cleanup();
	printf("fuzz: seed %llu, %lu fixed-point checks, %.1f s\n",
	       (unsigned long long)o.seed, st.fixpoints,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("fuzz: %lu runs, %lu accepted, %lu rejected, %lu failures\n",
	       i, st.accepted, st.rejected, st.failures);
	return st.failures ? 1 : 0;
}
