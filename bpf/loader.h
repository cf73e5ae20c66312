/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the loaders of bpf/ share: options (-v: libbpf's debug log, -h),
 * libbpf's messages on stderr, SIGINT/SIGTERM as "detach and exit", and
 * attaching a mvsock_bpf_ops set with a clear message when it fails.
 * The functions are static inline: a loader uses only what it needs.
 */
#ifndef MVSOCK_LOADER_H
#define MVSOCK_LOADER_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

static volatile sig_atomic_t loader_stop;
static bool loader_verbose;

static inline void loader_on_signal(int sig)
{
	(void)sig;
	loader_stop = 1;
}

static inline int loader_libbpf_print(enum libbpf_print_level level,
				      const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !loader_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Options; returns the index of the first argument, or exits (status 0
 * for -h, 2 for a bad option or no argument; @args "[...]": arguments
 * are optional). @extra: the loader's own flags (letters without
 * arguments, NULL: none); the flag at extra[i] sets bit i of *@flags.
 */
static inline int loader_init_flags(int argc, char **argv, const char *args,
				    const char *extra, unsigned int *flags)
{
	char optstr[32] = "vh";
	const char *p;
	int opt;

	if (extra)
		strncat(optstr, extra, sizeof(optstr) - strlen(optstr) - 1);
	while ((opt = getopt(argc, argv, optstr)) != -1) {
		if (opt == 'v') {
			loader_verbose = true;
			continue;
		}
		p = extra && opt != '?' && opt != 'h' ? strchr(extra, opt) : NULL;
		if (p) {
			*flags |= 1u << (p - extra);
			continue;
		}
		fprintf(stderr, "usage: %s [-v%s] %s\n", argv[0], extra ? extra : "", args);
		exit(opt == 'h' ? 0 : 2);
	}
	if (optind == argc && args[0] != '[') {
		fprintf(stderr, "usage: %s [-v%s] %s\n", argv[0], extra ? extra : "", args);
		exit(2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(loader_libbpf_print);
	return optind;
}

static inline int loader_init(int argc, char **argv, const char *args)
{
	return loader_init_flags(argc, argv, args, NULL, NULL);
}

static inline void loader_load_failed(const char *name)
{
	fprintf(stderr, "%s: cannot load the BPF program: %s (is mvsock.ko loaded? -v shows libbpf's log)\n",
		name, strerror(errno));
}

/* attach the set in @map; SIGINT/SIGTERM set loader_stop from now on */
static inline struct bpf_link *loader_attach(struct bpf_map *map, const char *name)
{
	struct bpf_link *link;

	signal(SIGINT, loader_on_signal);
	signal(SIGTERM, loader_on_signal);
	link = bpf_map__attach_struct_ops(map);
	if (!link)
		fprintf(stderr, "%s: cannot attach: %s%s\n", name, strerror(errno),
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
