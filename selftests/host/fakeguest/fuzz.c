// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: random and mutated packets, then normal traffic (fuzz).
 */
#include "fakeguest.h"

/* ============================================================================
 * Fuzz
 * ==========================================================================*/

static uint32_t pick_u32(uint64_t *r)
{
	static const uint32_t edge[] = { 0, 1, 2, 0x7fffffff, 0x80000000u,
					 0xfffffffeu, 0xffffffffu, 65535, 65536,
					 65537 };

	if (fg_rand_below(r, 4) == 0)
		return edge[fg_rand_below(r, ARRAY_SIZE(edge))];
	return (uint32_t)fg_rand(r);
}

/* a random layout for `total` bytes (that may cut or pad the packet) */
static uint64_t fuzz_layout(uint64_t *r, struct fg_layout *lay, uint64_t total)
{
	uint32_t k = fg_rand_below(r, 100);
	uint32_t l[FG_MAX_SEGS];
	int n = 0;

	if (k >= 80 && k < 85)
		total = fg_rand_below(r, (uint32_t)total + 1);	/* cut */
	else if (k >= 85 && k < 90)
		total += 1 + fg_rand_below(r, 100);		/* junk after */
	if (total > 60000 || (k >= 55 && k < 80)) {
		uint32_t segs = 2 + fg_rand_below(r, 5);
		uint64_t left = total;

		for (uint32_t i = 0; i + 1 < segs && left; i++) {
			uint32_t piece = fg_rand_below(r, 4) ?
				fg_rand_below(r, (uint32_t)(left < 60000 ? left : 60000) + 1) : 0;

			if (total > 60000 && piece < left / 2)
				piece = (uint32_t)(left / 2 < 60000 ? left / 2 : 60000);
			l[n++] = piece;
			left -= piece;
		}
		while (left > 60000) {
			l[n++] = 60000;
			left -= 60000;
		}
		l[n++] = (uint32_t)left;
	} else if (k >= 95 && total <= 80) {
		for (uint64_t i = 0; i < total; i++)
			l[n++] = 1;
		if (!n)
			l[n++] = 0;
	} else {
		l[n++] = (uint32_t)total;
	}
	fg_layout_lens(lay, n, l);
	if (k >= 90 && k < 95 && n < FG_MAX_SEGS) {
		/* a device-writable descriptor at the end */
		lay->seg[n].len = 8 + fg_rand_below(r, 64);
		lay->seg[n].flags = FG_SEG_WRITE;
		lay->n = n + 1;
	}
	return total;
}

int t_fuzz(const struct kt_case *tc)
{
	const uint64_t n = env_u64("FG_FUZZ", 200000);
	uint64_t seed = env_u64("FG_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
	uint64_t r = seed, kinds[3] = { 0 };
	static uint8_t pkt[FG_HDR_LEN + 70100];
	struct job acc[2];
	struct fg_opts o = { .rx_buf = 44 + 4096 };
	struct fg_conn *c;
	struct fg *fg;
	int lfd[3], fd;
	long t0;

	(void)tc;
	kt_diag("fuzz: %llu packets, FG_SEED=%llu", (unsigned long long)n,
		(unsigned long long)seed);
	lfd[0] = vlistener(SOCK_STREAM, VMADDR_CID_ANY, hport(0), 16);
	lfd[1] = vlistener(SOCK_SEQPACKET, VMADDR_CID_ANY, hport(1), 16);
	CHECK(lfd[0] >= 0 && lfd[1] >= 0, "listen");
	for (int i = 0; i < 2; i++) {
		job_init(&acc[i], JOB_ACCEPT_CLOSE, lfd[i], 0, 0);
		CHECK(!job_start(&acc[i]), "thread");
	}
	fg = gopen_opts(0, &o);
	CHECK_FG(0);
	fg->tx_batch = 1;
	t0 = kt_now_ms();
	for (uint64_t i = 0; i < n; i++) {
		uint32_t kind = fg_rand_below(&r, 10), plen = 0;
		struct fg_layout lay;
		struct fg_txb b;
		struct fg_hdr h;
		uint64_t total;
		int e;

		fg_hdr_init(fg, &h, (uint16_t)(1 + fg_rand_below(&r, 7)),
			    (uint16_t)(1 + fg_rand_below(&r, 2)),
			    gport((int)fg_rand_below(&r, 8)),
			    hport((int)fg_rand_below(&r, 3)));
		h.buf_alloc = 65536;
		if (h.op == FG_OP_RW)
			plen = fg_rand_below(&r, 100) ? fg_rand_below(&r, 65) :
				1000 + fg_rand_below(&r, 69100);
		else if (!fg_rand_below(&r, 20))
			plen = 1 + fg_rand_below(&r, 16);
		if (h.op == FG_OP_SHUTDOWN)
			h.flags = fg_rand_below(&r, 4);
		h.len = plen;
		if (kind < 3) {
			/* random fields, biased to edges */
			kinds[0]++;
			switch (fg_rand_below(&r, 4)) {
			case 0:
				h.src_cid = fg_rand_below(&r, 2) ?
					fg->cid + fg_rand_below(&r, 3) - 1 :
					fg_rand(&r);
				break;
			case 1:
				h.dst_cid = fg_rand_below(&r, 2) ?
					fg_rand_below(&r, 4) : fg_rand(&r);
				break;
			default:
				break;
			}
			if (fg_rand_below(&r, 2))
				h.op = (uint16_t)pick_u32(&r);
			if (fg_rand_below(&r, 3) == 0)
				h.type = (uint16_t)pick_u32(&r);
			if (fg_rand_below(&r, 3) == 0)
				h.len = pick_u32(&r);
			if (fg_rand_below(&r, 2))
				h.flags = pick_u32(&r);
			h.buf_alloc = pick_u32(&r);
			h.fwd_cnt = pick_u32(&r);
			if (fg_rand_below(&r, 2))
				h.src_port = pick_u32(&r);
			if (fg_rand_below(&r, 4) == 0)
				h.dst_port = pick_u32(&r);
			fg_hdr_encode(&h, pkt);
		} else if (kind < 7) {
			/* a valid packet with 1..4 flipped bits in the header */
			int flips = 1 + (int)fg_rand_below(&r, 4);

			kinds[1]++;
			fg_hdr_encode(&h, pkt);
			for (int f = 0; f < flips; f++) {
				uint32_t bit = fg_rand_below(&r, FG_HDR_LEN * 8);

				pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
		} else {
			/* valid header, odd chain (below) */
			kinds[2]++;
			fg_hdr_encode(&h, pkt);
		}
		if (plen <= 64) {
			for (uint32_t k = 0; k < plen; k += 8) {
				uint64_t v = fg_rand(&r);

				memcpy(pkt + FG_HDR_LEN + k, &v, 8);
			}
		} else {
			pat_fill(pkt + FG_HDR_LEN, plen, i, 0);
		}
		total = FG_HDR_LEN + (uint64_t)plen;
		if (kind >= 7 || fg_rand_below(&r, 4) == 0)
			total = fuzz_layout(&r, &lay, total);
		else if (total > 60000) {
			uint32_t l[2] = { 60000, (uint32_t)(total - 60000) };

			fg_layout_lens(&lay, 2, l);
		} else {
			fg_layout_one(&lay, (uint32_t)total);
		}
		e = fg_tx_begin(fg, &b, &lay, 0, 10000);
		CHECK(!e, "host stopped consuming tx after %llu packets: %s",
		      (unsigned long long)i, kt_errname(-e));
		fg_txb_write(&b, pkt, total < sizeof(pkt) ? total : sizeof(pkt));
		fg_tx_commit(&b);
		if (!(i % 32)) {
			fg_kick(fg, FG_VQ_TX, false);
			fg_poll(fg, 0);
			if (fg->nstrays > FG_MAX_STRAYS / 2)
				fg_strays_clear(fg);
		}
	}
	fg_kick(fg, FG_VQ_TX, true);
	CHECK(fg_tx_drain(fg, 20000), "host did not consume the last packets (%u in flight)",
	      fg_tx_inflight(fg));
	fg_idle(fg, 300);
	kt_diag("fuzz: %llu packets (%llu random, %llu bit-flipped, %llu odd chains) in %ld ms",
		(unsigned long long)n, (unsigned long long)kinds[0],
		(unsigned long long)kinds[1], (unsigned long long)kinds[2],
		kt_now_ms() - t0);
	kt_diag("fuzz: host returned %llu tx chains, dropped %llu without returning, %llu error notifications",
		(unsigned long long)fg->vq[FG_VQ_TX].used_total,
		(unsigned long long)fg->vq[FG_VQ_TX].swallowed,
		(unsigned long long)fg_vq_errors(fg));
	kt_diag("fuzz: host sent RST %llu, RESPONSE %llu, other %llu; host accepted %d connections",
		(unsigned long long)fg->rx_by_op[FG_OP_RST],
		(unsigned long long)fg->rx_by_op[FG_OP_RESPONSE],
		(unsigned long long)(fg->rx_pkts - fg->rx_by_op[FG_OP_RST] -
				     fg->rx_by_op[FG_OP_RESPONSE]),
		acc[0].accepted + acc[1].accepted);
	for (int i = 0; i < 2; i++) {
		atomic_store(&acc[i].stop, 1);
		CHECK(job_wait(fg, &acc[i], 3000), "accept thread");
	}
	CHECK(!fg->errors, "host misbehaved during the fuzz run: %s", fg->first_error);

	/* a normal life afterwards, both directions, on the same instance */
	fg->tx_batch = 0;
	fg_strays_clear(fg);
	lfd[2] = h_listen(SOCK_STREAM, hport(2), 4);
	CHECK(lfd[2] >= 0, "listen");
	fd = g2h_pair(fg, lfd[2], hport(2), SOCK_STREAM, 0, &c);
	CHECK(fd >= 0, "guest->host connection after the fuzz run: %s", kt_errname(-fd));
	{
		struct job j;

		job_init(&j, JOB_RECV_PATTERN, fd, 17, 1 * MiB);
		j.timeout_ms = 20000;
		CHECK(!job_start(&j), "thread");
		CHECK(fg_conn_write(c, NULL, 1 * MiB, 17, 0, 0, 0, 20000) == 1 * MiB,
		      "guest write after fuzz");
		CHECK(job_wait(fg, &j, 20000) && j.bytes == 1 * MiB && !j.bad,
		      "host got %llu bytes, %llu bad after the fuzz run",
		      (unsigned long long)j.bytes, (unsigned long long)j.bad);
	}
	close(fd);
	fg_listen(fg, gport(20), FG_TYPE_STREAM, FGL_ACCEPT, 1 * MiB);
	fd = h2g_pair(fg, SOCK_STREAM, gport(20), 0, &c);
	CHECK(fd >= 0, "host->guest connection after the fuzz run: %s", kt_errname(-fd));
	fg_conn_sink(c, 18);
	{
		struct job j;

		job_init(&j, JOB_SEND_PATTERN, fd, 18, 1 * MiB);
		CHECK(!job_start(&j), "thread");
		fg_conn_wait_rx(c, 1 * MiB, 20000);
		CHECK(job_wait(fg, &j, 5000) && c->rx_cnt == 1 * MiB && !c->sink_bad,
		      "guest got %llu bytes (%llu bad) after the fuzz run",
		      (unsigned long long)c->rx_cnt, (unsigned long long)c->sink_bad);
	}
	close(fd);
	for (int i = 0; i < 3; i++)
		close(lfd[i]);
	return finish(KT_PASS);
}
