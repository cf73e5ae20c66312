/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_VSOCK helpers of mvsock's test and benchmark programs
 * (selftests/socket, selftests/host, selftests/proto, selftests/multidev,
 * tools/bench): addresses, socket set-up with timeouts, whole-buffer
 * send/receive and the one data pattern.  Link vsock_util.c.
 *
 * Errors: functions returning an fd or a count return -1 with errno set,
 * unless said otherwise.  Nothing here prints.
 */
#ifndef MVSOCK_VSOCK_UTIL_H
#define MVSOCK_VSOCK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/vm_sockets.h>

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

/* A size argument: bytes with an optional K, M or G suffix (1024-based),
 * in [min, max]; 0 or num.h's -EINVAL / -ERANGE.
 */
int vu_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* CLOCK_MONOTONIC */
long vu_now_ms(void);
uint64_t vu_now_ns(void);

/* --- addresses and set-up ----------------------------------------------- */

struct sockaddr_vm vaddr(unsigned int cid, unsigned int port);
/* socket(AF_VSOCK, type | SOCK_CLOEXEC) */
int vsock_socket(int type);
int vbind(int fd, unsigned int cid, unsigned int port);
int vconnect(int fd, unsigned int cid, unsigned int port);
/* socket + bind + listen */
int vlistener(int type, unsigned int cid, unsigned int port, int backlog);
/* socket + connect; timeout_ms > 0 sets the connect timeout first */
int vconnect_to(int type, unsigned int cid, unsigned int port,
		int timeout_ms);
/* wait up to timeout_ms (< 0: forever) for a connection, then accept it
 * (SOCK_CLOEXEC); errno ETIMEDOUT when none came
 */
int vaccept(int lfd, int timeout_ms);

int set_nonblock(int fd, bool on);
/* SO_RCVTIMEO / SO_SNDTIMEO in milliseconds */
int set_timeo(int fd, int opt, long ms);
/* SO_ERROR, -1 when it cannot be read */
int sock_error(int fd);
/* poll one fd (EINTR retried): revents, 0 on timeout, -1 on error */
int poll1(int fd, short events, int ms);

/* --- data ---------------------------------------------------------------- */

/* send/receive exactly len bytes (blocking fd; EINTR retried): the bytes
 * done (fewer on EOF or an error after some), -1 when nothing was done
 */
ssize_t send_all(int fd, const void *buf, size_t len, int flags);
ssize_t recv_all(int fd, void *buf, size_t len, int flags);
/* one recv() after waiting up to timeout_ms for data: bytes, 0 on EOF,
 * -1 with errno (ETIMEDOUT when nothing came)
 */
ssize_t recv_timeout(int fd, void *buf, size_t n, int flags, int timeout_ms);

/* The data pattern: byte at stream offset OFF of stream SEED.  Fill and
 * check run at memcpy/memcmp speed (that matters under TCG); loss,
 * duplication and reordering within a stream all show up.  Thread-safe.
 */
/* build the pattern's table now (before forking: children share it) */
void pat_init(void);
void pat_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* -1 when buf matches, else the index of the first wrong byte */
long pat_check(const void *buf, size_t len, uint64_t seed, uint64_t off);
/* send n pattern bytes in chunks of chunk (blocking, MSG_NOSIGNAL):
 * the bytes sent; *err = errno of a failure, else 0
 */
uint64_t pat_send(int fd, uint64_t seed, uint64_t off, uint64_t n,
		  size_t chunk, int *err);
/* receive n bytes within timeout_ms checking the pattern: bytes received;
 * *bad = chunks that did not match; *err = ETIMEDOUT, EPIPE (EOF before
 * n), another errno, or 0
 */
uint64_t pat_recv(int fd, uint64_t seed, uint64_t off, uint64_t n,
		  uint64_t *bad, int timeout_ms, int *err);

#endif /* MVSOCK_VSOCK_UTIL_H */
