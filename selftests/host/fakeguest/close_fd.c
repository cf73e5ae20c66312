// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: the guest vanishes with live and connecting sockets
 * (close_fd_).
 */
#include "fakeguest.h"

/* ============================================================================
 * The guest goes away
 * ==========================================================================*/

int t_close_fd_live(const struct kt_case *tc)
{
	struct fg_conn *c1, *c2, *c3, *c4;
	struct job rd, wr;
	struct fg *fg;
	uint64_t cid;
	char buf[2048];
	int lfd, fd1, fd2, fd3, fd4, e;
	ssize_t r;
	long t0;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 8);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	cid = fg->cid;
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4096);
	/* 1: host blocked in recv() */
	fd1 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c1);
	CHECK(fd1 >= 0, "connect: %s", kt_errname(-fd1));
	/* 2: host blocked in send() (window full) */
	fd2 = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c2);
	CHECK(fd2 >= 0, "connect: %s", kt_errname(-fd2));
	c2->auto_credit = false;
	/* 3: accepted, with unread data */
	fd3 = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c3);
	CHECK(fd3 >= 0, "connect: %s", kt_errname(-fd3));
	CHECK(fg_conn_write(c3, NULL, 1000, 4, 0, 0, 0, 2000) == 1000, "write");
	/* 4: still in the listener's accept queue */
	c4 = fg_connect(fg, 0, hport(0), FG_TYPE_STREAM, 0, 3000);
	CHECK(c4 && c4->state == FGC_ESTABLISHED, "connect 4");
	CHECK(fg_conn_write(c4, "q", 1, 0, 0, 0, 0, 2000) == 1, "write");
	CHECK(fg_tx_drain(fg, 2000), "drain");

	job_init(&rd, JOB_RECV_ONE, fd1, 0, 0);
	CHECK(!job_start(&rd), "thread");
	job_init(&wr, JOB_SEND_PATTERN, fd2, 0, 1 * MiB);
	CHECK(!job_start(&wr), "thread");
	fg_idle(fg, 300);
	CHECK(!atomic_load(&rd.done) && !atomic_load(&wr.done), "threads not blocked");

	t0 = kt_now_ms();
	gclose(0);		/* close(/dev/vhost-vsock): the guest is gone */
	fg = NULL;
	kt_diag("close() of the device took %ld ms", kt_now_ms() - t0);

	CHECK(job_wait(NULL, &rd, 3000), "host recv() still blocked 3 s after the guest vanished");
	CHECK(rd.ret == 0 || rd.err == ECONNRESET, "recv: %zd %s", rd.ret,
	      kt_errname(rd.err));
	CHECK(job_wait(NULL, &wr, 3000), "host send() still blocked 3 s after the guest vanished");
	CHECK(wr.err, "blocked send completed");
	kt_diag("blocked recv: %zd %s, blocked send: %s after %llu bytes",
		rd.ret, kt_errname(rd.err), kt_errname(wr.err),
		(unsigned long long)wr.bytes);
	errno = 0;
	CHECK(send(fd1, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0, "send on 1 succeeded");
	/* 3: unread data may still be read, then EOF/reset; send fails */
	r = (ssize_t)h_drain(NULL, fd3, buf, sizeof(buf), 300, &e);
	CHECK(r == 0 || (r == 1000 && pat_check(buf, 1000, 4, 0) < 0),
	      "connection 3 delivered %zd bytes", r);
	CHECK(e == EPIPE || e == ECONNRESET, "connection 3: %s after %zd bytes",
	      kt_errname(e), r);
	errno = 0;
	CHECK(send(fd3, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0, "send on 3 succeeded");
	/* 4: if it can still be accepted, it is dead */
	fd4 = h_accept(NULL, lfd, 200);
	if (fd4 >= 0) {
		r = (ssize_t)h_drain(NULL, fd4, buf, sizeof(buf), 300, &e);
		CHECK(r <= 1 && (e == EPIPE || e == ECONNRESET),
		      "accepted connection 4: %zd bytes, %s", r, kt_errname(e));
		errno = 0;
		CHECK(send(fd4, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0,
		      "send on 4 succeeded");
		close(fd4);
	}
	kt_diag("connection 4 %s accepted after the guest vanished",
		fd4 >= 0 ? "was" : "was not");
	/* the CID is gone: connecting fails at once; it can be reused */
	{
		struct job j;

		job_connect(&j, SOCK_STREAM, (uint32_t)cid, gport(0), 5000);
		CHECK(!job_start(&j), "thread");
		CHECK(job_wait(NULL, &j, 2000), "connect to a vanished CID hangs");
		CHECK(j.res_fd < 0, "connect to a vanished CID succeeded");
		kt_diag("connect to the vanished CID: %s", kt_errname(j.err));
	}
	close(fd1);
	close(fd2);
	close(fd3);
	gopen(0);
	CHECK_FG(0);
	fgs[0]->next_port = 52000;	/* not the 4-tuples of the dead sockets */
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	(void)c4;
	return finish(KT_PASS);
}

/* a host connect() in progress when the guest vanishes fails promptly */
int t_close_fd_connecting(const struct kt_case *tc)
{
	struct fg *fg;
	struct job j;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), 0, FGL_IGNORE, 0);
	job_connect(&j, SOCK_STREAM, (uint32_t)fg->cid, gport(0), 6000);
	CHECK(!job_start(&j), "thread");
	CHECK(fg_stray_wait(fg, FG_OP_REQUEST, 0, gport(0), 3000), "no REQUEST");
	t0 = kt_now_ms();
	gclose(0);
	CHECK(job_wait(NULL, &j, 15000), "connect hangs");
	kt_diag("connect returned %s %ld ms after the guest vanished",
		kt_errname(j.err), j.t_end - t0);
	CHECK(j.res_fd < 0, "connect succeeded");
	CHECK(j.t_end - t0 < 3000,
	      "connect (6 s timeout) returned only %ld ms after the guest vanished",
	      j.t_end - t0);
	return finish(KT_PASS);
}
