/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the mvsock benchmark tools: clocks, number
 * parsing and AF_VSOCK socket set-up. Header-only on purpose (each tool is
 * one .c file plus this header).
 */
#ifndef MVSOCK_BENCH_COMMON_H
#define MVSOCK_BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn, format(printf, 2, 3)))
static inline void bench_die(const char *prog, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* Parse an unsigned number; exit with a message when it is not one. */
static inline unsigned long long bench_parse_u(const char *prog,
					       const char *what,
					       const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		errno = 0;
		bench_die(prog, "bad %s '%s'", what, s);
	}
	return v;
}

static inline double bench_parse_f(const char *prog, const char *what,
				   const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v <= 0) {
		errno = 0;
		bench_die(prog, "bad %s '%s'", what, s);
	}
	return v;
}

static inline void bench_vsock_addr(struct sockaddr_vm *a, unsigned int cid,
				    unsigned int port)
{
	memset(a, 0, sizeof(*a));
	a->svm_family = AF_VSOCK;
	a->svm_cid = cid;
	a->svm_port = port;
}

/* A listening SOCK_STREAM socket on (VMADDR_CID_ANY, port). */
static inline int bench_vsock_listen(const char *prog, unsigned int port,
				     int backlog)
{
	struct sockaddr_vm a;
	int fd;

	fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0)
		bench_die(prog, "socket(AF_VSOCK)");
	bench_vsock_addr(&a, VMADDR_CID_ANY, port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		bench_die(prog, "bind(port %u)", port);
	if (listen(fd, backlog) < 0)
		bench_die(prog, "listen");
	return fd;
}

/* A connected SOCK_STREAM socket, or -1 with errno set. */
static inline int bench_vsock_connect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a;
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	bench_vsock_addr(&a, cid, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* read()/write() exactly one byte, retrying on EINTR. 1 = ok, 0 = EOF. */
static inline int bench_read1(int fd, char *c)
{
	ssize_t n;

	do
		n = read(fd, c, 1);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : (int)n;
}

static inline int bench_write1(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 1 : -1;
}

/*
 * In a forked helper child: die with the parent, so that a failing parent
 * never leaves a child holding its stdout open (and a caller waiting).
 */
static inline void bench_child_init(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
}

#endif /* MVSOCK_BENCH_COMMON_H */
