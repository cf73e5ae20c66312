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
#include <sys/wait.h>

#include "bench_common.h"

#define PROG "vsock_connrate"

const char *argp_program_version = PROG " " BENCH_VERSION;

static const char cr_doc[] =
"AF_VSOCK SOCK_STREAM connection set-up and tear-down rate: socket() +\n"
"connect() on the client, accept() + close() on the server, the client\n"
"sees EOF and closes, back to back; prints one line: cycles failures secs\n"
"conn_per_s mean_us ok_per_s. By default the server is a forked child and\n"
"the client connects to CID 1 (loopback); --server (accept and close,\n"
"forever) and --client split the two ends. Defaults: --port 5202, --time 3,\n"
"--warmup 20 (cycles).\n"
"\vExamples:\n"
"  vsock_connrate                       both ends here, loopback, 3 s\n"
"  vsock_connrate --time 1 --port 6000\n"
"  vsock_connrate --server --port 5202  accept and close, forever\n"
"  vsock_connrate --client --cid 3 --max-fail 0\n"
"                                       against CID 3, stop at a failure\n"
BENCH_EXIT_STATUS;

static const struct argp_option cr_options[] = {
	{ "max-fail", 'f', "N", 0, "Give up after N failed cycles (default 5)", 0 },
	{ 0 },
};

struct cr_args {
	struct bench_sock_args sock;
	unsigned long max_fail;
};

static error_t cr_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct cr_args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->sock;
		break;
	case 'f':
		a->max_fail = bench_arg_u64(st, "--max-fail", arg, 0, ULONG_MAX);
		break;
	default:
		return bench_no_args(key, arg, st);
	}
	return 0;
}

static const struct argp cr_argp = {
	.options = cr_options,
	.parser = cr_parse_opt,
	.doc = cr_doc,
	.children = bench_sock_children,
};

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

	fd = vconnect_to(SOCK_STREAM, cid, port, 0);
	if (fd < 0)
		return -1;
	/* Wait for the server's accept() + close(): EOF (or a reset). */
	r = (int)recv_all(fd, &c, 1, 0);
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

	t0 = vu_now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	now = t0;
	do {
		c0 = now;
		if (cycle(cid, port) < 0) {
			fail_ns += vu_now_ns() - c0;
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
		now = vu_now_ns();
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
	struct cr_args a = {
		.sock = { .cid = VMADDR_CID_LOCAL, .port = 5202, .warmup = 20,
			  .secs = 3 },
		.max_fail = 5,
	};
	int lfd, rc, status;
	pid_t pid, parent;

	bench_parse_args(&cr_argp, argc, argv, &a);

	if (a.sock.mode == 'C')
		return run_client(a.sock.cid, a.sock.port, a.sock.secs,
				  a.sock.warmup, a.max_fail);

	lfd = vlistener(SOCK_STREAM, VMADDR_CID_ANY, a.sock.port, 128);
	if (lfd < 0)
		bench_die(PROG, "listen(port %u)", a.sock.port);
	if (a.sock.mode == 's')
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
	rc = run_client(a.sock.cid, a.sock.port, a.sock.secs, a.sock.warmup,
			a.max_fail);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) < 0)
		bench_die(PROG, "waitpid");
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
		fprintf(stderr, PROG ": server child failed (status %#x)\n", status);
		rc = 1;
	}
	return rc;
}
