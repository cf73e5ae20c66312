// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: descriptor layouts, malformed and invalid chains, bad
 * op/type/len (desc_, rw_zero_len, bad_, payload_on_control).
 */
#include "fakeguest.h"

/* ============================================================================
 * Malformed packets and descriptor chains
 * ==========================================================================*/

/* every way to split a small packet over 1..52 descriptors */
int t_desc_layouts(const struct kt_case *tc)
{
	const uint32_t plen = 8, tot = FG_HDR_LEN + plen;
	static uint8_t got[64 * KiB];
	uint64_t seed = 31, pos = 0, rng = 7;
	struct fg_layout lay;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd, r, e, npk = 0;
	size_t n;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));

#define SEND_LAYOUT()								\
	do {									\
		uint8_t p[8];							\
										\
		pat_fill(p, plen, seed, pos);				\
		CHECK(!fg_conn_send(c, FG_OP_RW, 0, p, plen, &lay),		\
		      "send with %d segments", lay.n);				\
		pos += plen;							\
		npk++;								\
	} while (0)

	/* two descriptors, every split point, also at odd addresses */
	for (uint32_t k = 1; k < tot; k++) {
		uint32_t l[2] = { k, tot - k };

		fg_layout_lens(&lay, 2, l);
		SEND_LAYOUT();
		lay.seg[0].off = 1 + fg_rand_below(&rng, 4000);
		lay.seg[1].off = 4095 - fg_rand_below(&rng, 30);
		SEND_LAYOUT();
	}
	/* three descriptors, every pair of split points */
	for (uint32_t i = 1; i < tot - 1; i++) {
		for (uint32_t j = i + 1; j < tot; j++) {
			uint32_t l[3] = { i, j - i, tot - j };

			fg_layout_lens(&lay, 3, l);
			SEND_LAYOUT();
		}
	}
	/* one byte per descriptor */
	{
		uint32_t l[FG_MAX_SEGS];

		for (uint32_t i = 0; i < tot; i++)
			l[i] = 1;
		fg_layout_lens(&lay, (int)tot, l);
		SEND_LAYOUT();
	}
	/* zero-length descriptors anywhere */
	{
		uint32_t l[9] = { 0, 20, 0, 24, 0, 0, 8, 0, 0 };

		fg_layout_lens(&lay, 9, l);
		SEND_LAYOUT();
	}
	/* random splits with random zero-length descriptors */
	for (int t = 0; t < 300; t++) {
		uint32_t l[16], left = tot;
		int ns = 0;

		while (left && ns < 15) {
			uint32_t k = fg_rand_below(&rng, 4) ? 1 + fg_rand_below(&rng, left) : 0;

			l[ns++] = k;
			left -= k;
		}
		l[ns++] = left;
		fg_layout_lens(&lay, ns, l);
		SEND_LAYOUT();
	}
#undef SEND_LAYOUT
	CHECK(fg_tx_drain(fg, 5000), "host did not consume all %d packets", npk);
	n = h_read(fg, fd, got, (size_t)pos, 10000, &e);
	CHECK(n == pos, "host got %zu of %llu bytes: %s", n, (unsigned long long)pos,
	      kt_errname(e));
	CHECK(pat_check(got, n, seed, 0) < 0, "byte %lld wrong",
	      (long long)pat_check(got, n, seed, 0));
	CHECK(!fg->vq[FG_VQ_TX].swallowed, "host did not return %llu valid chains",
	      (unsigned long long)fg->vq[FG_VQ_TX].swallowed);
	CHECK(c->state == FGC_ESTABLISHED, "connection reset");
	kt_diag("%d packets in every layout delivered", npk);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* --- probes: a fresh connection, genuine bytes, the bad packet, genuine
 * bytes.  The host must drop the bad packet (stream = both genuine parts,
 * or with `alt` in between when that is allowed) or answer RST.
 */
typedef void (*bad_fn)(struct fg *fg, struct fg_conn *c, long arg);

enum { PR_DROPPED, PR_DELIVERED_LEN, PR_RESET, PR_RESET_HALF, PR_WRONG };

static int probe(struct fg *fg, int lfd, const char *what, bad_fn bad, long arg,
		 const uint8_t *alt, size_t altlen)
{
	static uint8_t want_a[64], want_b[128], got[256 * KiB];
	struct fg_conn *c;
	size_t n;
	int fd, e;

	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	if (fd < 0) {
		kt_diag("%s: cannot connect: %s", what, kt_errname(-fd));
		return PR_WRONG;
	}
	pat_fill(want_a, 16, 41, 0);
	memcpy(want_b, want_a, 8);
	if (alt)
		memcpy(want_b + 8, alt, altlen);
	memcpy(want_b + 8 + altlen, want_a + 8, 8);

	fg_conn_write(c, want_a, 8, 0, 0, 0, 0, 2000);
	bad(fg, c, arg);
	fg_poll(fg, 20);
	fg_conn_write(c, want_a + 8, 8, 0, 0, 0, 0, 2000);
	fg_tx_drain(fg, 3000);
	fg_idle(fg, 50);
	n = h_drain(fg, fd, got, sizeof(got), 100, &e);
	close(fd);

	if (c->got_rst) {
		bool prefix = (n <= 16 && !memcmp(got, want_a, n)) ||
			      (alt && n <= 16 + altlen && !memcmp(got, want_b, n));

		if (!prefix) {
			kt_diag("%s: connection reset, but the host got %zu wrong bytes",
				what, n);
			return PR_WRONG;
		}
		if (e != EPIPE && e != ECONNRESET)
			return PR_RESET_HALF;
		return PR_RESET;
	}
	if (n == 16 && !memcmp(got, want_a, 16))
		return PR_DROPPED;
	if (alt && n == 16 + altlen && !memcmp(got, want_b, n))
		return PR_DELIVERED_LEN;
	kt_diag("%s: host stream has %zu bytes (expected 16%s), connection %s",
		what, n, alt ? " or with the allowed part" : "",
		c->state == FGC_ESTABLISHED ? "alive" : "closed");
	return PR_WRONG;
}

static const char *const probe_names[] = {
	"dropped", "hdr.len bytes delivered, rest ignored", "reset",
	"RST to the guest, host socket still open", "WRONG",
};

/* send raw bytes: a header (from c, op RW unless changed) with hdr.len,
 * `have` payload bytes, spread over the layout given in lens
 */
struct rawpkt {
	const char *name;
	uint16_t op, type;
	uint32_t hlen;		/* header len field */
	uint32_t have;		/* payload bytes actually in the chain */
	uint32_t trunc;		/* if set: chain total (cuts the packet) */
	int nseg;
	uint32_t lens[8];	/* 0 entries: one segment */
	uint32_t wflags;	/* bitmask of writable segments */
	uint32_t flags;		/* header flags */
	const char *alt;	/* allowed delivered bytes */
};

static void send_rawpkt(struct fg *fg, struct fg_conn *c, long arg)
{
	const struct rawpkt *p = (const struct rawpkt *)arg;
	static uint8_t bytes[FG_HDR_LEN + 70000];
	struct fg_layout lay;
	struct fg_hdr h;
	uint64_t total;

	/* the host may count what it delivers of this in fwd_cnt */
	c->no_fwd_check = true;
	fg_hdr_init(fg, &h, p->op, p->type, c->lport, c->pport);
	h.len = p->hlen;
	h.flags = p->flags;
	h.buf_alloc = c->buf_alloc;
	h.fwd_cnt = (uint32_t)c->fwd_total;
	fg_hdr_encode(&h, bytes);
	if (p->alt) {
		memset(bytes + FG_HDR_LEN, 0xa5, p->have);
		memcpy(bytes + FG_HDR_LEN, p->alt, strlen(p->alt));
	} else {
		pat_fill(bytes + FG_HDR_LEN, p->have, 555, 0);
	}
	total = p->trunc ? p->trunc : FG_HDR_LEN + (uint64_t)p->have;
	if (p->nseg) {
		fg_layout_lens(&lay, p->nseg, p->lens);
		for (int i = 0; i < p->nseg; i++)
			if (p->wflags & (1u << i))
				lay.seg[i].flags |= FG_SEG_WRITE;
	} else if (total > 65536) {
		uint32_t l[2] = { 65536, (uint32_t)(total - 65536) };

		fg_layout_lens(&lay, 2, l);
	} else {
		fg_layout_one(&lay, (uint32_t)total);
	}
	fg_send_raw(fg, bytes, total, &lay);
}

static int run_rawpkts(const struct rawpkt *pk, size_t n, bool reset_ok)
{
	struct fg *fg;
	int lfd, res[5] = { 0 };
	bool bad = false;

	lfd = h_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	for (size_t i = 0; i < n; i++) {
		int r = probe(fg, lfd, pk[i].name, send_rawpkt, (long)&pk[i],
			      (const uint8_t *)pk[i].alt,
			      pk[i].alt ? strlen(pk[i].alt) : 0);

		res[r]++;
		kt_diag("%-44s %s", pk[i].name, probe_names[r]);
		if (r == PR_WRONG || (!reset_ok && r >= PR_RESET))
			bad = true;
	}
	kt_diag("host: %llu tx chains consumed but never returned, %llu error notifications",
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	CHECK(!bad, "malformed packets not handled (dropped %d, reset %d, half %d, wrong %d)",
	      res[PR_DROPPED] + res[PR_DELIVERED_LEN], res[PR_RESET],
	      res[PR_RESET_HALF], res[PR_WRONG]);
	/* the instance still works */
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

int t_desc_malformed(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "empty chain (one 0-byte descriptor)", .op = FG_OP_RW, .type = 1,
		  .hlen = 4, .have = 4, .nseg = 1, .lens = { 0 } },
		{ .name = "1-byte chain", .op = FG_OP_RW, .type = 1, .hlen = 4, .have = 4,
		  .trunc = 1 },
		{ .name = "43-byte chain (header cut)", .op = FG_OP_RW, .type = 1, .hlen = 4,
		  .have = 4, .trunc = 43 },
		{ .name = "43 bytes in 3 descriptors", .op = FG_OP_RW, .type = 1, .trunc = 43,
		  .nseg = 3, .lens = { 20, 20, 3 } },
		{ .name = "len 100, 50 payload bytes", .op = FG_OP_RW, .type = 1, .hlen = 100,
		  .have = 50 },
		{ .name = "len 100, 50 bytes in 4 descriptors", .op = FG_OP_RW, .type = 1,
		  .hlen = 100, .have = 50, .nseg = 4, .lens = { 30, 14, 25, 25 } },
		{ .name = "len 65537 with all bytes (over 64 KiB)", .op = FG_OP_RW, .type = 1,
		  .hlen = 65537, .have = 65537 },
		{ .name = "len 0xffffffff, no payload", .op = FG_OP_RW, .type = 1,
		  .hlen = 0xffffffffu },
		{ .name = "len 0x80000000, 100 bytes", .op = FG_OP_RW, .type = 1,
		  .hlen = 0x80000000u, .have = 100 },
		{ .name = "device-writable descriptor in a tx chain", .op = FG_OP_RW,
		  .type = 1, .hlen = 8, .have = 8, .nseg = 2, .lens = { 44, 8 },
		  .wflags = 2 },
		{ .name = "all descriptors device-writable", .op = FG_OP_RW, .type = 1,
		  .hlen = 8, .have = 8, .nseg = 2, .lens = { 44, 8 }, .wflags = 3 },
		{ .name = "len 10, 30 payload bytes", .op = FG_OP_RW, .type = 1, .hlen = 10,
		  .have = 30, .alt = "0123456789" },
		{ .name = "len 0, 100 junk bytes", .op = FG_OP_RW, .type = 1, .have = 100 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

/* a zero-length RW: a no-op (or a reset), never data or EOF */
int t_rw_zero_len(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "RW len 0, 44-byte chain", .op = FG_OP_RW, .type = 1 },
		{ .name = "RW len 0, header in 20+24", .op = FG_OP_RW, .type = 1,
		  .nseg = 2, .lens = { 20, 24 } },
		{ .name = "RW len 0, 44 + 0-byte descriptor", .op = FG_OP_RW, .type = 1,
		  .nseg = 2, .lens = { 44, 0 } },
		{ .name = "RW len 0 with EOM on a STREAM connection", .op = FG_OP_RW,
		  .type = 1, .flags = FG_SEQ_EOM },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

int t_bad_op(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "op 0 (INVALID)", .op = 0, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "op 8", .op = 8, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "op 100 with payload", .op = 100, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "op 0xffff", .op = 0xffff, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "REQUEST on an established connection",
		  .op = FG_OP_REQUEST, .type = 1, .hlen = 0, .have = 0 },
		{ .name = "RESPONSE on an established connection",
		  .op = FG_OP_RESPONSE, .type = 1, .hlen = 0, .have = 0 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

int t_bad_type(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "RW type 0", .op = FG_OP_RW, .type = 0, .hlen = 4, .have = 4 },
		{ .name = "RW type 3", .op = FG_OP_RW, .type = 3, .hlen = 4, .have = 4 },
		{ .name = "RW type 0xffff", .op = FG_OP_RW, .type = 0xffff, .hlen = 4, .have = 4 },
		{ .name = "RW type SEQPACKET on a STREAM connection",
		  .op = FG_OP_RW, .type = 2, .hlen = 4, .have = 4 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

int t_payload_on_control(const struct kt_case *tc)
{
	static const struct rawpkt pk[] = {
		{ .name = "CREDIT_UPDATE with 4 payload bytes",
		  .op = FG_OP_CREDIT_UPDATE, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "CREDIT_REQUEST with 4 payload bytes",
		  .op = FG_OP_CREDIT_REQUEST, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "SHUTDOWN (no flags) with 4 payload bytes",
		  .op = FG_OP_SHUTDOWN, .type = 1, .hlen = 4, .have = 4 },
		{ .name = "RESPONSE with 4 payload bytes",
		  .op = FG_OP_RESPONSE, .type = 1, .hlen = 4, .have = 4 },
	};

	(void)tc;
	return run_rawpkts(pk, ARRAY_SIZE(pk), true);
}

/* packets to a listening port that must not make a connection */
int t_bad_request(const struct kt_case *tc)
{
	static const struct {
		const char *name;
		uint16_t op, type;
		uint32_t len;
	} pk[] = {
		{ "REQUEST type 0", FG_OP_REQUEST, 0, 0 },
		{ "REQUEST type 3", FG_OP_REQUEST, 3, 0 },
		{ "REQUEST type 0xffff", FG_OP_REQUEST, 0xffff, 0 },
		{ "REQUEST SEQPACKET to a STREAM listener", FG_OP_REQUEST, 2, 0 },
		{ "REQUEST with 10 payload bytes", FG_OP_REQUEST, 1, 10 },
		{ "RW to a listener", FG_OP_RW, 1, 4 },
		{ "RESPONSE to a listener", FG_OP_RESPONSE, 1, 0 },
		{ "CREDIT_UPDATE to a listener", FG_OP_CREDIT_UPDATE, 1, 0 },
		{ "SHUTDOWN to a listener", FG_OP_SHUTDOWN, 1, 0 },
		{ "op 9 to a listener", 9, 1, 0 },
	};
	struct fg *fg;
	int lfd;
	bool bad = false;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg->auto_rst = false;
	for (size_t i = 0; i < ARRAY_SIZE(pk); i++) {
		uint32_t sport = gport(1 + (int)i);
		const struct fg_stray *s;
		struct fg_hdr h;
		const char *verdict;
		bool conn;

		fg_strays_clear(fg);
		fg_hdr_init(fg, &h, pk[i].op, pk[i].type, sport, hport(0));
		h.len = pk[i].len;
		h.buf_alloc = 65536;
		CHECK(!fg_send(fg, &h, "0123456789", pk[i].len, NULL), "send");
		fg_tx_drain(fg, 2000);
		fg_idle(fg, 100);
		conn = !h_no_accept(fg, lfd, 100);
		s = fg_stray_find(fg, -1, 0, sport);
		if (conn) {
			verdict = "CONNECTION MADE";
			bad = true;
		} else if (!s) {
			verdict = "dropped";
		} else if (s->h.op == FG_OP_RST) {
			verdict = "RST";
		} else {
			verdict = "WRONG ANSWER";
			bad = true;
		}
		kt_diag("%-40s %s", pk[i].name,
			s && s->h.op != FG_OP_RST && !conn ? fg_op_name(s->h.op) : verdict);
		if (s && s->h.op != FG_OP_RST) {
			/* undo whatever the host made of it */
			struct fg_hdr r;

			fg_hdr_init(fg, &r, FG_OP_RST, pk[i].type, sport, hport(0));
			fg_send(fg, &r, NULL, 0, NULL);
		}
	}
	CHECK(!bad, "the host accepted or answered malformed packets");
	fg->keep_all = false;
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* chains that break the ring rules: the host may give up on the queue but
 * must not crash or warn; a fresh instance then works
 */
int t_desc_invalid(const struct kt_case *tc)
{
	static const char *const names[] = {
		"descriptor outside the memory table",
		"descriptor crossing the end of the memory table",
		"device-writable descriptor before a readable one",
		"chain longer than the ring (loop)",
		"next index out of range",
		"head index out of range",
		"avail index jumps past the ring size",
	};
	int lfd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 16);
	CHECK(lfd >= 0, "listen");
	for (size_t v = 0; v < ARRAY_SIZE(names); v++) {
		struct fg_layout lay;
		struct fg_txb b;
		struct fg_hdr h;
		uint8_t w[FG_HDR_LEN];
		struct fg *fg;
		struct fg_vq *vq;
		uint16_t *ring;
		uint8_t *desc;

		fg = gopen(0);
		CHECK_FG(0);
		vq = &fg->vq[FG_VQ_TX];
		fg->tx_batch = 1;	/* no kick before the damage is done */
		fg_hdr_init(fg, &h, FG_OP_REQUEST, FG_TYPE_STREAM, gport(0), hport(0));
		fg_hdr_encode(&h, w);
		switch (v) {
		case 0:
		case 1: {
			fg_layout_one(&lay, FG_HDR_LEN);
			lay.seg[0].flags = FG_SEG_GPA;
			lay.seg[0].gpa = v == 0 ? FG_GPA_BASE - 4096 :
				FG_GPA_BASE + fg->arena_size - 20;
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_tx_commit(&b);
			break;
		}
		case 2: {
			uint32_t l[2] = { 20, 24 };

			fg_layout_lens(&lay, 2, l);
			lay.seg[0].flags = FG_SEG_WRITE;
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_txb_write(&b, w, FG_HDR_LEN);
			fg_tx_commit(&b);
			break;
		}
		case 3:
		case 4: {
			uint32_t l[2] = { 20, 24 };

			fg_layout_lens(&lay, 2, l);
			CHECK(!fg_tx_begin(fg, &b, &lay, 0, 1000), "begin");
			fg_txb_write(&b, w, FG_HDR_LEN);
			/* patch the second descriptor's next */
			desc = (uint8_t *)vq->desc + 16 * b.desc[1];
			desc[12] |= 1;	/* VRING_DESC_F_NEXT */
			if (v == 3) {
				memcpy(desc + 14, &b.desc[0], 2);
			} else {
				uint16_t x = (uint16_t)vq->num + 5;

				memcpy(desc + 14, &x, 2);
			}
			fg_tx_commit(&b);
			break;
		}
		case 5:
		case 6:
			CHECK(!fg_send(fg, &h, NULL, 0, NULL), "send");
			ring = (uint16_t *)((uint8_t *)vq->avail + 4);
			if (v == 5) {
				ring[(vq->avail_idx - 1) % vq->num] = (uint16_t)(vq->num + 1);
			} else {
				uint16_t idx = (uint16_t)(vq->avail_idx + vq->num + 10);

				__atomic_store_n((uint16_t *)vq->avail + 1, idx,
						 __ATOMIC_RELEASE);
			}
			break;
		}
		fg_kick(fg, FG_VQ_TX, true);
		fg_idle(fg, 300);
		kt_diag("%s: %llu error notifications, %llu tx chains returned",
			names[v], (unsigned long long)fg_vq_errors(fg),
			(unsigned long long)vq->used_total);
		/* whatever the host did, it did not connect anything */
		CHECK(h_no_accept(NULL, lfd, 50), "%s: made a connection", names[v]);
		fg->errors = 0;	/* the ring is broken by design here */
		gclose(0);
	}
	/* a new instance on the same CID works */
	gopen(0);
	CHECK_FG(0);
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}
