// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: half and full shutdown, close, reset (shutdown_,
 * close_host, rst_guest).
 */
#include "fakeguest.h"

/* ============================================================================
 * Shutdown and reset
 * ==========================================================================*/

int t_shutdown_guest_send(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[16];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	CHECK(fg_conn_write(c, "abc", 3, 0, 0, 0, 0, 2000) == 3, "write");
	CHECK(!fg_conn_send(c, FG_OP_SHUTDOWN, FG_SHUTDOWN_SEND, NULL, 0, NULL),
	      "send");
	CHECK(h_read(fg, fd, buf, 3, 3000, &e) == 3 && !memcmp(buf, "abc", 3),
	      "host read: %s", kt_errname(e));
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 0 && e == EPIPE,
	      "host recv after guest SHUTDOWN(SEND): expected EOF, got %s",
	      kt_errname(e));
	/* the other direction still works */
	CHECK(h_send_all(fd, "xyz", 3), "host send after guest SHUTDOWN(SEND): %s",
	      kt_errname(errno));
	CHECK(fg_conn_wait_rx(c, 3, 3000), "guest did not get data");
	CHECK(c->state == FGC_ESTABLISHED && !c->got_rst, "connection reset");
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after close");
	close(lfd);
	return finish(KT_PASS);
}

int t_shutdown_guest_full(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[4];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	c->auto_rst_on_shutdown = false;
	CHECK(!fg_conn_send(c, FG_OP_SHUTDOWN, FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND,
			    NULL, 0, NULL), "send");
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 0 && (e == EPIPE || e == ECONNRESET),
	      "host recv: expected EOF, got %s", kt_errname(e));
	/* the guest said it receives nothing more: sending must fail */
	errno = 0;
	CHECK(send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
	      "host send to a peer that shut down receiving succeeded");
	kt_diag("host send after peer SHUTDOWN(RCV|SEND): %s", kt_errname(errno));
	/* the host finishes the close handshake with RST */
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000) && c->got_rst,
	      "no RST after the guest's full SHUTDOWN");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

int t_shutdown_host(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	char buf[4];
	int lfd, fd, e, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	c->auto_rst_on_shutdown = false;
	KT_OK(shutdown(fd, SHUT_WR));
	for (long t = kt_now_ms(); !c->peer_shutdown && kt_now_ms() - t < 3000;)
		fg_poll(fg, 50);
	CHECK(c->peer_shutdown == FG_SHUTDOWN_SEND, "shutdown(SHUT_WR) sent flags %#x",
	      c->peer_shutdown);
	/* the host still receives */
	CHECK(fg_conn_write(c, "def", 3, 0, 0, 0, 0, 2000) == 3, "write");
	CHECK(h_read(fg, fd, buf, 3, 3000, &e) == 3 && !memcmp(buf, "def", 3),
	      "host read after its SHUT_WR: %s", kt_errname(e));
	KT_OK(shutdown(fd, SHUT_RD));
	for (long t = kt_now_ms(); c->peer_shutdown != 3 && kt_now_ms() - t < 3000;)
		fg_poll(fg, 50);
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "flags after SHUT_RD too: %#x", c->peer_shutdown);
	CHECK(c->state == FGC_ESTABLISHED && !c->got_rst, "reset too early");
	/* the guest completes the close; the host must not answer the RST */
	fg->keep_all = true;
	CHECK(!fg_conn_send(c, FG_OP_RST, 0, NULL, 0, NULL), "send");
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host answered the final RST with %s",
	      fg_op_name(fg->strays[0].h.op));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

int t_close_host(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd, r;

	(void)tc;
	r = g2h_setup(&lfd, &fg, &c, &fd);
	CHECK(!r, "setup: %s", kt_errname(-r));
	CHECK(fg_conn_write(c, "unread", 6, 0, 0, 0, 0, 2000) == 6, "write");
	close(fd);
	CHECK(fg_conn_wait_state(c, FGC_CLOSED, 3000), "no SHUTDOWN after host close");
	CHECK(c->peer_shutdown == (FG_SHUTDOWN_RCV | FG_SHUTDOWN_SEND),
	      "flags %#x", c->peer_shutdown);
	/* our RST ends it: nothing more may come */
	fg->keep_all = true;
	fg_idle(fg, 300);
	CHECK(fg->nstrays == 0, "host sent %s after the close handshake",
	      fg_op_name(fg->strays[0].h.op));
	/* the port pair can be used again at once */
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "reconnect: %s", kt_errname(-fd));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* guest RST: a host reader and a host writer blocked in the kernel wake up */
int t_rst_guest(const struct kt_case *tc)
{
	struct fg_conn *c1, *c2;
	struct job rd, wr;
	struct fg *fg;
	char buf[4];
	int fd1, fd2;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4096);
	fd1 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c1);
	CHECK(fd1 >= 0, "connect: %s", kt_errname(-fd1));
	fd2 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c2);
	CHECK(fd2 >= 0, "connect: %s", kt_errname(-fd2));
	c2->auto_credit = false;

	job_init(&rd, JOB_RECV_ONE, fd1, 0, 0);
	CHECK(!job_start(&rd), "thread");
	job_init(&wr, JOB_SEND_PATTERN, fd2, 0, 1 * MiB);
	CHECK(!job_start(&wr), "thread");
	fg_idle(fg, 300);
	fg_conn_wait_rx(c2, 4096, 3000);
	fg_idle(fg, 100);
	CHECK(!atomic_load(&rd.done) && !atomic_load(&wr.done),
	      "host threads not blocked");
	CHECK(c2->rx_cnt == 4096, "writer sent %llu bytes into 4096",
	      (unsigned long long)c2->rx_cnt);

	CHECK(!fg_conn_send(c1, FG_OP_RST, 0, NULL, 0, NULL), "send");
	CHECK(!fg_conn_send(c2, FG_OP_RST, 0, NULL, 0, NULL), "send");
	CHECK(job_wait(fg, &rd, 3000), "host recv() still blocked after RST");
	CHECK(rd.ret == 0 || rd.err == ECONNRESET, "host recv after RST: %zd %s",
	      rd.ret, kt_errname(rd.err));
	CHECK(job_wait(fg, &wr, 3000), "host send() still blocked after RST");
	CHECK(wr.err, "host send completed after RST");
	kt_diag("after RST: recv %zd/%s, blocked send %s", rd.ret,
		kt_errname(rd.err), kt_errname(wr.err));
	errno = 0;
	CHECK(send(fd1, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
	      "host send after RST succeeded");
	CHECK(recv(fd1, buf, 1, MSG_DONTWAIT) <= 0, "data after RST");
	/* the host must not answer RSTs */
	fg->keep_all = true;
	fg_idle(fg, 200);
	CHECK(!fg_stray_find(fg, -1, 0, 0), "host sent %s after the RSTs",
	      fg_op_name(fg->strays[0].h.op));
	close(fd1);
	close(fd2);
	return finish(KT_PASS);
}
