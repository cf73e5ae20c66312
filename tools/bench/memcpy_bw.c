// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy_bw: single-core memcpy() bandwidth on buffers much larger than
 * the caches. Copies a --size MiB buffer into another one repeatedly for
 * --time seconds and prints the best and the mean rate in GB/s (10^9
 * bytes copied per second; each byte copied is read once and written
 * once).
 *
 * Output (one line, key=value, for scripts):
 *   memcpy: size_mib=N copies=N best_gbps=X mean_gbps=X
 */
#include "bench_common.h"

#define PROG "memcpy_bw"

const char *argp_program_version = PROG " " BENCH_VERSION;

static const char mb_doc[] =
"Single-core memcpy() bandwidth on buffers much larger than the caches:\n"
"copies a --size MiB buffer into another one for --time seconds and prints\n"
"one line: size_mib copies best_gbps mean_gbps (10^9 bytes copied per\n"
"second).\n"
"\vExamples:\n"
"  memcpy_bw                   128 MiB for 2 s\n"
"  memcpy_bw --size 512 --time 5\n"
BENCH_EXIT_STATUS;

static const struct argp_option mb_options[] = {
	{ "size", 's', "MiB", 0, "Buffer size in MiB (default 128)", 0 },
	{ "time", 't', "SECS", 0, "Copy for SECS seconds (default 2)", 0 },
	{ 0 },
};

struct mb_args {
	unsigned long long mib;
	double secs;
};

static error_t mb_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct mb_args *a = st->input;

	switch (key) {
	case 's':
		a->mib = bench_arg_u64(st, "--size", arg, 1, 1u << 20);
		break;
	case 't':
		a->secs = bench_arg_secs(st, "--time", arg);
		break;
	default:
		return bench_no_args(key, arg, st);
	}
	return 0;
}

static const struct argp mb_argp = {
	.options = mb_options,
	.parser = mb_parse_opt,
	.doc = mb_doc,
};

int main(int argc, char **argv)
{
	struct mb_args a = { .mib = 128, .secs = 2 };
	unsigned long long mib, copies = 0;
	uint64_t t0, t1, start, best = UINT64_MAX;
	volatile unsigned char sink;
	unsigned char *src, *dst;
	double secs;
	size_t size;

	bench_parse_args(&mb_argp, argc, argv, &a);
	mib = a.mib;
	secs = a.secs;
	size = (size_t)mib << 20;

	src = malloc(size);
	dst = malloc(size);
	if (!src || !dst)
		bench_die(PROG, "malloc(%llu MiB)", mib);
	/* Fault every page in before timing anything. */
	memset(src, 0x5a, size);
	memset(dst, 0xa5, size);

	start = vu_now_ns();
	do {
		src[copies % size] = (unsigned char)copies;
		t0 = vu_now_ns();
		memcpy(dst, src, size);
		t1 = vu_now_ns();
		sink = dst[copies % size];
		(void)sink;
		if (t1 - t0 < best)
			best = t1 - t0;
		copies++;
	} while (t1 - start < (uint64_t)(secs * 1e9) || copies < 3);

	printf("memcpy: size_mib=%llu copies=%llu best_gbps=%.3f mean_gbps=%.3f\n",
	       mib, copies, (double)size / best,
	       (double)size * copies / (t1 - start));
	free(src);
	free(dst);
	return 0;
}
