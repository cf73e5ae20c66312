/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one number parser of mvsock's programs (tools, bpf/ examples, test
 * programs): the whole string is the number, nothing before or after it
 * (no sign, no blanks), and it must lie in [min, max].
 *
 * Return values: 0 (and *out set), -EINVAL (not a number, or characters
 * after it), -ERANGE (a number outside [min, max], or too large for the
 * type). *out is left alone on an error. Junk wins over range: "99...9x"
 * is -EINVAL. Unit test: selftests/vsockctl/num_test.c (suite 06-num).
 */
#ifndef MVSOCK_NUM_H
#define MVSOCK_NUM_H

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the value of digit @c in base up to 16, or 16 for no digit */
static inline unsigned int num_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 16;
}

/*
 * The @len characters at @s (a token inside a longer string; no NUL
 * needed). @base: 10, 8, 16 (an optional 0x prefix), or 0 for C's
 * prefixes (0x hex, a leading 0 octal).
 */
static inline int num_u64n(const char *s, size_t len, int base, uint64_t min,
			   uint64_t max, uint64_t *out)
{
	const char *e = s + len;
	bool over = false;
	uint64_t v = 0;
	unsigned int d;

	if (!s || !len || !isdigit((unsigned char)*s))
		return -EINVAL;
	if ((base == 0 || base == 16) && len > 1 && s[0] == '0' &&
	    (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (s == e)
			return -EINVAL;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}
	for (; s < e; s++) {
		d = num_digit(*s);
		if (d >= (unsigned int)base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			over = true;
		v = v * base + d;
	}
	if (over || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static inline int num_u64(const char *s, int base, uint64_t min, uint64_t max,
			  uint64_t *out)
{
	return num_u64n(s, s ? strlen(s) : 0, base, min, max, out);
}

static inline int num_u32(const char *s, int base, uint32_t min, uint32_t max,
			  uint32_t *out)
{
	uint64_t v;
	int err = num_u64(s, base, min, max, &v);

	if (!err)
		*out = (uint32_t)v;
	return err;
}

/* like num_u64, with an optional leading '-' */
static inline int num_s64(const char *s, int base, int64_t min, int64_t max,
			  int64_t *out)
{
	bool neg = s && *s == '-';
	uint64_t m;
	int64_t v;
	int err;

	err = num_u64(s ? s + neg : NULL, base, 0, UINT64_MAX, &m);
	if (err)
		return err;
	if (m > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	/* -(INT64_MAX + 1) without an overflow */
	v = neg ? -(int64_t)(m - 1) - 1 : (int64_t)m;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * A finite decimal number such as 0.5, .5, 2 or 1e3 (no sign, no hex,
 * inf or nan).
 */
static inline int num_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	if (strpbrk(s, "xX"))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v) || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

#endif
