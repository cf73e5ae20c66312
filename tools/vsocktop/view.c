// SPDX-License-Identifier: GPL-2.0
/*
 * What every output of vsocktop shares: the filters (-c, -p, -d), the
 * sort keys (-s, the TUI's s/S) and the number formats.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"

const char *const vt_sort_names[VT_SORT_NR] = {
	[VT_SORT_BYTES] = "bytes",	[VT_SORT_TX] = "tx",
	[VT_SORT_RX] = "rx",		[VT_SORT_QUEUE] = "queue",
	[VT_SORT_CREDIT] = "credit",	[VT_SORT_STALLS] = "stalls",
	[VT_SORT_P99] = "p99",		[VT_SORT_CID] = "cid",
	[VT_SORT_PORT] = "port",
};

int vt_sort_parse(const char *s)
{
	for (int i = 0; i < VT_SORT_NR; i++)
		if (!strcmp(s, vt_sort_names[i]))
			return i;
	return -1;
}

bool vt_conn_visible(const struct vt_view *v, const struct vt_conn *c)
{
	if (v->cid >= 0 && c->local_cid != v->cid && c->peer_cid != v->cid)
		return false;
	if (v->port >= 0 && c->local_port != v->port && c->peer_port != v->port)
		return false;
	return v->dev < 0 || c->dev == v->dev;
}

bool vt_dev_visible(const struct vt_view *v, const struct vt_dev *d)
{
	if (v->dev >= 0 && d->id != v->dev)
		return false;
	return v->cid < 0 || d->cid == v->cid;
}

/* VT_NA sorts below every value */
static int vt_cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int64_t vt_conn_key(const struct vt_conn *c, enum vt_sort k)
{
	switch (k) {
	case VT_SORT_TX:
		return c->tx_bytes;
	case VT_SORT_RX:
		return c->rx_bytes;
	case VT_SORT_QUEUE:
		return c->rx_queued == VT_NA ? VT_NA :
		       c->rx_queued + (c->tx_queued == VT_NA ? 0 : c->tx_queued);
	case VT_SORT_CREDIT:
		return c->peer_credit;
	case VT_SORT_STALLS:
		return c->credit_stalls;
	case VT_SORT_CID:
		return c->peer_cid;
	case VT_SORT_PORT:
		return c->local_port;
	case VT_SORT_P99:	/* connections have no latency: by bytes */
	case VT_SORT_BYTES:
	default:
		return c->tx_bytes + c->rx_bytes;
	}
}

static double vt_dev_key(const struct vt_dev *d, enum vt_sort k)
{
	switch (k) {
	case VT_SORT_TX:
		return d->tx_bytes;
	case VT_SORT_RX:
		return d->rx_bytes;
	case VT_SORT_QUEUE:
		return d->queue_depth_max;
	case VT_SORT_CREDIT:
	case VT_SORT_STALLS:
		return d->credit_stalls;
	case VT_SORT_P99:
		return d->tx_lat.p99 > d->rx_lat.p99 ? d->tx_lat.p99 : d->rx_lat.p99;
	case VT_SORT_CID:
		return d->cid;
	case VT_SORT_PORT:
		return d->id;
	case VT_SORT_BYTES:
	default:
		return (double)d->tx_bytes + d->rx_bytes;
	}
}

static const struct vt_view *vt_sort_view;

/*
 * Numeric keys: biggest first (cid and port: smallest first); ties by
 * address so that the order is stable from one interval to the next.
 */
static int vt_conn_cmp(const void *pa, const void *pb)
{
	const struct vt_conn *a = pa, *b = pb;
	enum vt_sort k = vt_sort_view->sort;
	int r = vt_cmp_i64(vt_conn_key(b, k), vt_conn_key(a, k));

	if (k == VT_SORT_CID || k == VT_SORT_PORT)
		r = -r;
	if (!r)
		r = vt_cmp_i64(a->peer_cid, b->peer_cid);
	if (!r)
		r = vt_cmp_i64(a->local_port, b->local_port);
	if (!r)
		r = vt_cmp_i64(a->peer_port, b->peer_port);
	if (!r)
		r = vt_cmp_i64(a->local_cid, b->local_cid);
	return vt_sort_view->reverse ? -r : r;
}

static int vt_dev_cmp(const void *pa, const void *pb)
{
	const struct vt_dev *a = pa, *b = pb;
	enum vt_sort k = vt_sort_view->sort;
	double ka = vt_dev_key(a, k), kb = vt_dev_key(b, k);
	int r = (kb > ka) - (kb < ka);

	if (k == VT_SORT_CID || k == VT_SORT_PORT)
		r = -r;
	if (!r)
		r = vt_cmp_i64(a->id, b->id);
	return vt_sort_view->reverse ? -r : r;
}

void vt_sort_snapshot(struct vt_snapshot *s, const struct vt_view *v)
{
	vt_sort_view = v;
	qsort(s->conns, s->nconns, sizeof(*s->conns), vt_conn_cmp);
	/* devices: by id for the default key, so rows stay where they are */
	if (v->sort == VT_SORT_BYTES && !v->reverse) {
		struct vt_view by_id = *v;

		by_id.sort = VT_SORT_PORT;	/* devices: by id */
		vt_sort_view = &by_id;
		qsort(s->devs, s->ndevs, sizeof(*s->devs), vt_dev_cmp);
		vt_sort_view = v;
		return;
	}
	qsort(s->devs, s->ndevs, sizeof(*s->devs), vt_dev_cmp);
}

const char *vt_fmt_num(char *buf, int64_t v)
{
	static const char unit[] = "KMGTPE";
	double d = v;
	int u = -1;

	if (v == VT_NA)
		return strcpy(buf, "-");
	if (v < 10000 && v > -10000) {
		snprintf(buf, 16, "%lld", (long long)v);
		return buf;
	}
	/* 1023.6K would print as "1024K": the next unit then */
	while ((d >= 999.5 || d <= -999.5) && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, 16, d < 9.95 && d > -9.95 ? "%.1f%c" : "%.0f%c", d, unit[u]);
	return buf;
}

const char *vt_fmt_rate(char *buf, int64_t bytes, double secs)
{
	if (bytes == VT_NA || secs <= 0)
		return strcpy(buf, "-");
	return vt_fmt_num(buf, (int64_t)llround(bytes / secs));
}

const char *vt_fmt_lat(char *buf, double us)
{
	if (us < 0)
		return strcpy(buf, "-");
	if (us < 1000)
		snprintf(buf, 16, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, 16, "%.1fms", us / 1e3);
	else
		snprintf(buf, 16, "%.1fs", us / 1e6);
	return buf;
}

/* RFC 3339 UTC with milliseconds, or local HH:MM:SS */
void vt_fmt_time(char *buf, size_t len, double ts, bool rfc3339)
{
	time_t t = (time_t)ts;
	struct tm tm;

	if (rfc3339) {
		gmtime_r(&t, &tm);
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int)((ts - (double)t) * 1000));
	} else {
		localtime_r(&t, &tm);
		strftime(buf, len, "%H:%M:%S", &tm);
	}
}
