// SPDX-License-Identifier: GPL-2.0
/*
 * mdtool: the small AF_VSOCK actions the multi-device tests combine, on
 * either side of the nested topology (host = outer VM, guest = inner VM).
 * Every action prints one "key=value ..." line per event on stdout, so a
 * shell test can grep what it needs, and exits 0 on success, 1 on a failed
 * check, 2 on a usage error.
 *
 *   mdtool cids
 *	IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock ("local_cid=N") and
 *	IOCTL_MVSOCK_LIST_CIDS ("cid=N dev_id=N role=NAME default=0|1
 *	peer_cid=N", one line per device)
 *   mdtool serve [-b CID] [-n N] [-s] PORT
 *	listen on CID:PORT (default VMADDR_CID_ANY); print "listening" once
 *	ready; for each of N (default 1) connections print "accept
 *	local=CID:PORT peer=CID:PORT", send the same line to the peer and
 *	close. -s: SOCK_SEQPACKET.
 *   mdtool connect [-b CID] [-s] [-T SECS] CID PORT
 *	connect (after bind(CID, VMADDR_PORT_ANY) with -b); print
 *	"connected local=CID:PORT" and the server's line prefixed "server:",
 *	or "error=ENAME" (exit 1) when connect or the read fails.
 *   mdtool sink [-b CID] [-n N] PORT
 *	accept N (default 1) connections and read them concurrently to EOF;
 *	for each print and send back "sink local=... peer=... bytes=N
 *	sum=HEX" (FNV-1a over the bytes)
 *   mdtool send [-b CID] CID PORT BYTES [SEED]
 *	connect, send BYTES bytes of the data pattern of stream SEED, shut down
 *	writing, read the sink's line and compare its byte count and sum with
 *	what was sent: "send ok bytes=N sum=HEX local=..." or "send MISMATCH
 *	..." (exit 1)
 *   mdtool hold [-b CID] CID PORT
 *	connect and wait until the connection ends; print "held local=..."
 *	when connected and "ended errno=ENAME|eof after=SECS" at the end
 *	(the tests start it in the background and look at how it ended)
 *   mdtool noread [-b CID] PORT
 *	accept one connection and never read from it (a stalled receiver);
 *	print "accept local=... peer=..."; exit on SIGTERM
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../../include/uapi/linux/mvsock.h"
#include "../lib/vsock_util.h"
#include "num.h"

#define PROG "mdtool"
#define LINE_MAX_LEN 256
#define MAX_SINKS 16

struct opts {
	unsigned int bind_cid;	/* VMADDR_CID_ANY: no explicit bind */
	unsigned int count;
	int type;
	unsigned int timeout;
};

static const char *errname(int e)
{
	switch (e) {
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENODEV: return "ENODEV";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EADDRINUSE: return "EADDRINUSE";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EPIPE: return "EPIPE";
	case ENOTCONN: return "ENOTCONN";
	case EINTR: return "EINTR";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ESHUTDOWN: return "ESHUTDOWN";
	default: return strerrorname_np(e) ? strerrorname_np(e) : "E?";
	}
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " cids\n"
		"       " PROG " serve [-b CID] [-n N] [-s] PORT\n"
		"       " PROG " connect [-b CID] [-s] [-T SECS] CID PORT\n"
		"       " PROG " sink [-b CID] [-n N] PORT\n"
		"       " PROG " send [-b CID] CID PORT BYTES [SEED]\n"
		"       " PROG " hold [-b CID] CID PORT\n"
		"       " PROG " noread [-b CID] PORT\n");
	exit(2);
}

/* a number argument in [0, max], else a usage error */
static uint64_t num(const char *s, uint64_t max)
{
	uint64_t v;

	if (num_u64(s, 0, 0, max, &v)) {
		fprintf(stderr, PROG ": bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static unsigned long long size_arg(const char *s)
{
	uint64_t v;

	if (vu_parse_size(s, 0, UINT64_MAX, &v)) {
		fprintf(stderr, PROG ": bad size '%s'\n", s);
		exit(2);
	}
	return v;
}

static void fmt_addr(char *buf, size_t len, const struct sockaddr_vm *a)
{
	snprintf(buf, len, "%u:%u", a->svm_cid, a->svm_port);
}

/* "local=C:P peer=C:P" of a connected socket */
static void fmt_ends(int fd, char *buf, size_t len)
{
	struct sockaddr_vm l = vaddr(0, 0), p = vaddr(0, 0);
	socklen_t ll = sizeof(l), pl = sizeof(p);
	char ls[32], ps[32];

	if (getsockname(fd, (struct sockaddr *)&l, &ll))
		snprintf(ls, sizeof(ls), "?(%s)", errname(errno));
	else
		fmt_addr(ls, sizeof(ls), &l);
	if (getpeername(fd, (struct sockaddr *)&p, &pl))
		snprintf(ps, sizeof(ps), "?(%s)", errname(errno));
	else
		fmt_addr(ps, sizeof(ps), &p);
	snprintf(buf, len, "local=%s peer=%s", ls, ps);
}

static int vsock(int type)
{
	int fd = vsock_socket(type);

	if (fd < 0) {
		out("error=%s op=socket", errname(errno));
		exit(1);
	}
	return fd;
}

static int do_bind(int fd, unsigned int cid, unsigned int port)
{
	if (vbind(fd, cid, port)) {
		out("error=%s op=bind cid=%u port=%u", errname(errno), cid, port);
		return -1;
	}
	return 0;
}

static int listener(const struct opts *o, unsigned int port, int backlog)
{
	int fd = vsock(o->type);

	if (do_bind(fd, o->bind_cid, port))
		exit(1);
	if (listen(fd, backlog)) {
		out("error=%s op=listen", errname(errno));
		exit(1);
	}
	out("listening cid=%u port=%u", o->bind_cid, port);
	return fd;
}

static int connector(const struct opts *o, unsigned int cid, unsigned int port)
{
	int fd = vsock(o->type);

	if (o->bind_cid != VMADDR_CID_ANY &&
	    do_bind(fd, o->bind_cid, VMADDR_PORT_ANY)) {
		close(fd);
		return -1;
	}
	if (o->timeout) {
		struct timeval tv = { .tv_sec = o->timeout };

		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW,
			   &tv, sizeof(tv));
	}
	if (vconnect(fd, cid, port)) {
		out("error=%s op=connect cid=%u port=%u", errname(errno), cid, port);
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	return send_all(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Read one line (up to EOF or '\n'); returns its length or -1. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		ssize_t n = recv(fd, buf + got, len - 1 - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return got;
}

/* ---- cids ------------------------------------------------------------ */

static const char *role_name(unsigned int role)
{
	switch (role) {
	case MVSOCK_ROLE_ID_LOCAL: return "local";
	case MVSOCK_ROLE_ID_GUEST: return "guest";
	case MVSOCK_ROLE_ID_HOST: return "host";
	default: return "?";
	}
}

static int cmd_cids(void)
{
	struct mvsock_cid_list *l;
	unsigned int cid, i, room = 64;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		out("error=%s op=open_dev_vsock", errname(errno));
		return 1;
	}
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid)) {
		out("error=%s op=get_local_cid", errname(errno));
		return 1;
	}
	out("local_cid=%u", cid);
	l = calloc(1, sizeof(*l) + room * sizeof(l->entries[0]));
	if (!l)
		return 1;
	l->count = room;
	if (ioctl(fd, IOCTL_MVSOCK_LIST_CIDS, l)) {
		out("error=%s op=list_cids", errname(errno));
		return 1;
	}
	out("devices total=%u count=%u", l->total, l->count);
	for (i = 0; i < l->count; i++) {
		struct mvsock_cid_entry *e = &l->entries[i];

		out("cid=%u dev_id=%u role=%s default=%u peer_cid=%u",
		    e->cid, e->dev_id, role_name(e->role),
		    !!(e->flags & MVSOCK_CID_F_DEFAULT), e->peer_cid);
	}
	free(l);
	close(fd);
	return 0;
}

/* ---- serve / connect ------------------------------------------------- */

static int cmd_serve(const struct opts *o, unsigned int port)
{
	char line[LINE_MAX_LEN], ends[128];
	unsigned int i;
	int lfd = listener(o, port, 16);

	for (i = 0; i < o->count; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			out("error=%s op=accept", errname(errno));
			return 1;
		}
		fmt_ends(fd, ends, sizeof(ends));
		snprintf(line, sizeof(line), "accept %s", ends);
		out("%s", line);
		strcat(line, "\n");
		if (write_all(fd, line, strlen(line)))
			out("warning=%s op=send_reply", errname(errno));
		close(fd);
	}
	close(lfd);
	return 0;
}

static int cmd_connect(const struct opts *o, unsigned int cid,
		       unsigned int port)
{
	char line[LINE_MAX_LEN], ends[128];
	int fd = connector(o, cid, port);

	if (fd < 0)
		return 1;
	fmt_ends(fd, ends, sizeof(ends));
	out("connected %s", ends);
	if (read_line(fd, line, sizeof(line)) < 0) {
		out("error=%s op=read_reply", errname(errno));
		return 1;
	}
	out("server: %s", line);
	close(fd);
	return 0;
}

/* ---- sink / send ----------------------------------------------------- */

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * FNV_PRIME;
	return h;
}

struct sink {
	int fd;
	unsigned long long bytes;
	uint64_t sum;
	char ends[128];
};

static int cmd_sink(const struct opts *o, unsigned int port)
{
	struct sink s[MAX_SINKS];
	struct pollfd pfd[MAX_SINKS];
	static unsigned char buf[65536];
	unsigned int i, n = o->count, open_fds;
	int lfd, rc = 0;

	if (n > MAX_SINKS) {
		fprintf(stderr, PROG ": at most %d connections\n", MAX_SINKS);
		return 2;
	}
	lfd = listener(o, port, MAX_SINKS);
	for (i = 0; i < n; i++) {
		s[i].fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s[i].fd < 0) {
			out("error=%s op=accept", errname(errno));
			return 1;
		}
		s[i].bytes = 0;
		s[i].sum = FNV_OFF;
		fmt_ends(s[i].fd, s[i].ends, sizeof(s[i].ends));
		pfd[i].fd = s[i].fd;
		pfd[i].events = POLLIN;
	}
	close(lfd);
	open_fds = n;
	while (open_fds) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			out("error=%s op=poll", errname(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			char line[LINE_MAX_LEN];
			ssize_t r;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0) {
				s[i].bytes += r;
				s[i].sum = fnv(s[i].sum, buf, r);
				continue;
			}
			if (r < 0) {
				out("sink %s error=%s bytes=%llu", s[i].ends,
				    errname(errno), s[i].bytes);
				rc = 1;
			} else {
				snprintf(line, sizeof(line),
					 "sink %s bytes=%llu sum=%016" PRIx64,
					 s[i].ends, s[i].bytes, s[i].sum);
				out("%s", line);
				strcat(line, "\n");
				if (write_all(s[i].fd, line, strlen(line)))
					out("warning=%s op=send_reply",
					    errname(errno));
			}
			close(s[i].fd);
			pfd[i].fd = -1;
			open_fds--;
		}
	}
	return rc;
}

static int cmd_send(const struct opts *o, unsigned int cid, unsigned int port,
		    unsigned long long bytes, uint64_t seed)
{
	static unsigned char buf[65536];
	unsigned long long left = bytes, rbytes;
	uint64_t sum = FNV_OFF, rsum;
	char line[LINE_MAX_LEN], ends[128];
	const char *p;
	int fd = connector(o, cid, port);

	if (fd < 0)
		return 1;
	fmt_ends(fd, ends, sizeof(ends));
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		pat_fill(buf, n, seed, bytes - left);
		sum = fnv(sum, buf, n);
		if (write_all(fd, buf, n)) {
			out("send error=%s op=send %s sent=%llu", errname(errno),
			    ends, bytes - left);
			return 1;
		}
		left -= n;
	}
	if (shutdown(fd, SHUT_WR)) {
		out("send error=%s op=shutdown %s", errname(errno), ends);
		return 1;
	}
	if (read_line(fd, line, sizeof(line)) <= 0) {
		out("send error=%s op=read_reply %s", errno ? errname(errno) : "eof",
		    ends);
		return 1;
	}
	p = strstr(line, "bytes=");
	if (!p || sscanf(p, "bytes=%llu sum=%" SCNx64, &rbytes, &rsum) != 2) {
		out("send error=bad_reply %s reply='%s'", ends, line);
		return 1;
	}
	close(fd);
	if (rbytes != bytes || rsum != sum) {
		out("send MISMATCH %s bytes=%llu sum=%016" PRIx64 " sink='%s'",
		    ends, bytes, sum, line);
		return 1;
	}
	out("send ok bytes=%llu sum=%016" PRIx64 " %s", bytes, sum, ends);
	return 0;
}

/* ---- hold / noread --------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_hold(const struct opts *o, unsigned int cid, unsigned int port)
{
	char ends[128], c;
	double t0;
	ssize_t r;
	int fd = connector(o, cid, port);

	if (fd < 0)
		return 1;
	fmt_ends(fd, ends, sizeof(ends));
	out("held %s", ends);
	t0 = now();
	do {
		r = recv(fd, &c, 1, 0);
	} while (r > 0 || (r < 0 && errno == EINTR));
	if (r < 0)
		out("ended errno=%s after=%.1f %s", errname(errno), now() - t0,
		    ends);
	else
		out("ended errno=eof after=%.1f %s", now() - t0, ends);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_noread(const struct opts *o, unsigned int port)
{
	struct sigaction sa = { .sa_handler = on_term };
	char ends[128];
	int lfd = listener(o, port, 1), fd;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		out("error=%s op=accept", errname(errno));
		return 1;
	}
	fmt_ends(fd, ends, sizeof(ends));
	out("accept %s", ends);
	while (!stop)
		pause();
	close(fd);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.bind_cid = VMADDR_CID_ANY, .count = 1, .type = SOCK_STREAM,
	};
	const char *cmd;
	int c;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "b:n:sT:")) != -1) {
		switch (c) {
		case 'b':
			o.bind_cid = num(optarg, UINT32_MAX);
			break;
		case 'n':
			o.count = num(optarg, 1000000);
			break;
		case 's':
			o.type = SOCK_SEQPACKET;
			break;
		case 'T':
			o.timeout = num(optarg, 3600);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(cmd, "cids") && argc == 0)
		return cmd_cids();
	if (!strcmp(cmd, "serve") && argc == 1)
		return cmd_serve(&o, num(argv[0], UINT32_MAX));
	if (!strcmp(cmd, "connect") && argc == 2)
		return cmd_connect(&o, num(argv[0], UINT32_MAX),
				   num(argv[1], UINT32_MAX));
	if (!strcmp(cmd, "sink") && argc == 1)
		return cmd_sink(&o, num(argv[0], UINT32_MAX));
	if (!strcmp(cmd, "send") && (argc == 3 || argc == 4))
		return cmd_send(&o, num(argv[0], UINT32_MAX),
				num(argv[1], UINT32_MAX), size_arg(argv[2]),
				argc == 4 ? num(argv[3], UINT64_MAX) : 1);
	if (!strcmp(cmd, "hold") && argc == 2)
		return cmd_hold(&o, num(argv[0], UINT32_MAX),
				num(argv[1], UINT32_MAX));
	if (!strcmp(cmd, "noread") && argc == 1)
		return cmd_noread(&o, num(argv[0], UINT32_MAX));
	usage();
	return 2;
}
