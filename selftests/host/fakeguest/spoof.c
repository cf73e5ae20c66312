// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: wrong source/destination CIDs, another guest's CID (spoof_).
 */
#include "fakeguest.h"

/* ============================================================================
 * Addresses: spoofed packets are dropped
 * ==========================================================================*/

static int send_req(struct fg *fg, uint64_t src, uint64_t dst, uint32_t sport,
		    uint32_t dport, uint16_t type)
{
	struct fg_hdr h;

	fg_hdr_init(fg, &h, FG_OP_REQUEST, type, sport, dport);
	h.src_cid = src;
	h.dst_cid = dst;
	h.buf_alloc = 65536;
	return fg_send(fg, &h, NULL, 0, NULL);
}

int t_spoof_request(const struct kt_case *tc)
{
	struct fg *fg;
	uint64_t cid, bad_src[8], bad_dst[8];
	uint32_t sport = gport(0);
	int lfd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 64);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg->auto_rst = false;
	cid = fg->cid;
	bad_src[0] = cid + 1;
	bad_src[1] = FG_HOST_CID;
	bad_src[2] = 1;
	bad_src[3] = 0;
	bad_src[4] = cid | (1ULL << 32);
	bad_src[5] = 0xffffffffULL;
	bad_src[6] = ~0ULL;
	bad_src[7] = cid - 1;
	bad_dst[0] = 1;
	bad_dst[1] = 3;
	bad_dst[2] = cid;
	bad_dst[3] = 0;
	bad_dst[4] = FG_HOST_CID | (1ULL << 32);
	bad_dst[5] = 0xffffffffULL;	/* VMADDR_CID_ANY */
	bad_dst[6] = ~0ULL;
	bad_dst[7] = cid + 1;
	for (int i = 0; i < 8; i++) {
		CHECK(!send_req(fg, bad_src[i], FG_HOST_CID, sport++, hport(0),
				FG_TYPE_STREAM), "send");
		CHECK(!send_req(fg, cid, bad_dst[i], sport++, hport(0),
				FG_TYPE_STREAM), "send");
	}
	CHECK(fg_tx_drain(fg, 3000), "host did not consume the spoofed packets");
	fg_idle(fg, 300);
	CHECK(h_no_accept(fg, lfd, 200), "a spoofed REQUEST reached the host listener");
	CHECK(!fg_stray_find(fg, -1, 0, 0), "host answered a spoofed packet with %s",
	      fg_op_name(fg->strays[0].h.op));
	kt_diag("chains consumed without being returned: %llu, error notifications: %llu",
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	/* the listener works */
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

/* spoofed packets on an established connection change nothing */
int t_spoof_established(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	struct fg_hdr h;
	char buf[16];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	fg->keep_all = true;
	for (int i = 0; i < 6; i++) {
		static const uint16_t ops[] = { FG_OP_RW, FG_OP_RW, FG_OP_RST,
						FG_OP_SHUTDOWN, FG_OP_RW,
						FG_OP_CREDIT_UPDATE };

		fg_hdr_init(fg, &h, ops[i], FG_TYPE_STREAM, c->lport, c->pport);
		h.src_cid = i == 1 ? fg->cid | (1ULL << 32) : fg->cid + 1;
		if (i == 4) {
			h.src_cid = fg->cid;
			h.dst_cid = 1;
		}
		h.buf_alloc = 1;	/* a spoofed credit would stall the host */
		h.flags = ops[i] == FG_OP_SHUTDOWN ? 3 : 0;
		h.len = ops[i] == FG_OP_RW ? 4 : 0;
		CHECK(!fg_send(fg, &h, "EVIL", h.len, NULL), "send");
	}
	CHECK(fg_conn_write(c, "good", 4, 0, 0, 0, 0, 2000) == 4, "write");
	CHECK(h_read(fg, fd, buf, 4, 3000, &e) == 4 && !memcmp(buf, "good", 4),
	      "host stream: got '%.4s' (%s)", buf, kt_errname(e));
	CHECK(recv(fd, buf, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
	      "more data or EOF after the genuine bytes");
	CHECK(c->state == FGC_ESTABLISHED, "connection reset by spoofed packets");
	/* credit still right: the host can send a lot to us */
	CHECK(h_send_all(fd, "still-alive", 11), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 11, 3000), "guest got nothing");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* one guest cannot speak for another */
int t_spoof_other_guest(const struct kt_case *tc)
{
	struct fg *a, *b;
	struct fg_conn *c;
	int lfd, fd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 8);
	CHECK(lfd >= 0, "listen");
	a = gopen(0);
	CHECK_FG(0);
	b = gopen(1);
	CHECK_FG(1);
	a->keep_all = b->keep_all = true;
	b->auto_rst = false;
	CHECK(!send_req(a, b->cid, FG_HOST_CID, gport(0), hport(0), FG_TYPE_STREAM),
	      "send");
	CHECK(fg_tx_drain(a, 3000), "not consumed");
	fg_idle(a, 200);
	fg_idle(b, 200);
	CHECK(h_no_accept(NULL, lfd, 100), "guest A connected as guest B");
	CHECK(!fg_stray_find(b, -1, 0, 0), "guest B got %s for a packet guest A sent",
	      fg_op_name(b->strays[0].h.op));
	CHECK(!fg_stray_find(a, -1, 0, 0), "guest A got %s", fg_op_name(a->strays[0].h.op));
	/* host -> B reaches B only */
	fg_listen(b, gport(1), FG_TYPE_STREAM, FGL_ACCEPT, 0);
	fd = h2g_pair(b, SOCK_STREAM, gport(1), 0, &c);
	CHECK(fd >= 0, "connect to B: %s", kt_errname(-fd));
	fg_idle(a, 100);
	CHECK(!fg_stray_find(a, -1, 0, 0), "guest A saw B's traffic");
	close(fd);
	if (ping(a, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}
