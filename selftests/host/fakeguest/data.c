// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: 64 MiB each way, every byte checked; rx_layouts: odd rx buffer
 * shapes; linux_guest: EVENT_IDX + indirect tables (data_).
 */
#include "fakeguest.h"

/* ============================================================================
 * Data integrity
 * ==========================================================================*/

static uint64_t data_bytes(void)
{
	return env_u64("FG_DATA_MB", 64) * MiB;
}

int t_data_g2h(const struct kt_case *tc)
{
	/* packet sizes cycled through while streaming */
	static const uint32_t sizes[] = { 65536, 61, 4096, 65536, 1, 32768 + 5,
					  65536, 1500, 65536, 65535 };
	uint64_t n = data_bytes(), seed = 0x6732684 + kt_cur_index, done = 0;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, fd;
	long t0;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	CHECK(!h_bufsize(lfd, 2 * MiB), "buffer size: %s", kt_errname(errno));
	fg = gopen(0);
	CHECK_FG(0);
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	kt_diag("host advertises buf_alloc %u", c->peer_buf_alloc);

	job_init(&j, JOB_RECV_PATTERN, fd, seed, n);
	j.timeout_ms = 100000;
	CHECK(!job_start(&j), "thread");
	t0 = kt_now_ms();
	for (unsigned int i = 0; done < n; i++) {
		uint32_t pkt = sizes[i % (ARRAY_SIZE(sizes))];
		/* small packets for a little while only */
		uint64_t piece = pkt < 4096 ? 16 * KiB : 4 * MiB;
		uint64_t w;

		if (piece > n - done)
			piece = n - done;
		w = fg_conn_write(c, NULL, piece, seed, done, 0, pkt, 60000);
		done += w;
		CHECK(w == piece, "guest write stalled at %llu of %llu bytes (credit %u, state %d)",
		      (unsigned long long)done, (unsigned long long)n,
		      fg_conn_credit(c), c->state);
	}
	CHECK(job_wait(fg, &j, 60000), "host reader hangs at %llu bytes",
	      (unsigned long long)j.bytes);
	CHECK(j.bytes == n && !j.bad && !j.err,
	      "host got %llu of %llu bytes, %llu bad chunks, %s",
	      (unsigned long long)j.bytes, (unsigned long long)n,
	      (unsigned long long)j.bad, kt_errname(j.err));
	kt_diag("%llu MiB guest->host in %ld ms, %llu packets, %llu credit updates",
		(unsigned long long)(n / MiB), kt_now_ms() - t0,
		(unsigned long long)fg->tx_pkts,
		(unsigned long long)c->credit_updates_rx);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}

int t_data_h2g(const struct kt_case *tc)
{
	uint64_t n = data_bytes(), seed = 0x1234 + kt_cur_index;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int fd;
	long t0;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 4 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 2 * MiB, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, seed);

	job_init(&j, JOB_SEND_PATTERN, fd, seed, n);
	j.chunk = 256 * KiB;
	t0 = kt_now_ms();
	CHECK(!job_start(&j), "thread");
	fg_conn_wait_rx(c, n, 90000);
	CHECK(job_wait(fg, &j, 10000), "host sender hangs at %llu bytes",
	      (unsigned long long)j.bytes);
	CHECK(j.bytes == n && !j.err, "host sent %llu bytes: %s",
	      (unsigned long long)j.bytes, kt_errname(j.err));
	CHECK(c->rx_cnt == n, "guest got %llu of %llu bytes",
	      (unsigned long long)c->rx_cnt, (unsigned long long)n);
	CHECK(!c->sink_bad, "%llu corrupt packets, first bad byte at %llu",
	      (unsigned long long)c->sink_bad,
	      (unsigned long long)c->sink_first_bad);
	kt_diag("%llu MiB host->guest in %ld ms, %llu packets, max unacked %llu",
		(unsigned long long)(n / MiB), kt_now_ms() - t0,
		(unsigned long long)c->rx_pkts,
		(unsigned long long)c->max_unacked);
	close(fd);
	return finish(KT_PASS);
}

/* host -> guest stream into rx buffers of unusual shapes */
int t_rx_layouts(const struct kt_case *tc)
{
	static const struct {
		const char *name;
		int n;
		uint32_t lens[48];
		uint64_t bytes;
	} shapes[] = {
		{ "one 4 KiB descriptor", 1, { 4096 }, 512 * KiB },
		{ "header descriptor + 4 KiB (old Linux)", 2, { 44, 4096 }, 512 * KiB },
		{ "header split 20+24, payload 1000", 3, { 20, 24, 1000 }, 128 * KiB },
		{ "header split 43+1", 2, { 43, 1 + 300 }, 64 * KiB },
		{ "zero-length descriptors inside", 5, { 0, 30, 0, 14 + 512, 0 }, 64 * KiB },
		{ "one byte of payload per buffer", 1, { 45 }, 2 * KiB },
		{ "45 one-byte descriptors", 45, { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1 * KiB },
		{ "64 KiB + header", 1, { 65536 + 44 }, 4 * MiB },
		{ "larger than any packet", 2, { 65536, 65536 }, 4 * MiB },
	};

	(void)tc;
	for (size_t s = 0; s < ARRAY_SIZE(shapes); s++) {
		uint64_t seed = 77 + s, n = shapes[s].bytes;
		struct fg_opts o = { 0 };
		struct fg_layout lay;
		struct fg_conn *c;
		struct fg *fg;
		struct job j;
		int fd;

		fg_layout_lens(&lay, shapes[s].n, shapes[s].lens);
		o.rx_layout = &lay;
		o.cid = ccid(0);
		fg = gopen_opts(0, &o);
		CHECK_FG(0);
		fg_listen(fg, gport((int)s), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
		fd = h2g_pair(fg, SOCK_STREAM, gport((int)s), 0, &c);
		CHECK(fd >= 0, "%s: connect: %s", shapes[s].name, kt_errname(-fd));
		fg_conn_sink(c, seed);
		job_init(&j, JOB_SEND_PATTERN, fd, seed, n);
		j.chunk = 100000;
		CHECK(!job_start(&j), "thread");
		fg_conn_wait_rx(c, n, 30000);
		CHECK(job_wait(fg, &j, 5000), "%s: host sender hangs", shapes[s].name);
		CHECK(c->rx_cnt == n && !c->sink_bad,
		      "%s: guest got %llu of %llu bytes, %llu corrupt",
		      shapes[s].name, (unsigned long long)c->rx_cnt,
		      (unsigned long long)n, (unsigned long long)c->sink_bad);
		CHECK(!fgs[0]->errors, "%s: %s", shapes[s].name, fgs[0]->first_error);
		kt_diag("%s: %llu bytes in %llu packets", shapes[s].name,
			(unsigned long long)n, (unsigned long long)c->rx_pkts);
		close(fd);
		gclose(0);
	}
	return finish(KT_PASS);
}

/* ============================================================================
 * A guest that negotiates like Linux behind QEMU: EVENT_IDX, INDIRECT_DESC
 * ==========================================================================*/

int t_linux_guest(const struct kt_case *tc)
{
	struct fg_opts o = { .linux_guest = true };
	const uint64_t n = 16 * MiB;
	static uint8_t got[16 * KiB];
	uint64_t pos = 0;
	struct fg_layout lay;
	struct fg_conn *c;
	struct fg *fg;
	struct job j;
	int lfd, fd, e;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen");
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	CHECK(fg->event_idx && fg->tx_indirect,
	      "host does not offer EVENT_IDX and INDIRECT_DESC (features %#llx)",
	      (unsigned long long)fg->features_offered);

	/* guest -> host */
	fd = g2h_pair(fg, lfd, hport(0), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	job_init(&j, JOB_RECV_PATTERN, fd, 61, n);
	j.timeout_ms = 60000;
	CHECK(!job_start(&j), "thread");
	CHECK(fg_conn_write(c, NULL, n, 61, 0, 0, 0, 60000) == n, "guest write");
	CHECK(job_wait(fg, &j, 60000) && j.bytes == n && !j.bad,
	      "host got %llu bytes, %llu bad, %s", (unsigned long long)j.bytes,
	      (unsigned long long)j.bad, kt_errname(j.err));

	/* indirect tables of every shape for a small packet */
	for (uint32_t k = 1; k < FG_HDR_LEN + 8; k++) {
		for (uint32_t m = k; m < FG_HDR_LEN + 8; m += 7) {
			uint32_t l[3] = { k, m - k, FG_HDR_LEN + 8 - m };
			uint8_t p[8];

			fg_layout_lens(&lay, 3, l);
			lay.indirect = true;
			pat_fill(p, 8, 62, pos);
			CHECK(!fg_conn_send(c, FG_OP_RW, 0, p, 8, &lay), "send");
			pos += 8;
		}
	}
	CHECK(fg_tx_drain(fg, 5000), "indirect chains not consumed");
	CHECK(h_read(fg, fd, got, (size_t)pos, 5000, &e) == pos &&
	      pat_check(got, pos, 62, 0) < 0,
	      "indirect packets not delivered intact: %s", kt_errname(e));
	close(fd);

	/* host -> guest */
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "connect: %s", kt_errname(-fd));
	fg_conn_sink(c, 63);
	job_init(&j, JOB_SEND_PATTERN, fd, 63, n);
	CHECK(!job_start(&j), "thread");
	fg_conn_wait_rx(c, n, 60000);
	CHECK(job_wait(fg, &j, 5000) && c->rx_cnt == n && !c->sink_bad,
	      "guest got %llu bytes, %llu bad", (unsigned long long)c->rx_cnt,
	      (unsigned long long)c->sink_bad);
	kt_diag("event index: %llu rx calls for %llu rx buffers, %llu tx kicks for %llu tx chains",
		(unsigned long long)fg->vq[FG_VQ_RX].calls,
		(unsigned long long)fg->vq[FG_VQ_RX].used_total,
		(unsigned long long)fg->vq[FG_VQ_TX].kicks,
		(unsigned long long)fg->vq[FG_VQ_TX].avail_idx);
	close(fd);
	close(lfd);
	return finish(KT_PASS);
}
