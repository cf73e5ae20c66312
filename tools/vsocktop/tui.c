// SPDX-License-Identifier: GPL-2.0
/*
 * vsocktop's full-screen view (ncurses): a header with the totals, the
 * device table and the connection table, refreshed every interval. Keys
 * act at once on the last snapshot; only the interval's deadline (or the
 * first draw) collects a new one. 'h' lists the keys.
 */
#include <curses.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"
#include "../lib/num.h"

#define TUI_CELL	32	/* one formatted cell, NUL included */
#define TUI_MAXCOLS	18
#define TUI_STEP_MS	250	/* longest single wait for a key */
#define TUI_MIN_IV	0.1
#define TUI_MAX_IV	60.0

struct tui_col {
	const char *name;
	int min, max;		/* width; max 0: no cap */
	bool left;		/* text columns are left-aligned */
};

struct tui_row {
	char c[TUI_MAXCOLS][TUI_CELL];
	attr_t attr;		/* the whole row */
	unsigned int hot;	/* bit per column: highlighted cell */
};

struct tui {
	struct vt_loop *l;
	/* the latest snapshot; its arrays are valid until the next collect */
	struct vt_snapshot snap;
	bool have_snap;
	long shown;		/* snapshots collected and drawn */
	double last;		/* CLOCK_MONOTONIC of the last collect's slot */
	bool paused, help, prompting, focus_conns;
	int dev_top, conn_top;	/* first visible row on screen */
	int dev_page, conn_page; /* rows on screen at the last draw */
	char input[64];		/* the filter prompt's line */
	int ninput;
	char msg[96];		/* one-off message on the bottom line */
	/* attributes (plain or with colours) */
	attr_t a_hdr, a_title, a_focus, a_colhdr, a_stall, a_warn, a_hot;
};

struct tui_tab {
	const char *title;
	const struct tui_col *cols;
	int ncols;
	int total;		/* rows in the snapshot */
	int matches;		/* rows that pass the filter */
	int n;			/* of those, rows to show (the view's rows) */
	int *top;
	bool (*visible)(const struct tui *t, int i);
	void (*fmt)(const struct tui *t, int i, struct tui_row *r);
};

enum {
	DC_ID, DC_NAME, DC_ROLE, DC_CID, DC_DEF, DC_TX, DC_RX, DC_TXPKT,
	DC_RXPKT, DC_QUEUE, DC_QMAX, DC_CONNS, DC_STALLED, DC_STALLS,
	DC_TXP50, DC_TXP99, DC_RXP50, DC_RXP99, DC_NR
};

static const struct tui_col tui_dev_cols[DC_NR] = {
	[DC_ID] = { "ID", 2, 0, false },
	[DC_NAME] = { "NAME", 6, 20, true },
	[DC_ROLE] = { "ROLE", 5, 0, true },
	[DC_CID] = { "CID", 3, 0, false },
	[DC_DEF] = { "DEF", 3, 0, false },
	[DC_TX] = { "TX/s", 6, 0, false },
	[DC_RX] = { "RX/s", 6, 0, false },
	[DC_TXPKT] = { "TXPKT/s", 7, 0, false },
	[DC_RXPKT] = { "RXPKT/s", 7, 0, false },
	[DC_QUEUE] = { "QUEUE", 5, 0, false },
	[DC_QMAX] = { "QMAX", 5, 0, false },
	[DC_CONNS] = { "CONNS", 5, 0, false },
	[DC_STALLED] = { "STALLED", 7, 0, false },
	[DC_STALLS] = { "STALLS", 6, 0, false },
	[DC_TXP50] = { "TXp50", 6, 0, false },
	[DC_TXP99] = { "TXp99", 6, 0, false },
	[DC_RXP50] = { "RXp50", 6, 0, false },
	[DC_RXP99] = { "RXp99", 6, 0, false },
};

enum {
	CC_LOCAL, CC_PEER, CC_DEV, CC_TYPE, CC_STATE, CC_TX, CC_RX, CC_RXQ,
	CC_TXQ, CC_CREDIT, CC_BUFALLOC, CC_STALLS, CC_LIMITED, CC_PID,
	CC_COMM, CC_NR
};

static const struct tui_col tui_conn_cols[CC_NR] = {
	[CC_LOCAL] = { "LOCAL", 10, 0, true },
	[CC_PEER] = { "PEER", 10, 0, true },
	[CC_DEV] = { "DEV", 3, 0, false },
	[CC_TYPE] = { "TYPE", 6, 0, true },
	[CC_STATE] = { "STATE", 6, 0, true },
	[CC_TX] = { "TX/s", 6, 0, false },
	[CC_RX] = { "RX/s", 6, 0, false },
	[CC_RXQ] = { "RXQ", 5, 0, false },
	[CC_TXQ] = { "TXQ", 5, 0, false },
	[CC_CREDIT] = { "CREDIT", 6, 0, false },
	[CC_BUFALLOC] = { "BUFALLOC", 8, 0, false },
	[CC_STALLS] = { "STALLS", 6, 0, false },
	[CC_LIMITED] = { "LIMIT_MS", 8, 0, false },
	[CC_PID] = { "PID", 5, 0, false },
	[CC_COMM] = { "COMM", 4, 15, true },
};

_Static_assert(DC_NR <= TUI_MAXCOLS && CC_NR <= TUI_MAXCOLS, "columns");

static double tui_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Append to the string in @buf (size @size), cut at its end. */
__attribute__((format(printf, 3, 4)))
static void tui_cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* Plain integers (ids, CIDs, pids): no K/M suffix; VT_NA gives "-". */
static void tui_int(char *buf, int64_t v)
{
	if (v == VT_NA)
		snprintf(buf, TUI_CELL, "-");
	else
		snprintf(buf, TUI_CELL, "%lld", (long long)v);
}

/* cid:port; VMADDR_CID_ANY / VMADDR_PORT_ANY (-1U) print as '*' */
static void tui_addr(char *buf, uint32_t cid, uint32_t port)
{
	char c[12], p[12];

	if (cid == UINT32_MAX)
		snprintf(c, sizeof(c), "*");
	else
		snprintf(c, sizeof(c), "%u", cid);
	if (port == UINT32_MAX)
		snprintf(p, sizeof(p), "*");
	else
		snprintf(p, sizeof(p), "%u", port);
	snprintf(buf, TUI_CELL, "%s:%s", c, p);
}

/* Text at (y, x), cut at the right edge; nothing off the screen. */
static void tui_put(int y, int x, attr_t a, const char *s)
{
	if (y < 0 || y >= LINES || x < 0 || x >= COLS)
		return;
	attrset(a);
	mvaddnstr(y, x, s, COLS - x);
	attrset(A_NORMAL);
}

/* A whole line in @a (the header bar, the focused title). */
static void tui_bar(int y, attr_t a, const char *s)
{
	if (y < 0 || y >= LINES)
		return;
	attrset(a);
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
	tui_put(y, 0, a, s);
}

/* ---- the two tables ---- */

static bool tui_dev_visible(const struct tui *t, int i)
{
	return vt_dev_visible(&t->l->view, &t->snap.devs[i]);
}

static bool tui_conn_visible(const struct tui *t, int i)
{
	return vt_conn_visible(&t->l->view, &t->snap.conns[i]);
}

static void tui_dev_fmt(const struct tui *t, int i, struct tui_row *r)
{
	const struct vt_dev *d = &t->snap.devs[i];
	double iv = t->snap.interval_s;

	tui_int(r->c[DC_ID], d->id);
	snprintf(r->c[DC_NAME], TUI_CELL, "%.*s", (int)sizeof(d->name), d->name);
	snprintf(r->c[DC_ROLE], TUI_CELL, "%s", d->role ? d->role : "-");
	tui_int(r->c[DC_CID], d->cid);
	snprintf(r->c[DC_DEF], TUI_CELL, "%s", d->is_default ? "*" : "");
	vt_fmt_rate(r->c[DC_TX], d->tx_bytes, iv);
	vt_fmt_rate(r->c[DC_RX], d->rx_bytes, iv);
	vt_fmt_rate(r->c[DC_TXPKT], d->tx_pkts, iv);
	vt_fmt_rate(r->c[DC_RXPKT], d->rx_pkts, iv);
	vt_fmt_num(r->c[DC_QUEUE], d->queue_depth);
	vt_fmt_num(r->c[DC_QMAX], d->queue_depth_max);
	vt_fmt_num(r->c[DC_CONNS], d->conns);
	vt_fmt_num(r->c[DC_STALLED], d->stalled);
	vt_fmt_num(r->c[DC_STALLS], d->credit_stalls);
	vt_fmt_lat(r->c[DC_TXP50], d->tx_lat.p50);
	vt_fmt_lat(r->c[DC_TXP99], d->tx_lat.p99);
	vt_fmt_lat(r->c[DC_RXP50], d->rx_lat.p50);
	vt_fmt_lat(r->c[DC_RXP99], d->rx_lat.p99);
	r->attr = A_NORMAL;
	r->hot = 0;
	if (d->stalled != VT_NA && d->stalled > 0) {
		r->attr = t->a_warn;
		r->hot = 1u << DC_STALLED;
	}
}

static void tui_conn_fmt(const struct tui *t, int i, struct tui_row *r)
{
	const struct vt_conn *c = &t->snap.conns[i];
	double iv = t->snap.interval_s;

	tui_addr(r->c[CC_LOCAL], c->local_cid, c->local_port);
	tui_addr(r->c[CC_PEER], c->peer_cid, c->peer_port);
	tui_int(r->c[CC_DEV], c->dev);
	snprintf(r->c[CC_TYPE], TUI_CELL, "%s", c->type ? c->type : "-");
	snprintf(r->c[CC_STATE], TUI_CELL, "%s", c->state ? c->state : "-");
	vt_fmt_rate(r->c[CC_TX], c->tx_bytes, iv);
	vt_fmt_rate(r->c[CC_RX], c->rx_bytes, iv);
	vt_fmt_num(r->c[CC_RXQ], c->rx_queued);
	vt_fmt_num(r->c[CC_TXQ], c->tx_queued);
	vt_fmt_num(r->c[CC_CREDIT], c->peer_credit);
	vt_fmt_num(r->c[CC_BUFALLOC], c->peer_buf_alloc);
	vt_fmt_num(r->c[CC_STALLS], c->credit_stalls);
	vt_fmt_num(r->c[CC_LIMITED], c->credit_limited_ms);
	tui_int(r->c[CC_PID], c->pid);
	snprintf(r->c[CC_COMM], TUI_CELL, "%.*s", (int)sizeof(c->comm),
		 c->comm[0] ? c->comm : "-");
	r->attr = c->stalled ? t->a_stall : A_NORMAL;
	r->hot = 0;
}

static int tui_count(const struct tui *t, const struct tui_tab *tab)
{
	int n = 0;

	for (int i = 0; i < tab->total; i++)
		n += tab->visible(t, i);
	return n;
}

/* The snapshot index of visible row @k (tab->total if none). */
static int tui_seek(const struct tui *t, const struct tui_tab *tab, int k)
{
	int i;

	for (i = 0; i < tab->total; i++)
		if (tab->visible(t, i) && k-- == 0)
			break;
	return i;
}

static void tui_cell(int y, int x, int w, bool left, attr_t a, const char *s)
{
	char buf[TUI_CELL + 1];

	snprintf(buf, sizeof(buf), left ? "%-*.*s" : "%*.*s", w, w, s);
	tui_put(y, x, a, buf);
}

/*
 * Title, column names and up to @h rows from line @y. Widths come from
 * the names and the rows on screen; the right-most columns that do not
 * fit the terminal are left out. Returns the rows drawn.
 */
static int tui_draw_tab(struct tui *t, const struct tui_tab *tab, int y,
			int h, bool focus)
{
	int w[TUI_MAXCOLS], start, nrows = 0, ncols = 0, x, i, c, len;
	struct tui_row r;
	char title[160];

	if (y >= LINES - 1)	/* the bottom line is the prompt's */
		return 0;
	if (h < 0)
		h = 0;
	if (*tab->top > tab->n - h)
		*tab->top = tab->n - h;
	if (*tab->top < 0)
		*tab->top = 0;

	for (c = 0; c < tab->ncols; c++) {
		len = strlen(tab->cols[c].name);
		w[c] = tab->cols[c].min > len ? tab->cols[c].min : len;
	}
	start = tui_seek(t, tab, *tab->top);
	for (i = start; i < tab->total && nrows < h; i++) {
		if (!tab->visible(t, i))
			continue;
		tab->fmt(t, i, &r);
		for (c = 0; c < tab->ncols; c++) {
			len = strnlen(r.c[c], TUI_CELL);
			if (len > w[c])
				w[c] = len;
			if (tab->cols[c].max && w[c] > tab->cols[c].max)
				w[c] = tab->cols[c].max;
		}
		nrows++;
	}
	for (x = 0; ncols < tab->ncols; ncols++) {
		if (ncols && x + w[ncols] > COLS)
			break;
		x += w[ncols] + 1;
	}

	snprintf(title, sizeof(title), "%s %s: %d", focus ? ">" : " ",
		 tab->title, tab->matches);
	if (tab->matches != tab->total)
		tui_cat(title, sizeof(title), " of %d", tab->total);
	if (tab->n < tab->matches)
		tui_cat(title, sizeof(title), ", first %d", tab->n);
	if (!nrows && tab->n)
		tui_cat(title, sizeof(title), "  (no room)");
	else if (nrows < tab->n)
		tui_cat(title, sizeof(title), "  (rows %d-%d%s)",
			*tab->top + 1, *tab->top + nrows,
			focus ? ", scroll: j/k PgUp/PgDn" : ", d: focus");
	if (focus)
		tui_bar(y, t->a_focus, title);
	else
		tui_put(y, 0, t->a_title, title);

	for (c = 0, x = 0; c < ncols && y + 1 < LINES - 1; x += w[c] + 1, c++)
		tui_cell(y + 1, x, w[c], tab->cols[c].left, t->a_colhdr,
			 tab->cols[c].name);

	nrows = 0;
	for (i = start; i < tab->total && nrows < h; i++) {
		if (!tab->visible(t, i))
			continue;
		tab->fmt(t, i, &r);
		for (c = 0, x = 0; c < ncols; x += w[c] + 1, c++)
			tui_cell(y + 2 + nrows, x, w[c], tab->cols[c].left,
				 r.hot & (1u << c) ? t->a_hot : r.attr, r.c[c]);
		nrows++;
	}
	return nrows;
}

/* ---- header, bottom line, help ---- */

static void tui_filter_text(const struct vt_view *v, char *buf, size_t len)
{
	buf[0] = '\0';
	if (v->cid >= 0)
		tui_cat(buf, len, " cid %lld", (long long)v->cid);
	if (v->port >= 0)
		tui_cat(buf, len, " port %lld", (long long)v->port);
	if (v->dev >= 0)
		tui_cat(buf, len, " dev %lld", (long long)v->dev);
	if (!buf[0])
		tui_cat(buf, len, " none");
}

static void tui_draw_header(struct tui *t)
{
	const struct vt_snapshot *s = &t->snap;
	const struct vt_loop *l = t->l;
	char line[512], tm[32], tx[16], rx[16], filt[64];
	const char *mode = l->mode_note;

	if (!mode)
		mode = s->mode == VT_MODE_STOCK ? "stock vsock" : "mvsock";
	vt_fmt_time(tm, sizeof(tm), s->ts, false);
	snprintf(line, sizeof(line),
		 " vsocktop %s   %s   interval %.3gs   mode: %s%s",
		 vt_version ? vt_version : "", tm, l->interval_s, mode,
		 t->paused ? "   PAUSED" : "");
	tui_bar(0, t->a_hdr, line);

	/* the collector's sums over all devices */
	vt_fmt_rate(tx, s->tx_bytes, s->interval_s);
	vt_fmt_rate(rx, s->rx_bytes, s->interval_s);
	tui_filter_text(&l->view, filt, sizeof(filt));
	snprintf(line, sizeof(line),
		 " devices %d   connections %d   tx %s/s   rx %s/s   "
		 "sort: %s%s   filter:%s",
		 s->ndevs, s->nconns, tx, rx, vt_sort_names[l->view.sort],
		 l->view.reverse ? " (reversed)" : "", filt);
	tui_put(1, 0, A_NORMAL, line);
}

/* The prompt, a message or the key hints; returns the cursor column. */
static int tui_draw_bottom(struct tui *t)
{
	char line[192], filt[64];
	int y = LINES - 1, n;

	if (t->prompting) {
		tui_filter_text(&t->l->view, filt, sizeof(filt));
		snprintf(line, sizeof(line), "filter (cid N, port N, dev N; "
			 "empty: none; now:%s)> ", filt);
		tui_cat(line, sizeof(line), "%s", t->input);
		n = strlen(line);
		if (n >= COLS) {
			snprintf(line, sizeof(line), "filter> %s", t->input);
			n = strlen(line);
		}
		tui_put(y, 0, A_BOLD, line);
		return n < COLS ? n : COLS - 1;
	}
	if (t->msg[0])
		tui_put(y, 0, A_BOLD, t->msg);
	else
		tui_put(y, 0, A_NORMAL,
			"q quit  h help  s/S sort  f filter  d focus  p pause  "
			"+/- interval  j/k PgUp/PgDn scroll");
	return 0;
}

static void tui_draw_help(struct tui *t)
{
	static const char *const lines[] = {
		"q            quit",
		"s            next sort column: bytes tx rx queue credit stalls",
		"             p99 cid port",
		"S            reverse the sort order",
		"f            filter: cid N, port N, dev N (several at once; 'cid any'",
		"             clears one); an empty line clears every filter; Esc cancels",
		"d, Tab       focus the device or the connection table (scrolls)",
		"p            pause / resume collecting (keys still work)",
		"+ / -        double / halve the interval (0.1 .. 60 s)",
		"j k, Up Down scroll the focused table by a row",
		"PgUp PgDn    scroll by a page; Home End (g G): first, last rows",
		"Ctrl-L       redraw the screen",
		"h, ?         this help",
		"",
		"Rates are per second over the last interval; '-': not available.",
		"Connections: STALLS and LIMIT_MS since vsocktop started.",
		"Credit-stalled connections are red (bold without colours),",
		"devices with stalled connections yellow.",
		"",
		"Press any key to close this help.",
	};
	char title[64];
	int i;

	snprintf(title, sizeof(title), " vsocktop %s: keys",
		 vt_version ? vt_version : "");
	tui_bar(0, t->a_hdr, title);
	for (i = 0; i < (int)(sizeof(lines) / sizeof(lines[0])); i++)
		tui_put(i + 2, 2, A_NORMAL, lines[i]);
}

/*
 * Lines: header (2), a blank, the device table (title, names, rows), a
 * blank, the connection table (title, names, rows), the bottom line. The
 * device table gets what it needs up to half the rows when connections
 * need the rest.
 */
static void tui_draw(struct tui *t)
{
	struct vt_view *v = &t->l->view;
	struct tui_tab dt = {
		.title = "DEVICES", .cols = tui_dev_cols, .ncols = DC_NR,
		.total = t->snap.ndevs, .top = &t->dev_top,
		.visible = tui_dev_visible, .fmt = tui_dev_fmt,
	};
	struct tui_tab ct = {
		.title = "CONNECTIONS", .cols = tui_conn_cols, .ncols = CC_NR,
		.total = t->snap.nconns, .top = &t->conn_top,
		.visible = tui_conn_visible, .fmt = tui_conn_fmt,
	};
	int body, dh, ch, y, cx = 0;

	erase();
	if (t->help) {
		tui_draw_help(t);
		goto out;
	}
	if (!t->have_snap)
		goto out;
	tui_draw_header(t);
	dt.n = dt.matches = tui_count(t, &dt);
	ct.n = ct.matches = tui_count(t, &ct);
	if (v->rows > 0 && ct.n > v->rows)
		ct.n = v->rows;

	body = LINES - 9;
	if (body < 0)
		body = 0;
	dh = body - ct.n > (body + 1) / 2 ? body - ct.n : (body + 1) / 2;
	if (dh > dt.n)
		dh = dt.n;
	ch = body - dh < ct.n ? body - dh : ct.n;

	y = 3;
	t->dev_page = tui_draw_tab(t, &dt, y, dh, !t->focus_conns);
	y += 2 + dh + 1;
	if (y < LINES - 1)
		t->conn_page = tui_draw_tab(t, &ct, y, ch, t->focus_conns);
	cx = tui_draw_bottom(t);
out:
	if (t->prompting && !t->help) {
		curs_set(1);
		move(LINES - 1, cx);
	} else {
		curs_set(0);
	}
	refresh();
}

/* ---- keys ---- */

/*
 * Sorting again in place: the snapshot's arrays are the collector's, but
 * they are ours to reorder until the next collect.
 */
static void tui_resort(struct tui *t)
{
	if (!t->have_snap)
		return;
	vt_sort_snapshot(&t->snap, &t->l->view);
	t->dev_top = t->conn_top = 0;
}

/* "any", "*", "-" or -1: no filter; else 0 .. UINT32_MAX */
static int tui_filter_value(const char *s, int64_t *v)
{
	if (!strcmp(s, "any") || !strcmp(s, "*") || !strcmp(s, "-") ||
	    !strcmp(s, "-1")) {
		*v = -1;
		return 0;
	}
	return num_s64(s, 10, 0, UINT32_MAX, v) ? -1 : 0;
}

/*
 * "cid 3", "port 1234 dev 2", "cid=3", "cid any": sets the filters named,
 * keeps the others; an empty line clears all. Nothing changes on an error.
 */
static int tui_filter_parse(struct tui *t, const char *line)
{
	struct vt_view v = t->l->view;
	char buf[sizeof(t->input)], *save = NULL, *key, *val;
	int64_t *dst;
	bool any = false;

	snprintf(buf, sizeof(buf), "%s", line);
	while ((key = strtok_r(any ? NULL : buf, " \t=", &save))) {
		any = true;
		if (!strcmp(key, "cid"))
			dst = &v.cid;
		else if (!strcmp(key, "port"))
			dst = &v.port;
		else if (!strcmp(key, "dev"))
			dst = &v.dev;
		else if (!strcmp(key, "clear") || !strcmp(key, "none")) {
			v.cid = v.port = v.dev = -1;
			continue;
		} else {
			snprintf(t->msg, sizeof(t->msg),
				 "filter: unknown '%.20s' (cid N, port N, dev N)",
				 key);
			return -1;
		}
		val = strtok_r(NULL, " \t=", &save);
		if (!val || tui_filter_value(val, dst)) {
			snprintf(t->msg, sizeof(t->msg),
				 "filter: %s needs a number or 'any'", key);
			return -1;
		}
	}
	if (!any)
		v.cid = v.port = v.dev = -1;
	t->l->view.cid = v.cid;
	t->l->view.port = v.port;
	t->l->view.dev = v.dev;
	t->dev_top = t->conn_top = 0;
	return 0;
}

static void tui_prompt_key(struct tui *t, int ch)
{
	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		t->prompting = false;
		tui_filter_parse(t, t->input);
		break;
	case 27:	/* Esc */
	case 7:		/* ^G */
		t->prompting = false;
		break;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (t->ninput > 0)
			t->input[--t->ninput] = '\0';
		break;
	case 21:	/* ^U */
		t->ninput = 0;
		t->input[0] = '\0';
		break;
	default:
		if (ch >= ' ' && ch < 127 &&
		    t->ninput < (int)sizeof(t->input) - 1) {
			t->input[t->ninput++] = (char)ch;
			t->input[t->ninput] = '\0';
		}
		break;
	}
}

static void tui_scroll(struct tui *t, int by)
{
	int *top = t->focus_conns ? &t->conn_top : &t->dev_top;

	/* tui_draw_tab() clamps it to the rows there are */
	if (by > 0 && *top > INT_MAX - by)
		*top = INT_MAX;
	else
		*top += by;
	if (*top < 0)
		*top = 0;
}

static int tui_page(const struct tui *t)
{
	int p = t->focus_conns ? t->conn_page : t->dev_page;

	return p > 1 ? p : 1;
}

/* Returns true to quit. */
static bool tui_key(struct tui *t, int ch)
{
	struct vt_loop *l = t->l;

	if (ch == KEY_RESIZE)
		return false;	/* the redraw that follows re-lays out */
	if (ch == 12) {		/* ^L */
		clearok(curscr, TRUE);
		return false;
	}
	if (t->help) {
		t->help = false;
		return false;
	}
	if (t->prompting) {
		tui_prompt_key(t, ch);
		return false;
	}
	t->msg[0] = '\0';
	switch (ch) {
	case 'q':
	case 'Q':
		return true;
	case 's':
		l->view.sort = (l->view.sort + 1) % VT_SORT_NR;
		tui_resort(t);
		break;
	case 'S':
		l->view.reverse = !l->view.reverse;
		tui_resort(t);
		break;
	case 'f':
	case '/':
		t->prompting = true;
		t->ninput = 0;
		t->input[0] = '\0';
		break;
	case 'd':
	case '\t':
		t->focus_conns = !t->focus_conns;
		break;
	case 'p':
		t->paused = !t->paused;
		break;
	case '+':
	case '=':
		l->interval_s *= 2;
		if (l->interval_s > TUI_MAX_IV)
			l->interval_s = TUI_MAX_IV;
		break;
	case '-':
		l->interval_s /= 2;
		if (l->interval_s < TUI_MIN_IV)
			l->interval_s = TUI_MIN_IV;
		break;
	case KEY_DOWN:
	case 'j':
		tui_scroll(t, 1);
		break;
	case KEY_UP:
	case 'k':
		tui_scroll(t, -1);
		break;
	case KEY_NPAGE:
		tui_scroll(t, tui_page(t));
		break;
	case KEY_PPAGE:
		tui_scroll(t, -tui_page(t));
		break;
	case KEY_HOME:
	case 'g':
		tui_scroll(t, INT_MIN / 2);
		break;
	case KEY_END:
	case 'G':
		tui_scroll(t, INT_MAX);
		break;
	case 'h':
	case '?':
	case KEY_F(1):
		t->help = true;
		break;
	default:
		break;
	}
	return false;
}

/* ---- the loop ---- */

/*
 * SIGINT (^C: cbreak keeps ISIG) and SIGTERM end the loop like q. The
 * handlers they had (vsocktop.c's, which only sets its own flag) are
 * called too, and put back when the screen ends.
 */
static volatile sig_atomic_t tui_stop;
static struct sigaction tui_old_int, tui_old_term;

static void tui_on_signal(int sig)
{
	const struct sigaction *old = sig == SIGINT ? &tui_old_int :
						      &tui_old_term;

	tui_stop = 1;
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
	    old->sa_handler != SIG_IGN)
		old->sa_handler(sig);
}

static void tui_catch(int sig, struct sigaction *old)
{
	struct sigaction sa = { .sa_handler = tui_on_signal };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, NULL, old) || old->sa_handler == SIG_IGN)
		return;		/* ignored stays ignored (nohup) */
	sigaction(sig, &sa, NULL);
}


static void tui_start(struct tui *t)
{
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(50);
	curs_set(0);

	t->a_hdr = A_REVERSE;
	t->a_title = A_BOLD;
	t->a_focus = A_REVERSE | A_BOLD;
	t->a_colhdr = A_BOLD;
	t->a_stall = A_BOLD;
	t->a_warn = A_NORMAL;
	t->a_hot = A_BOLD;
	if (!t->l->view.color || !has_colors() || start_color() == ERR)
		return;
	use_default_colors();
	init_pair(1, COLOR_BLACK, COLOR_CYAN);		/* header */
	init_pair(2, COLOR_BLACK, COLOR_YELLOW);	/* focused title */
	init_pair(3, COLOR_RED, -1);			/* stalled */
	init_pair(4, COLOR_YELLOW, -1);			/* has stalled */
	t->a_hdr = COLOR_PAIR(1);
	t->a_focus = COLOR_PAIR(2) | A_BOLD;
	t->a_title = A_BOLD;
	t->a_stall = COLOR_PAIR(3);
	t->a_warn = COLOR_PAIR(4);
	t->a_hot = COLOR_PAIR(3) | A_BOLD;
}

/* Collect, sort, draw, publish. -1 when the collector failed. */
static int tui_cycle(struct tui *t)
{
	t->have_snap = false;
	if (vt_collect(t->l->col, &t->snap) < 0)
		return -1;
	t->have_snap = true;
	vt_sort_snapshot(&t->snap, &t->l->view);
	t->shown++;
	tui_draw(t);
	vt_publish(&t->snap);
	return 0;
}

/*
 * Returns 0 (q, or count snapshots shown: the last one stays up for its
 * interval), 1 after a collect error, with the screen still up.
 */
static int tui_loop(struct tui *t)
{
	struct vt_loop *l = t->l;
	double now, deadline;
	int ch, ms;

	for (;;) {
		if (tui_stop)
			return 0;
		now = tui_now();
		deadline = t->last + l->interval_s;
		if (!t->paused && (!t->have_snap || now >= deadline)) {
			if (l->count > 0 && t->shown >= l->count)
				return 0;
			/* keep to the interval's grid unless far behind */
			t->last = t->have_snap && now - deadline < l->interval_s ?
				  deadline : now;
			if (tui_cycle(t))
				return 1;
			/* a collect slower than the interval still reads keys */
			now = tui_now();
			deadline = t->last + l->interval_s;
		}
		ms = TUI_STEP_MS;
		if (!t->paused && deadline - now < TUI_STEP_MS / 1000.0)
			ms = deadline > now ? (int)((deadline - now) * 1000) + 1 : 0;
		timeout(ms);
		ch = getch();
		if (ch == ERR)
			continue;
		if (tui_key(t, ch))
			return 0;
		/* more keys already typed: handle them before one redraw */
		timeout(0);
		while ((ch = getch()) != ERR)
			if (tui_key(t, ch))
				return 0;
		tui_draw(t);
	}
}

int vt_tui_run(struct vt_loop *l)
{
	struct tui t = { .l = l };
	SCREEN *scr;
	int ret = 1;

	/* before newterm(): ncurses then leaves SIGINT/SIGTERM to us */
	tui_stop = 0;
	tui_catch(SIGINT, &tui_old_int);
	tui_catch(SIGTERM, &tui_old_term);
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		snprintf(vt_errmsg, sizeof(vt_errmsg),
			 "cannot use the terminal (TERM=%s)",
			 getenv("TERM") ? getenv("TERM") : "");
		goto out;
	}
	set_term(scr);
	tui_start(&t);
	ret = tui_loop(&t);
	endwin();
	delscreen(scr);
out:
	sigaction(SIGINT, &tui_old_int, NULL);
	sigaction(SIGTERM, &tui_old_term, NULL);
	if (ret)
		fprintf(stderr, "vsocktop: %s\n", vt_errmsg);
	return ret;
}
