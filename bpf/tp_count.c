// SPDX-License-Identifier: GPL-2.0
/*
 * tp_count: count the events of the mvsock trace system with BPF (the
 * "all tracepoints with counting programs" case of scripts/bench-hooks.sh).
 *
 * Usage: tp_count [-v] [-c] [EVENT...]
 *
 * Attaches tp_count.bpf.c's counting program to each EVENT, by default to
 * every event in /sys/kernel/tracing/events/mvsock/ (mvsock.ko must be
 * loaded): as a raw tracepoint program, or with -c as a classic
 * tracepoint program (the kernel formats each event's record for it, as
 * for perf: the dearer kind). Prints "attached N events (raw|classic):
 * NAME...", and
 * counts until SIGINT or SIGTERM. Then it prints one line per event,
 * "count EVENT N", and "total N in E events, M missed" (M: runs the kernel
 * skipped because a BPF program was already running on that CPU), and
 * detaches. -v prints libbpf's log; --help, --version.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "tp_count.skel.h"

#define TP_SYSTEM "mvsock"
#define TP_DIR "/sys/kernel/tracing/events/" TP_SYSTEM

static const char tc_doc[] =
"Count the events of the mvsock trace system with a BPF program on each\n"
"EVENT (default: every event of " TP_DIR "), until SIGINT\n"
"or SIGTERM; then print the counts.\n"
"\vExamples:\n"
"  tp_count                      every mvsock event, raw tracepoint programs\n"
"  tp_count -c                   the same with classic tracepoint programs\n"
"  tp_count mvsock_pkt_tx mvsock_pkt_rx\n"
"                                only these two events\n"
"\n"
CLI_EXIT_DOC;

static const struct argp_option tc_options[] = {
	{ "classic", 'c', NULL, 0, "Classic tracepoint programs (the kernel formats each event's record, as for perf)", 0 },
	{ 0 },
};

struct tc_args {
	struct loader_args events;	/* first: loader_parse_args() reads it */
	bool classic;
};

static error_t tc_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct tc_args *a = st->input;

	if (key != 'c')
		return loader_parse_args(key, arg, st);
	a->classic = true;
	return 0;
}

static const struct argp tc_argp = {
	.options = tc_options,
	.parser = tc_parse_opt,
	.args_doc = "[EVENT...]",
	.doc = tc_doc,
	.children = cli_children,
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the event directories of TP_DIR, sorted; -1 on error */
static int list_events(char ***out)
{
	struct dirent *de;
	char **names = NULL;
	int n = 0;
	DIR *d;

	d = opendir(TP_DIR);
	if (!d) {
		cli_fail("%s: %s (is mvsock.ko loaded, tracefs mounted?)",
			 TP_DIR, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char **more;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		more = realloc(names, (n + 1) * sizeof(*names));
		if (!more)
			exit(cli_fail("out of memory"));
		names = more;
		names[n] = strdup(de->d_name);
		if (!names[n++])
			exit(cli_fail("out of memory"));
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	*out = names;
	return n;
}

/* wait for SIGINT/SIGTERM without a race between the test and the wait */
static void wait_for_stop(void)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	while (!loader_stop)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* @prog on the event @name, with the cookie @idx; NULL and errno on error */
static struct bpf_link *attach_one(struct bpf_program *prog, bool classic,
				   const char *name, int idx)
{
	LIBBPF_OPTS(bpf_tracepoint_opts, tp_opts, .bpf_cookie = idx);
	LIBBPF_OPTS(bpf_raw_tracepoint_opts, raw_opts, .cookie = idx);

	if (classic)
		return bpf_program__attach_tracepoint_opts(prog, TP_SYSTEM, name,
							   &tp_opts);
	return bpf_program__attach_raw_tracepoint_opts(prog, name, &raw_opts);
}

int main(int argc, char **argv)
{
	struct tc_args a = { .events = { .optional = true } };
	bool classic;
	struct bpf_link **links = NULL;
	struct bpf_program *prog;
	unsigned long long total = 0;
	struct tp_count_bpf *skel;
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	int n, k, ncpus, fd, err = 1;
	char **names;
	__u64 *vals = NULL;

	loader_init(&tc_argp, argc, argv, &a, "tp_count");
	classic = a.classic;
	if (a.events.n) {
		names = a.events.v;
		n = a.events.n;
	} else {
		n = list_events(&names);
		if (n < 0)
			return 1;
	}
	skel = tp_count_bpf__open();
	if (skel) {
		/* load only the kind in use */
		bpf_program__set_autoload(classic ? skel->progs.count_raw :
					  skel->progs.count_event, false);
		if (tp_count_bpf__load(skel)) {
			tp_count_bpf__destroy(skel);
			skel = NULL;
		}
	}
	if (!skel)
		return loader_load_failed();
	if (n == 0 || n > (int)bpf_map__max_entries(skel->maps.counts)) {
		cli_fail("%d events: want 1 to %u", n,
			 bpf_map__max_entries(skel->maps.counts));
		goto out;
	}
	ncpus = libbpf_num_possible_cpus();
	links = calloc(n, sizeof(*links));
	vals = calloc(ncpus > 0 ? ncpus : 1, sizeof(*vals));
	if (ncpus <= 0 || !links || !vals) {
		cli_fail("cannot size the per-CPU counters");
		goto out;
	}
	signal(SIGINT, loader_on_signal);
	signal(SIGTERM, loader_on_signal);
	prog = classic ? skel->progs.count_event : skel->progs.count_raw;
	for (k = 0; k < n; k++) {
		links[k] = attach_one(prog, classic, names[k], k);
		if (!links[k]) {
			cli_fail("cannot attach to %s:%s: %s",
				 TP_SYSTEM, names[k], strerror(errno));
			goto out;
		}
	}
	printf("attached %d events (%s):", n, classic ? "classic" : "raw");
	for (k = 0; k < n; k++)
		printf(" %s", names[k]);
	printf("\n");
	wait_for_stop();

	fd = bpf_map__fd(skel->maps.counts);
	for (k = 0; k < n; k++) {
		unsigned long long sum = 0;
		__u32 key = k;
		int c;

		if (bpf_map_lookup_elem(fd, &key, vals)) {
			cli_fail("reading the counts: %s", strerror(errno));
			goto out;
		}
		for (c = 0; c < ncpus; c++)
			sum += vals[c];
		total += sum;
		printf("count %s %llu\n", names[k], sum);
	}
	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(bpf_program__fd(prog),
				    &info, &info_len))
		info.recursion_misses = 0;
	printf("total %llu in %d events, %llu missed\n", total, n,
	       (unsigned long long)info.recursion_misses);
	err = 0;
out:
	for (k = 0; links && k < n; k++)
		bpf_link__destroy(links[k]);
	if (links && !err)
		printf("detached\n");
	free(vals);
	free(links);
	tp_count_bpf__destroy(skel);
	return err;
}
