// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: slow readers on both sides, CREDIT_REQUEST, overrun -> RST
 * (credit_).
 */
#include "fakeguest.h"

/* ============================================================================
 * Credit and flow control
 * ==========================================================================*/

/* the host never sends beyond the small buffer a slow guest advertises */
int t_credit_guest_slow(const struct kt_case *tc)
{
	const uint32_t ba = 4096;
	const uint64_t n = 256 * KiB, seed = 99;
	uint8_t buf[1024];
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int fd;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, ba);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	c->auto_credit = false;

	job_init(&j, JOB_SEND_PATTERN, fd, seed, n);
	j.chunk = 64 * KiB;
	CHECK(!job_start(&j), "thread");
	/* not reading: exactly the advertised window may arrive */
	fg_conn_wait_rx(c, ba, 3000);
	fg_idle(fg, 300);
	CHECK(c->rx_cnt <= ba, "host sent %llu bytes into a %u byte window",
	      (unsigned long long)c->rx_cnt, ba);
	kt_diag("window %u, host sent %llu bytes while the guest did not read",
		ba, (unsigned long long)c->rx_cnt);
	CHECK(c->rx_cnt == ba, "host used only %llu bytes of a %u byte window",
	      (unsigned long long)c->rx_cnt, ba);
	/* read slowly, 1 KiB at a time, crediting each time */
	while (pos < n) {
		size_t k;

		if (!c->rxlen && !fg_conn_wait_rx(c, c->rx_cnt + 1, 3000))
			break;
		k = fg_conn_read(c, buf, sizeof(buf));
		CHECK(pat_check(buf, k, seed, pos) < 0, "corrupt data at %llu",
		      (unsigned long long)pos);
		pos += k;
		fg_conn_credit_update(c);
		fg_poll(fg, 1);
	}
	CHECK(pos == n, "guest read %llu of %llu bytes", (unsigned long long)pos,
	      (unsigned long long)n);
	CHECK(job_wait(fg, &j, 5000) && j.bytes == n, "host sender: %llu bytes %s",
	      (unsigned long long)j.bytes, kt_errname(j.err));
	CHECK(!c->credit_violations && c->max_unacked <= ba,
	      "%llu credit violations, max unacked %llu",
	      (unsigned long long)c->credit_violations,
	      (unsigned long long)c->max_unacked);
	close(fd);
	return finish(KT_PASS);
}

struct slow_reader {
	int fd;
	uint64_t n, seed, got, bad;
	int err;
};

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;
	uint8_t buf[4096];

	while (r->got < r->n) {
		ssize_t k = recv(r->fd, buf, sizeof(buf), 0);

		if (k <= 0) {
			r->err = k < 0 ? errno : EPIPE;
			break;
		}
		if (pat_check(buf, (uint64_t)k, r->seed, r->got) >= 0)
			r->bad++;
		r->got += (uint64_t)k;
		usleep(1000);
	}
	return NULL;
}

/* the guest keeps to the host's credit; like a Linux guest it never asks
 * for credit, so the host must announce what its slow reader consumed
 */
int t_credit_host_slow(const struct kt_case *tc)
{
	const uint64_t hbuf = 64 * KiB, n = 1 * MiB, seed = 5;
	struct slow_reader r = { 0 };
	struct hs_thread th;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	CHECK(!h_bufsize(lfd, hbuf), "buffer size");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(c->peer_buf_alloc == hbuf, "host advertises buf_alloc %u, socket has %llu",
	      c->peer_buf_alloc, (unsigned long long)hbuf);
	r.fd = fd;
	r.n = n;
	r.seed = seed;
	CHECK(!hs_thread_start(&th, slow_reader_main, &r), "thread");
	CHECK(fg_conn_write(c, NULL, n, seed, 0, 0, 16 * KiB, 30000) == n,
	      "guest could not write %llu bytes (credit %u)", (unsigned long long)n,
	      fg_conn_credit(c));
	CHECK(!hs_thread_join(&th, 30000), "host reader hangs at %llu",
	      (unsigned long long)r.got);
	CHECK(r.got == n && !r.bad, "host read %llu bytes, %llu bad: %s",
	      (unsigned long long)r.got, (unsigned long long)r.bad,
	      kt_errname(r.err));
	CHECK(c->credit_updates_rx > 0, "host never sent CREDIT_UPDATE");
	fg_idle(fg, 200);
	kt_diag("%llu credit updates from the host, last fwd_cnt %u of %llu bytes read",
		(unsigned long long)c->credit_updates_rx, c->peer_fwd_cnt,
		(unsigned long long)n);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

int t_credit_request(const struct kt_case *tc)
{
	uint8_t buf[1000];
	struct fg_conn *c;
	struct fg *fg;
	uint64_t before;
	int lfd, fd, e;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(fg_conn_write(c, NULL, 1000, 1, 0, 0, 0, 2000) == 1000, "write");
	CHECK(h_read(fg, fd, buf, 1000, 3000, &e) == 1000, "host read: %s",
	      kt_errname(e));
	before = c->credit_updates_rx;
	CHECK(!fg_conn_send(c, FG_OP_CREDIT_REQUEST, 0, NULL, 0, NULL), "send");
	for (long t = kt_now_ms(); c->credit_updates_rx == before &&
	     kt_now_ms() - t < 2000;)
		fg_poll(fg, 50);
	CHECK(c->credit_updates_rx > before, "no CREDIT_UPDATE answers CREDIT_REQUEST");
	CHECK(c->peer_fwd_cnt == 1000, "CREDIT_UPDATE fwd_cnt %u, host read 1000",
	      c->peer_fwd_cnt);
	CHECK(c->peer_buf_alloc > 0, "buf_alloc 0");
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

/* data beyond the credit the host gave resets the connection */
int t_credit_overrun(const struct kt_case *tc)
{
	const uint64_t hbuf = 64 * KiB;
	static uint8_t buf[256 * KiB];
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent = 0;
	size_t got;
	int lfd, fd, e;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	CHECK(!h_bufsize(lfd, hbuf), "buffer size");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(c->peer_buf_alloc == hbuf, "host buf_alloc %u", c->peer_buf_alloc);
	/* fill the window, then keep going regardless of credit */
	while (sent < 2 * hbuf && c->state == FGC_ESTABLISHED) {
		uint8_t pkt[4096];

		pat_fill(pkt, sizeof(pkt), 3, sent);
		CHECK(!fg_conn_send(c, FG_OP_RW, 0, pkt, sizeof(pkt), NULL), "send");
		sent += sizeof(pkt);
		fg_poll(fg, 0);
	}
	fg_conn_wait_state(c, FGC_CLOSED, 2000);
	CHECK(c->got_rst, "host did not reset a connection that overran its credit by %llu bytes",
	      (unsigned long long)(sent - hbuf));
	got = h_drain(fg, fd, buf, sizeof(buf), 300, &e);
	CHECK(got <= hbuf, "host queued %zu bytes for a %llu byte buffer", got,
	      (unsigned long long)hbuf);
	CHECK(pat_check(buf, got, 3, 0) < 0, "corrupt data");
	kt_diag("host delivered %zu bytes, then %s", got, kt_errname(e));
	CHECK(e == EPIPE || e == ECONNRESET || e == ENOBUFS,
	      "host socket not reset/EOF after the overrun: %s", kt_errname(e));
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}
