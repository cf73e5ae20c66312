/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsocktop's view of one interval: what the collector (vsocktop.c) builds
 * from the BPF maps, sock_diag and the device registry, and what every
 * output (batch text, JSON, TUI, Prometheus) prints. Outputs only read a
 * snapshot; they never touch BPF or netlink.
 *
 * Units: bytes, packets, microseconds for latencies, milliseconds for
 * credit-limited time. A field the collector could not fill (stock mode,
 * no sample) is VT_NA (integers) or a negative value (doubles): outputs
 * print "-" (text, TUI) or null (JSON) for it.
 */
#ifndef VSOCKTOP_SNAPSHOT_H
#define VSOCKTOP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VT_NA		INT64_MIN	/* integer field not available */
#define VT_HIST_SLOTS	64		/* log2 buckets of nanoseconds */

enum vt_mode { VT_MODE_MVSOCK, VT_MODE_STOCK };

/* latency over the interval (microseconds; < 0: no sample) */
struct vt_lat {
	double p50, p99, max;
};

struct vt_dev {
	int64_t id;
	char name[32];
	const char *role;		/* "local", "guest", "host" */
	int64_t cid;			/* host role: the guest's CID */
	bool is_default;
	/* this interval */
	int64_t tx_pkts, rx_pkts, tx_bytes, rx_bytes;
	/* since vsocktop started */
	int64_t tx_pkts_total, rx_pkts_total;
	int64_t tx_bytes_total, rx_bytes_total;
	int64_t queue_depth;		/* now */
	int64_t queue_depth_max;	/* max in the interval */
	int64_t rx_posted;		/* virtio rx buffers posted; VT_NA else */
	int64_t conns;			/* connections on the device now */
	int64_t stalled;		/* of those, credit-stalled now */
	int64_t credit_stalls;		/* stalls begun in the interval */
	int64_t credit_stalls_total;
	int64_t credit_limited_ms;	/* in the interval */
	double credit_limited_s_total;	/* since start, seconds */
	struct vt_lat tx_lat, rx_lat;
	/*
	 * Cumulative log2 histograms since start (Prometheus): slot k counts
	 * samples of [2^k, 2^(k+1)) ns (slot 0: < 2 ns); sum in ns.
	 */
	uint64_t tx_hist[VT_HIST_SLOTS], rx_hist[VT_HIST_SLOTS];
	uint64_t tx_hist_sum_ns, rx_hist_sum_ns;
	uint64_t tx_hist_count, rx_hist_count;
};

struct vt_conn {
	uint32_t local_cid, local_port, peer_cid, peer_port;
	int64_t dev;			/* VT_NA: unknown (stock) or none */
	const char *type;		/* "stream", "seqpacket" */
	const char *state;		/* "ESTAB", "SYN_SENT", "LISTEN", ... */
	int64_t tx_bytes, rx_bytes;	/* this interval */
	int64_t tx_bytes_total, rx_bytes_total;
	int64_t rx_queued, tx_queued;
	int64_t peer_credit, peer_buf_alloc;
	int64_t credit_stalls;		/* since start */
	int64_t credit_limited_ms;	/* since start */
	bool stalled;
	int64_t pid;
	char comm[16];
};

struct vt_snapshot {
	enum vt_mode mode;
	double ts;			/* CLOCK_REALTIME seconds */
	double interval_s;		/* covered by the per-interval fields */
	int ndevs, nconns;
	struct vt_dev *devs;
	struct vt_conn *conns;
	/* the interval's payload bytes over all devices (the header line) */
	int64_t tx_bytes, rx_bytes;
};

/* sort keys (-s/--sort, the TUI's s/S) */
enum vt_sort {
	VT_SORT_BYTES, VT_SORT_TX, VT_SORT_RX, VT_SORT_QUEUE, VT_SORT_CREDIT,
	VT_SORT_STALLS, VT_SORT_P99, VT_SORT_CID, VT_SORT_PORT, VT_SORT_NR
};

/* what the user asked to see */
struct vt_view {
	enum vt_sort sort;
	bool reverse;
	int64_t cid, port, dev;		/* filters, -1: any */
	int rows;			/* connection rows, 0: all that fit */
	bool timestamps;		/* -T */
	bool color;
};

/* view.c: filters, sorting, formatting shared by the outputs */
extern const char *const vt_sort_names[VT_SORT_NR];
int vt_sort_parse(const char *s);
bool vt_conn_visible(const struct vt_view *v, const struct vt_conn *c);
bool vt_dev_visible(const struct vt_view *v, const struct vt_dev *d);
void vt_sort_snapshot(struct vt_snapshot *s, const struct vt_view *v);
/* "12.3K" style: buf of at least 16 bytes; VT_NA gives "-" */
const char *vt_fmt_num(char *buf, int64_t v);
const char *vt_fmt_rate(char *buf, int64_t bytes, double secs);
const char *vt_fmt_lat(char *buf, double us);
void vt_fmt_time(char *buf, size_t len, double ts, bool rfc3339);

/* output.c: -b text and -o json */
void vt_print_batch(FILE *f, const struct vt_snapshot *s, const struct vt_view *v);
void vt_print_json(FILE *f, const struct vt_snapshot *s, const struct vt_view *v);

/*
 * The collector (vsocktop.c). vt_collect() fills @s with the interval
 * since the previous call (the first call: since start); the snapshot's
 * arrays belong to the collector and stay valid until the next call.
 * Returns 0, or -1 with a one-line reason in vt_errmsg (mvsock unloaded,
 * ...): the caller ends its screen and prints "vsocktop: <vt_errmsg>".
 */
struct vt_collector;
extern char vt_errmsg[256];
int vt_collect(struct vt_collector *c, struct vt_snapshot *s);

/* after each snapshot: --listen, --textfile (vsocktop.c) */
void vt_publish(const struct vt_snapshot *s);

/* tui.c: ncurses, when stdout is a terminal */
struct vt_loop {
	struct vt_collector *col;
	struct vt_view view;
	double interval_s;		/* +/- change it: 0.1 .. 60 s */
	long count;			/* snapshots to show, 0: until q */
	const char *mode_note;		/* "stock vsock: reduced view" or NULL */
};
/* returns the exit status (0 on q or count reached, 1 on a collect error) */
int vt_tui_run(struct vt_loop *l);

/*
 * prom.c: Prometheus text exposition (version 0.0.4) of a snapshot's
 * devices; --listen serves the last published one at /metrics from a
 * thread, --textfile writes it atomically.
 */
void vt_prom_render(FILE *f, const struct vt_snapshot *s);
/* bind ADDR:PORT and serve; -1 with vt_errmsg set on failure */
int vt_prom_start(const char *addr_port);
void vt_prom_publish(const struct vt_snapshot *s);
void vt_prom_stop(void);
/* write + rename; -1 with vt_errmsg set on failure */
int vt_textfile_write(const char *path, const struct vt_snapshot *s);

extern const char *vt_version;

#endif
