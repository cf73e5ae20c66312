// SPDX-License-Identifier: GPL-2.0
/*
 * fg: a user-space virtio-vsock guest driver against /dev/vhost-vsock.
 * See fg.h for the model.  Written from the virtio 1.x split-ring layout,
 * the virtio-vsock packet format and the vhost ioctl API
 * (include/uapi/linux/vhost.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>

#include "../lib/ktap.h"
#include "fg.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* split ring, virtio 1.x (little endian) */
#define DESC_F_NEXT	1
#define DESC_F_WRITE	2
#define DESC_F_INDIRECT	4
#define USED_F_NO_NOTIFY 1
#define IND_TABLE	(FG_MAX_SEGS * 16)

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct vavail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
} __attribute__((packed));

struct vused_elem {
	uint32_t id;
	uint32_t len;
} __attribute__((packed));

struct vused {
	uint16_t flags;
	uint16_t idx;
	struct vused_elem ring[];
} __attribute__((packed));

#define NO_DESC 0xffff

void fg_error(struct fg *fg, const char *fmt, ...)
{
	va_list ap;

	if (!fg->errors++) {
		va_start(ap, fmt);
		vsnprintf(fg->first_error, sizeof(fg->first_error), fmt, ap);
		va_end(ap);
	}
}

/* --- header --------------------------------------------------------------- */

struct wire_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct wire_hdr) == FG_HDR_LEN, "header size");

void fg_hdr_encode(const struct fg_hdr *h, void *wire)
{
	struct wire_hdr w = {
		.src_cid = htole64(h->src_cid),
		.dst_cid = htole64(h->dst_cid),
		.src_port = htole32(h->src_port),
		.dst_port = htole32(h->dst_port),
		.len = htole32(h->len),
		.type = htole16(h->type),
		.op = htole16(h->op),
		.flags = htole32(h->flags),
		.buf_alloc = htole32(h->buf_alloc),
		.fwd_cnt = htole32(h->fwd_cnt),
	};

	memcpy(wire, &w, sizeof(w));
}

void fg_hdr_decode(const void *wire, struct fg_hdr *h)
{
	struct wire_hdr w;

	memcpy(&w, wire, sizeof(w));
	h->src_cid = le64toh(w.src_cid);
	h->dst_cid = le64toh(w.dst_cid);
	h->src_port = le32toh(w.src_port);
	h->dst_port = le32toh(w.dst_port);
	h->len = le32toh(w.len);
	h->type = le16toh(w.type);
	h->op = le16toh(w.op);
	h->flags = le32toh(w.flags);
	h->buf_alloc = le32toh(w.buf_alloc);
	h->fwd_cnt = le32toh(w.fwd_cnt);
}

const char *fg_op_name(unsigned int op)
{
	static const char *const names[] = {
		"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW",
		"CREDIT_UPDATE", "CREDIT_REQUEST",
	};

	return op < FG_OP_NR ? names[op] : "OP?";
}

void fg_hdr_str(const struct fg_hdr *h, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%s(%u) type %u %llu:%u->%llu:%u len %u flags 0x%x ba %u fc %u",
		 fg_op_name(h->op), h->op, h->type,
		 (unsigned long long)h->src_cid, h->src_port,
		 (unsigned long long)h->dst_cid, h->dst_port, h->len, h->flags,
		 h->buf_alloc, h->fwd_cnt);
}

/* --- random --------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t fg_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return mix64(*state);
}

/* --- layouts -------------------------------------------------------------- */

void fg_layout_lens(struct fg_layout *l, int n, const uint32_t *lens)
{
	memset(l, 0, sizeof(*l));
	l->n = n;
	for (int i = 0; i < n; i++)
		l->seg[i].len = lens[i];
}

void fg_layout_one(struct fg_layout *l, uint32_t len)
{
	fg_layout_lens(l, 1, &len);
}

uint64_t fg_layout_total(const struct fg_layout *l)
{
	uint64_t t = 0;

	for (int i = 0; i < l->n; i++)
		t += l->seg[i].len;
	return t;
}

/* --- arena and rings ------------------------------------------------------ */

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

uint64_t fg_gpa(struct fg *fg, const void *p)
{
	return FG_GPA_BASE + (uint64_t)((const uint8_t *)p - fg->arena);
}

static void *gpa_ptr(struct fg *fg, uint64_t gpa, uint64_t len)
{
	if (gpa < FG_GPA_BASE || gpa - FG_GPA_BASE > fg->arena_size ||
	    len > fg->arena_size - (gpa - FG_GPA_BASE))
		return NULL;
	return fg->arena + (gpa - FG_GPA_BASE);
}

static struct vdesc *vq_desc(struct fg_vq *vq)
{
	return vq->desc;
}

static struct vavail *vq_avail(struct fg_vq *vq)
{
	return vq->avail;
}

static struct vused *vq_used(struct fg_vq *vq)
{
	return vq->used;
}

static uint8_t *slot_ptr(struct fg_vq *vq, unsigned int d)
{
	return vq->slots + (uint64_t)d * vq->slot_size;
}

static void free_chain(struct fg_vq *vq, uint16_t head)
{
	uint16_t d = head;
	unsigned int n = 0;

	while (d != NO_DESC && n++ < vq->num) {
		uint16_t nx = vq->next[d];

		vq->next[d] = NO_DESC;
		vq->free[vq->nfree++] = d;
		d = nx;
	}
	vq->chain_n[head] = 0;
	vq->chain_ind[head] = 0;
	vq->chain_cap[head] = 0;
}

/* The host consumed chain id: every chain published before it was
 * consumed too (vsock devices process a queue in order); free those
 * silently-dropped ones.  Returns false if id is not in flight.
 */
static bool fifo_reclaim(struct fg *fg, struct fg_vq *vq, uint16_t id)
{
	unsigned int k;

	for (k = 0; k < vq->fifo_len; k++)
		if (vq->fifo[(vq->fifo_head + k) % vq->num] == id)
			break;
	if (k == vq->fifo_len) {
		fg_error(fg, "vq %d: host returned descriptor %u that is not in flight",
			 vq->index, id);
		return false;
	}
	for (unsigned int i = 0; i < k; i++) {
		uint16_t h = vq->fifo[(vq->fifo_head + i) % vq->num];

		free_chain(vq, h);
		vq->swallowed++;
		if (vq->index == FG_VQ_RX && fg->rx_posted)
			fg->rx_posted--;
	}
	vq->fifo_head = (vq->fifo_head + k + 1) % vq->num;
	vq->fifo_len -= k + 1;
	return true;
}

static void vq_publish(struct fg_vq *vq, uint16_t head)
{
	struct vavail *av = vq_avail(vq);

	av->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
	__atomic_store_n(&av->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
	vq->fifo[(vq->fifo_head + vq->fifo_len) % vq->num] = head;
	vq->fifo_len++;
}

void fg_kick(struct fg *fg, int idx, bool force)
{
	struct fg_vq *vq = &fg->vq[idx];
	uint64_t one = 1;
	uint16_t flags;

	if (vq->kick_fd < 0)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (fg->event_idx) {
		/* avail_event lives after the used ring */
		uint16_t *ev = (uint16_t *)((uint8_t *)vq->used + 4 + 8 * vq->num);
		uint16_t event = le16toh(__atomic_load_n(ev, __ATOMIC_ACQUIRE));
		uint16_t old = vq->kicked_idx, now = vq->avail_idx;
		bool need = (uint16_t)(now - event - 1) < (uint16_t)(now - old);

		vq->kicked_idx = now;
		if (!force && !fg->always_kick && !need)
			return;
	} else {
		flags = le16toh(__atomic_load_n(&vq_used(vq)->flags,
						__ATOMIC_ACQUIRE));
		if (!force && !fg->always_kick && (flags & USED_F_NO_NOTIFY))
			return;
	}
	if (write(vq->kick_fd, &one, sizeof(one)) == sizeof(one))
		vq->kicks++;
}

/* take descriptors for a layout and link them; returns head or -1 */
static int chain_build(struct fg *fg, struct fg_vq *vq,
		       const struct fg_layout *lay, bool device_writes,
		       uint16_t *descs)
{
	struct vdesc *dt = vq_desc(vq);
	uint64_t total = 0;
	int n = lay->n;

	if (lay->indirect) {
		uint16_t d;
		struct vdesc *t;
		uint64_t off = 0;

		if (n < 1 || !vq->nfree)
			return -1;
		d = vq->free[--vq->nfree];
		t = (struct vdesc *)(vq->indirect + (uint64_t)d * IND_TABLE);
		for (int i = 0; i < n; i++) {
			const struct fg_seg *s = &lay->seg[i];
			uint16_t fl = i + 1 < n ? DESC_F_NEXT : 0;
			uint64_t addr;

			off += s->off;
			if (s->flags & FG_SEG_GPA)
				addr = s->gpa;
			else
				addr = vq->slots_gpa + (uint64_t)d * vq->slot_size + off;
			if (device_writes || (s->flags & FG_SEG_WRITE))
				fl |= DESC_F_WRITE;
			t[i].addr = htole64(addr);
			t[i].len = htole32(s->len);
			t[i].flags = htole16(fl);
			t[i].next = htole16(i + 1 < n ? i + 1 : 0);
			off += s->len;
			total += s->len;
			descs[i] = d;	/* all segments live in d's slot */
		}
		dt[d].addr = htole64(fg_gpa(fg, t));
		dt[d].len = htole32((uint32_t)(n * sizeof(*t)));
		dt[d].flags = htole16(DESC_F_INDIRECT);
		dt[d].next = 0;
		vq->next[d] = NO_DESC;
		vq->chain_n[d] = 1;
		vq->chain_ind[d] = (uint16_t)n;
		vq->chain_cap[d] = total;
		return d;
	}
	if (n < 1 || (unsigned int)n > vq->nfree)
		return -1;
	for (int i = 0; i < n; i++)
		descs[i] = vq->free[--vq->nfree];
	for (int i = 0; i < n; i++) {
		const struct fg_seg *s = &lay->seg[i];
		uint16_t d = descs[i];
		uint16_t fl = 0;
		uint64_t addr;

		if (s->flags & FG_SEG_GPA)
			addr = s->gpa;
		else
			addr = vq->slots_gpa + (uint64_t)d * vq->slot_size + s->off;
		if (i + 1 < n)
			fl |= DESC_F_NEXT;
		if (device_writes || (s->flags & FG_SEG_WRITE))
			fl |= DESC_F_WRITE;
		dt[d].addr = htole64(addr);
		dt[d].len = htole32(s->len);
		dt[d].flags = htole16(fl);
		dt[d].next = htole16(i + 1 < n ? descs[i + 1] : 0);
		vq->next[d] = i + 1 < n ? descs[i + 1] : NO_DESC;
		total += s->len;
	}
	vq->chain_n[descs[0]] = (uint16_t)n;
	vq->chain_cap[descs[0]] = total;
	return descs[0];
}

/* --- rx ------------------------------------------------------------------- */

static bool layout_fits(struct fg_vq *vq, const struct fg_layout *l)
{
	if (l->n < 1 || l->n > FG_MAX_SEGS || (unsigned int)l->n > vq->num)
		return false;
	if (l->indirect) {
		uint64_t t = 0;

		for (int i = 0; i < l->n; i++)
			t += (uint64_t)l->seg[i].off + l->seg[i].len;
		return t <= vq->slot_size;
	}
	for (int i = 0; i < l->n; i++)
		if (!(l->seg[i].flags & FG_SEG_GPA) &&
		    (uint64_t)l->seg[i].off + l->seg[i].len > vq->slot_size)
			return false;
	return true;
}

void fg_rx_set_layout(struct fg *fg, const struct fg_layout *lay)
{
	uint64_t total = fg_layout_total(lay);

	fg->rx_layout = *lay;
	free(fg->gather);
	fg->gather = malloc(total + FG_HDR_LEN + 64);
}

unsigned int fg_rx_fill(struct fg *fg, unsigned int n)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_RX];
	uint16_t descs[FG_MAX_SEGS];
	unsigned int posted = 0;

	while (!n || posted < n) {
		int head;

		if (fg->rx_limit && fg->rx_posted >= fg->rx_limit)
			break;
		if (vq->fifo_len >= vq->num)
			break;
		head = chain_build(fg, vq, &fg->rx_layout, true, descs);
		if (head < 0)
			break;
		vq_publish(vq, (uint16_t)head);
		fg->rx_posted++;
		posted++;
	}
	if (posted)
		fg_kick(fg, FG_VQ_RX, false);
	return posted;
}

static struct fg_conn *conn_new(struct fg *fg, uint32_t lport, uint32_t pport,
				uint16_t type, uint32_t buf_alloc);
static void queue_ctrl(struct fg *fg, const struct fg_hdr *h);
static void add_stray(struct fg *fg, const struct fg_hdr *h, uint32_t used_len,
		      const uint8_t *payload);

static void reply_rst(struct fg *fg, const struct fg_hdr *in)
{
	struct fg_hdr r;

	fg_hdr_init(fg, &r, FG_OP_RST, in->type, in->dst_port, in->src_port);
	queue_ctrl(fg, &r);
}

static uint32_t credit_threshold(const struct fg_conn *c)
{
	uint32_t t = c->buf_alloc / 4;

	if (t > 32768)
		t = 32768;
	return t ? t : 1;
}

/* the application consumed data: tell the host when enough piled up */
static void conn_consumed(struct fg_conn *c)
{
	if (c->auto_credit &&
	    c->fwd_total - c->fwd_sent_total >= credit_threshold(c))
		c->credit_pending = true;
}

static void conn_deliver(struct fg_conn *c, const uint8_t *data, uint32_t len)
{
	if (c->sink) {
		int64_t bad = c->sink_nocheck ? -1 :
			pat_check(data, len, c->sink_seed,
					 c->rx_cnt - len);

		if (bad >= 0) {
			if (!c->sink_bad)
				c->sink_first_bad = c->rx_cnt - len + (uint64_t)bad;
			c->sink_bad++;
		}
		c->fwd_total += len;
		conn_consumed(c);
		return;
	}
	if (c->rxlen + len > c->rxcap) {
		size_t cap = c->rxcap ? c->rxcap : 65536;

		while (cap < c->rxlen + len)
			cap *= 2;
		c->rxbuf = realloc(c->rxbuf, cap);
		if (!c->rxbuf) {
			fprintf(stderr, "fg: out of memory\n");
			abort();
		}
		c->rxcap = cap;
	}
	memcpy(c->rxbuf + c->rxlen, data, len);
	c->rxlen += len;
}

static void conn_rx(struct fg_conn *c, const struct fg_hdr *h,
		    const uint8_t *payload)
{
	struct fg *fg = c->fg;

	if (h->op < FG_OP_NR)
		c->pkts_by_op[h->op]++;

	if (h->op != FG_OP_RST) {
		uint32_t outstanding = c->tx_cnt - c->peer_fwd_cnt;
		uint32_t acked = h->fwd_cnt - c->peer_fwd_cnt;

		if (c->peer_credit_known && acked > outstanding &&
		    !c->no_fwd_check) {
			c->bad_fwd_cnt++;
			fg_error(fg, "conn %u<-%u: host fwd_cnt %u beyond what we sent (tx_cnt %u, previous fwd_cnt %u)",
				 c->lport, c->pport, h->fwd_cnt, c->tx_cnt,
				 c->peer_fwd_cnt);
		}
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		c->peer_credit_known = true;
	}

	if (c->state == FGC_CONNECTING) {
		if (h->op == FG_OP_RESPONSE) {
			c->state = FGC_ESTABLISHED;
		} else if (h->op == FG_OP_RST) {
			c->state = FGC_CLOSED;
			c->got_rst = true;
			c->refused = true;
		} else {
			fg_error(fg, "conn %u->%u: %s while connecting",
				 c->lport, c->pport, fg_op_name(h->op));
		}
		return;
	}
	if (c->state == FGC_CLOSED && h->op != FG_OP_RW)
		return;

	switch (h->op) {
	case FG_OP_RW: {
		uint64_t unacked;

		c->rx_cnt += h->len;
		c->rx_pkts++;
		unacked = c->rx_cnt - c->fwd_sent_total;
		if (unacked > c->max_unacked)
			c->max_unacked = unacked;
		if (unacked > c->ba_sent) {
			c->credit_violations++;
			fg_error(fg, "conn %u<-%u: host sent beyond our credit: %llu bytes unacknowledged, buf_alloc %u",
				 c->lport, c->pport,
				 (unsigned long long)unacked, c->ba_sent);
		}
		if (c->state == FGC_CLOSED)
			return;
		conn_deliver(c, payload, h->len);
		if ((h->flags & FG_SEQ_EOR) && !(h->flags & FG_SEQ_EOM))
			fg_error(fg, "conn %u<-%u: EOR without EOM (flags %#x)",
				 c->lport, c->pport, h->flags);
		if (c->type == FG_TYPE_STREAM && (h->flags & FG_SEQ_EOM))
			fg_error(fg, "conn %u<-%u: EOM on a STREAM connection",
				 c->lport, c->pport);
		if (h->flags & FG_SEQ_EOM) {
			if (c->nmarks == c->capmarks) {
				c->capmarks = c->capmarks ? 2 * c->capmarks : 64;
				c->marks = realloc(c->marks,
						   c->capmarks * sizeof(*c->marks));
				if (!c->marks)
					abort();
			}
			c->marks[c->nmarks].end = c->rx_cnt;
			c->marks[c->nmarks].flags = h->flags;
			c->nmarks++;
		}
		break;
	}
	case FG_OP_CREDIT_UPDATE:
		c->credit_updates_rx++;
		break;
	case FG_OP_CREDIT_REQUEST:
		c->credit_requests_rx++;
		c->credit_pending = true;
		break;
	case FG_OP_SHUTDOWN:
		c->peer_shutdown |= h->flags & (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND);
		if (c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND) &&
		    c->auto_rst_on_shutdown) {
			struct fg_hdr r;

			fg_hdr_init(fg, &r, FG_OP_RST, c->type, c->lport,
				    c->pport);
			queue_ctrl(fg, &r);
			c->state = FGC_CLOSED;
		}
		break;
	case FG_OP_RST:
		c->got_rst = true;
		c->state = FGC_CLOSED;
		break;
	default:
		break;
	}
}

static struct fg_listener *find_listener(struct fg *fg, uint32_t port)
{
	for (int i = 0; i < fg->nlisten; i++)
		if (fg->listen[i].port == port)
			return &fg->listen[i];
	return NULL;
}

/* the header as text, formatted only for a message (it costs) */
static const char *hstr(const struct fg_hdr *h, char s[160])
{
	fg_hdr_str(h, s, 160);
	return s;
}

static void handle_rx(struct fg *fg, const uint8_t *buf, uint32_t used_len)
{
	const uint8_t *payload = buf + FG_HDR_LEN;
	struct fg_listener *l;
	struct fg_conn *c;
	struct fg_hdr h;
	char s[160];

	fg->rx_pkts++;
	fg->rx_bytes += used_len;
	if (used_len < FG_HDR_LEN) {
		fg_error(fg, "rx: used length %u shorter than a header", used_len);
		return;
	}
	fg_hdr_decode(buf, &h);
	fg->rx_by_op[h.op < FG_OP_NR ? h.op : FG_OP_NR]++;
	if ((uint64_t)h.len + FG_HDR_LEN != used_len)
		fg_error(fg, "rx: used length %u != 44 + hdr.len: %s",
			 used_len, hstr(&h, s));
	if (h.len > FG_MAX_PAYLOAD)
		fg_error(fg, "rx: payload over 64 KiB: %s", hstr(&h, s));
	if (h.src_cid != FG_HOST_CID || h.dst_cid != fg->cid)
		fg_error(fg, "rx: wrong addresses (guest CID %llu): %s",
			 (unsigned long long)fg->cid, hstr(&h, s));
	if (h.op == FG_OP_INVALID || h.op >= FG_OP_NR)
		fg_error(fg, "rx: bad op: %s", hstr(&h, s));
	if (h.op != FG_OP_RST && h.type != FG_TYPE_STREAM &&
	    h.type != FG_TYPE_SEQPACKET)
		fg_error(fg, "rx: bad type: %s", hstr(&h, s));
	if (h.len && h.op != FG_OP_RW)
		fg_error(fg, "rx: payload on a non-RW packet: %s", hstr(&h, s));
	if ((uint64_t)h.len + FG_HDR_LEN > used_len)
		h.len = used_len - FG_HDR_LEN;	/* never read past */

	if (fg->keep_all)
		add_stray(fg, &h, used_len, payload);

	c = fg_conn_find(fg, h.dst_port, h.src_port);
	if (c) {
		conn_rx(c, &h, payload);
		return;
	}
	l = h.op == FG_OP_REQUEST ? find_listener(fg, h.dst_port) : NULL;
	if (l) {
		if (l->mode == FGL_IGNORE) {
			if (!fg->keep_all)
				add_stray(fg, &h, used_len, payload);
			return;
		}
		if (l->mode == FGL_REFUSE || (l->type && l->type != h.type)) {
			reply_rst(fg, &h);
			return;
		}
		c = conn_new(fg, h.dst_port, h.src_port, h.type, l->buf_alloc);
		if (!c)
			return;
		c->incoming = true;
		c->state = FGC_ESTABLISHED;
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
		c->peer_credit_known = true;
		c->pkts_by_op[FG_OP_REQUEST]++;
		if (l->sink) {
			c->sink = true;
			c->sink_seed = l->sink_seed;
		}
		{
			struct fg_hdr r;

			fg_hdr_init(fg, &r, FG_OP_RESPONSE, h.type, h.dst_port,
				    h.src_port);
			r.buf_alloc = c->buf_alloc;
			r.fwd_cnt = 0;
			c->ba_sent = c->buf_alloc;
			c->fwd_sent_total = 0;
			queue_ctrl(fg, &r);
		}
		return;
	}
	if (!fg->keep_all)
		add_stray(fg, &h, used_len, payload);
	if (fg->auto_rst && h.op != FG_OP_RST)
		reply_rst(fg, &h);
}

static int process_rx(struct fg *fg)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_RX];
	struct vused *u = vq_used(vq);
	struct vdesc *dt = vq_desc(vq);
	int n = 0;

	for (;;) {
		uint16_t uidx = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
		struct vused_elem e;
		uint16_t id;
		uint32_t len;
		const uint8_t *buf;

		if (uidx == vq->last_used)
			break;
		e = u->ring[vq->last_used % vq->num];
		vq->last_used++;
		id = (uint16_t)le32toh(e.id);
		len = le32toh(e.len);
		n++;
		vq->used_total++;
		if (le32toh(e.id) >= vq->num || !vq->chain_n[id]) {
			fg_error(fg, "rx: used id %u invalid", le32toh(e.id));
			continue;
		}
		if (!fifo_reclaim(fg, vq, id))
			continue;
		if (len > vq->chain_cap[id]) {
			fg_error(fg, "rx: used length %u > buffer %llu", len,
				 (unsigned long long)vq->chain_cap[id]);
			len = (uint32_t)vq->chain_cap[id];
		}
		if (vq->chain_ind[id]) {
			const struct vdesc *t = (const struct vdesc *)
				(vq->indirect + (uint64_t)id * IND_TABLE);
			uint64_t got = 0;

			for (int i = 0; i < vq->chain_ind[id] && got < len; i++) {
				uint32_t dl = le32toh(t[i].len);
				uint32_t take = dl < len - got ? dl : (uint32_t)(len - got);
				const uint8_t *src = gpa_ptr(fg, le64toh(t[i].addr), take);

				if (src)
					memcpy(fg->gather + got, src, take);
				got += take;
			}
			buf = fg->gather;
		} else if (vq->chain_n[id] == 1) {
			buf = gpa_ptr(fg, le64toh(dt[id].addr), len);
		} else {
			uint64_t got = 0;
			uint16_t d = id;

			while (d != NO_DESC && got < len) {
				uint32_t dl = le32toh(dt[d].len);
				uint32_t take = dl < len - got ? dl : (uint32_t)(len - got);
				const uint8_t *src = gpa_ptr(fg, le64toh(dt[d].addr), take);

				if (src)
					memcpy(fg->gather + got, src, take);
				got += take;
				d = vq->next[d];
			}
			buf = fg->gather;
		}
		if (buf)
			handle_rx(fg, buf, len);
		free_chain(vq, id);
		if (fg->rx_posted)
			fg->rx_posted--;
	}
	return n;
}

static int process_tx(struct fg *fg)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_TX];
	struct vused *u = vq_used(vq);
	int n = 0;

	for (;;) {
		uint16_t uidx = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
		struct vused_elem e;
		uint32_t id;

		if (uidx == vq->last_used)
			break;
		e = u->ring[vq->last_used % vq->num];
		vq->last_used++;
		n++;
		vq->used_total++;
		id = le32toh(e.id);
		if (id >= vq->num || !vq->chain_n[id]) {
			fg_error(fg, "tx: used id %u invalid", id);
			continue;
		}
		if (!fifo_reclaim(fg, vq, (uint16_t)id))
			continue;
		free_chain(vq, (uint16_t)id);
	}
	return n;
}

/* --- control packets ------------------------------------------------------ */

static void queue_ctrl(struct fg *fg, const struct fg_hdr *h)
{
	if (fg->ctrl_len == fg->ctrl_cap) {
		fg->ctrl_cap = fg->ctrl_cap ? 2 * fg->ctrl_cap : 64;
		fg->ctrlq = realloc(fg->ctrlq, fg->ctrl_cap * sizeof(*fg->ctrlq));
		if (!fg->ctrlq)
			abort();
	}
	fg->ctrlq[fg->ctrl_len++] = *h;
}

static int send_nowait(struct fg *fg, const struct fg_hdr *h)
{
	struct fg_txb b;
	uint8_t w[FG_HDR_LEN];

	if (fg_tx_begin(fg, &b, NULL, FG_HDR_LEN, 0))
		return -EAGAIN;
	fg_hdr_encode(h, w);
	fg_txb_write(&b, w, FG_HDR_LEN);
	fg_tx_commit(&b);
	return 0;
}

static bool flush_ctrl(struct fg *fg)
{
	unsigned int done = 0;
	bool sent = false;

	while (done < fg->ctrl_len) {
		if (send_nowait(fg, &fg->ctrlq[done]))
			break;
		done++;
		sent = true;
	}
	if (done) {
		memmove(fg->ctrlq, fg->ctrlq + done,
			(fg->ctrl_len - done) * sizeof(*fg->ctrlq));
		fg->ctrl_len -= done;
	}
	for (struct fg_conn *c = fg->conns; c; c = c->next) {
		struct fg_hdr h;

		if (!c->credit_pending)
			continue;
		if (c->state != FGC_ESTABLISHED) {
			c->credit_pending = false;
			continue;
		}
		fg_hdr_init(fg, &h, FG_OP_CREDIT_UPDATE, c->type, c->lport,
			    c->pport);
		h.buf_alloc = c->buf_alloc;
		h.fwd_cnt = (uint32_t)c->fwd_total;
		if (send_nowait(fg, &h))
			break;
		c->fwd_sent_total = c->fwd_total;
		c->ba_sent = c->buf_alloc;
		c->credit_pending = false;
		sent = true;
	}
	return sent;
}

/* --- the loop ------------------------------------------------------------- */

/* VIRTIO_RING_F_EVENT_IDX: ask for a call at the next used entry */
static bool set_used_event(struct fg *fg)
{
	bool more = false;

	if (!fg->event_idx)
		return false;
	for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++) {
		struct fg_vq *vq = &fg->vq[i];
		uint16_t *ev = (uint16_t *)((uint8_t *)vq->avail + 4 + 2 * vq->num);

		__atomic_store_n(ev, htole16(vq->last_used), __ATOMIC_RELEASE);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++) {
		struct fg_vq *vq = &fg->vq[i];

		if (le16toh(__atomic_load_n(&vq_used(vq)->idx, __ATOMIC_ACQUIRE)) !=
		    vq->last_used)
			more = true;
	}
	return more;
}

static int process_all(struct fg *fg)
{
	int n = 0, k;

	do {
		k = process_rx(fg);
		k += process_tx(fg);
		if (set_used_event(fg))
			k++;
		if (!fg->rx_paused)
			fg_rx_fill(fg, 0);
		if ((fg->ctrl_len || fg->conns) && flush_ctrl(fg))
			fg_kick(fg, FG_VQ_TX, false);
		n += k;
	} while (k);
	return n;
}

static void drain_eventfd(int fd, uint64_t *count)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) == sizeof(v))
		*count += v;
}

int fg_poll(struct fg *fg, int timeout_ms)
{
	struct pollfd p[2];
	int n, r;

	fg->polls++;
	n = process_all(fg);
	if (n > 0 || timeout_ms == 0)
		return n;
	p[0].fd = fg->vq[FG_VQ_RX].call_fd;
	p[0].events = POLLIN;
	p[1].fd = fg->vq[FG_VQ_TX].call_fd;
	p[1].events = POLLIN;
	r = poll(p, 2, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -1;
	drain_eventfd(p[0].fd, &fg->vq[FG_VQ_RX].calls);
	drain_eventfd(p[1].fd, &fg->vq[FG_VQ_TX].calls);
	n = process_all(fg);
	if (r == 0 && n > 0 && timeout_ms >= 500)
		fg->missed_calls++;
	return n;
}

uint64_t fg_vq_errors(struct fg *fg)
{
	drain_eventfd(fg->vq[FG_VQ_RX].err_fd, &fg->vq[FG_VQ_RX].errs);
	drain_eventfd(fg->vq[FG_VQ_TX].err_fd, &fg->vq[FG_VQ_TX].errs);
	return fg->vq[FG_VQ_RX].errs + fg->vq[FG_VQ_TX].errs;
}

bool fg_wait(struct fg *fg, fg_cond_fn cond, void *arg, int timeout_ms)
{
	long deadline = vu_now_ms() + timeout_ms;

	for (;;) {
		long left;

		if (fg_poll(fg, 0) < 0)
			return false;
		if (cond(fg, arg))
			return true;
		left = deadline - vu_now_ms();
		if (left <= 0)
			return false;
		if (fg_poll(fg, left > 1000 ? 1000 : (int)left) < 0)
			return false;
	}
}

static bool never(struct fg *fg, void *arg)
{
	(void)fg;
	(void)arg;
	return false;
}

void fg_idle(struct fg *fg, int timeout_ms)
{
	fg_wait(fg, never, NULL, timeout_ms);
}

/* --- transmit ------------------------------------------------------------- */

int fg_tx_begin(struct fg *fg, struct fg_txb *b, const struct fg_layout *lay,
		uint64_t len_hint, int timeout_ms)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_TX];
	struct fg_layout one;
	long deadline = vu_now_ms() + timeout_ms;
	unsigned int need;
	int head;

	if (!lay) {
		if (len_hint > vq->slot_size)
			return -ENOSPC;
		if (fg->tx_indirect && len_hint > FG_HDR_LEN) {
			/* like Linux: header and payload as two entries of
			 * an indirect table
			 */
			uint32_t l[2] = { FG_HDR_LEN, (uint32_t)(len_hint - FG_HDR_LEN) };

			fg_layout_lens(&one, 2, l);
			one.indirect = true;
		} else {
			fg_layout_one(&one, (uint32_t)len_hint);
		}
		lay = &one;
	}
	if (!layout_fits(vq, lay))
		return -ENOSPC;
	need = lay->indirect ? 1 : (unsigned int)lay->n;
	while (need > vq->nfree || vq->fifo_len >= vq->num) {
		long left;

		process_tx(fg);
		if (need <= vq->nfree && vq->fifo_len < vq->num)
			break;
		left = deadline - vu_now_ms();
		if (timeout_ms <= 0 || left <= 0)
			return -ETIMEDOUT;
		fg_kick(fg, FG_VQ_TX, false);
		fg_poll(fg, left > 200 ? 200 : (int)left);
	}
	head = chain_build(fg, vq, lay, false, b->desc);
	if (head < 0)
		return -ENOSPC;
	b->fg = fg;
	b->nseg = lay->n;
	{
		uint64_t off = 0;

		for (int i = 0; i < lay->n; i++) {
			const struct fg_seg *s = &lay->seg[i];

			if (s->flags & FG_SEG_GPA)
				b->ptr[i] = NULL;
			else if (lay->indirect)
				b->ptr[i] = slot_ptr(vq, b->desc[0]) + off + s->off;
			else
				b->ptr[i] = slot_ptr(vq, b->desc[i]) + s->off;
			if (lay->indirect)
				off += s->off + s->len;
			b->len[i] = s->len;
		}
	}
	b->cur = 0;
	b->off = 0;
	b->written = 0;
	return 0;
}

/* next contiguous piece of the chain to write, or NULL at the end */
static uint8_t *txb_piece(struct fg_txb *b, uint64_t *room)
{
	while (b->cur < b->nseg && b->off >= b->len[b->cur]) {
		b->cur++;
		b->off = 0;
	}
	if (b->cur >= b->nseg)
		return NULL;
	*room = b->len[b->cur] - b->off;
	return b->ptr[b->cur] ? b->ptr[b->cur] + b->off : NULL;
}

void fg_txb_write(struct fg_txb *b, const void *data, uint64_t n)
{
	const uint8_t *p = data;

	while (n) {
		uint64_t room;
		uint8_t *dst = txb_piece(b, &room);

		if (b->cur >= b->nseg)
			return;		/* chain shorter than the packet */
		if (room > n)
			room = n;
		if (dst)
			memcpy(dst, p, room);
		p += room;
		n -= room;
		b->off += (uint32_t)room;
		b->written += room;
	}
}

void fg_txb_pattern(struct fg_txb *b, uint64_t seed, uint64_t pos, uint64_t n)
{
	while (n) {
		uint64_t room;
		uint8_t *dst = txb_piece(b, &room);

		if (b->cur >= b->nseg)
			return;
		if (room > n)
			room = n;
		if (dst)
			pat_fill(dst, room, seed, pos);
		pos += room;
		n -= room;
		b->off += (uint32_t)room;
		b->written += room;
	}
}

void fg_tx_commit(struct fg_txb *b)
{
	struct fg *fg = b->fg;
	struct fg_vq *vq = &fg->vq[FG_VQ_TX];

	/* junk after the packet, so a host reading too far is noticed */
	for (int i = b->cur; i < b->nseg; i++) {
		uint32_t from = i == b->cur ? b->off : 0;

		if (b->ptr[i] && from < b->len[i])
			memset(b->ptr[i] + from, 0xa5, b->len[i] - from);
	}
	vq_publish(vq, b->desc[0]);
	fg->tx_pkts++;
	fg->tx_bytes += b->written;
}

void fg_hdr_init(struct fg *fg, struct fg_hdr *h, uint16_t op, uint16_t type,
		 uint32_t sport, uint32_t dport)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = fg->cid;
	h->dst_cid = FG_HOST_CID;
	h->src_port = sport;
	h->dst_port = dport;
	h->type = type;
	h->op = op;
}

int fg_send(struct fg *fg, const struct fg_hdr *h, const void *payload,
	    uint32_t plen, const struct fg_layout *lay)
{
	uint8_t w[FG_HDR_LEN];
	struct fg_txb b;
	int r;

	r = fg_tx_begin(fg, &b, lay, FG_HDR_LEN + (uint64_t)plen, 5000);
	if (r)
		return r;
	fg_hdr_encode(h, w);
	fg_txb_write(&b, w, FG_HDR_LEN);
	if (plen)
		fg_txb_write(&b, payload, plen);
	fg_tx_commit(&b);
	if (fg->tx_batch <= 0)
		fg_kick(fg, FG_VQ_TX, false);
	return 0;
}

int fg_send_raw(struct fg *fg, const void *bytes, uint64_t n,
		const struct fg_layout *lay)
{
	struct fg_txb b;
	int r;

	r = fg_tx_begin(fg, &b, lay, n, 5000);
	if (r)
		return r;
	fg_txb_write(&b, bytes, n);
	fg_tx_commit(&b);
	if (fg->tx_batch <= 0)
		fg_kick(fg, FG_VQ_TX, false);
	return 0;
}

unsigned int fg_tx_inflight(struct fg *fg)
{
	return fg->vq[FG_VQ_TX].fifo_len;
}

bool fg_tx_drain(struct fg *fg, int timeout_ms)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_TX];
	long deadline = vu_now_ms() + timeout_ms;
	long last_progress = vu_now_ms();
	uint64_t seen = vq->used_total;
	bool fenced = false;

	fg_kick(fg, FG_VQ_TX, true);
	for (;;) {
		long now;

		fg_poll(fg, 0);
		if (!vq->fifo_len)
			return true;
		now = vu_now_ms();
		if (vq->used_total != seen) {
			seen = vq->used_total;
			last_progress = now;
			fenced = false;
		}
		if (now >= deadline)
			return false;
		if (!fenced && now - last_progress > 100) {
			struct fg_hdr h;

			/* an RST to a port nobody uses: consumed, no answer */
			fg_hdr_init(fg, &h, FG_OP_RST, FG_TYPE_STREAM,
				    0xfffffffeu, 0xfffffffdu);
			if (!send_nowait(fg, &h)) {
				fenced = true;
				fg_kick(fg, FG_VQ_TX, true);
			}
		}
		fg_poll(fg, 20);
	}
}

/* --- connections ---------------------------------------------------------- */

struct fg_conn *fg_conn_find(struct fg *fg, uint32_t lport, uint32_t pport)
{
	for (struct fg_conn *c = fg->conns; c; c = c->next)
		if (c->lport == lport && c->pport == pport)
			return c;
	return NULL;
}

static struct fg_conn *conn_new(struct fg *fg, uint32_t lport, uint32_t pport,
				uint16_t type, uint32_t buf_alloc)
{
	struct fg_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fg = fg;
	c->lport = lport;
	c->pport = pport;
	c->type = type;
	c->buf_alloc = buf_alloc ? buf_alloc : fg->default_buf_alloc;
	c->auto_credit = true;
	c->auto_rst_on_shutdown = true;
	c->next = fg->conns;
	fg->conns = c;
	return c;
}

void fg_conn_free(struct fg_conn *c)
{
	struct fg *fg = c->fg;

	for (struct fg_conn **pp = &fg->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	free(c->rxbuf);
	free(c->marks);
	free(c);
}

int fg_conn_send(struct fg_conn *c, uint16_t op, uint32_t flags,
		 const void *data, uint32_t len, const struct fg_layout *lay)
{
	struct fg *fg = c->fg;
	struct fg_hdr h;
	int r;

	fg_hdr_init(fg, &h, op, c->type, c->lport, c->pport);
	h.len = len;
	h.flags = flags;
	h.buf_alloc = c->buf_alloc;
	h.fwd_cnt = (uint32_t)c->fwd_total;
	r = fg_send(fg, &h, data, len, lay);
	if (r)
		return r;
	c->fwd_sent_total = c->fwd_total;
	c->ba_sent = c->buf_alloc;
	if (op == FG_OP_CREDIT_UPDATE)
		c->credit_pending = false;
	if (op == FG_OP_RW)
		c->tx_cnt += len;
	if (op == FG_OP_RST)
		c->state = FGC_CLOSED;
	return 0;
}

static bool conn_not_connecting(struct fg *fg, void *arg)
{
	(void)fg;
	return ((struct fg_conn *)arg)->state != FGC_CONNECTING;
}

struct fg_conn *fg_connect(struct fg *fg, uint32_t lport, uint32_t hport,
			   uint16_t type, uint32_t buf_alloc, int timeout_ms)
{
	struct fg_conn *c;

	if (!lport)
		lport = fg->next_port++;
	c = conn_new(fg, lport, hport, type, buf_alloc);
	if (!c)
		return NULL;
	c->state = FGC_CONNECTING;
	if (fg_conn_send(c, FG_OP_REQUEST, 0, NULL, 0, NULL)) {
		fg_conn_free(c);
		return NULL;
	}
	fg_wait(fg, conn_not_connecting, c, timeout_ms);
	return c;
}

int fg_listen(struct fg *fg, uint32_t port, uint16_t type,
	      enum fg_listen_mode mode, uint32_t buf_alloc)
{
	struct fg_listener *l = find_listener(fg, port);

	if (!l) {
		if (fg->nlisten == FG_MAX_LISTEN)
			return -ENOSPC;
		l = &fg->listen[fg->nlisten++];
	}
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->type = type;
	l->mode = mode;
	l->buf_alloc = buf_alloc;
	return 0;
}

struct accept_arg {
	uint32_t port;
	struct fg_conn *found;
};

static bool have_incoming(struct fg *fg, void *arg)
{
	struct accept_arg *a = arg;

	for (struct fg_conn *c = fg->conns; c; c = c->next) {
		if (c->incoming && !c->accepted && c->lport == a->port) {
			a->found = c;
			return true;
		}
	}
	return false;
}

struct fg_conn *fg_accept(struct fg *fg, uint32_t port, int timeout_ms)
{
	struct accept_arg a = { .port = port };

	if (!fg_wait(fg, have_incoming, &a, timeout_ms))
		return NULL;
	a.found->accepted = true;
	return a.found;
}

uint32_t fg_conn_credit(struct fg_conn *c)
{
	int64_t credit = (int64_t)c->peer_buf_alloc -
			 (int64_t)(uint32_t)(c->tx_cnt - c->peer_fwd_cnt);

	return credit > 0 ? (uint32_t)credit : 0;
}

int fg_conn_credit_update(struct fg_conn *c)
{
	return fg_conn_send(c, FG_OP_CREDIT_UPDATE, 0, NULL, 0, NULL);
}

uint64_t fg_conn_write(struct fg_conn *c, const void *data, uint64_t len,
		       uint64_t seed, uint64_t pos, uint32_t eor,
		       uint32_t max_pkt, int timeout_ms)
{
	struct fg *fg = c->fg;
	long deadline = vu_now_ms() + timeout_ms;
	long asked_at = 0;
	uint64_t done = 0;

	if (!max_pkt)
		max_pkt = fg->max_payload;
	while (done < len || (!len && !done)) {
		uint32_t credit, n, flags = 0;
		uint8_t w[FG_HDR_LEN];
		struct fg_hdr h;
		struct fg_txb b;

		if (c->state != FGC_ESTABLISHED)
			break;
		if (vu_now_ms() >= deadline)
			break;
		credit = fg_conn_credit(c);
		if (len && !credit) {
			long now = vu_now_ms();

			if (fg->credit_request_on_stall &&
			    (!asked_at || now - asked_at > 500)) {
				fg_conn_send(c, FG_OP_CREDIT_REQUEST, 0, NULL, 0,
					     NULL);
				asked_at = now;
			}
			fg_poll(fg, 50);
			continue;
		}
		n = (uint32_t)(len - done < credit ? len - done : credit);
		if (n > max_pkt)
			n = max_pkt;
		if (c->type == FG_TYPE_SEQPACKET && done + n == len)
			flags = FG_SEQ_EOM | eor;
		if (fg_tx_begin(fg, &b, NULL, FG_HDR_LEN + (uint64_t)n,
				(int)(deadline - vu_now_ms())))
			break;
		fg_hdr_init(fg, &h, FG_OP_RW, c->type, c->lport, c->pport);
		h.len = n;
		h.flags = flags;
		h.buf_alloc = c->buf_alloc;
		h.fwd_cnt = (uint32_t)c->fwd_total;
		fg_hdr_encode(&h, w);
		fg_txb_write(&b, w, FG_HDR_LEN);
		if (data)
			fg_txb_write(&b, (const uint8_t *)data + done, n);
		else
			fg_txb_pattern(&b, seed, pos + done, n);
		fg_tx_commit(&b);
		c->fwd_sent_total = c->fwd_total;
		c->ba_sent = c->buf_alloc;
		c->credit_pending = false;
		c->tx_cnt += n;
		done += n;
		if (fg->tx_batch <= 0)
			fg_kick(fg, FG_VQ_TX, false);
		if (!len)
			break;
		/* keep the rx side moving (replies, credit updates) */
		if (fg->vq[FG_VQ_TX].nfree < fg->vq[FG_VQ_TX].num / 2)
			fg_poll(fg, 0);
	}
	fg_kick(fg, FG_VQ_TX, false);
	return done;
}

size_t fg_conn_read(struct fg_conn *c, void *buf, size_t n)
{
	if (n > c->rxlen)
		n = c->rxlen;
	if (!n)
		return 0;
	if (buf)
		memcpy(buf, c->rxbuf, n);
	memmove(c->rxbuf, c->rxbuf + n, c->rxlen - n);
	c->rxlen -= n;
	c->fwd_total += n;
	conn_consumed(c);
	if (flush_ctrl(c->fg))
		fg_kick(c->fg, FG_VQ_TX, false);
	return n;
}

void fg_conn_sink(struct fg_conn *c, uint64_t seed)
{
	c->sink = true;
	c->sink_nocheck = false;
	c->sink_seed = seed;
}

void fg_conn_discard(struct fg_conn *c)
{
	c->sink = true;
	c->sink_nocheck = true;
}

struct rx_arg {
	struct fg_conn *c;
	uint64_t n;
};

static bool rx_reached(struct fg *fg, void *arg)
{
	struct rx_arg *a = arg;

	(void)fg;
	return a->c->rx_cnt >= a->n || a->c->state == FGC_CLOSED;
}

bool fg_conn_wait_rx(struct fg_conn *c, uint64_t n, int timeout_ms)
{
	struct rx_arg a = { c, n };

	fg_wait(c->fg, rx_reached, &a, timeout_ms);
	return c->rx_cnt >= n;
}

struct state_arg {
	struct fg_conn *c;
	enum fg_conn_state st;
};

static bool state_reached(struct fg *fg, void *arg)
{
	struct state_arg *a = arg;

	(void)fg;
	return a->c->state == a->st;
}

bool fg_conn_wait_state(struct fg_conn *c, enum fg_conn_state st,
			int timeout_ms)
{
	struct state_arg a = { c, st };

	return fg_wait(c->fg, state_reached, &a, timeout_ms);
}

/* --- strays --------------------------------------------------------------- */

static void add_stray(struct fg *fg, const struct fg_hdr *h, uint32_t used_len,
		      const uint8_t *payload)
{
	struct fg_stray *s;

	fg->strays_total++;
	if (fg->nstrays >= FG_MAX_STRAYS)
		return;
	s = &fg->strays[fg->nstrays++];
	s->h = *h;
	s->used_len = used_len;
	s->datalen = h->len < sizeof(s->data) ? h->len : sizeof(s->data);
	if (used_len >= FG_HDR_LEN + s->datalen)
		memcpy(s->data, payload, s->datalen);
	else
		s->datalen = 0;
}

void fg_strays_clear(struct fg *fg)
{
	fg->nstrays = 0;
}

const struct fg_stray *fg_stray_find(struct fg *fg, int op, uint32_t sport,
				     uint32_t dport)
{
	for (unsigned int i = 0; i < fg->nstrays; i++) {
		const struct fg_stray *s = &fg->strays[i];

		if ((op < 0 || s->h.op == op) &&
		    (!sport || s->h.src_port == sport) &&
		    (!dport || s->h.dst_port == dport))
			return s;
	}
	return NULL;
}

struct stray_arg {
	int op;
	uint32_t sport, dport;
	const struct fg_stray *s;
};

static bool stray_seen(struct fg *fg, void *arg)
{
	struct stray_arg *a = arg;

	a->s = fg_stray_find(fg, a->op, a->sport, a->dport);
	return a->s != NULL;
}

const struct fg_stray *fg_stray_wait(struct fg *fg, int op, uint32_t sport,
				     uint32_t dport, int timeout_ms)
{
	struct stray_arg a = { op, sport, dport, NULL };

	fg_wait(fg, stray_seen, &a, timeout_ms);
	return a.s;
}

/* --- setup ---------------------------------------------------------------- */

static int xioctl(struct fg *fg, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fg->fd, req, arg) < 0) {
		int e = errno;

		kt_diag("fg: %s: %s", what, strerror(e));
		errno = e;
		return -e;
	}
	return 0;
}

int fg_set_mem_table(struct fg *fg)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mem;

	memset(&mem, 0, sizeof(mem));
	mem.m.nregions = 1;
	mem.r[0].guest_phys_addr = FG_GPA_BASE;
	mem.r[0].memory_size = fg->arena_size;
	mem.r[0].userspace_addr = (uint64_t)(uintptr_t)fg->arena;
	return xioctl(fg, VHOST_SET_MEM_TABLE, &mem, "VHOST_SET_MEM_TABLE");
}

static int set_vring_call(struct fg *fg, int idx, int fd)
{
	struct vhost_vring_file f = { .index = (unsigned int)idx, .fd = fd };

	return xioctl(fg, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL");
}

int fg_set_vring(struct fg *fg, int idx)
{
	struct fg_vq *vq = &fg->vq[idx];
	struct vhost_vring_state st = { .index = (unsigned int)idx };
	struct vhost_vring_addr a = { .index = (unsigned int)idx };
	struct vhost_vring_file f = { .index = (unsigned int)idx };
	int r;

	st.num = vq->num;
	r = xioctl(fg, VHOST_SET_VRING_NUM, &st, "VHOST_SET_VRING_NUM");
	if (r)
		return r;
	st.num = vq->base_on_start;
	r = xioctl(fg, VHOST_SET_VRING_BASE, &st, "VHOST_SET_VRING_BASE");
	if (r)
		return r;
	/* ring addresses are user-space addresses of this process */
	a.desc_user_addr = (uint64_t)(uintptr_t)vq->desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)vq->avail;
	a.used_user_addr = (uint64_t)(uintptr_t)vq->used;
	r = xioctl(fg, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR");
	if (r)
		return r;
	f.fd = vq->kick_fd;
	r = xioctl(fg, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK");
	if (r)
		return r;
	r = set_vring_call(fg, idx, vq->call_fd);
	if (r)
		return r;
	vq->registered = true;
	return 0;
}

struct fg *fg_alloc(const struct fg_opts *o)
{
	static const struct fg_opts defaults;
	unsigned int num;
	size_t off = 0, ring_off[FG_NVQ][3], slot_off[FG_NVQ], ind_off[FG_NVQ];
	uint64_t slot[FG_NVQ];
	struct fg *fg;

	if (!o)
		o = &defaults;
	num = o->num ? o->num : 128;	/* QEMU's VHOST_VSOCK_QUEUE_SIZE */
	slot[FG_VQ_RX] = o->rx_slot ? o->rx_slot : 65536 + 4096;
	slot[FG_VQ_TX] = o->tx_slot ? o->tx_slot : 65536 + 4096;
	slot[FG_VQ_EVENT] = 64;

	fg = calloc(1, sizeof(*fg));
	if (!fg)
		return NULL;
	fg->fd = -1;
	fg->cid = o->cid;
	fg->default_buf_alloc = o->buf_alloc ? o->buf_alloc : 1u << 20;
	fg->max_payload = FG_MAX_PAYLOAD;
	fg->next_port = 50000;
	fg->auto_rst = true;	/* like a real guest: RST for unknown sockets */
	fg->always_kick = getenv("FG_ALWAYS_KICK") != NULL;
	fg->strays = calloc(FG_MAX_STRAYS, sizeof(*fg->strays));

	for (int i = 0; i < FG_NVQ; i++) {
		ring_off[i][0] = off;
		off = align_up(off + 16 * (size_t)num, 4096);
		ring_off[i][1] = off;
		off = align_up(off + 6 + 2 * (size_t)num, 4096);
		ring_off[i][2] = off;
		off = align_up(off + 6 + 8 * (size_t)num, 4096);
	}
	for (int i = 0; i < FG_NVQ; i++) {
		slot_off[i] = off;
		off = align_up(off + (size_t)num * slot[i], 4096);
	}
	for (int i = 0; i < FG_NVQ; i++) {
		ind_off[i] = off;
		off = align_up(off + (size_t)num * IND_TABLE, 4096);
	}
	fg->arena_size = off;
	fg->arena = mmap(NULL, off, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fg->arena == MAP_FAILED) {
		free(fg->strays);
		free(fg);
		return NULL;
	}
	for (int i = 0; i < FG_NVQ; i++) {
		struct fg_vq *vq = &fg->vq[i];

		vq->index = i;
		vq->num = num;
		vq->desc = fg->arena + ring_off[i][0];
		vq->avail = fg->arena + ring_off[i][1];
		vq->used = fg->arena + ring_off[i][2];
		vq->slots = fg->arena + slot_off[i];
		vq->slot_size = slot[i];
		vq->slots_gpa = fg_gpa(fg, vq->slots);
		vq->free = calloc(num, sizeof(uint16_t));
		vq->next = calloc(num, sizeof(uint16_t));
		vq->chain_n = calloc(num, sizeof(uint16_t));
		vq->chain_ind = calloc(num, sizeof(uint16_t));
		vq->indirect = fg->arena + ind_off[i];
		vq->chain_cap = calloc(num, sizeof(uint64_t));
		vq->fifo = calloc(num, sizeof(uint16_t));
		vq->nfree = num;
		for (unsigned int d = 0; d < num; d++) {
			vq->free[d] = (uint16_t)(num - 1 - d);
			vq->next[d] = NO_DESC;
		}
		vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vq->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	if (o->rx_layout) {
		fg_rx_set_layout(fg, o->rx_layout);
	} else {
		struct fg_layout l;

		/* Linux 6.x posts one 4 KiB + header buffer per descriptor */
		fg_layout_one(&l, o->rx_buf ? o->rx_buf : FG_HDR_LEN + 4096);
		fg_rx_set_layout(fg, &l);
	}
	if (!layout_fits(&fg->vq[FG_VQ_RX], &fg->rx_layout)) {
		kt_diag("fg: rx layout does not fit the rx slots");
		fg_close(fg);
		return NULL;
	}
	return fg;
}

static void post_event_buffers(struct fg *fg)
{
	struct fg_vq *vq = &fg->vq[FG_VQ_EVENT];
	uint16_t descs[1];
	struct fg_layout l;

	fg_layout_one(&l, 8);	/* struct virtio_vsock_event */
	while (vq->nfree) {
		int head = chain_build(fg, vq, &l, true, descs);

		if (head < 0)
			break;
		vq_publish(vq, (uint16_t)head);
	}
}

struct fg *fg_open(const struct fg_opts *o)
{
	static const struct fg_opts defaults;
	struct fg *fg;
	uint64_t want;
	int start = 1;

	if (!o)
		o = &defaults;
	fg = fg_alloc(o);
	if (!fg) {
		kt_diag("fg: cannot allocate the arena: %s", strerror(errno));
		return NULL;
	}
	fg->fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	if (fg->fd < 0) {
		kt_diag("fg: open /dev/vhost-vsock: %s", strerror(errno));
		goto fail;
	}
	if (xioctl(fg, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER"))
		goto fail;
	if (xioctl(fg, VHOST_GET_FEATURES, &fg->features_offered,
		   "VHOST_GET_FEATURES"))
		goto fail;
	want = o->want_features ? o->want_features :
	       FG_BIT(FG_F_VERSION_1) | FG_BIT(FG_F_SEQPACKET);
	if (o->linux_guest || getenv("FG_LINUX"))
		want |= FG_BIT(FG_F_EVENT_IDX) | FG_BIT(FG_F_INDIRECT_DESC);
	fg->features_acked = o->no_features ? 0 : want & fg->features_offered;
	fg->event_idx = fg->features_acked & FG_BIT(FG_F_EVENT_IDX);
	fg->tx_indirect = fg->features_acked & FG_BIT(FG_F_INDIRECT_DESC);

	if (o->order == FG_ORDER_QEMU) {
		/* QEMU realize: "masked" call notifiers first, then the CID */
		for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++) {
			int tmp = eventfd(0, EFD_CLOEXEC);
			int r = set_vring_call(fg, i, tmp);

			close(tmp);
			if (r)
				goto fail;
		}
		for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++) {
			struct vhost_vring_file f = {
				.index = (unsigned int)i,
				.fd = fg->vq[i].err_fd,
			};

			if (xioctl(fg, VHOST_SET_VRING_ERR, &f,
				   "VHOST_SET_VRING_ERR"))
				goto fail;
		}
		if (xioctl(fg, VHOST_VSOCK_SET_GUEST_CID, &fg->cid,
			   "VHOST_VSOCK_SET_GUEST_CID"))
			goto fail;
	}
	if (!o->no_features) {
		uint64_t bf;

		if (xioctl(fg, VHOST_SET_FEATURES, &fg->features_acked,
			   "VHOST_SET_FEATURES"))
			goto fail;
		/* QEMU then acks VHOST_BACKEND_F_IOTLB_MSG_V2 if offered
		 * (and carries on if the ioctls fail)
		 */
		if (ioctl(fg->fd, VHOST_GET_BACKEND_FEATURES, &bf) == 0) {
			bf &= 1ULL << 1;	/* VHOST_BACKEND_F_IOTLB_MSG_V2 */
			ioctl(fg->fd, VHOST_SET_BACKEND_FEATURES, &bf);
		}
	}
	if (fg_set_mem_table(fg))
		goto fail;
	/* the driver posts rx buffers before DRIVER_OK, like Linux does */
	if (!o->no_rx_fill)
		fg_rx_fill(fg, 0);
	else
		fg->rx_paused = true;
	post_event_buffers(fg);
	for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++)
		if (fg_set_vring(fg, i))
			goto fail;
	if (o->order == FG_ORDER_ALT &&
	    xioctl(fg, VHOST_VSOCK_SET_GUEST_CID, &fg->cid,
		   "VHOST_VSOCK_SET_GUEST_CID"))
		goto fail;
	if (o->no_start)
		return fg;
	if (xioctl(fg, VHOST_VSOCK_SET_RUNNING, &start, "VHOST_VSOCK_SET_RUNNING"))
		goto fail;
	if (o->order == FG_ORDER_QEMU)
		for (int i = FG_VQ_RX; i <= FG_VQ_TX; i++)
			if (set_vring_call(fg, i, fg->vq[i].call_fd))
				goto fail;
	/* buffers posted before start: make sure the host looks */
	fg_kick(fg, FG_VQ_RX, true);
	return fg;
fail:
	fg_close(fg);
	return NULL;
}

int fg_stop(struct fg *fg, unsigned int *rx_base, unsigned int *tx_base)
{
	struct vhost_vring_state st;
	int stop = 0;
	int r;

	r = xioctl(fg, VHOST_VSOCK_SET_RUNNING, &stop, "VHOST_VSOCK_SET_RUNNING 0");
	if (r)
		return r;
	st.index = FG_VQ_RX;
	r = xioctl(fg, VHOST_GET_VRING_BASE, &st, "VHOST_GET_VRING_BASE rx");
	if (r)
		return r;
	if (rx_base)
		*rx_base = st.num;
	st.index = FG_VQ_TX;
	r = xioctl(fg, VHOST_GET_VRING_BASE, &st, "VHOST_GET_VRING_BASE tx");
	if (r)
		return r;
	if (tx_base)
		*tx_base = st.num;
	return 0;
}

int fg_start(struct fg *fg)
{
	int start = 1;
	int r = xioctl(fg, VHOST_VSOCK_SET_RUNNING, &start,
		       "VHOST_VSOCK_SET_RUNNING 1");

	if (!r) {
		fg_kick(fg, FG_VQ_RX, true);
		fg_kick(fg, FG_VQ_TX, true);
	}
	return r;
}

void fg_close(struct fg *fg)
{
	if (!fg)
		return;
	if (fg->fd >= 0)
		close(fg->fd);
	while (fg->conns)
		fg_conn_free(fg->conns);
	for (int i = 0; i < FG_NVQ; i++) {
		struct fg_vq *vq = &fg->vq[i];

		if (vq->kick_fd > 0)
			close(vq->kick_fd);
		if (vq->call_fd > 0)
			close(vq->call_fd);
		if (vq->err_fd > 0)
			close(vq->err_fd);
		free(vq->free);
		free(vq->next);
		free(vq->chain_n);
		free(vq->chain_ind);
		free(vq->chain_cap);
		free(vq->fifo);
	}
	if (fg->arena && fg->arena != MAP_FAILED)
		munmap(fg->arena, fg->arena_size);
	free(fg->ctrlq);
	free(fg->strays);
	free(fg->gather);
	free(fg);
}

/* --- threads for the host sides ------------------------------------------- */

int hs_thread_start(struct hs_thread *t, void *(*fn)(void *), void *arg)
{
	int r = pthread_create(&t->t, NULL, fn, arg);

	t->started = r == 0;
	return -r;
}

int hs_thread_join(struct hs_thread *t, int timeout_ms)
{
	struct timespec ts;

	if (!t->started)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(t->t, NULL, &ts))
		return -ETIMEDOUT;
	t->started = false;
	return 0;
}
