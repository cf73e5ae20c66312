// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_VSOCK helpers of mvsock's test and benchmark programs; see
 * vsock_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "num.h"
#include "vsock_util.h"

int vu_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char num[32];
	size_t len = s ? strlen(s) : 0;
	uint64_t v, mul = 1;
	int err;

	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 'K': case 'k':
		mul = 1ull << 10;
		break;
	case 'M': case 'm':
		mul = 1ull << 20;
		break;
	case 'G': case 'g':
		mul = 1ull << 30;
		break;
	}
	if (mul > 1)
		num[len - 1] = '\0';
	err = num_u64(num, 10, 0, UINT64_MAX / mul, &v);
	if (err)
		return err;
	v *= mul;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

long vu_now_ms(void)
{
	return (long)(vu_now_ns() / 1000000u);
}

uint64_t vu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- addresses and set-up ------------------------------------------------- */

struct sockaddr_vm vaddr(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a;

	memset(&a, 0, sizeof(a));
	a.svm_family = AF_VSOCK;
	a.svm_cid = cid;
	a.svm_port = port;
	return a;
}

int vsock_socket(int type)
{
	return socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
}

int vbind(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a = vaddr(cid, port);

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

int vconnect(int fd, unsigned int cid, unsigned int port)
{
	struct sockaddr_vm a = vaddr(cid, port);

	return connect(fd, (struct sockaddr *)&a, sizeof(a));
}

/* close fd keeping errno; returns -1 */
static int close_fail(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
	return -1;
}

int vlistener(int type, unsigned int cid, unsigned int port, int backlog)
{
	int fd = vsock_socket(type);

	if (fd < 0)
		return -1;
	if (vbind(fd, cid, port) || listen(fd, backlog))
		return close_fail(fd);
	return fd;
}

int vconnect_to(int type, unsigned int cid, unsigned int port,
		int timeout_ms)
{
	int fd = vsock_socket(type);

	if (fd < 0)
		return -1;
	if (timeout_ms > 0) {
		struct timeval tv = {
			.tv_sec = timeout_ms / 1000,
			.tv_usec = (timeout_ms % 1000) * 1000,
		};

		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT,
			   &tv, sizeof(tv));
	}
	if (vconnect(fd, cid, port))
		return close_fail(fd);
	return fd;
}

/* wait up to timeout_ms for fd to be readable: 0, or -1 with errno
 * (ETIMEDOUT when it did not become readable)
 */
static int wait_in(int fd, int timeout_ms)
{
	int r = poll1(fd, POLLIN, timeout_ms);

	if (r < 0)
		return -1;
	if (!r) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

int vaccept(int lfd, int timeout_ms)
{
	if (wait_in(lfd, timeout_ms))
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int set_timeo(int fd, int opt, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

int sock_error(int fd)
{
	int err = -1;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -1;
	return err;
}

int poll1(int fd, short events, int ms)
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

/* --- data ------------------------------------------------------------------ */

ssize_t send_all(int fd, const void *buf, size_t len, int flags)
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

ssize_t recv_all(int fd, void *buf, size_t len, int flags)
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

ssize_t recv_timeout(int fd, void *buf, size_t n, int flags, int timeout_ms)
{
	if (wait_in(fd, timeout_ms))
		return -1;
	return recv(fd, buf, n, flags | MSG_DONTWAIT);
}

/*
 * The pattern: byte at offset OFF of stream SEED is
 * pat_table[(OFF + SEED * PAT_SEED_STEP) mod PAT_PERIOD].  The period is a
 * prime well above every packet and buffer size; the table holds two
 * periods so that any window of up to one period is contiguous.
 */
#define PAT_PERIOD 1000003u
#define PAT_SEED_STEP 7919u

static uint8_t *pat_table;
static pthread_once_t pat_once = PTHREAD_ONCE_INIT;

static void pat_build(void)
{
	uint64_t x = 0x2545f4914f6cdd1dULL;

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

/* the table window of stream SEED at OFF (no 64-bit wrap-around) */
void pat_init(void)
{
	pthread_once(&pat_once, pat_build);
}

static const uint8_t *pat_at(uint64_t seed, uint64_t off)
{
	pat_init();
	return pat_table + (off % PAT_PERIOD +
			    (seed % PAT_PERIOD) * PAT_SEED_STEP % PAT_PERIOD) %
			   PAT_PERIOD;
}

void pat_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		size_t n = len < PAT_PERIOD ? len : PAT_PERIOD;

		memcpy(p, pat_at(seed, off), n);
		p += n;
		off += n;
		len -= n;
	}
}

long pat_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < PAT_PERIOD ? len - done : PAT_PERIOD;
		const uint8_t *ref = pat_at(seed, off + done);

		if (memcmp(p + done, ref, n)) {
			for (size_t i = 0; i < n; i++)
				if (p[done + i] != ref[i])
					return (long)(done + i);
		}
		done += n;
	}
	return -1;
}

uint64_t pat_send(int fd, uint64_t seed, uint64_t off, uint64_t n,
		  size_t chunk, int *err)
{
	uint8_t *buf = malloc(chunk);
	uint64_t done = 0;

	*err = 0;
	if (!buf) {
		*err = ENOMEM;
		return 0;
	}
	while (done < n) {
		size_t k = n - done < chunk ? (size_t)(n - done) : chunk;
		ssize_t r;

		pat_fill(buf, k, seed, off + done);
		r = send(fd, buf, k, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			break;
		}
		done += (uint64_t)r;
	}
	free(buf);
	return done;
}

uint64_t pat_recv(int fd, uint64_t seed, uint64_t off, uint64_t n,
		  uint64_t *bad, int timeout_ms, int *err)
{
	size_t cap = 256 * 1024;
	uint8_t *buf = malloc(cap);
	long deadline = vu_now_ms() + timeout_ms;
	uint64_t done = 0;

	*err = 0;
	*bad = 0;
	if (!buf) {
		*err = ENOMEM;
		return 0;
	}
	while (done < n) {
		long left = deadline - vu_now_ms();
		size_t k = n - done < cap ? (size_t)(n - done) : cap;
		ssize_t r;

		if (left <= 0) {
			*err = ETIMEDOUT;
			break;
		}
		r = recv_timeout(fd, buf, k, 0, (int)left);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			*err = errno;
			break;
		}
		if (r == 0) {
			*err = EPIPE;	/* EOF before the end */
			break;
		}
		if (pat_check(buf, (size_t)r, seed, off + done) >= 0)
			(*bad)++;
		done += (uint64_t)r;
	}
	free(buf);
	return done;
}
