// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's line outputs: -b text tables (one block per interval) and
 * -o json (JSON Lines, one object per interval; the schema is in
 * docs/vsocktop.md and may only grow).
 */
#include <inttypes.h>
#include <string.h>

#include "snapshot.h"

/* ---- text -------------------------------------------------------------- */

static void out_addr(char *buf, size_t len, uint32_t cid, uint32_t port)
{
	if (cid == UINT32_MAX && port == UINT32_MAX)
		snprintf(buf, len, "*:*");
	else if (cid == UINT32_MAX)
		snprintf(buf, len, "*:%" PRIu32, port);
	else
		snprintf(buf, len, "%" PRIu32 ":%" PRIu32, cid, port);
}

static void out_dev_row(FILE *f, const struct vt_dev *d, double secs)
{
	char b[14][16];

	fprintf(f, "%-3" PRId64 " %-12s %-5s %10s %-3s %8s %8s %7s %7s %5s %5s %5s %7s %6s %8s %8s %8s %8s\n",
		d->id, d->name, d->role, vt_fmt_num(b[0], d->cid),
		d->is_default ? "*" : "", vt_fmt_rate(b[1], d->tx_bytes, secs),
		vt_fmt_rate(b[2], d->rx_bytes, secs),
		vt_fmt_rate(b[3], d->tx_pkts, secs), vt_fmt_rate(b[4], d->rx_pkts, secs),
		vt_fmt_num(b[5], d->queue_depth), vt_fmt_num(b[6], d->queue_depth_max),
		vt_fmt_num(b[7], d->conns), vt_fmt_num(b[8], d->stalled),
		vt_fmt_num(b[9], d->credit_stalls),
		vt_fmt_lat(b[10], d->tx_lat.p50), vt_fmt_lat(b[11], d->tx_lat.p99),
		vt_fmt_lat(b[12], d->rx_lat.p50), vt_fmt_lat(b[13], d->rx_lat.p99));
}

static void out_conn_row(FILE *f, const struct vt_conn *c, double secs)
{
	char l[32], p[32], b[10][16];

	out_addr(l, sizeof(l), c->local_cid, c->local_port);
	out_addr(p, sizeof(p), c->peer_cid, c->peer_port);
	fprintf(f, "%-21s %-21s %-3s %-9s %-8s %8s %8s %7s %7s %7s %7s %6s %8s %7s %s\n",
		l, p, vt_fmt_num(b[0], c->dev), c->type,
		c->state, vt_fmt_rate(b[1], c->tx_bytes, secs),
		vt_fmt_rate(b[2], c->rx_bytes, secs), vt_fmt_num(b[3], c->rx_queued),
		vt_fmt_num(b[4], c->tx_queued), vt_fmt_num(b[5], c->peer_credit),
		vt_fmt_num(b[6], c->peer_buf_alloc), vt_fmt_num(b[7], c->credit_stalls),
		vt_fmt_num(b[8], c->credit_limited_ms), vt_fmt_num(b[9], c->pid),
		c->comm[0] ? c->comm : "-");
}

void vt_print_batch(FILE *f, const struct vt_snapshot *s, const struct vt_view *v)
{
	char t[40], tx[16], rx[16];
	int shown = 0, n = 0;

	vt_fmt_time(t, sizeof(t), s->ts, false);
	for (int i = 0; i < s->nconns; i++)
		n += vt_conn_visible(v, &s->conns[i]);
	if (v->timestamps)
		fprintf(f, "%s ", t);
	fprintf(f, "vsocktop: %s, interval %.2fs, %d devices, %d connections, tx %s/s rx %s/s\n",
		s->mode == VT_MODE_STOCK ? "stock vsock: reduced view" : "mvsock",
		s->interval_s, s->ndevs, n, vt_fmt_rate(tx, s->tx_bytes, s->interval_s),
		vt_fmt_rate(rx, s->rx_bytes, s->interval_s));
	fprintf(f, "%-3s %-12s %-5s %10s %-3s %8s %8s %7s %7s %5s %5s %5s %7s %6s %8s %8s %8s %8s\n",
		"ID", "NAME", "ROLE", "CID", "DEF", "TX/s", "RX/s", "TXPKT/s", "RXPKT/s",
		"QUEUE", "QMAX", "CONNS", "STALLED", "STALLS", "TXp50", "TXp99", "RXp50", "RXp99");
	for (int i = 0; i < s->ndevs; i++)
		if (vt_dev_visible(v, &s->devs[i]))
			out_dev_row(f, &s->devs[i], s->interval_s);
	fprintf(f, "\n%-21s %-21s %-3s %-9s %-8s %8s %8s %7s %7s %7s %7s %6s %8s %7s %s\n",
		"LOCAL", "PEER", "DEV", "TYPE", "STATE", "TX/s", "RX/s", "RXQ", "TXQ",
		"CREDIT", "BUFALLOC", "STALLS", "LIMIT_MS", "PID", "COMM");
	for (int i = 0; i < s->nconns; i++) {
		if (!vt_conn_visible(v, &s->conns[i]))
			continue;
		if (v->rows > 0 && shown++ >= v->rows)
			break;
		out_conn_row(f, &s->conns[i], s->interval_s);
	}
	fputc('\n', f);
	fflush(f);
}

/* ---- JSON -------------------------------------------------------------- */

static void json_int(FILE *f, const char *key, int64_t v, bool comma)
{
	if (v == VT_NA)
		fprintf(f, "\"%s\": null", key);
	else
		fprintf(f, "\"%s\": %" PRId64, key, v);
	if (comma)
		fputs(", ", f);
}

static void json_num(FILE *f, double v)
{
	if (v < 0)
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

static void json_str(FILE *f, const char *key, const char *s, bool comma)
{
	fprintf(f, "\"%s\": \"", key);
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputs(comma ? "\", " : "\"", f);
}

static void json_lat(FILE *f, const char *key, const struct vt_lat *l)
{
	fprintf(f, "\"%s\": {\"p50\": ", key);
	json_num(f, l->p50);
	fputs(", \"p99\": ", f);
	json_num(f, l->p99);
	fputs(", \"max\": ", f);
	json_num(f, l->max);
	fputs("}", f);
}

static void json_dev(FILE *f, const struct vt_dev *d)
{
	fputc('{', f);
	json_int(f, "id", d->id, true);
	json_str(f, "name", d->name, true);
	json_str(f, "role", d->role, true);
	json_int(f, "cid", d->cid, true);
	fprintf(f, "\"default\": %s, ", d->is_default ? "true" : "false");
	json_int(f, "tx_pkts", d->tx_pkts, true);
	json_int(f, "rx_pkts", d->rx_pkts, true);
	json_int(f, "tx_bytes", d->tx_bytes, true);
	json_int(f, "rx_bytes", d->rx_bytes, true);
	json_int(f, "tx_pkts_total", d->tx_pkts_total, true);
	json_int(f, "rx_pkts_total", d->rx_pkts_total, true);
	json_int(f, "tx_bytes_total", d->tx_bytes_total, true);
	json_int(f, "rx_bytes_total", d->rx_bytes_total, true);
	json_int(f, "queue_depth", d->queue_depth, true);
	json_int(f, "queue_depth_max", d->queue_depth_max, true);
	json_int(f, "rx_posted", d->rx_posted, true);
	json_int(f, "conns", d->conns, true);
	json_int(f, "stalled", d->stalled, true);
	json_int(f, "credit_stalls", d->credit_stalls, true);
	json_int(f, "credit_stalls_total", d->credit_stalls_total, true);
	json_int(f, "credit_limited_ms", d->credit_limited_ms, true);
	json_lat(f, "tx_latency_us", &d->tx_lat);
	fputs(", ", f);
	json_lat(f, "rx_latency_us", &d->rx_lat);
	fputc('}', f);
}

static void json_conn(FILE *f, const struct vt_conn *c)
{
	fputc('{', f);
	json_int(f, "local_cid", c->local_cid, true);
	json_int(f, "local_port", c->local_port, true);
	json_int(f, "peer_cid", c->peer_cid, true);
	json_int(f, "peer_port", c->peer_port, true);
	json_int(f, "dev", c->dev, true);
	json_str(f, "type", c->type, true);
	json_str(f, "state", c->state, true);
	json_int(f, "tx_bytes", c->tx_bytes, true);
	json_int(f, "rx_bytes", c->rx_bytes, true);
	json_int(f, "tx_bytes_total", c->tx_bytes_total, true);
	json_int(f, "rx_bytes_total", c->rx_bytes_total, true);
	json_int(f, "rx_queued", c->rx_queued, true);
	json_int(f, "tx_queued", c->tx_queued, true);
	json_int(f, "peer_credit", c->peer_credit, true);
	json_int(f, "peer_buf_alloc", c->peer_buf_alloc, true);
	json_int(f, "credit_stalls", c->credit_stalls, true);
	json_int(f, "credit_limited_ms", c->credit_limited_ms, true);
	fprintf(f, "\"stalled\": %s, ", c->stalled ? "true" : "false");
	json_int(f, "pid", c->pid, true);
	if (c->pid == VT_NA)
		fputs("\"comm\": null", f);
	else
		json_str(f, "comm", c->comm, false);
	fputc('}', f);
}

void vt_print_json(FILE *f, const struct vt_snapshot *s, const struct vt_view *v)
{
	char t[40];
	int shown = 0;
	bool first = true;

	vt_fmt_time(t, sizeof(t), s->ts, true);
	fprintf(f, "{\"ts\": \"%s\", \"interval_s\": %.3f, \"mode\": \"%s\", \"devices\": [",
		t, s->interval_s, s->mode == VT_MODE_STOCK ? "stock" : "mvsock");
	for (int i = 0; i < s->ndevs; i++) {
		if (!vt_dev_visible(v, &s->devs[i]))
			continue;
		if (!first)
			fputs(", ", f);
		first = false;
		json_dev(f, &s->devs[i]);
	}
	fputs("], \"conns\": [", f);
	first = true;
	for (int i = 0; i < s->nconns; i++) {
		if (!vt_conn_visible(v, &s->conns[i]))
			continue;
		if (v->rows > 0 && shown++ >= v->rows)
			break;
		if (!first)
			fputs(", ", f);
		first = false;
		json_conn(f, &s->conns[i]);
	}
	fputs("]}\n", f);
	fflush(f);
}
