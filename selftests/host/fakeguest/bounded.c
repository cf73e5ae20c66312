// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: a guest that stops taking packets or advertises 4 GiB
 * (bounded_).
 */
#include "fakeguest.h"

/* ============================================================================
 * Bounded memory
 * ==========================================================================*/

/* host sends non-blocking until EAGAIN (or more than cap); bytes sent */
static uint64_t h_fill(struct fg *fg, int fd, uint64_t seed, uint64_t pos,
		       uint64_t cap, int settle_ms)
{
	static uint8_t buf[64 * KiB];
	uint64_t done = 0;
	long quiet_since = kt_now_ms();

	while (done <= cap) {
		ssize_t r;

		pat_fill(buf, sizeof(buf), seed, pos + done);
		r = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			done += (uint64_t)r;
			quiet_since = kt_now_ms();
			continue;
		}
		if (r < 0 && errno != EAGAIN)
			break;
		/* give the host a moment: maybe it frees space */
		if (kt_now_ms() - quiet_since > settle_ms)
			break;
		fg_poll(fg, 10);
	}
	return done;
}

/* the guest stops taking packets: the host socket blocks at the window */
int t_bounded_no_rx(const struct kt_case *tc)
{
	const uint32_t ba = 64 * KiB;
	struct fg_opts o = { .rx_buf = 44 + 4096, .no_rx_fill = true };
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent, more;
	int fd;

	(void)tc;
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	/* two rx buffers: one for the REQUEST, one 4 KiB for data */
	CHECK(fg_rx_fill(fg, 2) == 2, "rx buffers");
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, ba);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(set_nonblock(fd, true) == 0, "nonblock");
	fg_conn_sink(c, 8);
	c->auto_credit = false;
	sent = h_fill(fg, fd, 8, 0, 8 * MiB, 500);
	kt_diag("host socket accepted %llu bytes for a %u byte window, guest got %llu",
		(unsigned long long)sent, ba, (unsigned long long)c->rx_cnt);
	CHECK(sent <= ba, "host queued %llu bytes beyond the guest's %u byte window",
	      (unsigned long long)sent, ba);
	usleep(200000);
	more = h_fill(fg, fd, 8, sent, 8 * MiB, 200);
	CHECK(!more, "host accepted %llu more bytes later", (unsigned long long)more);
	/* rx buffers again: everything arrives and the window moves */
	c->auto_credit = true;
	fg->rx_paused = false;
	fg_rx_fill(fg, 0);
	CHECK(fg_conn_wait_rx(c, sent, 5000), "guest got %llu of %llu",
	      (unsigned long long)c->rx_cnt, (unsigned long long)sent);
	fg_idle(fg, 100);
	more = h_fill(fg, fd, 8, sent, 256 * KiB, 300);
	CHECK(more > 0, "window did not reopen");
	CHECK(fg_conn_wait_rx(c, sent + more, 5000), "rest not delivered");
	CHECK(!c->sink_bad && !c->credit_violations, "corrupt %llu, credit violations %llu",
	      (unsigned long long)c->sink_bad,
	      (unsigned long long)c->credit_violations);
	close(fd);
	return finish(KT_PASS);
}

/* a guest advertising a 4 GiB window must not make the host queue without
 * bound; arg: the host socket's own buffer size (0: default)
 */
int t_bounded_huge_credit(const struct kt_case *tc)
{
	const uint64_t limit = 8 * MiB;
	struct fg_opts o = { .rx_buf = 44 + 4096, .no_rx_fill = true };
	struct fg_conn *c;
	struct fg *fg;
	uint64_t sent;
	int fd;

	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(fg_rx_fill(fg, 2) == 2, "rx buffers");
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 0xffffffffu);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), (uint64_t)tc->arg, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	CHECK(set_nonblock(fd, true) == 0, "nonblock");
	c->auto_credit = false;
	sent = h_fill(fg, fd, 9, 0, limit, 500);
	kt_diag("guest window 0xffffffff, host socket buffer %s: host accepted %s%llu bytes (guest got %llu)",
		tc->arg ? "64 MiB" : "default", sent > limit ? "more than " : "",
		(unsigned long long)(sent > limit ? limit : sent),
		(unsigned long long)c->rx_cnt);
	CHECK(sent <= limit, "host queued more than %llu bytes for one connection",
	      (unsigned long long)limit);
	close(fd);
	return finish(KT_PASS);
}

static long slab_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* a guest that never takes its replies must not make the host queue
 * replies without bound
 */
int t_bounded_replies(const struct kt_case *tc)
{
	const unsigned int n = 100000;
	struct fg_opts o = { .rx_buf = 44 + 256, .no_rx_fill = true };
	long slab0, slab1;
	unsigned int sent = 0;
	struct fg *fg;
	int lfd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg->auto_rst = false;
	fg->tx_batch = 1;
	slab0 = slab_kb();
	/* every one of these asks for an RST reply */
	while (sent < n) {
		struct fg_hdr h;
		struct fg_txb b;
		uint8_t w[FG_HDR_LEN];

		fg_hdr_init(fg, &h, FG_OP_REQUEST, FG_TYPE_STREAM, 1000 + sent,
			    hport(1));
		fg_hdr_encode(&h, w);
		if (fg_tx_begin(fg, &b, NULL, FG_HDR_LEN, 500))
			break;	/* the host stopped taking packets */
		fg_txb_write(&b, w, FG_HDR_LEN);
		fg_tx_commit(&b);
		sent++;
		if (!(sent % 64))
			fg_kick(fg, FG_VQ_TX, true);
	}
	fg_kick(fg, FG_VQ_TX, true);
	fg_idle(fg, 300);
	slab1 = slab_kb();
	kt_diag("guest without rx buffers: host took %u of %u reply-provoking packets, Slab %+ld kB",
		sent - fg_tx_inflight(fg), n, slab1 - slab0);
	CHECK(slab1 - slab0 < 32 * 1024, "host memory grew by %ld kB",
	      slab1 - slab0);
	/* buffers again: the host delivers and goes on */
	fg->rx_paused = false;
	fg->tx_batch = 0;
	fg_rx_fill(fg, 0);
	CHECK(fg_tx_drain(fg, 20000), "host did not resume the tx queue (%u in flight)",
	      fg_tx_inflight(fg));
	fg_idle(fg, 200);
	kt_diag("replies received afterwards: %llu RST",
		(unsigned long long)fg->rx_by_op[FG_OP_RST]);
	fg_strays_clear(fg);
	if (ping(fg, lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}
