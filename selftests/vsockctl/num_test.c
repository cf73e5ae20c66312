// SPDX-License-Identifier: GPL-2.0
/*
 * num_test: the unit test of tools/lib/num.h, the number parser of every
 * mvsock program (run by suites.d/06-num.sh; pure user space).
 *
 *   num_test -l     the case names, one a line
 *   num_test        runs every case: "ok NAME" or "# detail" lines and
 *                   "not ok NAME"; exit 0 iff every case passed
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../tools/lib/num.h"

#define SENTINEL ((uint64_t)0x5a5a5a5a)

static bool ok;

static const char *err_name(int err)
{
	return err == 0 ? "0" : err == -EINVAL ? "-EINVAL" :
	       err == -ERANGE ? "-ERANGE" : "?";
}

static void bad(const char *what, const char *s, int err, int want_err,
		const char *got, const char *want)
{
	printf("# %s(\"%s\"): %s %s, want %s %s\n", what, s ? s : "(null)",
	       err_name(err), got, err_name(want_err), want);
	ok = false;
}

/* num_u64(@s, @base, @min, @max) gives @want_err, and @want when 0 */
static void u64(const char *s, int base, uint64_t min, uint64_t max,
		int want_err, uint64_t want)
{
	uint64_t v = SENTINEL;
	int err = num_u64(s, base, min, max, &v);
	char g[32], w[32];

	if (err == want_err && v == (want_err ? SENTINEL : want))
		return;
	snprintf(g, sizeof(g), "%" PRIu64, v);
	snprintf(w, sizeof(w), "%" PRIu64, want_err ? SENTINEL : want);
	bad("num_u64", s, err, want_err, g, w);
}

static void u32(const char *s, uint32_t min, uint32_t max, int want_err,
		uint32_t want)
{
	uint32_t v = SENTINEL;
	int err = num_u32(s, 10, min, max, &v);
	char g[32], w[32];

	if (err == want_err && v == (want_err ? SENTINEL : want))
		return;
	snprintf(g, sizeof(g), "%" PRIu32, v);
	snprintf(w, sizeof(w), "%" PRIu32, want_err ? (uint32_t)SENTINEL : want);
	bad("num_u32", s, err, want_err, g, w);
}

static void s64(const char *s, int base, int64_t min, int64_t max,
		int want_err, int64_t want)
{
	int64_t v = SENTINEL;
	int err = num_s64(s, base, min, max, &v);
	char g[32], w[32];

	if (err == want_err && v == (want_err ? (int64_t)SENTINEL : want))
		return;
	snprintf(g, sizeof(g), "%" PRId64, v);
	snprintf(w, sizeof(w), "%" PRId64, want_err ? (int64_t)SENTINEL : want);
	bad("num_s64", s, err, want_err, g, w);
}

/* the @len characters at @s */
static void u64n(const char *s, size_t len, int want_err, uint64_t want)
{
	uint64_t v = SENTINEL;
	int err = num_u64n(s, len, 10, 0, UINT32_MAX, &v);
	char g[32], w[32], what[32];

	if (err == want_err && v == (want_err ? SENTINEL : want))
		return;
	snprintf(g, sizeof(g), "%" PRIu64, v);
	snprintf(w, sizeof(w), "%" PRIu64, want_err ? SENTINEL : want);
	snprintf(what, sizeof(what), "num_u64n(len %zu)", len);
	bad(what, s, err, want_err, g, w);
}

static void dbl(const char *s, double min, double max, int want_err, double want)
{
	double v = -1;
	int err = num_double(s, min, max, &v);
	char g[32], w[32];

	if (err == want_err && v == (want_err ? -1 : want))
		return;
	snprintf(g, sizeof(g), "%g", v);
	snprintf(w, sizeof(w), "%g", want_err ? -1 : want);
	bad("num_double", s, err, want_err, g, w);
}

#define U64MAX UINT64_MAX

static void t_whole(void)
{
	u64("0", 10, 0, U64MAX, 0, 0);
	u64("42", 10, 0, U64MAX, 0, 42);
	u64("007", 10, 0, U64MAX, 0, 7);	/* base 10: leading zeros */
	u64("18446744073709551615", 10, 0, U64MAX, 0, U64MAX);
	u64("", 10, 0, U64MAX, -EINVAL, 0);
	u64(NULL, 10, 0, U64MAX, -EINVAL, 0);
	u32("4000000000", 0, UINT32_MAX, 0, 4000000000U);
	s64("123", 10, INT64_MIN, INT64_MAX, 0, 123);
	s64("-123", 10, INT64_MIN, INT64_MAX, 0, -123);
	s64("-0", 10, INT64_MIN, INT64_MAX, 0, 0);
}

static void t_sign_blank(void)
{
	u64("-1", 10, 0, U64MAX, -EINVAL, 0);
	u64("+1", 10, 0, U64MAX, -EINVAL, 0);
	u64("-0", 10, 0, U64MAX, -EINVAL, 0);
	u64(" 1", 10, 0, U64MAX, -EINVAL, 0);
	u64("\t1", 10, 0, U64MAX, -EINVAL, 0);
	u64("\n1", 10, 0, U64MAX, -EINVAL, 0);
	u32("-4294967295", 0, UINT32_MAX, -EINVAL, 0);	/* strtoul wraps it */
	s64("+5", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64(" -5", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64("- 5", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64("--5", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64("-+5", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64("-", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
	s64(NULL, 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
}

static void t_trailing(void)
{
	u64("12x", 10, 0, U64MAX, -EINVAL, 0);
	u64("1 ", 10, 0, U64MAX, -EINVAL, 0);
	u64("12\n", 10, 0, U64MAX, -EINVAL, 0);
	u64("1.5", 10, 0, U64MAX, -EINVAL, 0);
	u64("1e3", 10, 0, U64MAX, -EINVAL, 0);
	u64("ff", 10, 0, U64MAX, -EINVAL, 0);
	u64("1,2", 10, 0, U64MAX, -EINVAL, 0);
	/* junk wins over range */
	u64("99999999999999999999999x", 10, 0, U64MAX, -EINVAL, 0);
	u64("11x", 10, 0, 10, -EINVAL, 0);
	s64("-12x", 10, INT64_MIN, INT64_MAX, -EINVAL, 0);
}

static void t_range(void)
{
	u64("4", 10, 5, 10, -ERANGE, 0);
	u64("5", 10, 5, 10, 0, 5);
	u64("10", 10, 5, 10, 0, 10);
	u64("11", 10, 5, 10, -ERANGE, 0);
	u32("0", 1, 65535, -ERANGE, 0);
	u32("1", 1, 65535, 0, 1);
	u32("65535", 1, 65535, 0, 65535);
	u32("65536", 1, 65535, -ERANGE, 0);
	u32("4294967295", 0, UINT32_MAX, 0, UINT32_MAX);
	s64("-4", 10, -3, 3, -ERANGE, 0);
	s64("-3", 10, -3, 3, 0, -3);
	s64("3", 10, -3, 3, 0, 3);
	s64("4", 10, -3, 3, -ERANGE, 0);
	s64("-1", 10, 0, 10, -ERANGE, 0);
	s64("9223372036854775807", 10, INT64_MIN, INT64_MAX, 0, INT64_MAX);
	s64("-9223372036854775808", 10, INT64_MIN, INT64_MAX, 0, INT64_MIN);
}

static void t_overflow(void)
{
	u64("18446744073709551616", 10, 0, U64MAX, -ERANGE, 0);
	u64("99999999999999999999999", 10, 0, U64MAX, -ERANGE, 0);
	u64("0x10000000000000000", 0, 0, U64MAX, -ERANGE, 0);
	u64("0xffffffffffffffff", 0, 0, U64MAX, 0, U64MAX);
	u32("4294967296", 0, UINT32_MAX, -ERANGE, 0);
	u32("99999999999", 0, UINT32_MAX, -ERANGE, 0);
	s64("9223372036854775808", 10, INT64_MIN, INT64_MAX, -ERANGE, 0);
	s64("-9223372036854775809", 10, INT64_MIN, INT64_MAX, -ERANGE, 0);
	s64("18446744073709551616", 10, INT64_MIN, INT64_MAX, -ERANGE, 0);
}

static void t_base0(void)
{
	u64("0x1f", 0, 0, U64MAX, 0, 31);
	u64("0X1F", 0, 0, U64MAX, 0, 31);
	u64("017", 0, 0, U64MAX, 0, 15);
	u64("0", 0, 0, U64MAX, 0, 0);
	u64("10", 0, 0, U64MAX, 0, 10);
	u64("08", 0, 0, U64MAX, -EINVAL, 0);
	u64("0x", 0, 0, U64MAX, -EINVAL, 0);
	u64("0x1g", 0, 0, U64MAX, -EINVAL, 0);
	u64("x1", 0, 0, U64MAX, -EINVAL, 0);
	u64("017", 10, 0, U64MAX, 0, 17);
	u64("0x10", 10, 0, U64MAX, -EINVAL, 0);
	u64("ff", 16, 0, U64MAX, -EINVAL, 0);	/* a digit first */
	u64("0ff", 16, 0, U64MAX, 0, 255);
	u64("0xff", 16, 0, U64MAX, 0, 255);
	u64("017", 8, 0, U64MAX, 0, 15);
	s64("-0x10", 0, INT64_MIN, INT64_MAX, 0, -16);
	s64("-010", 0, INT64_MIN, INT64_MAX, 0, -8);
}

static void t_token(void)
{
	const char *s = "123:4567,0";

	u64n(s, 3, 0, 123);
	u64n(s + 4, 4, 0, 4567);
	u64n(s + 9, 1, 0, 0);
	u64n(s, 0, -EINVAL, 0);
	u64n(s, 4, -EINVAL, 0);		/* "123:" */
	u64n(s + 3, 2, -EINVAL, 0);	/* ":4" */
	u64n("4294967296,", 10, -ERANGE, 0);
	u64n("4294967295,", 10, 0, UINT32_MAX);
	u64n("12\0" "3", 4, -EINVAL, 0);	/* a NUL is no digit */
}

static void t_double(void)
{
	dbl("0.5", 0, 1e9, 0, 0.5);
	dbl(".5", 0, 1e9, 0, 0.5);
	dbl("5.", 0, 1e9, 0, 5);
	dbl("2", 0, 1e9, 0, 2);
	dbl("1e3", 0, 1e9, 0, 1000);
	dbl("1E-2", 0, 1e9, 0, 0.01);
	dbl("", 0, 1e9, -EINVAL, 0);
	dbl(NULL, 0, 1e9, -EINVAL, 0);
	dbl(".", 0, 1e9, -EINVAL, 0);
	dbl("-1", -10, 1e9, -EINVAL, 0);
	dbl("+1", 0, 1e9, -EINVAL, 0);
	dbl(" 1", 0, 1e9, -EINVAL, 0);
	dbl("1 ", 0, 1e9, -EINVAL, 0);
	dbl("1x", 0, 1e9, -EINVAL, 0);
	dbl("1e", 0, 1e9, -EINVAL, 0);
	dbl("inf", 0, 1e9, -EINVAL, 0);
	dbl("nan", 0, 1e9, -EINVAL, 0);
	dbl("0x10", 0, 1e9, -EINVAL, 0);
	dbl("0x1p3", 0, 1e9, -EINVAL, 0);
	dbl("1e999", 0, 1e9, -ERANGE, 0);
	dbl("0", 0.01, 3600, -ERANGE, 0);
	dbl("0.01", 0.01, 3600, 0, 0.01);
	dbl("3600", 0.01, 3600, 0, 3600);
	dbl("3600.5", 0.01, 3600, -ERANGE, 0);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "whole string", t_whole },
	{ "leading sign or blank rejected", t_sign_blank },
	{ "trailing junk rejected", t_trailing },
	{ "range edges", t_range },
	{ "overflow", t_overflow },
	{ "base 0 prefixes, bases 8 10 16", t_base0 },
	{ "length-delimited tokens (num_u64n)", t_token },
	{ "doubles", t_double },
};

int main(int argc, char **argv)
{
	bool list = argc > 1 && !strcmp(argv[1], "-l");
	size_t i;
	int failed = 0;

	if (argc > 1 && !list) {
		fprintf(stderr, "usage: num_test [-l]\n");
		return 2;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (list) {
			printf("%s\n", cases[i].name);
			continue;
		}
		ok = true;
		cases[i].fn();
		printf("%s %s\n", ok ? "ok" : "not ok", cases[i].name);
		failed += !ok;
	}
	return failed != 0;
}
