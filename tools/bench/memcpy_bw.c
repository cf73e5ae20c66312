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
#include <getopt.h>

#include "bench_common.h"

#define PROG "memcpy_bw"

static void usage(void)
{
	fprintf(stderr,
		"Usage: " PROG " [-s|--size MiB (default 128)] [-t|--time SECS (default 2)]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long mib = 128, copies = 0;
	uint64_t t0, t1, start, best = UINT64_MAX;
	volatile unsigned char sink;
	unsigned char *src, *dst;
	double secs = 2;
	size_t size;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's': mib = bench_parse_u(PROG, "size", optarg); break;
		case 't': secs = bench_parse_f(PROG, "time", optarg); break;
		default: usage();
		}
	}
	if (optind != argc || !mib)
		usage();
	size = (size_t)mib << 20;

	src = malloc(size);
	dst = malloc(size);
	if (!src || !dst)
		bench_die(PROG, "malloc(%llu MiB)", mib);
	/* Fault every page in before timing anything. */
	memset(src, 0x5a, size);
	memset(dst, 0xa5, size);

	start = bench_now_ns();
	do {
		src[copies % size] = (unsigned char)copies;
		t0 = bench_now_ns();
		memcpy(dst, src, size);
		t1 = bench_now_ns();
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
