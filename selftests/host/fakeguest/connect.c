// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: connections in both directions, refused, timed out;
 * seqpacket_not_negotiated (g2h_, h2g_).
 */
#include "fakeguest.h"

/* ============================================================================
 * Connections
 * ==========================================================================*/

int t_g2h_connect(const struct kt_case *tc)
{
	int type = (int)tc->arg;
	uint16_t vtype = type == SOCK_STREAM ? FG_TYPE_STREAM : FG_TYPE_SEQPACKET;
	struct fg_conn *c;
	struct fg *fg;
	uint32_t cid, port;
	char buf[64];
	int lfd, fd, e;

	lfd = h_listen(type, hport(0), 4);
	CHECK(lfd >= 0, "listen: %s", kt_errname(errno));
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;

	c = fg_connect(fg, gport(0), hport(0), vtype, 32 * KiB, 3000);
	CHECK(c && c->state == FGC_ESTABLISHED, "REQUEST not answered with RESPONSE (state %d)",
	      c ? (int)c->state : -1);
	{
		const struct fg_stray *r = fg_stray_find(fg, FG_OP_RESPONSE, 0, 0);

		CHECK(r, "no RESPONSE logged");
		CHECK(r->h.src_port == hport(0) && r->h.dst_port == gport(0),
		      "RESPONSE ports %u->%u", r->h.src_port, r->h.dst_port);
		CHECK(r->h.type == vtype, "RESPONSE type %u", r->h.type);
		CHECK(r->h.buf_alloc > 0, "RESPONSE advertises buf_alloc 0");
		CHECK(r->h.fwd_cnt == 0, "RESPONSE fwd_cnt %u", r->h.fwd_cnt);
		CHECK(r->h.flags == 0, "RESPONSE flags %#x", r->h.flags);
	}
	fd = h_accept(fg, lfd, 2000);
	CHECK(fd >= 0, "host accept: %s", kt_errname(-fd));
	sockname(fd, true, &cid, &port);
	CHECK(cid == fg->cid && port == gport(0), "host peer %u:%u, want %llu:%u",
	      cid, port, (unsigned long long)fg->cid, gport(0));
	sockname(fd, false, &cid, &port);
	CHECK(port == hport(0), "host local port %u", port);
	kt_diag("host accepted socket local address %u:%u", cid, port);

	CHECK(fg_conn_write(c, "hello host", 10, 0, 0, 0, 0, 2000) == 10, "write");
	CHECK(h_read(fg, fd, buf, 10, 3000, &e) == 10 && !memcmp(buf, "hello host", 10),
	      "host read: %s", kt_errname(e));
	CHECK(h_send_all(fd, "hello guest!", 12), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 12, 3000), "guest got %llu bytes",
	      (unsigned long long)c->rx_cnt);
	CHECK(fg_conn_read(c, buf, 12) == 12 && !memcmp(buf, "hello guest!", 12),
	      "guest data mismatch");
	if (type == SOCK_SEQPACKET)
		CHECK(c->nmarks == 1 && c->marks[0].end == 12,
		      "message boundary: %zu marks", c->nmarks);
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "host close sent shutdown flags %#x", c->peer_shutdown);
	close(lfd);
	return finish(KT_PASS);
}

int t_g2h_refused(const struct kt_case *tc)
{
	const struct fg_stray *r;
	struct fg_conn *c;
	struct fg *fg;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	c = fg_connect(fg, gport(0), hport(0), FG_TYPE_STREAM, 0, 3000);
	CHECK(c && c->state == FGC_CLOSED && c->refused,
	      "REQUEST to a port nobody listens on: state %d", c ? (int)c->state : -1);
	r = fg_stray_find(fg, FG_OP_RST, 0, 0);
	CHECK(r && r->h.src_port == hport(0) && r->h.dst_port == gport(0),
	      "RST with wrong ports");
	/* nothing answers an RST */
	fg_strays_clear(fg);
	fg_conn_send(c, FG_OP_RST, 0, NULL, 0, NULL);
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host answered an RST with %s",
	      fg_op_name(fg->strays[0].h.op));
	return finish(KT_PASS);
}

int t_h2g_connect(const struct kt_case *tc)
{
	int type = (int)tc->arg;
	uint16_t vtype = type == SOCK_STREAM ? FG_TYPE_STREAM : FG_TYPE_SEQPACKET;
	const struct fg_stray *rq;
	struct fg_conn *c;
	struct fg *fg;
	uint32_t cid, port;
	char buf[64];
	int fd, e;

	fg = gopen(0);
	CHECK_FG(0);
	fg->keep_all = true;
	fg_listen(fg, gport(0), vtype, FGL_ACCEPT, 16 * KiB);
	fd = h2g_pair(fg, type, gport(0), 0, &c);
	CHECK(fd >= 0, "host connect to guest %llu: %s",
	      (unsigned long long)fg->cid, kt_errname(-fd));
	rq = fg_stray_find(fg, FG_OP_REQUEST, 0, gport(0));
	CHECK(rq, "REQUEST not logged");
	CHECK(rq->h.type == vtype && rq->h.len == 0 && rq->h.buf_alloc > 0,
	      "REQUEST type %u len %u buf_alloc %u", rq->h.type, rq->h.len,
	      rq->h.buf_alloc);
	sockname(fd, false, &cid, &port);
	CHECK(port == c->pport, "host local port %u, REQUEST came from %u", port,
	      c->pport);
	sockname(fd, true, &cid, &port);
	CHECK(cid == fg->cid && port == gport(0), "host peer %u:%u", cid, port);

	CHECK(h_send_all(fd, "from host", 9), "host send: %s", kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 9, 3000), "guest got %llu", (unsigned long long)c->rx_cnt);
	CHECK(fg_conn_read(c, buf, 9) == 9 && !memcmp(buf, "from host", 9), "mismatch");
	CHECK(fg_conn_write(c, "from guest", 10, 0, 0, 0, 0, 2000) == 10, "write");
	CHECK(h_read(fg, fd, buf, 10, 3000, &e) == 10 && !memcmp(buf, "from guest", 10),
	      "host read: %s", kt_errname(e));
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	return finish(KT_PASS);
}

int t_h2g_refused(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	/* the guest answers RST (a listener refusing; a port nobody listens on) */
	fg_listen(fg, gport(0), 0, FGL_REFUSE, 0);
	for (int k = 0; k < 2; k++) {
		job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(k), 5000);
		CHECK(!job_start(&j), "thread");
		CHECK(job_wait(fg, &j, 8000), "connect hangs");
		CHECK(j.res_fd < 0, "connect to a refusing guest port succeeded");
		CHECK(j.err == ECONNRESET || j.err == ECONNREFUSED,
		      "connect failed with %s", kt_errname(j.err));
	}
	return finish(KT_PASS);
}

int t_h2g_timeout(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), 0, FGL_IGNORE, 0);
	job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(0), 1000);
	t0 = kt_now_ms();
	CHECK(!job_start(&j), "thread");
	CHECK(job_wait(fg, &j, 6000), "connect with a 1 s timeout hangs");
	CHECK(j.res_fd < 0 && j.err == ETIMEDOUT, "connect: fd %d %s", j.res_fd,
	      kt_errname(j.err));
	kt_diag("connect failed after %ld ms", j.t_end - t0);
	CHECK(fg_stray_find(fg, FG_OP_REQUEST, 0, gport(0)), "REQUEST never arrived");
	return finish(KT_PASS);
}

int t_seqpacket_not_negotiated(const struct kt_case *tc)
{
	struct fg_opts o = { .want_features = FG_BIT(FG_F_VERSION_1) };
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, slfd;

	(void)tc;
	slfd = h_listen(SOCK_SEQPACKET, hport(0), 4);
	lfd = h_listen(SOCK_STREAM, hport(1), 4);
	CHECK(slfd >= 0 && lfd >= 0, "listen");
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(!(fg->features_acked & FG_BIT(FG_F_SEQPACKET)), "acked SEQPACKET");
	fg->keep_all = true;
	fg_listen(fg, gport(0), 0, FGL_ACCEPT, 0);

	/* host SEQPACKET socket to this guest: refused, nothing sent */
	job_connect(&j, SOCK_SEQPACKET, (uint32_t)fg->cid, gport(0), 2000);
	CHECK(!job_start(&j), "thread");
	CHECK(job_wait(fg, &j, 6000), "connect hangs");
	CHECK(j.res_fd < 0, "SEQPACKET connect to a guest without the feature succeeded");
	kt_diag("host SEQPACKET connect: %s", kt_errname(j.err));
	CHECK(!fg_stray_find(fg, FG_OP_REQUEST, 0, 0),
	      "a SEQPACKET REQUEST reached the guest");

	/* guest SEQPACKET REQUEST: no connection */
	c = fg_connect(fg, 0, hport(0), FG_TYPE_SEQPACKET, 0, 2000);
	CHECK(c && c->state != FGC_ESTABLISHED,
	      "host accepted SEQPACKET from a guest without the feature");
	CHECK(h_no_accept(fg, slfd, 300), "host listener got a SEQPACKET connection");

	/* STREAM still fine */
	if (ping(fg, lfd, hport(1)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	close(slfd);
	return finish(KT_PASS);
}
