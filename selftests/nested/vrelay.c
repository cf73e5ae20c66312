// SPDX-License-Identifier: GPL-2.0
/*
 * vrelay: carry TCP connections and commands between two machines over one
 * reliable byte stream: a virtio-serial port in the (inner) guest, the QEMU
 * character device of that port (a unix socket) in the host. It replaces
 * "socat TCP-LISTEN <-> serial port" with something that also carries
 * connection boundaries: an end-of-file on one side becomes an end-of-file
 * on the other, so a peer that dies does not leave its partner waiting, and
 * a new connection never sees bytes of the previous one.
 *
 *   vrelay [-L PORT]... [-b SECS] [-x] [-e SOCKET] [-r FILE] [-w SECS] LINK
 *	LINK is a character device (opened read-write) or a unix stream
 *	socket to connect to (retried for 30 s while it does not exist).
 *	-L PORT    accept TCP connections on 127.0.0.1:PORT; each one is
 *		   opened on the other side as a connection to 127.0.0.1:PORT
 *		   there (retried for -w SECS, default 60, while refused)
 *	-b SECS    a -L PORT still in use (by the relay this one replaces,
 *		   after a migration of the inner guest) is retried for SECS
 *		   seconds instead of failing at once
 *	-x         run commands the other side asks for (guest side)
 *	-e SOCKET  accept "vrelay -c SOCKET" clients (host side)
 *	-r FILE    write FILE ("up <peer uptime>") when the link is up
 *	-q         no log messages except errors
 *
 *   vrelay -c SOCKET -- COMMAND [ARG]...
 *	Run COMMAND on the other side (stdin /dev/null, stdout and stderr
 *	merged into our stdout) and exit with its status (128+N when it was
 *	killed by signal N, 255 when the link went away first). Killing the
 *	client kills the command's process group on the other side.
 *
 * Only 127.0.0.1 is ever listened on or connected to.
 *
 * Wire format: frames of a 12-byte header {u8 magic 0xa5, u8 type,
 * u16 flags, u32 channel, u32 length} (host byte order: both ends are
 * x86_64) and length bytes of payload. A channel is named by the side that
 * opened it (flag OWN set when the sender opened it) and a number that
 * side never reuses, so late frames of a closed channel are dropped, never
 * delivered to a new one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/lib/num.h"

#define MAGIC		0xa5
#define MAX_PAYLOAD	65536
#define CHUNK		16384
#define MAX_LISTEN	8
#define MAX_CHANS	256

enum frame_type {
	F_HELLO = 1,	/* payload: text; flag REQ asks for a HELLO back */
	F_OPEN,		/* payload: u16 port */
	F_OPEN_OK,
	F_DATA,
	F_CLOSE,
	F_EXEC,		/* payload: argv, NUL-terminated strings */
	F_EXIT,		/* payload: i32 status */
	F_EOF,		/* the sender's side will send no more data */
};

#define FL_OWN	1	/* the sender opened this channel */
#define FL_REQ	2	/* HELLO: please answer */

struct hdr {
	uint8_t magic;
	uint8_t type;
	uint16_t flags;
	uint32_t chan;
	uint32_t len;
} __attribute__((packed));

enum chan_kind {
	C_FREE,
	C_TCP_OUT,	/* we accepted it locally; waiting for / got OPEN_OK */
	C_TCP_IN,	/* the peer opened it; we connect locally */
	C_EXEC_CLIENT,	/* host: a vrelay -c client on the unix socket */
	C_EXEC_CHILD,	/* guest: a command we run */
};

struct chan {
	enum chan_kind kind;
	bool own;		/* we opened it (our number space) */
	uint32_t id;
	int fd;			/* socket, or the child's output pipe */
	bool ready;		/* data may flow */
	bool rd_eof;		/* TCP: our socket reached end of file */
	bool wr_eof;		/* TCP: the peer's did (we shut down writing) */
	uint16_t port;
	double deadline;	/* C_TCP_IN: give up connecting */
	double next_try;
	pid_t pid;		/* C_EXEC_CHILD */
	bool exited;
	int status;
};

static struct chan chans[MAX_CHANS];
static int link_fd = -1;
static int listen_fd[MAX_LISTEN];
static uint16_t listen_port[MAX_LISTEN];
static int nlisten;
static double bind_wait;	/* -b: retry ports in use until this time */
static int exec_listen_fd = -1;
static bool serve_exec;
static const char *ready_file;
static double connect_wait = 60;
static bool quiet;
static uint32_t next_id = 1;
static bool link_up;

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	fputs("vrelay: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void __attribute__((noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vrelay: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(255);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void send_frame(int type, uint16_t flags, uint32_t chan,
		       const void *data, uint32_t len)
{
	struct hdr h = {
		.magic = MAGIC, .type = type, .flags = flags,
		.chan = chan, .len = len,
	};

	if (write_all(link_fd, &h, sizeof(h)) ||
	    (len && write_all(link_fd, data, len)))
		die("writing to the link: %s", strerror(errno));
}

static void send_chan(struct chan *c, int type, const void *data, uint32_t len)
{
	send_frame(type, c->own ? FL_OWN : 0, c->id, data, len);
}

static struct chan *chan_new(enum chan_kind kind, bool own, uint32_t id, int fd)
{
	for (int i = 0; i < MAX_CHANS; i++) {
		struct chan *c = &chans[i];

		if (c->kind != C_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->kind = kind;
		c->own = own;
		c->id = own ? next_id++ : id;
		c->fd = fd;
		c->pid = -1;
		return c;
	}
	return NULL;
}

/* The channel a frame from the peer names. */
static struct chan *chan_find(uint16_t flags, uint32_t id)
{
	bool own = !(flags & FL_OWN);	/* the peer's OWN is our remote */

	for (int i = 0; i < MAX_CHANS; i++) {
		struct chan *c = &chans[i];

		if (c->kind != C_FREE && c->own == own && c->id == id)
			return c;
	}
	return NULL;
}

/* Forget a channel; tell the peer when notify is set. */
static void chan_close(struct chan *c, bool notify)
{
	if (notify)
		send_chan(c, F_CLOSE, NULL, 0);
	if (c->fd >= 0)
		close(c->fd);
	if (c->kind == C_EXEC_CHILD && c->pid > 0 && !c->exited) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	c->kind = C_FREE;
	c->fd = -1;
}

static void close_all(void)
{
	for (int i = 0; i < MAX_CHANS; i++)
		if (chans[i].kind != C_FREE)
			chan_close(&chans[i], false);
}

/* 127.0.0.1:@port in @a, and a TCP socket for it (-1: none) */
static int tcp_socket(uint16_t port, struct sockaddr_in *a)
{
	*a = (struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int tcp_listen(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1;
	int fd = tcp_socket(port, &a);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)) {
		if (errno == EADDRINUSE && now() < bind_wait) {
			close(fd);
			return -1;	/* try again later */
		}
		die("listening on 127.0.0.1:%u: %s", port, strerror(errno));
	}
	return fd;
}

/* Listen on the -L ports not listened on yet; true when some still wait. */
static bool listen_pending(void)
{
	bool pending = false;

	for (int i = 0; i < nlisten; i++) {
		if (listen_fd[i] < 0)
			listen_fd[i] = tcp_listen(listen_port[i]);
		if (listen_fd[i] < 0)
			pending = true;
	}
	return pending;
}

/* 0 connected, -1 refused (try again), -2 other error */
static int tcp_connect(uint16_t port, int *fdp)
{
	struct sockaddr_in a;
	int one = 1;
	int fd = tcp_socket(port, &a);

	if (fd < 0)
		return -2;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		close(fd);
		return e == ECONNREFUSED ? -1 : -2;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	*fdp = fd;
	return 0;
}

static int open_link(const char *path)
{
	struct stat st;
	double end = now() + 30;

	for (;;) {
		if (stat(path, &st) == 0) {
			if (S_ISSOCK(st.st_mode)) {
				struct sockaddr_un a = { .sun_family = AF_UNIX };
				int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

				if (strlen(path) >= sizeof(a.sun_path))
					die("%s: path too long", path);
				strcpy(a.sun_path, path);
				if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
					return fd;
				if (fd >= 0)
					close(fd);
			} else {
				int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

				if (fd >= 0)
					return fd;
				die("opening %s: %s", path, strerror(errno));
			}
		}
		if (now() > end)
			die("%s: cannot connect or open", path);
		usleep(50000);
	}
}

static void send_hello(bool req)
{
	char msg[64];
	double up = 0;
	FILE *f = fopen("/proc/uptime", "r");

	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	snprintf(msg, sizeof(msg), "vrelay 1 up %.2f", up);
	send_frame(F_HELLO, req ? FL_REQ : 0, 0, msg, strlen(msg));
}

static void got_hello(const struct hdr *h, const char *p)
{
	if (link_up && (h->flags & FL_REQ)) {
		/* The peer (re)started: whatever was open is gone. */
		logmsg("peer restarted: dropping all channels");
		close_all();
	}
	if (h->flags & FL_REQ)
		send_hello(false);
	if (!link_up) {
		link_up = true;
		logmsg("link up (peer: %.*s)", (int)h->len, p);
		if (ready_file) {
			FILE *f = fopen(ready_file, "w");
			const char *up = memmem(p, h->len, " up ", 4);

			if (!f)
				die("%s: %s", ready_file, strerror(errno));
			fprintf(f, "up %.*s\n", up ? (int)(h->len - (up + 4 - p)) : 1,
				up ? up + 4 : "0");
			fclose(f);
		}
	}
}

/* Guest: run a command for the peer. */
static void start_exec(const struct hdr *h, char *p)
{
	char *argv[256];
	int argc = 0, pfd[2];
	struct chan *c;
	uint32_t off = 0;
	pid_t pid;

	if (!serve_exec || h->len == 0 || p[h->len - 1] != '\0') {
		int32_t st = 255;
		const char *msg = serve_exec ? "vrelay: bad exec request\n" :
			"vrelay: this side does not run commands (no -x)\n";
		send_frame(F_DATA, 0, h->chan, msg, strlen(msg));
		send_frame(F_EXIT, 0, h->chan, &st, sizeof(st));
		send_frame(F_CLOSE, 0, h->chan, NULL, 0);
		return;
	}
	while (off < h->len && argc < 255) {
		argv[argc++] = p + off;
		off += strlen(p + off) + 1;
	}
	argv[argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC) || !(c = chan_new(C_EXEC_CHILD, false, h->chan, pfd[0])))
		die("cannot start a command");
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setsid();
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "vrelay: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->ready = true;
}

static void try_connect(struct chan *c)
{
	int fd, r = tcp_connect(c->port, &fd);

	if (r == 0) {
		c->fd = fd;
		c->ready = true;
		send_chan(c, F_OPEN_OK, NULL, 0);
		return;
	}
	if (r == -1 && now() < c->deadline) {
		c->next_try = now() + 0.1;
		return;
	}
	logmsg("cannot connect to 127.0.0.1:%u%s", c->port,
	       r == -1 ? " (refused until the deadline)" : "");
	chan_close(c, true);
}

static void handle_frame(const struct hdr *h, char *p)
{
	struct chan *c;

	switch (h->type) {
	case F_HELLO:
		got_hello(h, p);
		return;
	case F_OPEN:
		if (h->len != 2 || !(h->flags & FL_OWN))
			die("bad OPEN frame");
		c = chan_new(C_TCP_IN, false, h->chan, -1);
		if (!c) {
			send_frame(F_CLOSE, 0, h->chan, NULL, 0);
			return;
		}
		memcpy(&c->port, p, 2);
		c->deadline = now() + connect_wait;
		try_connect(c);
		return;
	case F_EXEC:
		start_exec(h, p);
		return;
	}

	c = chan_find(h->flags, h->chan);
	if (!c)
		return;		/* a channel already closed here */
	switch (h->type) {
	case F_OPEN_OK:
		c->ready = true;
		break;
	case F_DATA:
		if (c->kind == C_EXEC_CLIENT) {
			char msg[1 + CHUNK];

			/* seqpacket messages: 'D' + data */
			for (uint32_t off = 0; off < h->len; off += CHUNK) {
				uint32_t n = h->len - off < CHUNK ? h->len - off : CHUNK;

				msg[0] = 'D';
				memcpy(msg + 1, p + off, n);
				if (send(c->fd, msg, n + 1, MSG_NOSIGNAL) < 0) {
					chan_close(c, true);
					return;
				}
			}
		} else if (c->fd >= 0 && c->kind != C_EXEC_CHILD) {
			if (write_all(c->fd, p, h->len))
				chan_close(c, true);
		}
		break;
	case F_EXIT:
		if (c->kind == C_EXEC_CLIENT && h->len == 4) {
			char msg[5] = { 'X' };

			memcpy(msg + 1, p, 4);
			send(c->fd, msg, 5, MSG_NOSIGNAL);
		}
		break;
	case F_EOF:
		if (c->kind == C_TCP_OUT || c->kind == C_TCP_IN) {
			c->wr_eof = true;
			shutdown(c->fd, SHUT_WR);
			if (c->rd_eof)
				chan_close(c, false);
		}
		break;
	case F_CLOSE:
		chan_close(c, false);
		break;
	default:
		die("unknown frame type %u", h->type);
	}
}

/* Read what the link has; handle every complete frame. */
static void read_link(void)
{
	static char buf[sizeof(struct hdr) + MAX_PAYLOAD];
	static size_t have;
	ssize_t n = read(link_fd, buf + have, sizeof(buf) - have);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		logmsg("link closed");
		close_all();
		exit(0);
	}
	have += n;
	while (have >= sizeof(struct hdr)) {
		struct hdr h;

		memcpy(&h, buf, sizeof(h));
		if (h.magic != MAGIC || h.len > MAX_PAYLOAD)
			die("garbage on the link (magic 0x%02x, length %u)",
			    h.magic, h.len);
		if (have < sizeof(h) + h.len)
			break;
		handle_frame(&h, buf + sizeof(h));
		have -= sizeof(h) + h.len;
		memmove(buf, buf + sizeof(h) + h.len, have);
	}
}

static void accept_tcp(int lfd, uint16_t port)
{
	int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct chan *c;

	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!link_up || !(c = chan_new(C_TCP_OUT, true, 0, fd))) {
		close(fd);
		return;
	}
	c->port = port;
	send_chan(c, F_OPEN, &port, 2);
}

static void accept_exec_client(void)
{
	int fd = accept4(exec_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct chan *c;

	if (fd < 0)
		return;
	if (!link_up || !(c = chan_new(C_EXEC_CLIENT, true, 0, fd))) {
		send(fd, "X\377\0\0\0", 5, MSG_NOSIGNAL);
		close(fd);
		return;
	}
	/* The first message is the request; the channel is ready after it. */
}

static void read_chan(struct chan *c)
{
	char buf[MAX_PAYLOAD];
	ssize_t n;

	if (c->kind == C_EXEC_CLIENT && !c->ready) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			chan_close(c, false);
			return;
		}
		send_chan(c, F_EXEC, buf, n);
		c->ready = true;
		return;
	}
	n = read(c->fd, buf, CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		if (c->kind != C_EXEC_CLIENT)
			send_chan(c, F_DATA, buf, n);
		return;
	}
	/* end of file or error */
	if (n == 0 && (c->kind == C_TCP_OUT || c->kind == C_TCP_IN)) {
		/* half close: the other end may still send */
		c->rd_eof = true;
		send_chan(c, F_EOF, NULL, 0);
		if (c->wr_eof)
			chan_close(c, false);
		return;
	}
	if (c->kind == C_EXEC_CHILD) {
		close(c->fd);
		c->fd = -1;	/* the exit status is sent once reaped */
		return;
	}
	chan_close(c, true);
}

/* Guest: send the exit status of commands that ended, after their output. */
static void reap(void)
{
	for (int i = 0; i < MAX_CHANS; i++) {
		struct chan *c = &chans[i];
		int st;
		int32_t code;

		if (c->kind != C_EXEC_CHILD || c->exited)
			continue;
		if (waitpid(c->pid, &st, WNOHANG) != c->pid)
			continue;
		c->exited = true;
		/* Output still in the pipe (background children may keep it
		 * open: do not wait for its end of file). */
		if (c->fd >= 0) {
			char buf[CHUNK];
			ssize_t n;

			while ((n = read(c->fd, buf, sizeof(buf))) > 0)
				send_chan(c, F_DATA, buf, n);
		}
		code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		send_chan(c, F_EXIT, &code, sizeof(code));
		chan_close(c, true);
	}
}

static int client(const char *path, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[1 + MAX_PAYLOAD];
	size_t len = 0;
	int fd;

	for (int i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (len + l > MAX_PAYLOAD)
			die("command line too long");
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	if (strlen(path) >= sizeof(a.sun_path))
		die("%s: path too long", path);
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connecting to %s: %s", path, strerror(errno));
	if (send(fd, buf, len, 0) != (ssize_t)len)
		die("sending the command: %s", strerror(errno));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vrelay: the other side went away before the command ended\n");
			return 255;
		}
		if (buf[0] == 'D') {
			if (write_all(1, buf + 1, n - 1))
				return 255;
		} else if (buf[0] == 'X' && n == 5) {
			int32_t st;

			memcpy(&st, buf + 1, 4);
			return st < 0 || st > 255 ? 255 : st;
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vrelay [-L PORT]... [-b SECS] [-x] [-e SOCKET] [-r FILE] [-w SECS] [-q] LINK\n"
		"       vrelay -c SOCKET -- COMMAND [ARG]...\n");
	exit(2);
}

static uint16_t parse_port(const char *s)
{
	uint32_t v;

	if (num_u32(s, 10, 1, 65535, &v))
		usage();
	return v;
}

static double parse_secs(const char *s)
{
	double v;

	if (num_double(s, 0, 1e9, &v))
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *exec_path = NULL, *client_path = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "+L:b:xe:r:w:qc:")) != -1) {
		switch (opt) {
		case 'L':
			if (nlisten == MAX_LISTEN)
				usage();
			listen_port[nlisten++] = parse_port(optarg);
			break;
		case 'b':
			bind_wait = parse_secs(optarg);
			break;
		case 'x':
			serve_exec = true;
			break;
		case 'e':
			exec_path = optarg;
			break;
		case 'r':
			ready_file = optarg;
			break;
		case 'w':
			connect_wait = parse_secs(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'c':
			client_path = optarg;
			break;
		default:
			usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (client_path) {
		if (optind >= argc)
			usage();
		return client(client_path, argv + optind);
	}
	if (optind != argc - 1)
		usage();

	for (int i = 0; i < MAX_CHANS; i++)
		chans[i].fd = -1;
	bind_wait = bind_wait > 0 ? now() + bind_wait : 0;
	for (int i = 0; i < nlisten; i++)
		listen_fd[i] = -1;
	listen_pending();
	if (exec_path) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		if (strlen(exec_path) >= sizeof(a.sun_path))
			die("%s: path too long", exec_path);
		strcpy(a.sun_path, exec_path);
		unlink(exec_path);
		exec_listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (exec_listen_fd < 0 ||
		    bind(exec_listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(exec_listen_fd, 16))
			die("%s: %s", exec_path, strerror(errno));
	}
	link_fd = open_link(argv[optind]);
	send_hello(true);

	for (;;) {
		struct pollfd pfd[1 + MAX_LISTEN + 1 + MAX_CHANS];
		struct chan *pc[MAX_CHANS];
		int n = 0, nc = 0, timeout = -1, first_chan;
		double t = now();

		if (listen_pending())
			timeout = 100;
		pfd[n++] = (struct pollfd){ .fd = link_fd, .events = POLLIN };
		/* (poll ignores the negative fd of a port still waiting) */
		for (int i = 0; i < nlisten; i++)
			pfd[n++] = (struct pollfd){ .fd = listen_fd[i], .events = POLLIN };
		if (exec_listen_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = exec_listen_fd, .events = POLLIN };
		first_chan = n;
		for (int i = 0; i < MAX_CHANS; i++) {
			struct chan *c = &chans[i];

			if (c->kind == C_TCP_IN && !c->ready) {
				int ms = (int)((c->next_try - t) * 1000) + 1;

				if (ms < 1)
					ms = 1;
				if (timeout < 0 || ms < timeout)
					timeout = ms;
				continue;
			}
			if (c->kind == C_EXEC_CHILD && !c->exited)
				timeout = timeout < 0 || timeout > 50 ? 50 : timeout;
			if (c->kind == C_FREE || c->fd < 0 || c->rd_eof ||
			    (!c->ready && c->kind != C_EXEC_CLIENT))
				continue;
			pc[nc++] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));

		if (pfd[0].revents)
			read_link();
		for (int i = 0; i < nlisten; i++)
			if (pfd[1 + i].revents & POLLIN)
				accept_tcp(listen_fd[i], listen_port[i]);
		if (exec_listen_fd >= 0 && pfd[1 + nlisten].revents & POLLIN)
			accept_exec_client();
		for (int i = 0; i < nc; i++) {
			/* read_link() may have closed (and even reused) it */
			if (pc[i]->kind != C_FREE && pc[i]->fd == pfd[first_chan + i].fd &&
			    pfd[first_chan + i].revents)
				read_chan(pc[i]);
		}
		t = now();
		for (int i = 0; i < MAX_CHANS; i++)
			if (chans[i].kind == C_TCP_IN && !chans[i].ready &&
			    chans[i].next_try <= t)
				try_connect(&chans[i]);
		reap();
	}
}
