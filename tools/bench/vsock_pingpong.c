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
#include <sys/wait.h>

#include "bench_common.h"

#define PROG "vsock_pingpong"
#define MAX_SAMPLES (4u * 1000 * 1000)

const char *argp_program_version = PROG " " BENCH_VERSION;

static const char pp_doc[] =
"1-byte request/response round trips over an AF_VSOCK SOCK_STREAM\n"
"connection; prints one line: iters=N mean_us p50_us p99_us min_us max_us.\n"
"By default a forked child connects to CID 1 (loopback) and echoes;\n"
"--server (echo one connection, no measuring) and --client split the two\n"
"ends. Defaults: --port 5201, --time 3, --warmup 200 (round trips).\n"
"\vExamples:\n"
"  vsock_pingpong                       both ends here, loopback, 3 s\n"
"  vsock_pingpong --time 1 --port 6000\n"
"  vsock_pingpong --iters 1 --warmup 0  one round trip\n"
"  vsock_pingpong --server --port 5201  echo one connection (the guest)\n"
"  vsock_pingpong --client --cid 3 --port 5201\n"
"                                       measure against CID 3's echo\n"
BENCH_EXIT_STATUS;

static const struct argp_option pp_options[] = {
	{ "iters", 'n', "N", 0, "Stop after N round trips (default: time only)", 0 },
	{ 0 },
};

struct pp_args {
	struct bench_sock_args sock;
	unsigned long long iters;
};

static error_t pp_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct pp_args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->sock;
		break;
	case 'n':
		a->iters = bench_arg_u64(st, "--iters", arg, 0, UINT64_MAX);
		break;
	default:
		return bench_no_args(key, arg, st);
	}
	return 0;
}

static const struct argp pp_argp = {
	.options = pp_options,
	.parser = pp_parse_opt,
	.doc = pp_doc,
	.children = bench_sock_children,
};

/* Echo bytes until EOF. */
static int echo_loop(int fd)
{
	char c;
	int r;

	for (;;) {
		r = (int)recv_all(fd, &c, 1, 0);
		if (r == 0)
			return 0;
		if (r < 0 || send_all(fd, &c, 1, 0) != 1)
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
		if (send_all(fd, &c, 1, 0) != 1 || recv_all(fd, &c, 1, 0) != 1)
			bench_die(PROG, "warm-up round trip");
	}

	end = vu_now_ns() + (uint64_t)(secs * 1e9);
	t0 = vu_now_ns();
	while (n < cap) {
		if (send_all(fd, &c, 1, 0) != 1)
			bench_die(PROG, "write");
		r = (int)recv_all(fd, &c, 1, 0);
		if (r != 1) {
			if (r == 0)
				errno = 0;
			bench_die(PROG, r ? "read" : "read: peer closed");
		}
		t1 = vu_now_ns();
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
	struct pp_args a = {
		.sock = { .cid = VMADDR_CID_LOCAL, .port = 5201, .warmup = 200,
			  .secs = 3 },
	};
	unsigned int cid, port;
	int lfd, fd, status, rc;
	pid_t pid, parent;

	bench_parse_args(&pp_argp, argc, argv, &a);
	cid = a.sock.cid;
	port = a.sock.port;

	if (a.sock.mode == 'C') {
		fd = vconnect_to(SOCK_STREAM, cid, port, 0);
		if (fd < 0)
			bench_die(PROG, "connect(%u:%u)", cid, port);
		rc = measure(fd, a.sock.secs, a.iters, a.sock.warmup);
		close(fd);
		return rc;
	}

	lfd = vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, 1);
	if (lfd < 0)
		bench_die(PROG, "listen(port %u)", port);
	if (a.sock.mode == 's') {
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
		fd = vconnect_to(SOCK_STREAM, cid, port, 0);
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
	rc = measure(fd, a.sock.secs, a.iters, a.sock.warmup);
	close(fd);
	if (waitpid(pid, &status, 0) < 0)
		bench_die(PROG, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, PROG ": echo child failed (status %#x)\n", status);
		rc = 1;
	}
	return rc;
}
