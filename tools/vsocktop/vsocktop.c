// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop: per-device and per-connection monitor of AF_VSOCK (mvsock, or
 * the stock vsock modules with a reduced view). BPF programs count in
 * kernel maps (vsocktop.bpf.c), the collector turns them into one
 * snapshot per interval (collect.c), and the outputs print it: a
 * full-screen TUI on a terminal (tui.c), text tables (-b) or JSON Lines
 * (-o json) otherwise (output.c), Prometheus metrics (--listen,
 * --textfile: prom.c). docs/vsocktop.md and vsocktop(8) describe it all.
 */
#include <argp.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "vsocktop.h"
#include "vsocktop.skel.h"
#include "collect.h"
#include "snapshot.h"
#include "../lib/mvsock_cli.h"
#include "../lib/num.h"

const char *vt_version = MVSOCK_VERSION;

static const char vt_doc[] =
"Show vsock devices and connections: traffic, queues, credit, latency.\n"
"\n"
"On a terminal vsocktop is full screen (h for its keys); otherwise, or with\n"
"-b, it prints text tables, one block per interval. INTERVAL and COUNT may\n"
"also be given as positional arguments, as in top-like tools.\n"
"\vExamples:\n"
"  vsocktop                      full screen, every second\n"
"  vsocktop 2 10                 10 snapshots, 2 s apart\n"
"  vsocktop -b -T -s stalls      text with timestamps, most credit stalls first\n"
"  vsocktop -o json -i 0.5       JSON Lines, one object per 0.5 s\n"
"  vsocktop -c 3 -p 1234         only connections with CID 3 and port 1234\n"
"  vsocktop -q --listen 127.0.0.1:9469\n"
"                                Prometheus metrics at /metrics, no output\n"
"  vsocktop -q --textfile /var/lib/prometheus/node-exporter/vsock.prom\n"
"                                the same metrics for node_exporter's textfile\n"
"                                collector, rewritten every interval\n"
"\n"
"Sort keys: bytes tx rx queue credit stalls p99 cid port.\n"
CLI_EXIT_DOC;

enum {
	OPT_LISTEN = 256,
	OPT_TEXTFILE,
	OPT_NO_COLOR,
	OPT_JSON,
};

static const struct argp_option vt_options[] = {
	{ "interval", 'i', "SEC", 0, "Seconds between snapshots (fractions allowed, default 1)", 0 },
	{ "count", 'n', "N", 0, "Stop after N snapshots", 0 },
	{ "batch", 'b', NULL, 0, "Text tables even on a terminal", 0 },
	{ "timestamp", 'T', NULL, 0, "Text: a timestamp on each block", 0 },
	{ "output", 'o', "FMT", 0, "text (default) or json (JSON Lines)", 0 },
	{ "json", OPT_JSON, NULL, 0, "Same as -o json", 0 },
	{ "quiet", 'q', NULL, 0, "Print nothing (with --listen or --textfile)", 0 },
	{ "sort", 's', "KEY", 0, "Sort by KEY (default bytes)", 1 },
	{ "rows", 'r', "N", 0, "Show at most N connections", 1 },
	{ "cid", 'c', "CID", 0, "Only connections and devices with this CID", 1 },
	{ "port", 'p', "PORT", 0, "Only connections with this local or peer port", 1 },
	{ "dev", 'd', "ID", 0, "Only device ID and its connections", 1 },
	{ "no-color", OPT_NO_COLOR, NULL, 0, "No colours (also when NO_COLOR is set)", 1 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0, "Serve Prometheus metrics at http://ADDR:PORT/metrics", 2 },
	{ "textfile", OPT_TEXTFILE, "PATH", 0, "Write Prometheus metrics to PATH each interval", 2 },
	{ 0 },
};

struct vt_args {
	double interval;
	long count;
	bool batch, json, quiet, no_color;
	const char *listen, *textfile;
	struct vt_view view;
	int npos;
};

static volatile sig_atomic_t vt_stop;

static void vt_on_signal(int sig)
{
	(void)sig;
	vt_stop = 1;
}

/* whole-string numbers in [min, max], else a usage error */
static double vt_parse_double(struct argp_state *st, const char *opt,
			      const char *s, double min, double max)
{
	double v = 0;

	if (num_double(s, min, max, &v))
		argp_error(st, "bad %s '%s': want a number from %g to %g", opt, s, min, max);
	return v;
}

static long long vt_parse_int(struct argp_state *st, const char *opt, const char *s,
			      long long min, long long max)
{
	int64_t v = 0;

	if (num_s64(s, 10, min, max, &v))
		argp_error(st, "bad %s '%s': want a whole number from %lld to %lld",
			   opt, s, min, max);
	return v;
}

static error_t vt_parse_opt(int key, char *arg, struct argp_state *st)
{
	struct vt_args *a = st->input;

	switch (key) {
	case 'i':
		a->interval = vt_parse_double(st, "--interval", arg, 0.01, 3600);
		break;
	case 'n':
		a->count = vt_parse_int(st, "--count", arg, 1, 1000000000);
		break;
	case 'b':
		a->batch = true;
		break;
	case 'T':
		a->view.timestamps = true;
		break;
	case 'o':
		if (!strcmp(arg, "json"))
			a->json = true;
		else if (!strcmp(arg, "text"))
			a->json = false;
		else
			argp_error(st, "bad --output '%s': want text or json", arg);
		break;
	case OPT_JSON:
		a->json = true;
		break;
	case 'q':
		a->quiet = true;
		break;
	case 's': {
		int k = vt_sort_parse(arg);

		if (k < 0)
			argp_error(st, "bad --sort '%s': want bytes, tx, rx, queue, credit, stalls, p99, cid or port",
				   arg);
		a->view.sort = k;
		break;
	}
	case 'r':
		a->view.rows = vt_parse_int(st, "--rows", arg, 1, 1000000);
		break;
	case 'c':
		a->view.cid = vt_parse_int(st, "--cid", arg, 0, 0xffffffffLL);
		break;
	case 'p':
		a->view.port = vt_parse_int(st, "--port", arg, 0, 0xffffffffLL);
		break;
	case 'd':
		a->view.dev = vt_parse_int(st, "--dev", arg, 0, 0x7fffffffLL);
		break;
	case OPT_NO_COLOR:
		a->no_color = true;
		break;
	case OPT_LISTEN:
		a->listen = arg;
		break;
	case OPT_TEXTFILE:
		if (!*arg)
			argp_error(st, "bad --textfile '': want a path");
		a->textfile = arg;
		break;
	case ARGP_KEY_ARG:
		if (a->npos == 0)
			a->interval = vt_parse_double(st, "interval", arg, 0.01, 3600);
		else if (a->npos == 1)
			a->count = vt_parse_int(st, "count", arg, 1, 1000000000);
		else
			argp_error(st, "unexpected argument '%s'", arg);
		a->npos++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp vt_argp = {
	.options = vt_options,
	.parser = vt_parse_opt,
	.args_doc = "[INTERVAL [COUNT]]",
	.doc = vt_doc,
	.children = cli_children,
};

static bool vt_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* which stack runs here; exits with one line when neither does */
static enum vt_mode vt_detect(void)
{
	if (!vt_exists("/sys/kernel/btf/vmlinux")) {
		fprintf(stderr, "vsocktop: the kernel has no BTF (/sys/kernel/btf/vmlinux): it needs CONFIG_DEBUG_INFO_BTF\n");
		exit(1);
	}
	if (vt_exists("/sys/module/mvsock"))
		return VT_MODE_MVSOCK;
	if (vt_exists("/sys/module/vmw_vsock_virtio_transport_common"))
		return VT_MODE_STOCK;
	if (vt_exists("/sys/module/vsock"))
		fprintf(stderr, "vsocktop: stock vsock is loaded without a virtio transport: no vsock tracepoints to read\n");
	else
		fprintf(stderr, "vsocktop: neither mvsock nor the stock vsock modules are loaded\n");
	exit(1);
}

/* programs named PREFIX*: the set for this mode */
static struct vsocktop_bpf *vt_load(enum vt_mode mode, const char *prefix, int *err)
{
	struct vsocktop_bpf *skel = vsocktop_bpf__open();
	struct bpf_program *p;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	/* the other mode's per-connection maps: one entry, no memory */
	if (mode == VT_MODE_MVSOCK) {
		bpf_map__set_max_entries(skel->maps.conn_stats, 1);
		bpf_map__set_max_entries(skel->maps.stock_conn, 1);
	} else {
		bpf_map__set_max_entries(skel->maps.conn_closed, 1);
	}
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, !strncmp(bpf_program__name(p), prefix,
						      strlen(prefix)));
	*err = vsocktop_bpf__load(skel);
	if (!*err) {
		skel->bss->start_ns = vt_now_ns();
		*err = vsocktop_bpf__attach(skel);
	}
	if (*err) {
		vsocktop_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static struct vsocktop_bpf *vt_load_any(enum vt_mode mode)
{
	struct vsocktop_bpf *skel;
	int err;

	if (mode == VT_MODE_STOCK) {
		skel = vt_load(mode, "stock_", &err);
	} else {
		skel = vt_load(mode, "btf_", &err);
		if (!skel)	/* no tp_btf (module BTF missing?): raw_tp */
			skel = vt_load(mode, "raw_", &err);
	}
	if (skel)
		return skel;
	if (err == -EPERM || err == -EACCES)
		fprintf(stderr, "vsocktop: not allowed to load BPF programs: run as root (or with CAP_BPF and CAP_PERFMON)\n");
	else
		fprintf(stderr, "vsocktop: cannot load the BPF programs: %s (-v shows libbpf's log)\n",
			strerror(-err));
	exit(1);
}

static struct vt_args vt_args = {
	.interval = 1,
	.view = { .sort = VT_SORT_BYTES, .cid = -1, .port = -1, .dev = -1 },
};
static bool vt_textfile_failed;

void vt_publish(const struct vt_snapshot *s)
{
	if (vt_args.listen)
		vt_prom_publish(s);
	if (vt_args.textfile && vt_textfile_write(vt_args.textfile, s) && !vt_textfile_failed) {
		/* reported once; the next interval tries again */
		fprintf(stderr, "vsocktop: %s\n", vt_errmsg);
		vt_textfile_failed = true;
	}
}

/* --textfile: its directory must exist and be writable now */
static void vt_check_textfile(const char *path)
{
	char *copy = strdup(path), *dir;

	if (!copy)
		exit(1);
	dir = dirname(copy);
	if (access(dir, W_OK)) {
		fprintf(stderr, "vsocktop: --textfile %s: %s: %s\n", path, dir, strerror(errno));
		exit(1);
	}
	free(copy);
}

static void vt_sleep_until(uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = deadline / 1000000000ULL,
		.tv_nsec = deadline % 1000000000ULL,
	};

	while (!vt_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* -b, -o json, -q: one snapshot per interval until COUNT or a signal */
static int vt_run_lines(struct vt_collector *col)
{
	uint64_t step = (uint64_t)llround(vt_args.interval * 1e9);
	uint64_t deadline = vt_now_ns();
	struct vt_snapshot s;

	for (long n = 0; !vt_args.count || n < vt_args.count; n++) {
		deadline += step;
		vt_sleep_until(deadline);
		if (vt_stop)
			break;
		if (vt_collect(col, &s)) {
			fprintf(stderr, "vsocktop: %s\n", vt_errmsg);
			return 1;
		}
		vt_sort_snapshot(&s, &vt_args.view);
		vt_publish(&s);
		if (vt_args.quiet)
			continue;
		if (vt_args.json)
			vt_print_json(stdout, &s, &vt_args.view);
		else
			vt_print_batch(stdout, &s, &vt_args.view);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct vt_collector *col;
	struct vsocktop_bpf *skel;
	enum vt_mode mode;
	int rc;

	cli_parse(&vt_argp, argc, argv, &vt_args, "vsocktop");
	vt_args.view.color = !vt_args.no_color && !getenv("NO_COLOR");
	if (vt_args.textfile)
		vt_check_textfile(vt_args.textfile);

	mode = vt_detect();
	skel = vt_load_any(mode);
	col = vt_collector_new(mode, skel, skel->bss->start_ns);
	if (!col) {
		fprintf(stderr, "vsocktop: %s\n", vt_errmsg);
		return 1;
	}
	if (vt_args.listen && vt_prom_start(vt_args.listen)) {
		fprintf(stderr, "vsocktop: %s\n", vt_errmsg);
		return 1;
	}
	signal(SIGINT, vt_on_signal);
	signal(SIGTERM, vt_on_signal);

	if (!vt_args.json && !vt_args.batch && !vt_args.quiet && isatty(STDOUT_FILENO)) {
		struct vt_loop l = {
			.col = col,
			.view = vt_args.view,
			.interval_s = vt_args.interval,
			.count = vt_args.count,
			.mode_note = mode == VT_MODE_STOCK ? "stock vsock: reduced view" : NULL,
		};

		rc = vt_tui_run(&l);
	} else {
		setvbuf(stdout, NULL, _IOLBF, 0);
		rc = vt_run_lines(col);
	}
	if (vt_args.listen)
		vt_prom_stop();
	vt_collector_free(col);
	vsocktop_bpf__destroy(skel);
	return rc;
}
