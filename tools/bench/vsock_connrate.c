// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_connrate: AF_VSOCK SOCK_STREAM connection set-up and tear-down
 * rate. One cycle is: socket() + connect() on the client, accept() +
 * close() on the server, the client sees EOF and close()s. Cycles run back
 * to back for --time seconds; the tool prints cycles per second.
 *
 * By default the server is a forked child on this machine and the client
 * connects to CID 1 (loopback); --server / --client split the two ends.
 *
 * Output (one line, key=value, for scripts):
 *   connrate: cycles=N failures=N secs=X conn_per_s=X mean_us=X ok_per_s=X
 * (ok_per_s: cycles per second over the time not spent in failed cycles)
 */
#include <getopt.h>
#include <sys/wait.h>

#include "bench_common.h"

#define PROG "vsock_connrate"

static void usage(void)
{
	fprintf(stderr,
		"Usage: " PROG " [options]\n"
		"  -c, --cid CID        server CID for the client (default 1, loopback)\n"
		"  -p, --port PORT      port (default 5202)\n"
		"  -t, --time SECS      run for SECS seconds (default 3)\n"
		"  -w, --warmup N       untimed cycles first (default 20)\n"
		"  -f, --max-fail N     give up after N failed cycles (default 5)\n"
		"  -s, --server         only accept and close, forever\n"
		"  -C, --client         only run the client against CID:PORT\n");
	exit(2);
}

static void accept_loop(int lfd)
{
	int fd;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			bench_die(PROG, "accept");
		}
		close(fd);
	}
}

/* One cycle; 0 or -1 (errno set). */
static int cycle(unsigned int cid, unsigned int port)
{
	char c;
	int fd, r;

	fd = bench_vsock_connect(cid, port);
	if (fd < 0)
		return -1;
	/* Wait for the server's accept() + close(): EOF (or a reset). */
	r = bench_read1(fd, &c);
	if (r < 0 && errno != ECONNRESET) {
		r = errno;
		close(fd);
		errno = r;
		return -1;
	}
	close(fd);
	return 0;
}

static int run_client(unsigned int cid, unsigned int port, double secs,
		      unsigned long warmup, unsigned long max_fail)
{
	unsigned long long n = 0, fails = 0;
	uint64_t t0, c0, now, end, fail_ns = 0;
	unsigned long i;

	for (i = 0; i < warmup; i++) {
		if (cycle(cid, port) < 0) {
			fprintf(stderr, PROG ": warm-up cycle %lu: connect(%u:%u): %s\n",
				i, cid, port, strerror(errno));
			if (++fails > max_fail) {
				fprintf(stderr, PROG ": too many failures, giving up\n");
				return 1;
			}
		}
	}

	t0 = bench_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	now = t0;
	do {
		c0 = now;
		if (cycle(cid, port) < 0) {
			fail_ns += bench_now_ns() - c0;
			/* Reported, counted, not fatal (unless it persists). */
			fprintf(stderr, PROG ": cycle %llu: connect(%u:%u): %s\n",
				n + fails, cid, port, strerror(errno));
			if (++fails > max_fail) {
				fprintf(stderr, PROG ": too many failures, giving up\n");
				return 1;
			}
		} else {
			n++;
		}
		now = bench_now_ns();
	} while (now < end);

	/* failures= counts warm-up ones too; timed ones cost time, add no cycle */
	/* ok_per_s: the rate over the time not spent in failed cycles */
	printf("connrate: cycles=%llu failures=%llu secs=%.3f conn_per_s=%.1f mean_us=%.2f ok_per_s=%.1f\n",
	       n, fails, (now - t0) / 1e9, n / ((now - t0) / 1e9),
	       n ? (now - t0) / 1e3 / n : 0.0,
	       now - t0 > fail_ns ? n / ((now - t0 - fail_ns) / 1e9) : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cid", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "max-fail", required_argument, NULL, 'f' },
		{ "server", no_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int cid = VMADDR_CID_LOCAL, port = 5202;
	unsigned long warmup = 20, max_fail = 5;
	int mode = 0, opt, lfd, rc, status;
	double secs = 3;
	pid_t pid, parent;

	while ((opt = getopt_long(argc, argv, "c:p:t:w:f:sCh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': cid = bench_parse_u(PROG, "CID", optarg); break;
		case 'p': port = bench_parse_u(PROG, "port", optarg); break;
		case 't': secs = bench_parse_f(PROG, "time", optarg); break;
		case 'w': warmup = bench_parse_u(PROG, "warm-up count", optarg); break;
		case 'f': max_fail = bench_parse_u(PROG, "failure count", optarg); break;
		case 's': case 'C': mode = opt; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	if (mode == 'C')
		return run_client(cid, port, secs, warmup, max_fail);

	lfd = bench_vsock_listen(PROG, port, 128);
	if (mode == 's')
		accept_loop(lfd);

	fflush(stdout);
	parent = getpid();
	pid = fork();
	if (pid < 0)
		bench_die(PROG, "fork");
	if (pid == 0) {
		bench_child_init(parent);
		accept_loop(lfd);
	}
	close(lfd);
	rc = run_client(cid, port, secs, warmup, max_fail);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) < 0)
		bench_die(PROG, "waitpid");
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
		fprintf(stderr, PROG ": server child failed (status %#x)\n", status);
		rc = 1;
	}
	return rc;
}
