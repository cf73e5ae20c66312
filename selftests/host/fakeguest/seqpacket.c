// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: record boundaries (EOM) and MSG_EOR both ways (seqpacket_).
 */
#include "fakeguest.h"

/* ============================================================================
 * SEQPACKET record boundaries
 * ==========================================================================*/

int t_seqpacket_g2h(const struct kt_case *tc)
{
	static const struct {
		uint32_t len, max_pkt, eor;
	} msgs[] = {
		{ 10, 0, 0 },
		{ 10000, 1000, FG_SEQ_EOR },	/* ten packets */
		{ 1, 0, FG_SEQ_EOR },
		{ 70000, 0, 0 },		/* 64 KiB + rest */
		{ 3000, 7, 0 },			/* many tiny packets */
		{ 500, 0, FG_SEQ_EOR },		/* read into a short buffer */
		{ 64, 0, 0 },
	};
	static uint8_t buf[128 * KiB];
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	int lfd, fd;

	(void)tc;
	lfd = h_listen(SOCK_SEQPACKET, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_SEQPACKET, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		uint64_t w = fg_conn_write(c, NULL, msgs[i].len, 11, pos,
					   msgs[i].eor, msgs[i].max_pkt, 5000);

		CHECK(w == msgs[i].len, "message %zu: wrote %llu", i,
		      (unsigned long long)w);
		pos += msgs[i].len;
	}
	pos = 0;
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		size_t want = msgs[i].len == 500 ? 100 : sizeof(buf);
		struct iovec iov = { buf, want };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r = -1;

		for (long t = kt_now_ms(); kt_now_ms() - t < 3000;) {
			r = recvmsg(fd, &mh, MSG_DONTWAIT);
			if (r >= 0 || errno != EAGAIN)
				break;
			fg_poll(fg, 5);
		}
		if (msgs[i].len == 500) {
			CHECK(r == 100 && (mh.msg_flags & MSG_TRUNC),
			      "message %zu into 100 bytes: %zd flags %#x", i, r,
			      mh.msg_flags);
		} else {
			CHECK(r == msgs[i].len, "message %zu: got %zd bytes, sent %u",
			      i, r, msgs[i].len);
		}
		CHECK(pat_check(buf, (uint64_t)r, 11, pos) < 0,
		      "message %zu corrupt", i);
		CHECK(!!(mh.msg_flags & MSG_EOR) == !!msgs[i].eor,
		      "message %zu: MSG_EOR %s, sent %s", i,
		      mh.msg_flags & MSG_EOR ? "set" : "clear",
		      msgs[i].eor ? "with EOR" : "without");
		pos += msgs[i].len;
	}
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

int t_seqpacket_h2g(const struct kt_case *tc)
{
	static const struct {
		uint32_t len;
		bool eor;
	} msgs[] = {
		{ 1, false }, { 999, true }, { 1000, false }, { 1001, true },
		{ 5000, false }, { 65536, true }, { 65537, false },
		{ 100000, true }, { 3, false },
	};
	static uint8_t buf[100000];
	struct fg_opts o = { .rx_buf = 44 + 1000 };	/* host must split */
	uint64_t pos = 0;
	struct fg_conn *c;
	struct fg *fg;
	int fd;

	(void)tc;
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_SEQPACKET, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_SEQPACKET, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, 21);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		ssize_t r;

		pat_fill(buf, msgs[i].len, 21, pos);
		r = send(fd, buf, msgs[i].len, MSG_NOSIGNAL | (msgs[i].eor ? MSG_EOR : 0));
		CHECK(r == msgs[i].len, "host send %u: %zd %s", msgs[i].len, r,
		      kt_errname(errno));
		pos += msgs[i].len;
		CHECK(fg_conn_wait_rx(c, pos, 5000), "guest got %llu of %llu",
		      (unsigned long long)c->rx_cnt, (unsigned long long)pos);
	}
	CHECK(!c->sink_bad, "corrupt data");
	CHECK(c->nmarks == ARRAY_SIZE(msgs),
	      "%zu EOM marks for %zu messages", c->nmarks,
	      ARRAY_SIZE(msgs));
	pos = 0;
	for (size_t i = 0; i < c->nmarks; i++) {
		pos += msgs[i].len;
		CHECK(c->marks[i].end == pos, "message %zu ends at %llu, EOM at %llu",
		      i, (unsigned long long)pos,
		      (unsigned long long)c->marks[i].end);
		CHECK(!!(c->marks[i].flags & FG_SEQ_EOR) == msgs[i].eor,
		      "message %zu: EOR %s", i,
		      c->marks[i].flags & FG_SEQ_EOR ? "set" : "missing");
	}
	kt_diag("%zu messages in %llu packets", c->nmarks,
		(unsigned long long)c->rx_pkts);
	close(fd);
	return finish(KT_PASS);
}
