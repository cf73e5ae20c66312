/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the mvsock benchmark tools share beyond the AF_VSOCK helpers of
 * selftests/lib/vsock_util.h: the command line (argp: long options,
 * --help with examples, --version; a usage error exits 2), numbers through
 * tools/lib/num.h, runtime errors (one line on stderr, exit 1) and the
 * helper child.
 */
#ifndef MVSOCK_BENCH_COMMON_H
#define MVSOCK_BENCH_COMMON_H

#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "num.h"
#include "vsock_util.h"

#ifndef BENCH_VERSION
#define BENCH_VERSION "unknown"
#endif

#define BENCH_EXIT_STATUS \
	"\nExit status: 0 success, 1 runtime error (one line on stderr), 2 usage\n" \
	"error."

/* argp with the project's exit status for usage errors */
static inline void bench_parse_args(const struct argp *argp, int argc,
				    char **argv, void *input)
{
	argp_err_exit_status = 2;
	if (argp_parse(argp, argc, argv, 0, NULL, input))
		exit(2);
}

/* "PROG: message[: strerror(errno)]" on stderr, exit 1 */
__attribute__((noreturn, format(printf, 2, 3)))
static inline void bench_die(const char *prog, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* option OPT's ARG as a whole number in [min, max], else a usage error */
static inline uint64_t bench_arg_u64(struct argp_state *st, const char *opt,
				     const char *arg, uint64_t min,
				     uint64_t max)
{
	uint64_t v = 0;

	if (num_u64(arg, 0, min, max, &v))
		argp_error(st, "bad %s '%s': want a whole number from %llu to %llu",
			   opt, arg, (unsigned long long)min,
			   (unsigned long long)max);
	return v;
}

/* a number of seconds above 0 (fractions allowed), else a usage error */
static inline double bench_arg_secs(struct argp_state *st, const char *opt,
				    const char *arg)
{
	double v = 0;

	if (num_double(arg, 0, 1e6, &v) || v <= 0)
		argp_error(st, "bad %s '%s': want seconds above 0, at most 1e6",
			   opt, arg);
	return v;
}

/*
 * The options both socket benchmarks take, an argp child: a program's
 * parser hands it its struct bench_sock_args at ARGP_KEY_INIT
 * (st->child_inputs[0]).
 */
struct bench_sock_args {
	unsigned int cid, port;
	double secs;
	unsigned long long warmup;
	int mode;		/* 0 both ends here, 's' server, 'C' client */
};

static const struct argp_option bench_sock_options[] = {
	{ "cid", 'c', "CID", 0, "CID the client connects to (default 1, loopback)", 0 },
	{ "port", 'p', "PORT", 0, "Port", 0 },
	{ "time", 't', "SECS", 0, "Measure for SECS seconds (default 3)", 0 },
	{ "warmup", 'w', "N", 0, "Untimed rounds first", 0 },
	{ "server", 's', NULL, 0, "Only the server end", 1 },
	{ "client", 'C', NULL, 0, "Only the client end, against CID:PORT", 1 },
	{ 0 },
};

/* for any parser: no positional arguments, nothing else known */
static inline error_t bench_no_args(int key, char *arg, struct argp_state *st)
{
	if (key == ARGP_KEY_ARG)
		argp_error(st, "no argument expected: '%s'", arg);
	return ARGP_ERR_UNKNOWN;
}

static inline error_t bench_sock_parse(int key, char *arg,
				       struct argp_state *st)
{
	struct bench_sock_args *a = st->input;

	switch (key) {
	case 'c':
		a->cid = (unsigned int)bench_arg_u64(st, "--cid", arg, 0, UINT32_MAX);
		break;
	case 'p':
		a->port = (unsigned int)bench_arg_u64(st, "--port", arg, 0, UINT32_MAX);
		break;
	case 't':
		a->secs = bench_arg_secs(st, "--time", arg);
		break;
	case 'w':
		a->warmup = bench_arg_u64(st, "--warmup", arg, 0, UINT64_MAX);
		break;
	case 's':
	case 'C':
		a->mode = key;
		break;
	default:
		return bench_no_args(key, arg, st);
	}
	return 0;
}

static const struct argp bench_sock_argp = {
	.options = bench_sock_options,
	.parser = bench_sock_parse,
};

static const struct argp_child bench_sock_children[] = {
	{ &bench_sock_argp, 0, NULL, 0 },
	{ 0 },
};

/*
 * In a forked helper child: die with the parent, so that a failing parent
 * never leaves a child holding its stdout open (and a caller waiting).
 */
static inline void bench_child_init(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
}

#endif /* MVSOCK_BENCH_COMMON_H */
