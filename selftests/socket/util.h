/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the AF_VSOCK socket selftests (loopback, CID 1).
 */
#ifndef MVSOCK_SOCKET_UTIL_H
#define MVSOCK_SOCKET_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../lib/ktap.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif
#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD 6
#endif
#ifndef SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW
#define SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW 8
#endif
#ifndef SOL_VSOCK
#define SOL_VSOCK 287
#endif
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

/* every poll bit a socket can report; for exact mask comparisons */
#define POLL_ALL (POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND |	\
		  POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP)

#define CID_LOCAL VMADDR_CID_LOCAL
/* first port of the reserved (privileged) range ends here */
#define LAST_RESERVED_PORT 1023

/* Port base: env MVSOCK_PORT_BASE, else the program's default.  Every
 * case owns 32 ports starting at base + 32 * case index.
 */
static unsigned int ut_port_base_default = 40000;

static inline unsigned int tport(int k)
{
	const char *s = getenv("MVSOCK_PORT_BASE");
	unsigned int base = s ? (unsigned int)strtoul(s, NULL, 0) :
				ut_port_base_default;

	return base + 32u * (unsigned int)kt_cur_index + (unsigned int)k;
}

static inline const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM: return "SOCK_STREAM";
	case SOCK_SEQPACKET: return "SOCK_SEQPACKET";
	case SOCK_DGRAM: return "SOCK_DGRAM";
	default: return "SOCK_?";
	}
}

static inline struct sockaddr_vm vaddr(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a;

	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_cid = cid;
	a.svm_port = port;
	return a;
}

static inline int vsock_socket(int type)
{
	return socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
}

static inline int vbind(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a = vaddr(cid, port);

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static inline int vconnect(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a = vaddr(cid, port);

	return connect(fd, (struct sockaddr *)&a, sizeof(a));
}

/* socket + bind + listen; -1 with errno on failure */
static inline int vlistener(int type, unsigned int cid, unsigned int port,
			    int backlog)
{
	int fd = vsock_socket(type);
	int e;

	if (fd < 0)
		return -1;
	if (vbind(fd, cid, port) || listen(fd, backlog)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* socket + connect to CID 1; -1 with errno on failure */
static inline int vclient(int type, unsigned int port)
{
	int fd = vsock_socket(type);
	int e;

	if (fd < 0)
		return -1;
	if (vconnect(fd, CID_LOCAL, port)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Make a connected pair through a temporary listener on PORT. */
static inline int vpair(int type, unsigned int port, int *cli, int *srv)
{
	int l = vlistener(type, VMADDR_CID_ANY, port, 4);
	int e;

	*cli = *srv = -1;
	if (l < 0)
		return -1;
	*cli = vclient(type, port);
	if (*cli < 0)
		goto err;
	*srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*srv < 0)
		goto err;
	close(l);
	return 0;
err:
	e = errno;
	if (*cli >= 0)
		close(*cli);
	close(l);
	*cli = -1;
	errno = e;
	return -1;
}

static inline int set_timeo(int fd, int opt, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static inline int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* poll one fd; returns revents, 0 on timeout, -1 on error */
static inline int poll1(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	return r ? p.revents : 0;
}

static inline const char *pollstr(int ev)
{
	static __thread char buf[128];

	if (ev < 0)
		return "error";
	snprintf(buf, sizeof(buf), "%s%s%s%s%s%s%s%s0x%x",
		 ev & POLLIN ? "IN|" : "", ev & POLLOUT ? "OUT|" : "",
		 ev & POLLERR ? "ERR|" : "", ev & POLLHUP ? "HUP|" : "",
		 ev & POLLRDHUP ? "RDHUP|" : "", ev & POLLNVAL ? "NVAL|" : "",
		 ev & POLLRDNORM ? "RDNORM|" : "",
		 ev & POLLWRNORM ? "WRNORM|" : "", ev);
	return buf;
}

static inline int sock_error(int fd)
{
	int err = -1;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -1;
	return err;
}

/* Deterministic byte stream: byte at absolute offset OFF of stream SEED is
 * pat_table[(OFF + SEED * PAT_SEED_STEP) % PAT_PERIOD].  The period is a
 * prime well above every packet and buffer size, so loss, duplication and
 * reordering show up; fill and check run at memcpy/memcmp speed, which
 * matters under TCG.
 */
#define PAT_PERIOD 1000003u
#define PAT_SEED_STEP 7919u

static uint8_t *pat_table;

static inline void pat_init(void)
{
	uint64_t x = 0x2545f4914f6cdd1dULL;

	if (pat_table)
		return;
	/* one extra period so that any window is contiguous */
	pat_table = malloc(2 * (size_t)PAT_PERIOD);
	if (!pat_table)
		abort();
	for (size_t i = 0; i < PAT_PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pat_table[i] = (uint8_t)(x >> 24);
	}
	memcpy(pat_table + PAT_PERIOD, pat_table, PAT_PERIOD);
}

static inline size_t pat_pos(uint32_t seed, uint64_t off)
{
	return (size_t)((off + (uint64_t)seed * PAT_SEED_STEP) % PAT_PERIOD);
}

static inline void pat_fill(uint8_t *buf, size_t len, uint32_t seed,
			    uint64_t off)
{
	pat_init();
	while (len) {
		size_t n = len < PAT_PERIOD ? len : PAT_PERIOD;

		memcpy(buf, pat_table + pat_pos(seed, off), n);
		buf += n;
		off += n;
		len -= n;
	}
}

/* returns index of first mismatch or -1 */
static inline long pat_check(const uint8_t *buf, size_t len, uint32_t seed,
			     uint64_t off)
{
	size_t done = 0;

	pat_init();
	while (done < len) {
		size_t n = len - done < PAT_PERIOD ? len - done : PAT_PERIOD;
		const uint8_t *ref = pat_table + pat_pos(seed, off + done);

		if (memcmp(buf + done, ref, n)) {
			for (size_t i = 0; i < n; i++)
				if (buf[done + i] != ref[i])
					return (long)(done + i);
		}
		done += n;
	}
	return -1;
}

/* write/read exactly LEN bytes (blocking fd); returns bytes done, or -1
 * with errno when nothing could be done.
 */
static inline ssize_t send_all(int fd, const void *buf, size_t len, int flags)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, flags);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static inline ssize_t recv_all(int fd, void *buf, size_t len, int flags)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, flags);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Send one byte FROM -> TO and read it on TO.  Packets of one connection
 * arrive in order, so whatever FROM sent before (a credit update, a
 * shutdown) has been processed by the time this returns 0.
 */
static inline int sync_from(int from, int to)
{
	char ch = 'S';

	if (send(from, &ch, 1, MSG_NOSIGNAL) != 1)
		return -1;
	if (!(poll1(to, POLLIN, 5000) & POLLIN))
		return -1;
	if (recv(to, &ch, 1, 0) != 1 || ch != 'S')
		return -1;
	return 0;
}

/* Run FN(ARG) in a forked child; its return value is the exit status. */
static inline pid_t fork_fn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	return pid;
}

/* Wait for a child; returns its exit status, or -1 when it timed out (it is
 * killed then) or died from a signal.
 */
static inline int wait_child(pid_t pid, long ms)
{
	int st;

	if (pid <= 0)
		return -1;
	if (!kt_wait_ms(pid, &st, ms)) {
		kt_diag("child %d did not finish within %ld ms", (int)pid, ms);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	if (WIFSIGNALED(st)) {
		kt_diag("child %d killed by signal %d", (int)pid, WTERMSIG(st));
		return -1;
	}
	return WEXITSTATUS(st);
}

static inline int get_u64opt(int fd, int opt, unsigned long long *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, AF_VSOCK, opt, v, &len);
}

static inline int set_u64opt(int fd, int opt, unsigned long long v)
{
	return setsockopt(fd, AF_VSOCK, opt, &v, sizeof(v));
}

#endif /* MVSOCK_SOCKET_UTIL_H */
