/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the loaders of bpf/ share: the command line of every mvsock
 * program (tools/lib/mvsock_cli.h: argp, --help, --version, -v for
 * libbpf's log, exit 2 on a usage error, one line and exit 1 on a runtime
 * error), SIGINT/SIGTERM as "detach and exit", and attaching a
 * mvsock_bpf_ops set with a clear message when it fails.
 * The functions are static inline: a loader uses only what it needs.
 */
#ifndef MVSOCK_LOADER_H
#define MVSOCK_LOADER_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "../tools/lib/mvsock_cli.h"

static volatile sig_atomic_t loader_stop;

static inline void loader_on_signal(int sig)
{
	(void)sig;
	loader_stop = 1;
}

/*
 * A loader's positional arguments: each one a @what in the form @want,
 * checked by @check (0: good; NULL: any); at least one unless @optional.
 */
struct loader_args {
	const char *what, *want;
	int (*check)(const char *arg);
	bool optional;
	char **v;		/* after parsing: the @n arguments */
	int n;
};

/* the argp parser of a loader whose input is a struct loader_args */
static inline error_t loader_parse_args(int key, char *arg, struct argp_state *st)
{
	struct loader_args *a = st->input;
	int i;

	(void)arg;
	switch (key) {
	case ARGP_KEY_ARGS:
		a->v = st->argv + st->next;
		a->n = st->argc - st->next;
		for (i = 0; a->check && i < a->n; i++)
			if (a->check(a->v[i]))
				argp_error(st, "bad %s '%s': want %s", a->what,
					   a->v[i], a->want);
		break;
	case ARGP_KEY_NO_ARGS:
		if (!a->optional)
			argp_error(st, "a %s is needed: %s", a->what, a->want);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* cli_parse(), then stdout line by line (the tests read it live) */
static inline void loader_init(const struct argp *argp, int argc, char **argv,
			       void *input, const char *name)
{
	cli_parse(argp, argc, argv, input, name);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline int loader_load_failed(void)
{
	return cli_fail("cannot load the BPF program: %s (is mvsock.ko loaded? -v shows libbpf's log)",
			strerror(errno));
}

/* attach the set in @map; SIGINT/SIGTERM set loader_stop from now on */
static inline struct bpf_link *loader_attach(struct bpf_map *map)
{
	struct bpf_link *link;

	signal(SIGINT, loader_on_signal);
	signal(SIGTERM, loader_on_signal);
	link = bpf_map__attach_struct_ops(map);
	if (!link)
		cli_fail("cannot attach: %s%s", strerror(errno),
			 errno == EBUSY ? " (another mvsock_bpf_ops set is attached)" : "");
	return link;
}

static inline void loader_detach(struct bpf_link *link)
{
	if (!link)
		return;
	bpf_link__destroy(link);
	printf("detached\n");
}

#endif
