// SPDX-License-Identifier: GPL-2.0
/*
 * rawpeer: KTAP tests of the mvsock protocol engine against a peer that
 * user space plays through the test-only /dev/mvsock-rawdev device
 * (selftests/kmod). The peer sends well-formed, malformed, spoofed and
 * lying packets; each case checks what the core sends back and what the
 * local socket sees.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <linux/sockios.h>

#include "../kmod/mvsock_rawdev.h"
#include "../lib/vsock_util.h"
#include "num.h"
#include "rawpkt.h"

#define PEER_CID 77
#define HOST_CID 2

static int raw_fd = -1;

static int raw_open(uint32_t role, uint32_t cid, uint32_t max_queue)
{
	struct mvsock_rawdev_cfg cfg = { .role = role, .cid = cid,
					 .max_queue = max_queue };
	int fd = open("/dev/mvsock-rawdev", O_RDWR);

	if (fd < 0)
		return -1;
	if (ioctl(fd, MVSOCK_RAWDEV_START, &cfg)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void raw_reset(uint32_t max_queue)
{
	if (raw_fd >= 0)
		close(raw_fd);
	raw_fd = raw_open(2, PEER_CID, max_queue);
	if (raw_fd < 0) {
		printf("Bail out! cannot open rawdev: %s\n", strerror(errno));
		exit(1);
	}
}

static int peer_send(uint16_t op, uint16_t type, uint32_t sport,
		     uint32_t dport, uint32_t flags, uint32_t buf_alloc,
		     uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct pkt p;

	memset(&p.h, 0, sizeof(p.h));
	p.h.src_cid = PEER_CID;
	p.h.dst_cid = HOST_CID;
	p.h.src_port = sport;
	p.h.dst_port = dport;
	p.h.len = len;
	p.h.type = type;
	p.h.op = op;
	p.h.flags = flags;
	p.h.buf_alloc = buf_alloc;
	p.h.fwd_cnt = fwd_cnt;
	if (len)
		memcpy(p.data, data, len);
	return write(raw_fd, &p, HDR_LEN + len) == (ssize_t)(HDR_LEN + len) ?
	       0 : -1;
}

static int raw_write(const void *buf, size_t len)
{
	return write(raw_fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Next packet from the core within @ms, or -1. */
static int peer_recv(struct pkt *p, int ms)
{
	struct pollfd pfd = { .fd = raw_fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = read(raw_fd, p, sizeof(*p));
	if (n < HDR_LEN)
		return -1;
	return (int)n;
}

/* Skip packets until one with @op arrives. */
static int peer_expect(struct pkt *p, uint16_t op, int ms)
{
	while (peer_recv(p, ms) >= 0)
		if (p->h.op == op)
			return 0;
	return -1;
}

static void raw_stats(struct mvsock_rawdev_stats *st)
{
	memset(st, 0, sizeof(*st));
	ioctl(raw_fd, MVSOCK_RAWDEV_STATS, st);
}

static uint32_t local_port(int fd)
{
	struct sockaddr_vm a;
	socklen_t l = sizeof(a);

	getsockname(fd, (struct sockaddr *)&a, &l);
	return a.svm_port;
}

/* revents, 0 on timeout or error */
static int wait_fd(int fd, short ev, int ms)
{
	int r = poll1(fd, ev, ms);

	return r < 0 ? 0 : r;
}

/*
 * Connect a local socket to PEER_CID:@port, playing the peer; the peer
 * advertises @peer_buf. Returns the socket (non-blocking) or -1.
 */
static int connect_local(int type, uint32_t port, uint32_t peer_buf,
			 struct pkt *req)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = PEER_CID,
				 .svm_port = port };
	int fd = socket(AF_VSOCK, type | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t l = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    errno != EINPROGRESS) {
		fail("connect: %s", strerror(errno));
		goto err;
	}
	if (peer_expect(req, OP_REQUEST, 1000)) {
		fail("no REQUEST from core");
		goto err;
	}
	peer_send(OP_RESPONSE, req->h.type, port, req->h.src_port, 0, peer_buf,
		  0, NULL, 0);
	if (!(wait_fd(fd, POLLOUT, 2000) & POLLOUT)) {
		fail("socket not writable after RESPONSE");
		goto err;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err) {
		fail("SO_ERROR %d", err);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static bool t_request_fields(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5000, 65536, &p);
	bool ok;

	if (fd < 0)
		return false;
	ok = p.h.src_cid == HOST_CID && p.h.dst_cid == PEER_CID &&
	     p.h.dst_port == 5000 && p.h.src_port == local_port(fd) &&
	     p.h.len == 0 && p.h.type == TYPE_STREAM &&
	     p.h.buf_alloc == 262144 && p.h.fwd_cnt == 0;
	if (!ok)
		fail("REQUEST %lu:%u -> %lu:%u len %u type %u buf_alloc %u",
		     (unsigned long)p.h.src_cid, p.h.src_port,
		     (unsigned long)p.h.dst_cid, p.h.dst_port, p.h.len,
		     p.h.type, p.h.buf_alloc);
	close(fd);
	return ok;
}

static bool t_data_both_ways(void)
{
	char buf[1000], got[1000];
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5001, 65536, &p);
	uint32_t lport, inq = 0;
	bool ok = false;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	if (send(fd, buf, sizeof(buf), 0) != sizeof(buf)) {
		fail("send: %s", strerror(errno));
		goto out;
	}
	if (peer_expect(&p, OP_RW, 1000) || p.h.len != sizeof(buf) ||
	    memcmp(p.data, buf, sizeof(buf))) {
		fail("RW packet missing or wrong");
		goto out;
	}
	peer_send(OP_RW, TYPE_STREAM, 5001, lport, 0, 65536, 1000, buf, 500);
	if (!(wait_fd(fd, POLLIN, 1000) & POLLIN)) {
		fail("no POLLIN after peer data");
		goto out;
	}
	ioctl(fd, SIOCINQ, &inq);
	if (inq != 500) {
		fail("SIOCINQ %u, want 500", inq);
		goto out;
	}
	if (recv(fd, got, sizeof(got), 0) != 500 || memcmp(got, buf, 500)) {
		fail("recv of peer data wrong");
		goto out;
	}
	/* any packet from us now must carry fwd_cnt 500 */
	peer_send(OP_CREDIT_REQUEST, TYPE_STREAM, 5001, lport, 0, 65536, 1000,
		  NULL, 0);
	if (peer_expect(&p, OP_CREDIT_UPDATE, 1000) || p.h.fwd_cnt != 500) {
		fail("CREDIT_UPDATE after CREDIT_REQUEST missing or fwd_cnt %u",
		     p.h.fwd_cnt);
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_credit_respected(void)
{
	static char buf[200000];
	uint32_t total = 0, lport;
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5002, 65536, &p);
	bool ok = false, creq = false;
	ssize_t n;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 65536) {
		fail("first send %zd, want 65536 (peer credit)", n);
		goto out;
	}
	if (send(fd, buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN) {
		fail("send beyond credit did not fail with EAGAIN");
		goto out;
	}
	while (peer_recv(&p, 300) >= 0) {
		if (p.h.op == OP_RW)
			total += p.h.len;
		if (p.h.op == OP_CREDIT_REQUEST)
			creq = true;
	}
	if (total != 65536 || !creq) {
		fail("peer got %u bytes (want 65536), credit request %d", total,
		     creq);
		goto out;
	}
	if (wait_fd(fd, POLLOUT, 100) & POLLOUT) {
		fail("POLLOUT without credit");
		goto out;
	}
	peer_send(OP_CREDIT_UPDATE, TYPE_STREAM, 5002, lport, 0, 65536, 65536,
		  NULL, 0);
	if (!(wait_fd(fd, POLLOUT, 1000) & POLLOUT)) {
		fail("no POLLOUT after CREDIT_UPDATE");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_credit_lie_rst(void)
{
	static char buf[65536];
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5003, 65536, &p);
	uint32_t lport, sent = 0;
	bool ok = false;
	char c;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	/* we advertised 256 KiB: send 256 KiB + 1 without reading */
	while (sent < 262144) {
		peer_send(OP_RW, TYPE_STREAM, 5003, lport, 0, 65536, 0, buf,
			  sizeof(buf));
		sent += sizeof(buf);
	}
	peer_send(OP_RW, TYPE_STREAM, 5003, lport, 0, 65536, 0, buf, 1);
	if (peer_expect(&p, OP_RST, 1000)) {
		fail("no RST after the peer overran its credit");
		goto out;
	}
	if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
		fail("recv after reset: want ECONNRESET, got %s",
		     strerror(errno));
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

/* Malformed packets on a live connection are dropped and counted. */
static bool t_malformed_dropped(void)
{
	struct mvsock_rawdev_stats before, after;
	struct pkt p, bad;
	int fd = connect_local(SOCK_STREAM, 5004, 65536, &p);
	uint32_t lport;
	bool ok = false;
	char c = 'x', got;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	raw_stats(&before);
	memset(&bad, 0, sizeof(bad));
	bad.h = (struct hdr){ .src_cid = PEER_CID, .dst_cid = HOST_CID,
			      .src_port = 5004, .dst_port = lport,
			      .type = TYPE_STREAM, .op = OP_RW, .len = 100,
			      .buf_alloc = 65536 };
	raw_write(&bad, HDR_LEN + 10);		/* len says 100, 10 given */
	bad.h.len = 0;
	bad.h.op = 99;
	raw_write(&bad, HDR_LEN);		/* unknown op */
	bad.h.op = 0;
	raw_write(&bad, HDR_LEN);		/* OP_INVALID */
	bad.h.op = OP_RW;
	bad.h.src_cid = 78;
	bad.h.len = 1;
	raw_write(&bad, HDR_LEN + 1);		/* spoofed source CID */
	bad.h.src_cid = PEER_CID;
	bad.h.dst_cid = 5;
	raw_write(&bad, HDR_LEN + 1);		/* not addressed to us */
	bad.h.dst_cid = HOST_CID;
	bad.h.op = OP_SHUTDOWN;
	bad.h.len = 1;
	raw_write(&bad, HDR_LEN + 1);		/* control op with payload */
	raw_write(&bad, 20);			/* shorter than a header */
	raw_stats(&after);
	if (after.rx_bad - before.rx_bad != 7) {
		fail("rx_bad grew by %llu, want 7",
		     (unsigned long long)(after.rx_bad - before.rx_bad));
		goto out;
	}
	if (peer_recv(&p, 200) >= 0) {
		fail("core answered a dropped packet with op %u", p.h.op);
		goto out;
	}
	if (wait_fd(fd, POLLIN, 100) & POLLIN) {
		fail("dropped data reached the socket");
		goto out;
	}
	/* the connection still works */
	peer_send(OP_RW, TYPE_STREAM, 5004, lport, 0, 65536, 0, &c, 1);
	if (!(wait_fd(fd, POLLIN, 1000) & POLLIN) ||
	    recv(fd, &got, 1, 0) != 1 || got != 'x') {
		fail("connection broken after malformed packets");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_no_socket_rst(void)
{
	struct pkt p;

	peer_send(OP_REQUEST, TYPE_STREAM, 6000, 4321, 0, 65536, 0, NULL, 0);
	if (peer_expect(&p, OP_RST, 1000) || p.h.dst_port != 6000 ||
	    p.h.src_port != 4321 || p.h.dst_cid != PEER_CID) {
		fail("no (or misaddressed) RST for a REQUEST to a closed port");
		return false;
	}
	peer_send(OP_REQUEST, 9, 6000, 4321, 0, 65536, 0, NULL, 0);
	if (peer_expect(&p, OP_RST, 1000)) {
		fail("no RST for an unknown socket type");
		return false;
	}
	peer_send(OP_RST, TYPE_STREAM, 6000, 4321, 0, 0, 0, NULL, 0);
	if (peer_recv(&p, 200) >= 0) {
		fail("core answered an RST (op %u)", p.h.op);
		return false;
	}
	return true;
}

static int listen_local(int type, uint32_t port, int backlog)
{
	int fd = vlistener(type, VMADDR_CID_ANY, port, backlog);

	if (fd < 0)
		fail("listen setup: %s", strerror(errno));
	return fd;
}

static bool t_listener_accepts(void)
{
	struct sockaddr_vm peer, me;
	socklen_t l = sizeof(peer);
	int lfd = listen_local(SOCK_STREAM, 7000, 4), cfd = -1;
	struct pkt p;
	bool ok = false;

	if (lfd < 0)
		return false;
	peer_send(OP_REQUEST, TYPE_STREAM, 6001, 7000, 0, 65536, 0, NULL, 0);
	if (peer_expect(&p, OP_RESPONSE, 1000) || p.h.src_port != 7000 ||
	    p.h.dst_port != 6001) {
		fail("no RESPONSE to REQUEST");
		goto out;
	}
	cfd = accept(lfd, (struct sockaddr *)&peer, &l);
	l = sizeof(me);
	if (cfd < 0 || getsockname(cfd, (struct sockaddr *)&me, &l)) {
		fail("accept: %s", strerror(errno));
		goto out;
	}
	if (peer.svm_cid != PEER_CID || peer.svm_port != 6001 ||
	    me.svm_cid != HOST_CID || me.svm_port != 7000) {
		fail("accept addresses peer %u:%u me %u:%u", peer.svm_cid,
		     peer.svm_port, me.svm_cid, me.svm_port);
		goto out;
	}
	ok = true;
out:
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return ok;
}

static bool t_backlog_bounded(void)
{
	int lfd = listen_local(SOCK_STREAM, 7001, 1);
	int responses = 0, resets = 0;
	struct pkt p;

	if (lfd < 0)
		return false;
	for (uint32_t i = 0; i < 8; i++)
		peer_send(OP_REQUEST, TYPE_STREAM, 6100 + i, 7001, 0, 65536, 0,
			  NULL, 0);
	while (peer_recv(&p, 300) >= 0) {
		responses += p.h.op == OP_RESPONSE;
		resets += p.h.op == OP_RST;
	}
	close(lfd);
	if (responses > 2 || responses < 1 || responses + resets != 8) {
		fail("backlog 1: %d responses, %d resets", responses, resets);
		return false;
	}
	return true;
}

static bool t_peer_rst_is_eof(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5005, 65536, &p);
	uint32_t lport;
	bool ok = false;
	char c;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	peer_send(OP_RW, TYPE_STREAM, 5005, lport, 0, 65536, 0, "ab", 2);
	peer_send(OP_RST, TYPE_STREAM, 5005, lport, 0, 65536, 0, NULL, 0);
	if (!(wait_fd(fd, POLLRDHUP, 1000) & POLLRDHUP)) {
		fail("no POLLRDHUP after peer RST");
		goto out;
	}
	if (recv(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, 0) != 1 ||
	    recv(fd, &c, 1, 0) != 0) {
		fail("queued data then EOF expected after RST");
		goto out;
	}
	if (send(fd, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) {
		fail("send after peer RST: want EPIPE");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_peer_shutdown_gets_rst(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5006, 65536, &p);
	uint32_t lport;
	bool ok = false;
	char c;

	if (fd < 0)
		return false;
	lport = local_port(fd);
	peer_send(OP_SHUTDOWN, TYPE_STREAM, 5006, lport, 3, 65536, 0, NULL, 0);
	if (peer_expect(&p, OP_RST, 1000)) {
		fail("no RST after the peer's full SHUTDOWN");
		goto out;
	}
	if (recv(fd, &c, 1, MSG_DONTWAIT) != 0) {
		fail("recv after peer shutdown: want EOF");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_close_sends_shutdown(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5007, 65536, &p);

	if (fd < 0)
		return false;
	close(fd);
	if (peer_expect(&p, OP_SHUTDOWN, 1000) || p.h.flags != 3) {
		fail("close: no SHUTDOWN(RCV|SEND)");
		return false;
	}
	/* our RST completes the close; nothing more may come */
	peer_send(OP_RST, TYPE_STREAM, 5007, p.h.src_port, 0, 0, 0, NULL, 0);
	if (peer_recv(&p, 200) >= 0) {
		fail("unexpected op %u after close completed", p.h.op);
		return false;
	}
	return true;
}

static bool t_huge_peer_buffer_bounded(void)
{
	static char buf[65536];
	struct pkt p;
	long total = 0;
	ssize_t n;
	int fd;

	raw_reset(100000);
	fd = connect_local(SOCK_STREAM, 5008, 0xffffffffu, &p);
	if (fd < 0)
		return false;
	while ((n = send(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 &&
	       total < (256L << 20))
		total += n;
	close(fd);
	raw_reset(0);
	if (total > (4L << 20) + 65536) {
		fail("queued %ld bytes to a peer that never reads", total);
		return false;
	}
	if (total < 65536) {
		fail("only %ld bytes sent", total);
		return false;
	}
	return true;
}

static bool t_seqpacket_boundaries(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_SEQPACKET, 5009, 65536, &p);
	char buf[64];
	uint32_t lport;
	bool ok = false;
	struct msghdr mh = { 0 };
	struct iovec iov = { buf, 4 };

	if (fd < 0)
		return false;
	lport = local_port(fd);
	/* message "abcdef" split in two packets, then "xyz" */
	peer_send(OP_RW, TYPE_SEQPACKET, 5009, lport, 0, 65536, 0, "abc", 3);
	peer_send(OP_RW, TYPE_SEQPACKET, 5009, lport, 1, 65536, 0, "def", 3);
	peer_send(OP_RW, TYPE_SEQPACKET, 5009, lport, 3, 65536, 0, "xyz", 3);
	wait_fd(fd, POLLIN, 1000);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (recvmsg(fd, &mh, 0) != 4 || !(mh.msg_flags & MSG_TRUNC) ||
	    memcmp(buf, "abcd", 4)) {
		fail("first message: want 4 truncated bytes");
		goto out;
	}
	iov.iov_len = sizeof(buf);
	mh.msg_flags = 0;
	if (recvmsg(fd, &mh, 0) != 3 || memcmp(buf, "xyz", 3) ||
	    !(mh.msg_flags & MSG_EOR)) {
		fail("second message: want xyz with MSG_EOR");
		goto out;
	}
	if (send(fd, "hello", 5, 0) != 5 || peer_expect(&p, OP_RW, 1000) ||
	    p.h.len != 5 || !(p.h.flags & 1)) {
		fail("sent message lacks EOM");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool t_device_removal_resets(void)
{
	struct pkt p;
	int fd = connect_local(SOCK_STREAM, 5010, 65536, &p);
	bool ok = false;
	char c;

	if (fd < 0)
		return false;
	ioctl(raw_fd, MVSOCK_RAWDEV_STOP);
	if (!(wait_fd(fd, POLLERR | POLLIN, 1000) & (POLLERR | POLLHUP))) {
		fail("no POLLERR/POLLHUP after device removal");
		goto out;
	}
	if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
		fail("recv after device removal: want ECONNRESET");
		goto out;
	}
	ok = true;
out:
	close(fd);
	raw_reset(0);
	return ok;
}

/*
 * A peer that accepts and closes at once: the RESPONSE and the full
 * SHUTDOWN arrive before the connecting thread runs again. connect()
 * must still succeed (then read EOF), not time out.
 */
static bool t_connect_then_peer_close(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = PEER_CID,
				 .svm_port = 5012 };
	struct pkt p;
	int status = -1;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		char c;

		alarm(10);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			_exit(2);
		_exit(recv(fd, &c, 1, 0) == 0 ? 0 : 3);
	}
	if (peer_expect(&p, OP_REQUEST, 2000)) {
		fail("no REQUEST");
		goto out;
	}
	peer_send(OP_RESPONSE, TYPE_STREAM, 5012, p.h.src_port, 0, 65536, 0,
		  NULL, 0);
	peer_send(OP_SHUTDOWN, TYPE_STREAM, 5012, p.h.src_port, 3, 65536, 0,
		  NULL, 0);
out:
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("child: connect/recv failed (status %#x)", status);
		return false;
	}
	return true;
}

static uint32_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

/* Random and mutated packets, then a normal connection must still work. */
static bool t_fuzz(long count)
{
	static const uint32_t ops[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xffff };
	int lfd = listen_local(SOCK_STREAM, 7100, 64);
	struct pkt p, q;
	long i;
	int fd;
	bool ok;

	if (lfd < 0)
		return false;
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	for (i = 0; i < count; i++) {
		uint32_t r = rnd(), len = rnd() % 3 ? rnd() % 300 : 0;

		memset(&q.h, 0, sizeof(q.h));
		q.h.src_cid = r % 16 ? PEER_CID : rnd();
		q.h.dst_cid = r % 17 ? HOST_CID : rnd();
		q.h.src_port = 6200 + rnd() % 8;
		q.h.dst_port = rnd() % 4 ? 7100 : rnd();
		q.h.type = rnd() % 8 ? 1 + rnd() % 2 : rnd();
		q.h.op = ops[rnd() % 10];
		q.h.flags = rnd() % 4 ? rnd() % 4 : rnd();
		q.h.buf_alloc = rnd() % 2 ? 65536 : rnd();
		q.h.fwd_cnt = rnd();
		q.h.len = rnd() % 8 ? len : rnd();
		for (uint32_t j = 0; j < len; j++)
			q.data[j] = rnd();
		raw_write(&q, HDR_LEN + (rnd() % 16 ? len : rnd() % 400));
		while (peer_recv(&p, 0) >= 0)
			;
		if (i % 64 == 0) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0)
				close(c);
		}
	}
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			break;
		close(c);
	}
	close(lfd);
	while (peer_recv(&p, 100) >= 0)
		;
	fd = connect_local(SOCK_STREAM, 5011, 65536, &p);
	ok = fd >= 0 && send(fd, "ok", 2, 0) == 2 &&
	     !peer_expect(&p, OP_RW, 1000) && p.h.len == 2;
	if (!ok && !why[0])
		fail("connection after fuzzing failed");
	if (fd >= 0)
		close(fd);
	return ok;
}

/* the device of the peer: opened before the first case, again after a
 * case that took it away
 */
static void raw_before(void)
{
	if (raw_fd < 0)
		raw_reset(0);
}

static long fuzz_count = 50000;

static bool t_fuzz_count(void)
{
	return t_fuzz(fuzz_count);
}

RAW_CASE(t_request_fields)
RAW_CASE(t_data_both_ways)
RAW_CASE(t_credit_respected)
RAW_CASE(t_credit_lie_rst)
RAW_CASE(t_malformed_dropped)
RAW_CASE(t_no_socket_rst)
RAW_CASE(t_listener_accepts)
RAW_CASE(t_backlog_bounded)
RAW_CASE(t_peer_rst_is_eof)
RAW_CASE(t_peer_shutdown_gets_rst)
RAW_CASE(t_close_sends_shutdown)
RAW_CASE(t_huge_peer_buffer_bounded)
RAW_CASE(t_seqpacket_boundaries)
RAW_CASE(t_device_removal_resets)
RAW_CASE(t_connect_then_peer_close)
RAW_CASE(t_fuzz_count)

static const struct kt_case cases[] = {
	{ "rawpeer_request_fields", t_request_fields_kt, 0, 0 },
	{ "rawpeer_data_both_ways", t_data_both_ways_kt, 0, 0 },
	{ "rawpeer_credit_respected", t_credit_respected_kt, 0, 0 },
	{ "rawpeer_credit_lie_gets_rst", t_credit_lie_rst_kt, 0, 0 },
	{ "rawpeer_malformed_dropped_and_counted", t_malformed_dropped_kt, 0, 0 },
	{ "rawpeer_no_socket_gets_rst", t_no_socket_rst_kt, 0, 0 },
	{ "rawpeer_listener_accepts", t_listener_accepts_kt, 0, 0 },
	{ "rawpeer_backlog_bounded", t_backlog_bounded_kt, 0, 0 },
	{ "rawpeer_peer_rst_is_eof", t_peer_rst_is_eof_kt, 0, 0 },
	{ "rawpeer_peer_shutdown_gets_rst", t_peer_shutdown_gets_rst_kt, 0, 0 },
	{ "rawpeer_close_sends_shutdown", t_close_sends_shutdown_kt, 0, 0 },
	{ "rawpeer_huge_peer_buffer_bounded", t_huge_peer_buffer_bounded_kt, 0, 0 },
	{ "rawpeer_seqpacket_boundaries", t_seqpacket_boundaries_kt, 0, 0 },
	{ "rawpeer_device_removal_resets", t_device_removal_resets_kt, 0, 0 },
	{ "rawpeer_connect_then_peer_close", t_connect_then_peer_close_kt, 0, 0 },
	{ "rawpeer_fuzz", t_fuzz_count_kt, 0, 0 },
};

/* rawpeer [-l] [-v] [FUZZ_PACKETS] [PATTERN...] */
int main(int argc, char **argv)
{
	uint64_t n;

	if (argc > 1 && isdigit((unsigned char)argv[1][0])) {
		if (num_u64(argv[1], 10, 0, LONG_MAX, &n)) {
			fprintf(stderr, "rawpeer: bad fuzz packet count '%s'\n",
				argv[1]);
			return 2;
		}
		fuzz_count = (long)n;
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	return kt_run_inline(argc, argv, cases,
			     (int)(sizeof(cases) / sizeof(cases[0])));
}
