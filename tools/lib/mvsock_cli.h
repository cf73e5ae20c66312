/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The command line of every program mvsock ships (tools/vsocktop,
 * tools/vsockctl, the loaders of bpf/), one style for all:
 *   - argp, long options; --help (with an "Examples:" section after \v in
 *     the doc) and --version ("NAME VERSION", the project's version from
 *     scripts/version.sh, through bpf/toolchain.mk) exit 0;
 *   - -v/--verbose shows libbpf's log, which is silent otherwise;
 *   - a usage error: one line and "Try ... --help", exit 2 (argp_error()
 *     while parsing, cli_usage() after);
 *   - a runtime error: one line "NAME: message" on stderr, exit 1
 *     (cli_fail()).
 * Any file of a program may include it; cli_parse() is for main().
 */
#ifndef MVSOCK_CLI_H
#define MVSOCK_CLI_H

#include <argp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#ifndef MVSOCK_VERSION
#define MVSOCK_VERSION "unknown"
#endif

/* the end of every program's --help */
#define CLI_EXIT_DOC \
	"Exit status: 0 success, 1 runtime error (one line on stderr), 2 usage\n" \
	"error."

/* glibc's, <errno.h> with _GNU_SOURCE: what argp names the program */
extern char *program_invocation_short_name;

/* -v: libbpf's log (read by cli_libbpf_print() of the main file) */
static bool cli_verbose __attribute__((unused));

static inline error_t cli_parse_common(int key, char *arg, struct argp_state *st)
{
	(void)arg;
	(void)st;
	if (key != 'v')
		return ARGP_ERR_UNKNOWN;
	cli_verbose = true;
	return 0;
}

static const struct argp_option cli_common_options[] = {
	{ "verbose", 'v', NULL, 0, "Show libbpf's log", 0 },
	{ 0 },
};

static const struct argp cli_common_argp = {
	.options = cli_common_options,
	.parser = cli_parse_common,
};

/* the .children of a program's argp: the options above */
static const struct argp_child cli_children[] = {
	{ &cli_common_argp, 0, NULL, 9 },
	{ 0 },
};

static inline int cli_libbpf_print(enum libbpf_print_level level,
				   const char *fmt, va_list ap)
{
	(void)level;
	if (!cli_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Parse the command line (@argp has .children = cli_children); exits 2
 * on a usage error, 0 after --help or --version. @name: the program's
 * name in messages and --version.
 */
static inline void cli_parse(const struct argp *argp, int argc, char **argv,
			     void *input, const char *name)
{
	static char version[64];

	program_invocation_short_name = (char *)name;
	snprintf(version, sizeof(version), "%s %s", name, MVSOCK_VERSION);
	argp_program_version = version;
	argp_err_exit_status = 2;
	if (argp_parse(argp, argc, argv, 0, NULL, input))
		exit(2);
	libbpf_set_print(cli_libbpf_print);
}

/*
 * "NAME: message" on stderr, and for a usage error (@status 2) argp's
 * pointer to --help; returns @status. Use cli_fail() and cli_usage().
 */
static inline int cli_msg(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int cli_msg(int status, const char *fmt, ...)
{
	const char *name = program_invocation_short_name;
	va_list ap;

	fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (status == 2)
		fprintf(stderr, "Try `%s --help' or `%s --usage' for more information.\n",
			name, name);
	return status;
}

/* a runtime error: one line, returns 1 (the exit status) */
#define cli_fail(...)	cli_msg(1, __VA_ARGS__)

/* a usage error found after parsing, worded as argp does; returns 2 */
#define cli_usage(...)	cli_msg(2, __VA_ARGS__)

#endif
