// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_pingpong: 1-byte request/response round trips over an AF_VSOCK
 * SOCK_STREAM connection; prints the mean, p50 and p99 round-trip time.
 *
 * By default both ends run on this machine (a forked child connects to
 * CID 1, the loopback device, and echoes); --server / --client split them
 * so the same tool can measure across a real device.
 *
 * Output (one line, key=value, for scripts):
 *   pingpong: iters=N mean_us=X p50_us=X p99_us=X min_us=X max_us=X
 */
#include <getopt.h>
#include <sys/wait.h>

#include "bench_common.h"

#define PROG "vsock_pingpong"
#define MAX_SAMPLES (4u * 1000 * 1000)

static void usage(void)
{
	fprintf(stderr,
		"Usage: " PROG " [options]\n"
		"  -c, --cid CID        peer CID for the client (default 1, loopback)\n"
		"  -p, --port PORT      port (default 5201)\n"
		"  -t, --time SECS      measure for SECS seconds (default 3)\n"
		"  -n, --iters N        stop after N round trips (default: time only)\n"
		"  -w, --warmup N       untimed round trips first (default 200)\n"
		"  -s, --server         only echo (one connection), no measuring\n"
		"  -C, --client         only connect to CID:PORT and measure\n");
	exit(2);
}

/* Echo bytes until EOF. */
static int echo_loop(int fd)
{
	char c;
	int r;

	for (;;) {
		r = bench_read1(fd, &c);
		if (r == 0)
			return 0;
		if (r < 0 || bench_write1(fd, c) < 0)
			return -1;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int measure(int fd, double secs, unsigned long long iters,
		   unsigned long long warmup)
{
	unsigned long long cap = iters ? iters : MAX_SAMPLES, n = 0, i;
	uint64_t *s, t0, t1, end, sum = 0;
	char c = 'x';
	int r;

	if (cap > MAX_SAMPLES)
		cap = MAX_SAMPLES;
	s = malloc(cap * sizeof(*s));
	if (!s)
		bench_die(PROG, "malloc");

	for (i = 0; i < warmup; i++) {
		if (bench_write1(fd, c) < 0 || bench_read1(fd, &c) != 1)
			bench_die(PROG, "warm-up round trip");
	}

	end = bench_now_ns() + (uint64_t)(secs * 1e9);
	t0 = bench_now_ns();
	while (n < cap) {
		if (bench_write1(fd, c) < 0)
			bench_die(PROG, "write");
		r = bench_read1(fd, &c);
		if (r != 1) {
			if (r == 0)
				errno = 0;
			bench_die(PROG, r ? "read" : "read: peer closed");
		}
		t1 = bench_now_ns();
		s[n++] = t1 - t0;
		sum += t1 - t0;
		t0 = t1;
		if (!iters && t1 >= end)
			break;
	}

	qsort(s, n, sizeof(*s), cmp_u64);
	printf("pingpong: iters=%llu mean_us=%.2f p50_us=%.2f p99_us=%.2f min_us=%.2f max_us=%.2f\n",
	       n, (double)sum / n / 1e3, s[n * 50 / 100] / 1e3,
	       s[n * 99 / 100] / 1e3, s[0] / 1e3, s[n - 1] / 1e3);
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cid", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server", no_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int cid = VMADDR_CID_LOCAL, port = 5201;
	unsigned long long iters = 0, warmup = 200;
	int mode = 0; /* 0 both, 's' server, 'C' client */
	double secs = 3;
	int opt, lfd, fd, status, rc;
	pid_t pid, parent;

	while ((opt = getopt_long(argc, argv, "c:p:t:n:w:sCh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': cid = bench_parse_u(PROG, "CID", optarg); break;
		case 'p': port = bench_parse_u(PROG, "port", optarg); break;
		case 't': secs = bench_parse_f(PROG, "time", optarg); break;
		case 'n': iters = bench_parse_u(PROG, "iteration count", optarg); break;
		case 'w': warmup = bench_parse_u(PROG, "warm-up count", optarg); break;
		case 's': case 'C': mode = opt; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	if (mode == 'C') {
		fd = bench_vsock_connect(cid, port);
		if (fd < 0)
			bench_die(PROG, "connect(%u:%u)", cid, port);
		rc = measure(fd, secs, iters, warmup);
		close(fd);
		return rc;
	}

	lfd = bench_vsock_listen(PROG, port, 1);
	if (mode == 's') {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			bench_die(PROG, "accept");
		close(lfd);
		rc = echo_loop(fd);
		close(fd);
		return rc ? 1 : 0;
	}

	/* Both ends: the child connects and echoes, we accept and measure. */
	fflush(stdout);
	parent = getpid();
	pid = fork();
	if (pid < 0)
		bench_die(PROG, "fork");
	if (pid == 0) {
		bench_child_init(parent);
		close(lfd);
		fd = bench_vsock_connect(cid, port);
		if (fd < 0)
			bench_die(PROG, "child: connect(%u:%u)", cid, port);
		rc = echo_loop(fd);
		close(fd);
		_exit(rc ? 1 : 0);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		kill(pid, SIGTERM);
		bench_die(PROG, "accept");
	}
	close(lfd);
	rc = measure(fd, secs, iters, warmup);
	close(fd);
	if (waitpid(pid, &status, 0) < 0)
		bench_die(PROG, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, PROG ": echo child failed (status %#x)\n", status);
		rc = 1;
	}
	return rc;
}
