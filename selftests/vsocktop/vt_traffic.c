// SPDX-License-Identifier: GPL-2.0
/*
 * vt_traffic: known loopback traffic for the vsocktop tests
 * (suites.d/73-vsocktop.sh). A forked server listens on PORT (any CID),
 * the client connects to CID 1 (or $VT_CID):
 *
 *   vt_traffic xfer PORT UP DOWN HOLD_MS [seqpacket]
 *	the client sends UP payload bytes, the server answers DOWN bytes;
 *	both read everything, then the connection stays open HOLD_MS.
 *   vt_traffic queue PORT K HOLD_MS
 *	the client sends K bytes the server never reads; open HOLD_MS.
 *   vt_traffic stall PORT HOLD_MS
 *	the client sends 1 MiB; the server reads nothing for HOLD_MS, so the
 *	client waits for credit that long, then the server drains it all.
 *
 * The client prints "port N" (its own port) once connected, and "done"
 * when its part is over; exit 0 on success, 1 with a message otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../../tools/lib/num.h"

#define CHUNK (64 * 1024)
#define STALL_BYTES (1 << 20)

static char buf[CHUNK];

static void die(const char *what)
{
	fprintf(stderr, "vt_traffic: %s: %s\n", what, strerror(errno));
	exit(1);
}

#define USAGE "usage: vt_traffic xfer|queue|stall PORT ...\n"

/* a number argument (C's prefixes), else the usage and exit 2 */
static unsigned long num_arg(const char *s)
{
	uint64_t v;

	if (num_u64(s, 0, 0, LONG_MAX, &v)) {
		fprintf(stderr, "vt_traffic: bad number '%s'\n" USAGE, s);
		exit(2);
	}
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void send_all(int fd, size_t len, int type)
{
	while (len) {
		size_t n = len < CHUNK ? len : CHUNK;
		ssize_t r = send(fd, buf, n, 0);

		if (r < 0)
			die("send");
		/* a SEQPACKET message is sent whole */
		len -= type == SOCK_SEQPACKET ? n : (size_t)r;
	}
}

static void recv_all(int fd, size_t len)
{
	while (len) {
		ssize_t r = recv(fd, buf, len < CHUNK ? len : CHUNK, 0);

		if (r <= 0) {
			if (!r)
				errno = ECONNRESET;
			die("recv");
		}
		len -= r;
	}
}

/* the listener in a child; returns its pid once it listens */
static pid_t serve(unsigned int port, int type, void (*fn)(int, char **), char **argv)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = port };
	int p[2], l, c;
	pid_t pid;
	char ok;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid) {
		close(p[1]);
		if (read(p[0], &ok, 1) != 1) {
			fprintf(stderr, "vt_traffic: the server did not start\n");
			exit(1);
		}
		close(p[0]);
		return pid;
	}
	close(p[0]);
	/* killing the client ends the test: the server goes with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	l = socket(AF_VSOCK, type, 0);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 4))
		die("listen");
	if (write(p[1], "1", 1) != 1)
		die("write");
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	close(l);
	fn(c, argv);
	close(c);
	exit(0);
}

static int client(unsigned int port, int type)
{
	const char *env = getenv("VT_CID");
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = env ? num_arg(env) : 1,
				 .svm_port = port };
	socklen_t len = sizeof(a);
	int fd = socket(AF_VSOCK, type, 0);

	if (fd < 0 || connect(fd, (void *)&a, sizeof(a)))
		die("connect");
	if (getsockname(fd, (void *)&a, &len))
		die("getsockname");
	printf("port %u\n", a.svm_port);
	fflush(stdout);
	return fd;
}

static void srv_xfer(int c, char **argv)
{
	recv_all(c, num_arg(argv[3]));
	send_all(c, num_arg(argv[4]),
		 argv[6] && !strcmp(argv[6], "seqpacket") ? SOCK_SEQPACKET : SOCK_STREAM);
	/* until the client closes */
	while (recv(c, buf, sizeof(buf), 0) > 0)
		;
}

/* queue: read nothing until the client is gone; stall: for HOLD_MS */
static void srv_hold(int c, char **argv)
{
	if (!strcmp(argv[1], "queue"))
		sleep_ms(2 * num_arg(argv[4]));
	else
		sleep_ms(num_arg(argv[3]));
	while (recv(c, buf, sizeof(buf), 0) > 0)
		;
}

static int finish(pid_t srv, int fd, long hold_ms)
{
	int st;

	printf("done\n");
	fflush(stdout);
	sleep_ms(hold_ms);
	close(fd);
	if (waitpid(srv, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int port;
	pid_t srv;
	int fd, type = SOCK_STREAM;

	if (argc < 4) {
		fputs(USAGE, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 0x5a, sizeof(buf));
	port = num_arg(argv[2]);
	if (!strcmp(argv[1], "xfer") && argc >= 6) {
		if (argc > 6 && !strcmp(argv[6], "seqpacket"))
			type = SOCK_SEQPACKET;
		srv = serve(port, type, srv_xfer, argv);
		fd = client(port, type);
		send_all(fd, num_arg(argv[3]), type);
		recv_all(fd, num_arg(argv[4]));
		return finish(srv, fd, num_arg(argv[5]));
	}
	if (!strcmp(argv[1], "queue") && argc >= 5) {
		srv = serve(port, type, srv_hold, argv);
		fd = client(port, type);
		send_all(fd, num_arg(argv[3]), type);
		return finish(srv, fd, num_arg(argv[4]));
	}
	if (!strcmp(argv[1], "stall") && argc >= 4) {
		srv = serve(port, type, srv_hold, argv);
		fd = client(port, type);
		send_all(fd, STALL_BYTES, type);
		return finish(srv, fd, 0);
	}
	fputs(USAGE, stderr);
	return 2;
}
