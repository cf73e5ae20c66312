/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one number parser of mvsock's programs (tools, bpf/ examples, test
 * programs): the whole string is the number, nothing before or after it
 * (no sign, no blanks), and it must lie in [min, max].
 *
 * Return values: 0 (and *out set), -EINVAL (not a number, or characters
 * after it), -ERANGE (a number outside [min, max]). *out is left alone on
 * an error.
 */
#ifndef MVSOCK_NUM_H
#define MVSOCK_NUM_H

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* base 10, or 0 for C's prefixes (0x hex, 0 octal) */
static inline int num_u64(const char *s, int base, uint64_t min, uint64_t max,
			  uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
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
	long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[*s == '-']))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* a finite decimal number such as 0.5, 2 or 1e3 */
static inline int num_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !(isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

#endif
