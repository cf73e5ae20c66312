// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-vsock protocol engine as seen from sockets over the loopback
 * device (CID 1): data integrity, credit-based flow control, many and
 * concurrent connections, port and socket leaks.  Output is KTAP.
 *
 * "Correct" is what stock Linux 6.12 vsock + vsock_loopback does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/vm_sockets_diag.h>

#include "util.h"

#define UNUSED __attribute__((unused))
#define CASE(fn) static int fn(const struct kt_case *tc UNUSED)
#define TYPE ((int)tc->arg)

#define KiB 1024UL
#define MiB (1024UL * 1024UL)

/* ------------------------------------------------------------------ */
/* data integrity                                                      */

struct stream_job {
	int fd;
	size_t total;
	uint32_t seed;
	size_t chunk;		/* 0: vary the chunk size */
	bool shut_wr;		/* shutdown(SHUT_WR) when done, else close */
};

/* chunk sizes that do not line up with packet or buffer sizes */
static size_t vary_chunk(unsigned int i)
{
	static const size_t sz[] = { 1, 4096, 65536, 3, 100000, 512, 65537,
				     262144, 777, 131072, 1, 40000 };

	return sz[i % (sizeof(sz) / sizeof(sz[0]))];
}

static int stream_send(void *p)
{
	struct stream_job *j = p;
	uint8_t *buf = malloc(262144);
	size_t off = 0;
	unsigned int i = 0;

	if (!buf)
		return 3;
	while (off < j->total) {
		size_t n = j->chunk ? j->chunk : vary_chunk(i++);
		ssize_t w;

		if (n > j->total - off)
			n = j->total - off;
		pat_fill(buf, n, j->seed, off);
		w = send(j->fd, buf, n, 0);
		if (w <= 0) {
			kt_diag("sender: send at offset %zu: %s", off,
				w < 0 ? kt_errname(errno) : "returned 0");
			return 1;
		}
		off += (size_t)w;
	}
	if (j->shut_wr)
		shutdown(j->fd, SHUT_WR);
	else
		close(j->fd);
	free(buf);
	return 0;
}

/* Receive until EOF; check the pattern and the exact total. */
static int stream_recv_check(int fd, size_t total, uint32_t seed, size_t chunk)
{
	uint8_t *buf = malloc(262144);
	size_t off = 0;
	unsigned int i = 5;

	if (!buf)
		return -1;
	for (;;) {
		size_t n = chunk ? chunk : vary_chunk(i++);
		ssize_t r;
		long bad;

		r = recv(fd, buf, n, 0);
		if (r < 0) {
			kt_diag("receiver: recv at offset %zu of %zu: %s", off,
				total, kt_errname(errno));
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		if (off + (size_t)r > total) {
			kt_diag("receiver: got %zu bytes, more than the %zu sent",
				off + (size_t)r, total);
			free(buf);
			return -1;
		}
		bad = pat_check(buf, (size_t)r, seed, off);
		if (bad >= 0) {
			kt_diag("receiver: data mismatch at offset %zu",
				off + (size_t)bad);
			free(buf);
			return -1;
		}
		off += (size_t)r;
	}
	free(buf);
	if (off != total) {
		kt_diag("receiver: expected %zu bytes before EOF, got %zu",
			total, off);
		return -1;
	}
	return 0;
}

CASE(integrity_stream)
{
	struct stream_job j = { .total = (size_t)tc->arg, .seed = 11 };
	int c, s;
	pid_t pid;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	j.fd = c;
	pid = fork_fn(stream_send, &j);
	KT_ASSERT(pid > 0, "fork");
	close(c);
	KT_ASSERT(stream_recv_check(s, j.total, j.seed, 0) == 0, "transfer");
	KT_EQ(wait_child(pid, 60000), 0);
	close(s);
	return KT_PASS;
}

CASE(integrity_stream_64mib)
{
	struct stream_job j = { .total = 64 * MiB, .seed = 12, .chunk = 262144 };
	long t0 = kt_now_ms(), dt;
	int c, s;
	pid_t pid;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	j.fd = c;
	pid = fork_fn(stream_send, &j);
	KT_ASSERT(pid > 0, "fork");
	close(c);
	KT_ASSERT(stream_recv_check(s, j.total, j.seed, 262144) == 0, "transfer");
	KT_EQ(wait_child(pid, 60000), 0);
	dt = kt_now_ms() - t0;
	kt_diag("64 MiB in %ld ms (%.1f MiB/s)", dt, dt ? 64000.0 / dt : 0.0);
	close(s);
	return KT_PASS;
}

/* Both directions at once, each ended by SHUT_WR. */
CASE(integrity_bidirectional_half_close)
{
	struct stream_job a = { .total = 4 * MiB, .seed = 21, .shut_wr = true };
	struct stream_job b = { .total = 3 * MiB + 5, .seed = 22, .shut_wr = true };
	int c, s;
	pid_t pa, pb;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	a.fd = c;
	b.fd = s;
	pa = fork_fn(stream_send, &a);
	pb = fork_fn(stream_send, &b);
	KT_ASSERT(pa > 0 && pb > 0, "fork");
	fflush(stdout);
	{
		pid_t pr = fork();

		if (pr == 0)
			_exit(stream_recv_check(c, b.total, b.seed, 0) ? 1 : 0);
		KT_ASSERT(stream_recv_check(s, a.total, a.seed, 0) == 0, "c->s");
		KT_EQ(wait_child(pr, 30000), 0);
	}
	KT_EQ(wait_child(pa, 30000), 0);
	KT_EQ(wait_child(pb, 30000), 0);
	close(c);
	close(s);
	return KT_PASS;
}

struct seq_job {
	int fd;
	int count;
	uint32_t seed;
};

static size_t seq_size(int i)
{
	/* 1 .. 65536, deterministic: a step through a prime period */
	const uint64_t period = 1000003, x = ((uint64_t)i * 104729 + 3 * 7919) % period;

	return 1 + (size_t)(x * 65536ULL / period);
}

static int seq_send(void *p)
{
	struct seq_job *j = p;
	uint8_t *buf = malloc(65536 + 4);

	if (!buf)
		return 3;
	for (int i = 0; i < j->count; i++) {
		size_t n = seq_size(i);

		pat_fill(buf, n, j->seed + (uint32_t)i, 0);
		memcpy(buf, &i, n < 4 ? n : 4);
		if (send(j->fd, buf, n, 0) != (ssize_t)n) {
			kt_diag("sender: record %d (%zu bytes): %s", i, n,
				kt_errname(errno));
			return 1;
		}
	}
	free(buf);
	return 0;
}

CASE(integrity_seqpacket_records)
{
	struct seq_job j = { .count = 1500, .seed = 31 };
	uint8_t *buf = malloc(262144), *ref = malloc(65536);
	int c, s;
	pid_t pid;

	KT_ASSERT(buf && ref, "malloc");
	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	j.fd = c;
	pid = fork_fn(seq_send, &j);
	KT_ASSERT(pid > 0, "fork");
	for (int i = 0; i < j.count; i++) {
		size_t n = seq_size(i);
		ssize_t r = recv(s, buf, 262144, 0);

		KT_ASSERT(r == (ssize_t)n, "record %d: expected %zu bytes, got %zd (%s)",
			  i, n, r, r < 0 ? kt_errname(errno) : "");
		pat_fill(ref, n, j.seed + (uint32_t)i, 0);
		memcpy(ref, &i, n < 4 ? n : 4);
		KT_ASSERT(!memcmp(buf, ref, n), "record %d: data mismatch", i);
	}
	KT_EQ(wait_child(pid, 30000), 0);
	close(c);
	KT_EQ(recv(s, buf, 262144, 0), 0);
	close(s);
	free(buf);
	free(ref);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* credit / flow control                                               */

/* Non-blocking send until EAGAIN; returns the byte count (pattern from
 * offset *off, which is advanced).
 */
static ssize_t fill_until_eagain(int fd, uint32_t seed, uint64_t *off,
				 size_t chunk)
{
	uint8_t buf[8192];
	ssize_t total = 0;

	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	for (;;) {
		ssize_t w;

		pat_fill(buf, chunk, seed, *off);
		w = send(fd, buf, chunk, MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN)
				return total;
			kt_diag("send: %s", kt_errname(errno));
			return -1;
		}
		*off += (uint64_t)w;
		total += w;
		if (total > (ssize_t)(64 * MiB)) {
			kt_diag("send never blocked");
			return -1;
		}
	}
}

/* read exactly LEN bytes (non-blocking fd allowed, with poll) and check */
static int drain_check(int fd, size_t len, uint32_t seed, uint64_t *off)
{
	uint8_t buf[8192];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
		long bad;

		if (r < 0 && errno == EAGAIN) {
			if (!(poll1(fd, POLLIN, 3000) & POLLIN)) {
				kt_diag("reader: no data for 3 s, %zu bytes missing", len);
				return -1;
			}
			continue;
		}
		if (r <= 0) {
			kt_diag("reader: recv: %s", r ? kt_errname(errno) : "EOF");
			return -1;
		}
		bad = pat_check(buf, (size_t)r, seed, *off);
		if (bad >= 0) {
			kt_diag("reader: mismatch at offset %llu",
				(unsigned long long)(*off + (uint64_t)bad));
			return -1;
		}
		*off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

CASE(credit_small_peer_buffer)
{
	unsigned int port = tport(0);
	uint64_t woff = 0, roff = 0;
	int l, c, s, ev;
	ssize_t n;

	l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, 1));
	/* the accepted socket inherits a 4 KiB receive buffer */
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	c = KT_OK(vclient(SOCK_STREAM, port));
	s = KT_OK(accept(l, NULL, NULL));
	close(l);

	/* the sender may queue exactly the peer's buffer size, no more */
	n = fill_until_eagain(c, 41, &woff, 1000);
	KT_EQ(n, 4096);
	ev = poll1(c, POLLOUT, 200);
	KT_ASSERT(!(ev & POLLOUT), "POLLOUT with no credit: %s", pollstr(ev));
	KT_ERRNO(send(c, "x", 1, MSG_DONTWAIT), EAGAIN);

	/* reading gives credit back and POLLOUT returns */
	KT_ASSERT(drain_check(s, 4096, 41, &roff) == 0, "drain");
	ev = poll1(c, POLLOUT, 3000);
	KT_ASSERT(ev & POLLOUT, "no POLLOUT after the reader drained: %s", pollstr(ev));

	/* several more rounds, with partial drains */
	for (int round = 0; round < 20; round++) {
		n = fill_until_eagain(c, 41, &woff, 333);
		KT_ASSERT(n > 0 && n <= 4096, "round %d: sent %zd", round, n);
		/* credit updates race with the sender: at most 4 KiB queued */
		KT_ASSERT(woff - roff <= 4096, "round %d: %llu bytes in flight",
			  round, (unsigned long long)(woff - roff));
		/* odd rounds leave up to 1000 bytes queued */
		{
			size_t q = (size_t)(woff - roff);

			if (round % 2 && q > 1000)
				q -= 1000;
			KT_ASSERT(drain_check(s, q, 41, &roff) == 0,
				  "round %d drain", round);
		}
		KT_ASSERT(poll1(c, POLLOUT, 3000) & POLLOUT, "round %d: no POLLOUT", round);
	}
	KT_ASSERT(drain_check(s, (size_t)(woff - roff), 41, &roff) == 0, "final drain");
	KT_ERRNO(recv(s, &ev, 1, MSG_DONTWAIT), EAGAIN);
	KT_EQ(roff, woff);
	close(c);
	close(s);
	return KT_PASS;
}

/* The sender's own buffer size also caps what it queues. */
CASE(credit_small_own_buffer)
{
	uint64_t woff = 0, roff = 0;
	int c, s;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	KT_OK(set_u64opt(c, SO_VM_SOCKETS_BUFFER_SIZE, 8192));
	KT_EQ(fill_until_eagain(c, 42, &woff, 1024), 8192);
	KT_ASSERT(drain_check(s, 8192, 42, &roff) == 0, "drain");
	close(c);
	close(s);
	return KT_PASS;
}

CASE(credit_tiny_writes_small_buffer)
{
	unsigned int port = tport(0);
	uint64_t woff = 0, roff = 0;
	int l, c, s;
	ssize_t n;

	l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, 1));
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	c = KT_OK(vclient(SOCK_STREAM, port));
	s = KT_OK(accept(l, NULL, NULL));
	close(l);
	/* 1-byte packets into a 4 KiB buffer: the receiver must cope with
	 * the per-packet overhead and not reset the connection
	 */
	n = fill_until_eagain(c, 43, &woff, 1);
	KT_EQ(n, 4096);
	usleep(100 * 1000);
	KT_EQ(sock_error(s), 0);
	KT_EQ(sock_error(c), 0);
	KT_ASSERT(drain_check(s, 4096, 43, &roff) == 0, "drain");
	KT_ASSERT(poll1(c, POLLOUT, 3000) & POLLOUT, "no POLLOUT");
	n = fill_until_eagain(c, 43, &woff, 7);
	KT_ASSERT(n > 0 && n <= 4096, "second round: %zd", n);
	KT_ASSERT(drain_check(s, (size_t)n, 43, &roff) == 0, "drain 2");
	close(c);
	close(s);
	return KT_PASS;
}

struct slow_reader {
	int fd;
	int other;	/* the sender's fd, closed in the reader */
	size_t total;
	uint32_t seed;
};

static int slow_read(void *p)
{
	struct slow_reader *r = p;
	uint8_t buf[1024];
	size_t off = 0;

	close(r->other);
	usleep(200 * 1000);
	while (off < r->total) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);

		if (n <= 0) {
			kt_diag("slow reader: %s at %zu",
				n ? kt_errname(errno) : "EOF", off);
			return 1;
		}
		if (pat_check(buf, (size_t)n, r->seed, off) >= 0) {
			kt_diag("slow reader: mismatch near %zu", off);
			return 1;
		}
		off += (size_t)n;
		if ((off / 1024) % 64 == 0)
			usleep(1000);
	}
	if (recv(r->fd, buf, sizeof(buf), 0) != 0) {
		kt_diag("slow reader: no EOF after %zu bytes", off);
		return 1;
	}
	return 0;
}

CASE(credit_blocking_sender_slow_reader)
{
	unsigned int port = tport(0);
	struct slow_reader r = { .total = 2 * MiB, .seed = 44 };
	struct stream_job j = { .total = 2 * MiB, .seed = 44, .chunk = 65536 };
	int l, c, s;
	pid_t pid;

	l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, 1));
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	c = KT_OK(vclient(SOCK_STREAM, port));
	s = KT_OK(accept(l, NULL, NULL));
	close(l);
	r.fd = s;
	r.other = c;
	pid = fork_fn(slow_read, &r);
	close(s);
	j.fd = c;
	/* blocking sends of 64 KiB into a 4 KiB window */
	KT_EQ(stream_send(&j), 0);
	KT_EQ(wait_child(pid, 60000), 0);
	return KT_PASS;
}

CASE(credit_sndtimeo)
{
	uint64_t woff = 0;
	uint8_t buf[100];
	long t0, dt;
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_OK(set_u64opt(s, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	KT_OK(sync_from(s, c));
	if (TYPE == SOCK_STREAM) {
		KT_EQ(fill_until_eagain(c, 45, &woff, 1024), 4096);
	} else {
		for (int i = 0; i < 4; i++)
			KT_EQ(send(c, buf, 1024, MSG_DONTWAIT), 1024);
		KT_ERRNO(send(c, buf, 1, MSG_DONTWAIT), EAGAIN);
	}
	KT_OK(set_timeo(c, SO_SNDTIMEO, 200));
	t0 = kt_now_ms();
	KT_ERRNO(send(c, buf, sizeof(buf), 0), EAGAIN);
	dt = kt_now_ms() - t0;
	KT_ASSERT(dt >= 150 && dt < 5000, "send waited %ld ms", dt);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(credit_close_wakes_blocked_send)
{
	uint64_t woff = 0;
	uint8_t buf[1000];
	long t0, dt;
	int c, s;
	pid_t pid;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	KT_OK(set_u64opt(s, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	KT_OK(sync_from(s, c));
	KT_EQ(fill_until_eagain(c, 46, &woff, 1024), 4096);
	pid = fork_fn(close_later, &s);
	close(s);
	t0 = kt_now_ms();
	/* blocked for credit; the peer's close ends it with EPIPE */
	KT_ERRNO(send(c, buf, sizeof(buf), 0), EPIPE);
	dt = kt_now_ms() - t0;
	KT_ASSERT(dt >= 100, "send returned after only %ld ms", dt);
	KT_EQ(wait_child(pid, 3000), 0);
	close(c);
	return KT_PASS;
}

/* Credit updates that SO_RCVLOWAT depends on (the receiver holds back
 * credit updates while lots of buffer space is free; both cases below
 * deadlock if the receiver never sends one).  Buffer 128 KiB, the sender
 * queues 128 KiB + 1 byte; the receiver reads 64 KiB and then waits for
 * 64 KiB + 1 byte, which needs the sender's last byte.
 */
static int rcvlowat_credit(int lowat_first)
{
	const size_t B = 128 * KiB, H = 64 * KiB;
	uint8_t *buf = malloc(B + 1);
	uint64_t roff = 0;
	int c, s, v, ev;
	pid_t pid;

	KT_ASSERT(buf, "malloc");
	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	KT_OK(set_u64opt(s, SO_VM_SOCKETS_BUFFER_SIZE, B));
	v = (int)(H + 1);
	if (lowat_first)
		KT_OK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	/* let the buffer size reach the sender before it starts */
	KT_EQ(send(s, "g", 1, 0), 1);
	KT_EQ(recv(c, buf, 1, 0), 1);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pat_fill(buf, B + 1, 47, 0);
		_exit(send(c, buf, B + 1, 0) == (ssize_t)(B + 1) ? 0 : 1);
	}
	/* wait for the full buffer */
	for (int i = 0; i < 300; i++) {
		ssize_t n = recv(s, buf, B, MSG_PEEK | MSG_DONTWAIT);

		if (n == (ssize_t)B)
			break;
		usleep(10 * 1000);
	}
	KT_EQ(recv(s, buf, B, MSG_PEEK | MSG_DONTWAIT), B);
	/* dequeue 64 KiB: with SO_RCVLOWAT set, rx bytes < low-water mark
	 * makes the receiver send a credit update
	 */
	KT_ASSERT(drain_check(s, H, 47, &roff) == 0, "read 64 KiB");
	if (!lowat_first) {
		/* raising SO_RCVLOWAT above what is queued sends one */
		KT_OK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	}
	ev = poll1(s, POLLIN | POLLRDHUP, 3000);
	KT_ASSERT(ev & POLLIN, "low-water mark never reached: %s", pollstr(ev));
	KT_EQ(wait_child(pid, 3000), 0);
	KT_ASSERT(drain_check(s, H + 1, 47, &roff) == 0, "drain");
	close(c);
	close(s);
	free(buf);
	return KT_PASS;
}

CASE(credit_update_on_set_rcvlowat)
{
	return rcvlowat_credit(0);
}

CASE(credit_update_low_rx_bytes)
{
	return rcvlowat_credit(1);
}

/* ------------------------------------------------------------------ */
/* ping-pong                                                           */

CASE(pingpong_1000)
{
	int c, s, n = 1000;
	pid_t pid;
	long t0 = kt_now_ms();

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned char ch;

		for (int i = 0; i < n; i++) {
			if (recv(s, &ch, 1, 0) != 1)
				_exit(1);
			ch = (unsigned char)(ch + 1);
			if (send(s, &ch, 1, 0) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(s);
	for (int i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)i, r = 0;

		KT_EQ(send(c, &ch, 1, 0), 1);
		KT_EQ(recv(c, &r, 1, 0), 1);
		KT_ASSERT(r == (unsigned char)(i + 1), "round %d: sent %u got %u", i,
			  ch, r);
	}
	KT_EQ(wait_child(pid, 5000), 0);
	kt_diag("%d round trips in %ld ms", n, kt_now_ms() - t0);
	close(c);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* many connections                                                    */

#define NCONC 64
#define CONC_BYTES (128 * KiB)

static int conc_clients(void *p)
{
	unsigned int port = *(unsigned int *)p;
	struct pollfd pfd[NCONC];
	size_t sent[NCONC];
	uint8_t buf[16384];
	int left = NCONC;

	for (int i = 0; i < NCONC; i++) {
		uint32_t idx = (uint32_t)i;

		pfd[i].fd = vclient(SOCK_STREAM, port);
		if (pfd[i].fd < 0) {
			kt_diag("client %d: connect: %s", i, kt_errname(errno));
			return 1;
		}
		/* 4-byte index header first */
		if (send(pfd[i].fd, &idx, 4, 0) != 4)
			return 1;
		set_nonblock(pfd[i].fd, true);
		pfd[i].events = POLLOUT;
		sent[i] = 0;
	}
	while (left) {
		int r = poll(pfd, NCONC, 10000);

		if (r <= 0) {
			kt_diag("clients: poll %s", r ? kt_errname(errno) : "timeout");
			return 1;
		}
		for (int i = 0; i < NCONC; i++) {
			size_t n;
			ssize_t w;

			if (pfd[i].fd < 0 || !(pfd[i].revents & POLLOUT))
				continue;
			n = CONC_BYTES - sent[i];
			if (n > sizeof(buf))
				n = sizeof(buf);
			pat_fill(buf, n, 100 + (uint32_t)i, sent[i]);
			w = send(pfd[i].fd, buf, n, 0);
			if (w < 0 && errno == EAGAIN)
				continue;
			if (w <= 0) {
				kt_diag("client %d: send: %s", i, kt_errname(errno));
				return 1;
			}
			sent[i] += (size_t)w;
			if (sent[i] == CONC_BYTES) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				left--;
			}
		}
	}
	return 0;
}

CASE(concurrent_64_connections)
{
	unsigned int port = tport(0);
	struct pollfd pfd[NCONC];
	size_t got[NCONC];
	int idx[NCONC], hdr[NCONC];
	uint32_t hv[NCONC];
	bool seen[NCONC] = { false };
	uint8_t buf[16384];
	int l, left = NCONC;
	pid_t pid;

	l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, NCONC));
	pid = fork_fn(conc_clients, &port);
	KT_ASSERT(pid > 0, "fork");
	/* accept all first: every connection is open at the same time */
	for (int i = 0; i < NCONC; i++) {
		KT_OK(set_timeo(l, SO_RCVTIMEO, 10000));
		pfd[i].fd = KT_OK(accept(l, NULL, NULL));
		pfd[i].events = POLLIN;
		set_nonblock(pfd[i].fd, true);
		got[i] = 0;
		hdr[i] = 0;
		idx[i] = -1;
	}
	while (left) {
		int r = poll(pfd, NCONC, 10000);

		KT_ASSERT(r > 0, "poll: %s", r ? kt_errname(errno) : "timeout");
		for (int i = 0; i < NCONC; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (hdr[i] < 4) {
				n = recv(pfd[i].fd, (char *)&hv[i] + hdr[i],
					 (size_t)(4 - hdr[i]), 0);
				if (n < 0 && errno == EAGAIN)
					continue;
				KT_ASSERT(n > 0, "conn %d header: %s", i,
					  n ? kt_errname(errno) : "EOF");
				hdr[i] += (int)n;
				if (hdr[i] == 4) {
					KT_ASSERT(hv[i] < NCONC && !seen[hv[i]],
						  "conn %d: bad index %u", i, hv[i]);
					seen[hv[i]] = true;
					idx[i] = (int)hv[i];
				}
				continue;
			}
			n = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EAGAIN)
				continue;
			KT_ASSERT(n >= 0, "conn %d: recv: %s", idx[i], kt_errname(errno));
			if (n == 0) {
				KT_ASSERT(got[i] == CONC_BYTES,
					  "conn %d: EOF after %zu of %lu bytes",
					  idx[i], got[i], CONC_BYTES);
				close(pfd[i].fd);
				pfd[i].fd = -1;
				left--;
				continue;
			}
			KT_ASSERT(got[i] + (size_t)n <= CONC_BYTES, "conn %d: too much data", idx[i]);
			KT_ASSERT(pat_check(buf, (size_t)n, 100 + (uint32_t)idx[i], got[i]) < 0,
				  "conn %d: data mismatch near %zu", idx[i], got[i]);
			got[i] += (size_t)n;
		}
	}
	KT_EQ(wait_child(pid, 10000), 0);
	close(l);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* sock_diag: count the AF_VSOCK sockets in the system                 */

/* PORT 0: all sockets; else those with PORT as local or peer port */
static int diag_count(unsigned int port)
{
	struct {
		struct nlmsghdr nlh;
		struct vsock_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = AF_VSOCK,
			.vdiag_states = ~0u,
		},
	};
	static char buf[65536];
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int count = 0;

	if (fd < 0)
		return -1;
	if (send(fd, &msg, sizeof(msg), 0) != sizeof(msg)) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0) {
			close(fd);
			return -1;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct vsock_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return count;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				close(fd);
				errno = -e->error;
				return -1;
			}
			if (!port || m->vdiag_src_port == port ||
			    m->vdiag_dst_port == port)
				count++;
		}
	}
}

/* wait until at most MAX sockets are left (they close asynchronously) */
static int diag_wait_max(unsigned int port, int max, long ms)
{
	long end = kt_now_ms() + ms;
	int n;

	do {
		n = diag_count(port);
		if (n < 0 || n <= max)
			return n;
		usleep(20 * 1000);
	} while (kt_now_ms() < end);
	return n;
}

static int read_sockets_used(void)
{
	FILE *f = fopen("/proc/net/sockstat", "r");
	char line[256];
	int used = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sockets: used %d", &used) == 1)
			break;
	fclose(f);
	return used;
}

CASE(many_bind_close_ephemeral)
{
	const int N = 10000;
	unsigned int first = 0, prev = 0;
	int before_diag, after_diag, before_used, after_used;

	before_diag = diag_count(0);
	before_used = read_sockets_used();
	for (int i = 0; i < N; i++) {
		struct sockaddr_vm a;
		socklen_t len = sizeof(a);
		int fd = KT_OK(vsock_socket(TYPE));

		KT_OK(vbind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY));
		KT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
		KT_ASSERT(a.svm_port > LAST_RESERVED_PORT, "port %u", a.svm_port);
		if (!i)
			first = a.svm_port;
		else
			KT_ASSERT(a.svm_port != prev, "same port twice in a row");
		prev = a.svm_port;
		close(fd);
		/* every so often: the port just released can be bound again */
		if (i % 500 == 0) {
			fd = KT_OK(vsock_socket(TYPE));
			KT_OK(vbind(fd, CID_LOCAL, a.svm_port));
			close(fd);
		}
	}
	/* the first port is free again too */
	{
		int fd = KT_OK(vsock_socket(TYPE));

		KT_OK(vbind(fd, CID_LOCAL, first));
		close(fd);
	}
	after_used = read_sockets_used();
	KT_ASSERT(after_used <= before_used + 2, "sockets in use: %d before, %d after",
		  before_used, after_used);
	if (before_diag >= 0) {
		after_diag = diag_wait_max(0, before_diag, 3000);
		KT_ASSERT(after_diag <= before_diag,
			  "vsock sockets: %d before, %d after", before_diag, after_diag);
	} else {
		kt_diag("sock_diag for AF_VSOCK unavailable (%s); checked sockstat only",
			kt_errname(errno));
	}
	return KT_PASS;
}

CASE(many_connect_close)
{
	const int N = 2000;
	unsigned int port = tport(0);
	int l, before, after;
	long t0 = kt_now_ms();

	before = diag_count(port);
	l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 16));
	for (int i = 0; i < N; i++) {
		int c = vclient(TYPE, port), s;
		char ch = 0;

		KT_ASSERT(c >= 0, "iteration %d: connect: %s", i, kt_errname(errno));
		s = KT_OK(accept(l, NULL, NULL));
		if (i % 10 == 0) {
			/* some traffic now and then */
			KT_EQ(send(c, "q", 1, 0), 1);
			KT_EQ(recv(s, &ch, 1, 0), 1);
		}
		/* alternate which side closes first */
		if (i & 1) {
			close(c);
			close(s);
		} else {
			close(s);
			close(c);
		}
	}
	kt_diag("%d connections in %ld ms", N, kt_now_ms() - t0);
	if (before >= 0) {
		/* all closed connections go away (only the listener remains) */
		after = diag_wait_max(port, 1, 5000);
		KT_ASSERT(before == 0 && after == 1,
			  "vsock sockets on port %u: %d before, %d after (expected 0, 1)",
			  port, before, after);
	} else {
		kt_diag("sock_diag for AF_VSOCK unavailable; no leak check");
	}
	close(l);
	return KT_PASS;
}

/* Many live connections at once, then all closed. */
CASE(many_open_connections)
{
	const int N = 400;
	unsigned int port = tport(0);
	int *cs = calloc((size_t)N, sizeof(int)), *ss = calloc((size_t)N, sizeof(int));
	int l, before, n;

	KT_ASSERT(cs && ss, "calloc");
	before = diag_count(port);
	l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, N));
	for (int i = 0; i < N; i++) {
		cs[i] = KT_OK(vclient(SOCK_STREAM, port));
		ss[i] = KT_OK(accept(l, NULL, NULL));
	}
	if (before >= 0) {
		/* the listener, the accepted sockets (local port PORT) and
		 * the clients (peer port PORT)
		 */
		n = diag_count(port);
		KT_ASSERT(before == 0 && n == 1 + 2 * N,
			  "diag sees %d sockets on port %u, expected %d (%d before)",
			  n, port, 1 + 2 * N, before);
	}
	for (int i = 0; i < N; i++) {
		unsigned char ch = (unsigned char)i, r;

		KT_EQ(send(cs[i], &ch, 1, 0), 1);
		KT_EQ(recv(ss[i], &r, 1, 0), 1);
		KT_ASSERT(r == ch, "connection %d: got %u", i, r);
	}
	for (int i = 0; i < N; i++) {
		close(cs[i]);
		close(ss[i]);
	}
	close(l);
	if (before >= 0) {
		n = diag_wait_max(port, 0, 5000);
		KT_ASSERT(n == 0, "%d sockets left on port %u", n, port);
	}
	free(cs);
	free(ss);
	return KT_PASS;
}

#define T(n, fn, a, t) { n, fn, (long)(a), t }

static const struct kt_case cases[] = {
	T("integrity_stream_1", integrity_stream, 1, 0),
	T("integrity_stream_4096", integrity_stream, 4096, 0),
	T("integrity_stream_65536", integrity_stream, 65536, 0),
	T("integrity_stream_1mib", integrity_stream, 1 * MiB, 0),
	T("integrity_stream_16mib", integrity_stream, 16 * MiB, 60),
	T("integrity_stream_64mib", integrity_stream_64mib, 0, 120),
	T("integrity_bidirectional_half_close", integrity_bidirectional_half_close, 0, 60),
	T("integrity_seqpacket_records", integrity_seqpacket_records, 0, 60),
	T("credit_small_peer_buffer", credit_small_peer_buffer, 0, 0),
	T("credit_small_own_buffer", credit_small_own_buffer, 0, 0),
	T("credit_tiny_writes_small_buffer", credit_tiny_writes_small_buffer, 0, 0),
	T("credit_blocking_sender_slow_reader", credit_blocking_sender_slow_reader, 0, 60),
	T("credit_sndtimeo_stream", credit_sndtimeo, SOCK_STREAM, 0),
	T("credit_sndtimeo_seqpacket", credit_sndtimeo, SOCK_SEQPACKET, 0),
	T("credit_close_wakes_blocked_send", credit_close_wakes_blocked_send, 0, 0),
	T("credit_update_on_set_rcvlowat", credit_update_on_set_rcvlowat, 0, 0),
	T("credit_update_low_rx_bytes", credit_update_low_rx_bytes, 0, 0),
	T("pingpong_1000_stream", pingpong_1000, SOCK_STREAM, 30),
	T("pingpong_1000_seqpacket", pingpong_1000, SOCK_SEQPACKET, 30),
	T("concurrent_64_connections", concurrent_64_connections, 0, 60),
	T("many_bind_close_ephemeral_stream", many_bind_close_ephemeral, SOCK_STREAM, 60),
	T("many_bind_close_ephemeral_seqpacket", many_bind_close_ephemeral, SOCK_SEQPACKET, 60),
	T("many_connect_close_stream", many_connect_close, SOCK_STREAM, 60),
	T("many_connect_close_seqpacket", many_connect_close, SOCK_SEQPACKET, 60),
	T("many_open_connections", many_open_connections, 0, 60),
};

int main(int argc, char **argv)
{
	ut_port_base_default = 45000;
	pat_init();
	return kt_run(argc, argv, cases, (int)(sizeof(cases) / sizeof(cases[0])));
}
