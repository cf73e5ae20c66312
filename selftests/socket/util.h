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
#include "../lib/vsock_util.h"
#include "num.h"

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
	uint32_t base = ut_port_base_default;

	/* not a number: the default */
	num_u32(getenv("MVSOCK_PORT_BASE"), 0, 0, UINT32_MAX, &base);

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

/* socket + connect to CID 1; -1 with errno on failure */
static inline int vclient(int type, unsigned int port)
{
	return vconnect_to(type, CID_LOCAL, port, 0);
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

/* for fork_fn(): close the fd *P points to after 300 ms (a blocked call
 * in the parent must wake up)
 */
static inline int close_later(void *p)
{
	usleep(300 * 1000);
	close(*(int *)p);
	return 0;
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
