// SPDX-License-Identifier: GPL-2.0
/*
 * AF_VSOCK socket API selftests over the loopback device (CID 1).
 *
 * "Correct" is what stock Linux 6.12 vsock + vsock_loopback does; the
 * expected errno values below were checked against it.  Output is KTAP.
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "util.h"

#define UNUSED __attribute__((unused))
#define CASE(fn) static int fn(const struct kt_case *tc UNUSED)
#define TYPE ((int)tc->arg)

#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef VSOCK_RECVERR
#define VSOCK_RECVERR 1
#endif

/* a CID that is neither local nor reachable */
#define FAR_CID 12345u

static int expect_addr(const char *what, const struct sockaddr_vm *a,
		       socklen_t len, unsigned int cid, unsigned int port)
{
	if (len != sizeof(*a) || a->svm_family != AF_VSOCK ||
	    a->svm_cid != cid || a->svm_port != port) {
		kt_diag("%s: expected len %zu family %d cid %u port %u, got len %u family %d cid %u port %u",
			what, sizeof(*a), AF_VSOCK, cid, port, (unsigned int)len,
			a->svm_family, a->svm_cid, a->svm_port);
		return -1;
	}
	return 0;
}

static int getname(int fd, bool peer, struct sockaddr_vm *a, socklen_t *len)
{
	*len = sizeof(*a);
	memset(a, 0xa5, sizeof(*a));
	return peer ? getpeername(fd, (struct sockaddr *)a, len) :
		      getsockname(fd, (struct sockaddr *)a, len);
}

static volatile sig_atomic_t sigpipe_count;

static void on_sigpipe(int sig UNUSED)
{
	sigpipe_count++;
}

static void catch_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = on_sigpipe };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigpipe_count = 0;
}

/* ------------------------------------------------------------------ */
/* socket()                                                            */

CASE(socket_create)
{
	int fd;

	fd = KT_OK(socket(AF_VSOCK, TYPE, 0));
	close(fd);
	/* protocol PF_VSOCK is accepted as well as 0 */
	fd = KT_OK(socket(AF_VSOCK, TYPE, PF_VSOCK));
	close(fd);
	fd = KT_OK(socket(AF_VSOCK, TYPE | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	KT_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK not set");
	KT_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC not set");
	close(fd);
	return KT_PASS;
}

CASE(socket_dgram_no_transport)
{
	/* loopback offers no datagram transport: vsock_create() fails to
	 * assign one
	 */
	KT_ERRNO(socket(AF_VSOCK, SOCK_DGRAM, 0), ENODEV);
	return KT_PASS;
}

CASE(socket_bad_type)
{
	KT_ERRNO(socket(AF_VSOCK, SOCK_RAW, 0), ESOCKTNOSUPPORT);
	KT_ERRNO(socket(AF_VSOCK, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	KT_ERRNO(socket(AF_VSOCK, SOCK_PACKET, 0), ESOCKTNOSUPPORT);
	/* >= SOCK_MAX is refused by the socket core */
	KT_ERRNO(socket(AF_VSOCK, 11, 0), EINVAL);
	return KT_PASS;
}

CASE(socket_bad_protocol)
{
	KT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 1), EPROTONOSUPPORT);
	KT_ERRNO(socket(AF_VSOCK, SOCK_SEQPACKET, IPPROTO_TCP), EPROTONOSUPPORT);
	KT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, PF_VSOCK + 1), EPROTONOSUPPORT);
	return KT_PASS;
}

CASE(socketpair_unsupported)
{
	int sv[2];

	KT_ERRNO(socketpair(AF_VSOCK, SOCK_STREAM, 0, sv), EOPNOTSUPP);
	KT_ERRNO(socketpair(AF_VSOCK, SOCK_SEQPACKET, 0, sv), EOPNOTSUPP);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* bind()                                                              */

CASE(getsockname_unbound)
{
	struct sockaddr_vm a;
	socklen_t len;
	int fd = KT_OK(vsock_socket(TYPE));

	KT_OK(getname(fd, false, &a, &len));
	if (expect_addr("getsockname", &a, len, VMADDR_CID_ANY, VMADDR_PORT_ANY))
		return KT_FAIL;
	KT_ERRNO(getname(fd, true, &a, &len), ENOTCONN);
	close(fd);
	return KT_PASS;
}

CASE(bind_ephemeral)
{
	struct sockaddr_vm a;
	socklen_t len;
	int fd = KT_OK(vsock_socket(TYPE));
	int fd2 = KT_OK(vsock_socket(TYPE));
	unsigned int p1;

	KT_OK(vbind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY));
	KT_OK(getname(fd, false, &a, &len));
	/* the CID stays VMADDR_CID_ANY, the port is picked above 1023 */
	KT_ASSERT(len == sizeof(a) && a.svm_family == AF_VSOCK,
		  "len %u family %d", (unsigned int)len, a.svm_family);
	KT_ASSERT(a.svm_cid == VMADDR_CID_ANY, "cid %u", a.svm_cid);
	KT_ASSERT(a.svm_port > LAST_RESERVED_PORT && a.svm_port != VMADDR_PORT_ANY,
		  "port %u", a.svm_port);
	p1 = a.svm_port;

	/* explicit CID 1 with an ephemeral port */
	KT_OK(vbind(fd2, CID_LOCAL, VMADDR_PORT_ANY));
	KT_OK(getname(fd2, false, &a, &len));
	KT_ASSERT(a.svm_cid == CID_LOCAL, "cid %u", a.svm_cid);
	KT_ASSERT(a.svm_port > LAST_RESERVED_PORT && a.svm_port != VMADDR_PORT_ANY &&
		  a.svm_port != p1, "port %u (first %u)", a.svm_port, p1);
	close(fd);
	close(fd2);
	return KT_PASS;
}

CASE(bind_local_cid)
{
	struct sockaddr_vm a;
	socklen_t len;
	unsigned int port = tport(0);
	int fd = KT_OK(vsock_socket(TYPE));

	KT_OK(vbind(fd, CID_LOCAL, port));
	KT_OK(getname(fd, false, &a, &len));
	if (expect_addr("getsockname", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	close(fd);

	/* a larger address length than sockaddr_vm is fine */
	{
		struct sockaddr_storage ss;
		struct sockaddr_vm va = vaddr(VMADDR_CID_ANY, port + 1);

		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &va, sizeof(va));
		fd = KT_OK(vsock_socket(TYPE));
		KT_OK(bind(fd, (struct sockaddr *)&ss, sizeof(ss)));
		close(fd);
	}
	return KT_PASS;
}

CASE(bind_eaddrinuse)
{
	unsigned int port = tport(0);
	int a = KT_OK(vsock_socket(TYPE));
	int b = KT_OK(vsock_socket(TYPE));
	int other = KT_OK(vsock_socket(TYPE == SOCK_STREAM ? SOCK_SEQPACKET :
							      SOCK_STREAM));

	KT_OK(vbind(a, CID_LOCAL, port));
	KT_ERRNO(vbind(b, CID_LOCAL, port), EADDRINUSE);
	/* VMADDR_CID_ANY conflicts with CID 1 on the same port */
	KT_ERRNO(vbind(b, VMADDR_CID_ANY, port), EADDRINUSE);
	/* stream and seqpacket share one port space */
	KT_ERRNO(vbind(other, CID_LOCAL, port), EADDRINUSE);

	/* and the other way round: ANY first, then CID 1 */
	KT_OK(vbind(b, VMADDR_CID_ANY, port + 1));
	KT_ERRNO(vbind(other, CID_LOCAL, port + 1), EADDRINUSE);

	/* the failed binds left the sockets unbound */
	KT_OK(vbind(other, CID_LOCAL, port + 2));
	close(a);
	close(b);
	close(other);
	return KT_PASS;
}

CASE(bind_port_free_after_close)
{
	unsigned int port = tport(0);

	for (int i = 0; i < 3; i++) {
		int fd = KT_OK(vsock_socket(TYPE));

		KT_OK(vbind(fd, CID_LOCAL, port));
		close(fd);
	}
	/* a listener's port is free again once it is closed */
	for (int i = 0; i < 3; i++) {
		int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 1));

		close(l);
	}
	return KT_PASS;
}

CASE(bind_twice)
{
	unsigned int port = tport(0);
	int fd = KT_OK(vsock_socket(TYPE));

	KT_OK(vbind(fd, CID_LOCAL, port));
	KT_ERRNO(vbind(fd, CID_LOCAL, port), EINVAL);
	KT_ERRNO(vbind(fd, CID_LOCAL, port + 1), EINVAL);
	KT_ERRNO(vbind(fd, VMADDR_CID_ANY, VMADDR_PORT_ANY), EINVAL);
	close(fd);
	return KT_PASS;
}

CASE(bind_nonlocal_cid)
{
	unsigned int port = tport(0);
	int fd = KT_OK(vsock_socket(TYPE));

	KT_ERRNO(vbind(fd, FAR_CID, port), EADDRNOTAVAIL);
	/* no host/guest transport: the host CID is not local either */
	KT_ERRNO(vbind(fd, VMADDR_CID_HOST, port), EADDRNOTAVAIL);
	KT_ERRNO(vbind(fd, VMADDR_CID_HYPERVISOR, port), EADDRNOTAVAIL);
	KT_ERRNO(vbind(fd, FAR_CID, VMADDR_PORT_ANY), EADDRNOTAVAIL);
	/* still unbound */
	KT_OK(vbind(fd, CID_LOCAL, port));
	close(fd);
	return KT_PASS;
}

CASE(bind_bad_addrlen)
{
	struct sockaddr_vm a = vaddr(CID_LOCAL, tport(0));
	char big[sizeof(struct sockaddr_storage) + 8];
	int fd = KT_OK(vsock_socket(TYPE));

	KT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, 8), EINVAL);
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, 0), EINVAL);
	memset(big, 0, sizeof(big));
	memcpy(big, &a, sizeof(a));
	KT_ERRNO(bind(fd, (struct sockaddr *)big, sizeof(big)), EINVAL);
	KT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	return KT_PASS;
}

CASE(bind_bad_family)
{
	struct sockaddr_vm a = vaddr(CID_LOCAL, tport(0));
	int fd = KT_OK(vsock_socket(TYPE));

	a.svm_family = AF_INET;
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	a.svm_family = AF_UNSPEC;
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	/* unknown svm_flags bits */
	a.svm_family = AF_VSOCK;
	a.svm_flags = 0x02;
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	a.svm_flags = 0x80;
	KT_ERRNO(bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	/* VMADDR_FLAG_TO_HOST is a known flag */
	a.svm_flags = VMADDR_FLAG_TO_HOST;
	KT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	return KT_PASS;
}

static int drop_bind_cap(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_NET_BIND_SERVICE / 32].effective &= ~(1u << (CAP_NET_BIND_SERVICE % 32));
	d[CAP_NET_BIND_SERVICE / 32].permitted &= ~(1u << (CAP_NET_BIND_SERVICE % 32));
	return (int)syscall(SYS_capset, &h, d);
}

struct priv_arg {
	int type;
	unsigned int port;
	int mode;	/* 0: drop the capability only, 1: setuid(65534) */
};

static int priv_child(void *p)
{
	struct priv_arg *pa = p;
	int fd;

	if (pa->mode == 0 ? drop_bind_cap() : setuid(65534)) {
		kt_diag("dropping privilege: %s", kt_errname(errno));
		return 3;
	}
	fd = vsock_socket(pa->type);
	if (fd < 0)
		return 3;
	errno = 0;
	if (vbind(fd, CID_LOCAL, LAST_RESERVED_PORT) != -1 || errno != EACCES) {
		kt_diag("mode %d: bind port %d: expected EACCES, got %s", pa->mode,
			LAST_RESERVED_PORT, kt_errname(errno));
		return 1;
	}
	errno = 0;
	if (vbind(fd, VMADDR_CID_ANY, 1) != -1 || errno != EACCES) {
		kt_diag("mode %d: bind port 1: expected EACCES, got %s", pa->mode,
			kt_errname(errno));
		return 1;
	}
	/* the ephemeral allocator never hands out reserved ports, and an
	 * unprivileged bind above 1023 works
	 */
	if (vbind(fd, CID_LOCAL, pa->port)) {
		kt_diag("mode %d: bind port %u: %s", pa->mode, pa->port,
			kt_errname(errno));
		return 1;
	}
	close(fd);
	return 0;
}

CASE(bind_privileged_port)
{
	struct priv_arg pa = { .type = TYPE, .port = tport(0) };
	unsigned int low = 600 + (unsigned int)kt_cur_index;
	int fd, rc;

	if (geteuid() != 0) {
		kt_diag("needs root");
		return KT_SKIP;
	}
	/* root (CAP_NET_BIND_SERVICE) may bind below 1024 */
	fd = KT_OK(vsock_socket(TYPE));
	KT_OK(vbind(fd, CID_LOCAL, low));
	close(fd);

	for (pa.mode = 0; pa.mode < 2; pa.mode++) {
		pa.port = tport(pa.mode);
		rc = wait_child(fork_fn(priv_child, &pa), 5000);
		KT_ASSERT(rc == 0, "mode %d child status %d", pa.mode, rc);
	}
	return KT_PASS;
}

CASE(bind_after_listen_or_connect)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, CID_LOCAL, port, 2));
	int c = KT_OK(vclient(TYPE, port));

	KT_ERRNO(vbind(l, CID_LOCAL, port + 1), EINVAL);
	/* connect() auto-bound the client */
	KT_ERRNO(vbind(c, CID_LOCAL, port + 2), EINVAL);
	close(c);
	close(l);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* connect()                                                           */

CASE(connect_no_listener)
{
	int fd = KT_OK(vsock_socket(TYPE));

	KT_ERRNO(vconnect(fd, CID_LOCAL, tport(0)), ECONNRESET);
	close(fd);
	return KT_PASS;
}

CASE(connect_bound_not_listening)
{
	unsigned int port = tport(0);
	int s = KT_OK(vsock_socket(TYPE));
	int fd = KT_OK(vsock_socket(TYPE));

	KT_OK(vbind(s, CID_LOCAL, port));
	KT_ERRNO(vconnect(fd, CID_LOCAL, port), ECONNRESET);
	close(fd);
	close(s);
	return KT_PASS;
}

CASE(connect_type_mismatch)
{
	unsigned int port = tport(0);
	int other = TYPE == SOCK_STREAM ? SOCK_SEQPACKET : SOCK_STREAM;
	int l = KT_OK(vlistener(other, VMADDR_CID_ANY, port, 4));
	int fd = KT_OK(vsock_socket(TYPE));

	/* a request of the wrong type is answered with a reset */
	KT_ERRNO(vconnect(fd, CID_LOCAL, port), ECONNRESET);
	KT_ASSERT(poll1(l, POLLIN, 100) == 0, "listener got a connection");
	close(fd);
	close(l);
	return KT_PASS;
}

CASE(connect_blocking)
{
	struct sockaddr_vm a;
	socklen_t len;
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, CID_LOCAL, port, 4));
	int c = KT_OK(vsock_socket(TYPE));
	int s;

	KT_OK(vconnect(c, CID_LOCAL, port));
	KT_OK(getname(c, true, &a, &len));
	if (expect_addr("client getpeername", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	s = KT_OK(accept(l, NULL, NULL));
	KT_EQ(send(c, "ping", 4, 0), 4);
	{
		char buf[8];

		KT_EQ(recv(s, buf, sizeof(buf), 0), 4);
		KT_ASSERT(!memcmp(buf, "ping", 4), "data mismatch");
	}
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(connect_nonblock)
{
	struct sockaddr_vm a;
	socklen_t len;
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c = KT_OK(vsock_socket(TYPE | SOCK_NONBLOCK));
	int ev, s;

	KT_ERRNO(vconnect(c, CID_LOCAL, port), EINPROGRESS);
	ev = poll1(c, POLLOUT, 3000);
	KT_ASSERT(ev & POLLOUT, "poll: expected POLLOUT, got %s", pollstr(ev));
	KT_ASSERT(!(ev & (POLLERR | POLLHUP)), "poll: got %s", pollstr(ev));
	KT_EQ(sock_error(c), 0);
	KT_OK(getname(c, true, &a, &len));
	if (expect_addr("getpeername", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	/* connecting again on the established socket */
	KT_ERRNO(vconnect(c, CID_LOCAL, port), EISCONN);
	s = KT_OK(accept(l, NULL, NULL));
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(connect_nonblock_refused)
{
	int c = KT_OK(vsock_socket(TYPE | SOCK_NONBLOCK));
	int ev;

	KT_ERRNO(vconnect(c, CID_LOCAL, tport(0)), EINPROGRESS);
	ev = poll1(c, POLLOUT | POLLIN, 3000);
	/* the reset leaves the socket closed with sk_err = ECONNRESET */
	KT_ASSERT((ev & (POLLOUT | POLLERR)) == (POLLOUT | POLLERR) &&
		  !(ev & (POLLIN | POLLHUP)),
		  "poll: expected OUT|ERR, got %s", pollstr(ev));
	KT_EQ(sock_error(c), ECONNRESET);
	KT_EQ(sock_error(c), 0);
	close(c);
	return KT_PASS;
}

CASE(connect_retry_after_refused)
{
	unsigned int port = tport(0);
	int c = KT_OK(vsock_socket(TYPE));
	int l, s;

	KT_ERRNO(vconnect(c, CID_LOCAL, port), ECONNRESET);
	l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	/* the same socket may try again */
	KT_OK(vconnect(c, CID_LOCAL, port));
	s = KT_OK(accept(l, NULL, NULL));
	KT_EQ(send(s, "x", 1, 0), 1);
	{
		char ch = 0;

		KT_EQ(recv(c, &ch, 1, 0), 1);
		KT_ASSERT(ch == 'x', "got %c", ch);
	}
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(connect_timeout_option)
{
	struct timeval tv;
	struct { int64_t sec, usec; } ntv;
	socklen_t len;
	int fd = KT_OK(vsock_socket(TYPE));

	/* default: 2 s */
	len = sizeof(tv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len));
	KT_ASSERT(len == sizeof(tv) && tv.tv_sec == 2 && tv.tv_usec == 0,
		  "default: len %u %ld.%06ld", (unsigned int)len,
		  (long)tv.tv_sec, (long)tv.tv_usec);

	tv.tv_sec = 5;
	tv.tv_usec = 500000;
	KT_OK(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv)));
	memset(&tv, 0, sizeof(tv));
	len = sizeof(tv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len));
	KT_ASSERT(tv.tv_sec == 5 && tv.tv_usec == 500000, "got %ld.%06ld",
		  (long)tv.tv_sec, (long)tv.tv_usec);

	/* the y2038-safe variant sees the same value */
	len = sizeof(ntv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &ntv, &len));
	KT_ASSERT(len == sizeof(ntv) && ntv.sec == 5 && ntv.usec == 500000,
		  "new: len %u %lld.%06lld", (unsigned int)len,
		  (long long)ntv.sec, (long long)ntv.usec);
	ntv.sec = 1;
	ntv.usec = 0;
	KT_OK(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &ntv, sizeof(ntv)));
	len = sizeof(tv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len));
	KT_ASSERT(tv.tv_sec == 1 && tv.tv_usec == 0, "got %ld.%06ld",
		  (long)tv.tv_sec, (long)tv.tv_usec);

	/* zero means "use the default" */
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	KT_OK(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv)));
	len = sizeof(tv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len));
	KT_ASSERT(tv.tv_sec == 2 && tv.tv_usec == 0, "zero: got %ld.%06ld",
		  (long)tv.tv_sec, (long)tv.tv_usec);

	/* out of range values */
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv)), ERANGE);
	tv.tv_sec = 1;
	tv.tv_usec = 1000000;
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv)), ERANGE);
	/* short option buffers */
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, sizeof(tv) - 1), EINVAL);
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &ntv, 8), EINVAL);
	len = sizeof(tv) - 1;
	KT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len), EINVAL);
	/* the failures did not change the value */
	len = sizeof(tv);
	KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_OLD, &tv, &len));
	KT_ASSERT(tv.tv_sec == 2 && tv.tv_usec == 0, "after errors: got %ld.%06ld",
		  (long)tv.tv_sec, (long)tv.tv_usec);
	close(fd);
	return KT_PASS;
}

CASE(connect_eisconn)
{
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_ERRNO(vconnect(c, CID_LOCAL, tport(0)), EISCONN);
	KT_ERRNO(vconnect(c, CID_LOCAL, tport(1)), EISCONN);
	/* an accepted socket is connected as well */
	KT_ERRNO(vconnect(s, CID_LOCAL, tport(1)), EISCONN);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(connect_bad_address)
{
	struct sockaddr_vm a = vaddr(CID_LOCAL, tport(0));
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 4));
	int fd = KT_OK(vsock_socket(TYPE));

	KT_ERRNO(connect(fd, (struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
	KT_ERRNO(connect(fd, (struct sockaddr *)&a, 4), EINVAL);
	a.svm_family = AF_INET;
	KT_ERRNO(connect(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	a.svm_family = AF_VSOCK;
	a.svm_flags = 0x04;
	KT_ERRNO(connect(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	a.svm_flags = 0;
	/* the failures left the socket usable */
	KT_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	close(l);
	return KT_PASS;
}

CASE(connect_unreachable_cid)
{
	int fd = KT_OK(vsock_socket(TYPE));

	/* no transport reaches these CIDs */
	KT_ERRNO(vconnect(fd, FAR_CID, tport(0)), ENODEV);
	KT_ERRNO(vconnect(fd, VMADDR_CID_HYPERVISOR, tport(0)), ENODEV);
	KT_ERRNO(vconnect(fd, VMADDR_CID_ANY, tport(0)), ENODEV);
	close(fd);
	return KT_PASS;
}

CASE(connect_host_cid_alias)
{
	struct sockaddr_vm a;
	socklen_t len;
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int l1 = KT_OK(vlistener(TYPE, CID_LOCAL, port + 1, 4));
	int c = KT_OK(vsock_socket(TYPE));
	int c2 = KT_OK(vsock_socket(TYPE));
	int s;

	/* Without a guest->host transport, CID 2 (the host) is served by
	 * the loopback device too.
	 */
	KT_OK(vconnect(c, VMADDR_CID_HOST, port));
	KT_OK(getname(c, true, &a, &len));
	if (expect_addr("client getpeername", &a, len, VMADDR_CID_HOST, port))
		return KT_FAIL;
	s = KT_OK(accept(l, (struct sockaddr *)&a, &len));
	KT_ASSERT(a.svm_cid == CID_LOCAL, "accept peer cid %u", a.svm_cid);
	KT_OK(getname(s, false, &a, &len));
	if (expect_addr("server getsockname", &a, len, VMADDR_CID_HOST, port))
		return KT_FAIL;
	KT_EQ(send(c, "abc", 3, 0), 3);
	{
		char buf[4];

		KT_EQ(recv(s, buf, sizeof(buf), 0), 3);
	}
	/* a listener bound to CID 1 does not hear CID 2 */
	KT_ERRNO(vconnect(c2, VMADDR_CID_HOST, port + 1), ECONNRESET);
	close(s);
	close(c);
	close(c2);
	close(l);
	close(l1);
	return KT_PASS;
}

CASE(connect_on_listener)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int l2 = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port + 1, 4));

	KT_ERRNO(vconnect(l, CID_LOCAL, port + 1), EINVAL);
	KT_ASSERT(poll1(l2, POLLIN, 100) == 0, "listener got a connection");
	close(l);
	close(l2);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* listen() / accept()                                                 */

CASE(listen_unbound)
{
	int fd = KT_OK(vsock_socket(TYPE));

	/* no autobind on listen */
	KT_ERRNO(listen(fd, 1), EINVAL);
	close(fd);
	return KT_PASS;
}

CASE(listen_connected)
{
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_ERRNO(listen(c, 1), EINVAL);
	KT_ERRNO(listen(s, 1), EINVAL);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(listen_twice)
{
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 1));
	int c, s;

	/* listen() again just updates the backlog */
	KT_OK(listen(l, 5));
	c = KT_OK(vclient(TYPE, tport(0)));
	s = KT_OK(accept(l, NULL, NULL));
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(accept_addresses)
{
	struct sockaddr_vm a;
	socklen_t len;
	unsigned int port = tport(0), cport = tport(1);
	int l = KT_OK(vlistener(TYPE, CID_LOCAL, port, 4));
	int c = KT_OK(vsock_socket(TYPE));
	int s;

	KT_OK(vbind(c, CID_LOCAL, cport));
	KT_OK(vconnect(c, CID_LOCAL, port));
	len = sizeof(a);
	memset(&a, 0, sizeof(a));
	s = KT_OK(accept(l, (struct sockaddr *)&a, &len));
	if (expect_addr("accept addr", &a, len, CID_LOCAL, cport))
		return KT_FAIL;
	KT_OK(getname(s, true, &a, &len));
	if (expect_addr("server getpeername", &a, len, CID_LOCAL, cport))
		return KT_FAIL;
	KT_OK(getname(s, false, &a, &len));
	if (expect_addr("server getsockname", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	KT_OK(getname(c, true, &a, &len));
	if (expect_addr("client getpeername", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	KT_OK(getname(c, false, &a, &len));
	if (expect_addr("client getsockname", &a, len, CID_LOCAL, cport))
		return KT_FAIL;
	/* the listener keeps its own address */
	KT_OK(getname(l, false, &a, &len));
	if (expect_addr("listener getsockname", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	KT_ERRNO(getname(l, true, &a, &len), ENOTCONN);
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(accept_addresses_autobind)
{
	struct sockaddr_vm a, ca;
	socklen_t len;
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c = KT_OK(vclient(TYPE, port));
	int s;

	/* connect() auto-binds to (VMADDR_CID_ANY, ephemeral port), and the
	 * client keeps reporting VMADDR_CID_ANY as its local CID
	 */
	KT_OK(getname(c, false, &ca, &len));
	KT_ASSERT(ca.svm_cid == VMADDR_CID_ANY, "client cid %u", ca.svm_cid);
	KT_ASSERT(ca.svm_port > LAST_RESERVED_PORT && ca.svm_port != VMADDR_PORT_ANY,
		  "client port %u", ca.svm_port);
	len = sizeof(a);
	s = KT_OK(accept(l, (struct sockaddr *)&a, &len));
	if (expect_addr("accept addr", &a, len, CID_LOCAL, ca.svm_port))
		return KT_FAIL;
	/* the accepted socket reports the address the request was sent to */
	KT_OK(getname(s, false, &a, &len));
	if (expect_addr("server getsockname", &a, len, CID_LOCAL, port))
		return KT_FAIL;
	/* a listener bound to VMADDR_CID_ANY keeps reporting it */
	KT_OK(getname(l, false, &a, &len));
	if (expect_addr("listener getsockname", &a, len, VMADDR_CID_ANY, port))
		return KT_FAIL;
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(accept_backlog_limit)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 1));
	int c[4], s;

	/* backlog N queues N + 1 connections; the next one is reset */
	c[0] = KT_OK(vclient(TYPE, port));
	c[1] = KT_OK(vclient(TYPE, port));
	c[2] = KT_OK(vsock_socket(TYPE));
	KT_ERRNO(vconnect(c[2], CID_LOCAL, port), ECONNRESET);
	/* accepting one makes room for one */
	s = KT_OK(accept(l, NULL, NULL));
	close(s);
	c[3] = KT_OK(vclient(TYPE, port));
	KT_ERRNO(vconnect(c[2], CID_LOCAL, port), ECONNRESET);
	for (int i = 0; i < 4; i++)
		close(c[i]);
	close(l);

	/* backlog 0 still takes one */
	l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port + 1, 0));
	c[0] = KT_OK(vclient(TYPE, port + 1));
	c[1] = KT_OK(vsock_socket(TYPE));
	KT_ERRNO(vconnect(c[1], CID_LOCAL, port + 1), ECONNRESET);
	close(c[0]);
	close(c[1]);
	close(l);
	return KT_PASS;
}

CASE(accept4_flags)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c = KT_OK(vclient(TYPE, port));
	int s = KT_OK(accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	char ch;

	KT_ASSERT(fcntl(s, F_GETFL) & O_NONBLOCK, "accepted socket blocks");
	KT_ASSERT(fcntl(s, F_GETFD) & FD_CLOEXEC, "accepted socket lacks CLOEXEC");
	KT_ERRNO(recv(s, &ch, 1, 0), EAGAIN);
	close(s);
	close(c);
	/* and without flags the accepted socket blocks */
	c = KT_OK(vclient(TYPE, port));
	s = KT_OK(accept4(l, NULL, NULL, 0));
	KT_ASSERT(!(fcntl(s, F_GETFL) & O_NONBLOCK), "accepted socket is non-blocking");
	KT_ASSERT(!(fcntl(s, F_GETFD) & FD_CLOEXEC), "accepted socket has CLOEXEC");
	KT_ERRNO(accept4(l, NULL, NULL, 0x1), EINVAL);
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

CASE(accept_nonblock_empty)
{
	int l = KT_OK(vlistener(TYPE | SOCK_NONBLOCK, VMADDR_CID_ANY, tport(0), 4));
	int l2 = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(1), 4));

	KT_ERRNO(accept(l, NULL, NULL), EAGAIN);
	/* blocking listener with SO_RCVTIMEO times out with EAGAIN */
	KT_OK(set_timeo(l2, SO_RCVTIMEO, 200));
	{
		long t0 = kt_now_ms(), dt;

		KT_ERRNO(accept(l2, NULL, NULL), EAGAIN);
		dt = kt_now_ms() - t0;
		KT_ASSERT(dt >= 150 && dt < 5000, "accept waited %ld ms", dt);
	}
	close(l);
	close(l2);
	return KT_PASS;
}

CASE(accept_not_listening)
{
	int u = KT_OK(vsock_socket(TYPE));
	int b = KT_OK(vsock_socket(TYPE));
	int c, s;

	KT_ERRNO(accept(u, NULL, NULL), EINVAL);
	KT_OK(vbind(b, CID_LOCAL, tport(0)));
	KT_ERRNO(accept(b, NULL, NULL), EINVAL);
	KT_OK(vpair(TYPE, tport(1), &c, &s));
	KT_ERRNO(accept(c, NULL, NULL), EINVAL);
	KT_ERRNO(accept(s, NULL, NULL), EINVAL);
	close(u);
	close(b);
	close(c);
	close(s);
	return KT_PASS;
}

static int connect_later(void *p)
{
	unsigned int port = *(unsigned int *)p;
	int c;

	usleep(200 * 1000);
	c = vclient(SOCK_STREAM, port);
	if (c < 0)
		return 1;
	if (send(c, "z", 1, 0) != 1)
		return 1;
	usleep(300 * 1000);
	close(c);
	return 0;
}

CASE(accept_blocking_wakeup)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(SOCK_STREAM, VMADDR_CID_ANY, port, 4));
	pid_t pid = fork_fn(connect_later, &port);
	int ev, s;
	char ch = 0;

	KT_ASSERT(pid > 0, "fork");
	/* the listener polls readable once a connection is queued */
	ev = poll1(l, POLL_ALL, 3000);
	KT_ASSERT(ev == (POLLIN | POLLRDNORM), "listener poll: got %s", pollstr(ev));
	s = KT_OK(accept(l, NULL, NULL));
	KT_EQ(recv(s, &ch, 1, 0), 1);
	KT_ASSERT(ch == 'z', "got %c", ch);
	KT_EQ(wait_child(pid, 3000), 0);
	/* with nothing queued it is not readable (and never writable) */
	ev = poll1(l, POLL_ALL, 50);
	KT_ASSERT(ev == 0, "empty listener poll: got %s", pollstr(ev));
	close(s);
	close(l);
	return KT_PASS;
}

CASE(accept_after_client_closed)
{
	char buf[8];
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c = KT_OK(vclient(TYPE, port));
	int s;

	KT_EQ(send(c, "hi", 2, 0), 2);
	close(c);
	/* a queued connection whose client already left is still accepted;
	 * its data is there, then EOF
	 */
	s = KT_OK(accept(l, NULL, NULL));
	KT_EQ(recv(s, buf, sizeof(buf), 0), 2);
	KT_ASSERT(!memcmp(buf, "hi", 2), "data mismatch");
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	KT_ERRNO(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(s);
	close(l);
	return KT_PASS;
}

static void on_alarm(int sig UNUSED)
{
}

/* arm a one-shot SIGALRM in MS milliseconds, without SA_RESTART */
static void alarm_ms(long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

CASE(signal_interrupts_blocking_calls)
{
	char buf[8];
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 4));
	int c, s;

	/* a signal without SA_RESTART ends blocking accept/recv with EINTR */
	alarm_ms(200);
	KT_ERRNO(accept(l, NULL, NULL), EINTR);
	KT_OK(vpair(TYPE, tport(1), &c, &s));
	alarm_ms(200);
	KT_ERRNO(recv(s, buf, sizeof(buf), 0), EINTR);
	/* the connection is still fine */
	KT_EQ(send(c, "ok", 2, 0), 2);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 2);
	close(c);
	close(s);
	close(l);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* send() / recv()                                                     */

CASE(msg_peek_stream)
{
	char buf[64];
	int c, s;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	KT_EQ(send(c, "hello world", 11, 0), 11);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, 5, MSG_PEEK), 5);
	KT_ASSERT(!memcmp(buf, "hello", 5), "peek 5: got '%.5s'", buf);
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, sizeof(buf), MSG_PEEK), 11);
	KT_ASSERT(!memcmp(buf, "hello world", 11), "peek all: got '%.11s'", buf);
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, 6, 0), 6);
	KT_ASSERT(!memcmp(buf, "hello ", 6), "read 6: got '%.6s'", buf);
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), 5);
	KT_ASSERT(!memcmp(buf, "world", 5), "peek rest: got '%.5s'", buf);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 5);
	KT_ASSERT(!memcmp(buf, "world", 5), "read rest: got '%.5s'", buf);
	KT_ERRNO(recv(s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	close(c);
	close(s);
	return KT_PASS;
}

static ssize_t recv_msg(int fd, void *buf, size_t len, int flags, int *mflags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(fd, &m, flags);

	*mflags = m.msg_flags;
	return n;
}

CASE(msg_peek_seqpacket)
{
	char buf[64];
	int c, s, mf;

	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	KT_EQ(send(c, "message-one", 11, 0), 11);
	KT_EQ(send(c, "two", 3, 0), 3);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	/* peek with a short buffer: truncated copy, MSG_TRUNC reported */
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv_msg(s, buf, 4, MSG_PEEK, &mf), 4);
	KT_ASSERT(!memcmp(buf, "mess", 4), "got '%.4s'", buf);
	KT_ASSERT(mf & MSG_TRUNC, "msg_flags 0x%x lacks MSG_TRUNC", mf);
	/* MSG_PEEK|MSG_TRUNC returns the real length */
	KT_EQ(recv_msg(s, buf, 4, MSG_PEEK | MSG_TRUNC, &mf), 11);
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv_msg(s, buf, sizeof(buf), MSG_PEEK, &mf), 11);
	KT_ASSERT(!(mf & MSG_TRUNC), "msg_flags 0x%x", mf);
	KT_ASSERT(!memcmp(buf, "message-one", 11), "got '%.11s'", buf);
	/* peeking did not consume: the read gets the same message */
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 11);
	KT_ASSERT(!memcmp(buf, "message-one", 11), "got '%.11s'", buf);
	KT_EQ(recv_msg(s, buf, sizeof(buf), MSG_PEEK, &mf), 3);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 3);
	KT_ASSERT(!memcmp(buf, "two", 3), "got '%.3s'", buf);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(recv_dontwait_empty)
{
	char buf[8];
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_ERRNO(recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	KT_ERRNO(recv(c, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	KT_OK(set_nonblock(s, true));
	KT_ERRNO(recv(s, buf, sizeof(buf), 0), EAGAIN);
	KT_ERRNO(read(s, buf, sizeof(buf)), EAGAIN);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(recv_rcvtimeo)
{
	char buf[8];
	long t0, dt;
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_OK(set_timeo(s, SO_RCVTIMEO, 200));
	t0 = kt_now_ms();
	KT_ERRNO(recv(s, buf, sizeof(buf), 0), EAGAIN);
	dt = kt_now_ms() - t0;
	KT_ASSERT(dt >= 150 && dt < 5000, "recv waited %ld ms", dt);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(recv_zero_length)
{
	char buf[8];
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	/* a zero-length read returns at once, data or not */
	KT_EQ(recv(s, buf, 0, 0), 0);
	KT_EQ(send(c, "abc", 3, 0), 3);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	KT_EQ(recv(s, buf, 0, 0), 0);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 3);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(seqpacket_msg_trunc)
{
	char out[100], buf[200];
	int c, s, mf;

	for (int i = 0; i < (int)sizeof(out); i++)
		out[i] = (char)i;
	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	KT_EQ(send(c, out, sizeof(out), 0), sizeof(out));
	KT_EQ(send(c, out, sizeof(out), 0), sizeof(out));
	KT_EQ(send(c, "end", 3, 0), 3);
	/* short buffer: returns the copied length, flags MSG_TRUNC, and the
	 * rest of the message is dropped
	 */
	KT_EQ(recv_msg(s, buf, 10, 0, &mf), 10);
	KT_ASSERT(mf & MSG_TRUNC, "msg_flags 0x%x lacks MSG_TRUNC", mf);
	KT_ASSERT(!memcmp(buf, out, 10), "data mismatch");
	/* with MSG_TRUNC in flags: the real length */
	KT_EQ(recv_msg(s, buf, 10, MSG_TRUNC, &mf), 100);
	KT_ASSERT(mf & MSG_TRUNC, "msg_flags 0x%x lacks MSG_TRUNC", mf);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 3);
	KT_ASSERT(!(mf & MSG_TRUNC), "msg_flags 0x%x has MSG_TRUNC", mf);
	KT_ASSERT(!memcmp(buf, "end", 3), "data mismatch");
	close(c);
	close(s);
	return KT_PASS;
}

static const size_t bound_sizes[] = { 1, 2, 100, 0, 1000, 4096, 4097, 65536,
				      200000, 7 };
#define NBOUND (sizeof(bound_sizes) / sizeof(bound_sizes[0]))

static int seq_sender(void *p)
{
	int fd = *(int *)p;
	static uint8_t buf[200000];

	for (size_t i = 0; i < NBOUND; i++) {
		pat_fill(buf, bound_sizes[i], (uint32_t)i, 0);
		if (send(fd, buf, bound_sizes[i], 0) != (ssize_t)bound_sizes[i]) {
			kt_diag("sender: message %zu (%zu bytes): %s", i,
				bound_sizes[i], kt_errname(errno));
			return 1;
		}
	}
	return 0;
}

CASE(seqpacket_boundaries)
{
	static uint8_t buf[300000];
	int c, s, mf;
	pid_t pid;

	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	pid = fork_fn(seq_sender, &c);
	for (size_t i = 0; i < NBOUND; i++) {
		ssize_t n;

		if (!bound_sizes[i])	/* a zero-length send makes no record */
			continue;
		n = recv_msg(s, buf, sizeof(buf), 0, &mf);
		KT_ASSERT(n == (ssize_t)bound_sizes[i],
			  "message %zu: expected %zu bytes, got %zd (%s)", i,
			  bound_sizes[i], n, n < 0 ? kt_errname(errno) : "");
		KT_ASSERT(!(mf & MSG_TRUNC), "message %zu: MSG_TRUNC", i);
		KT_ASSERT(pat_check(buf, (size_t)n, (uint32_t)i, 0) < 0,
			  "message %zu: data mismatch", i);
	}
	KT_EQ(wait_child(pid, 10000), 0);
	KT_ERRNO(recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(seqpacket_msg_eor)
{
	char buf[16];
	int c, s, mf;

	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	KT_EQ(send(c, "a", 1, MSG_EOR), 1);
	KT_EQ(send(c, "bb", 2, 0), 2);
	KT_EQ(send(c, "ccc", 3, MSG_EOR), 3);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 1);
	KT_ASSERT(mf & MSG_EOR, "1st: msg_flags 0x%x lacks MSG_EOR", mf);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 2);
	KT_ASSERT(!(mf & MSG_EOR), "2nd: msg_flags 0x%x has MSG_EOR", mf);
	KT_EQ(recv_msg(s, buf, sizeof(buf), MSG_PEEK, &mf), 3);
	KT_ASSERT(mf & MSG_EOR, "peek 3rd: msg_flags 0x%x lacks MSG_EOR", mf);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 3);
	KT_ASSERT(mf & MSG_EOR, "3rd: msg_flags 0x%x lacks MSG_EOR", mf);
	/* stream sockets accept MSG_EOR and never report it */
	close(c);
	close(s);
	KT_OK(vpair(SOCK_STREAM, tport(1), &c, &s));
	KT_EQ(send(c, "a", 1, MSG_EOR), 1);
	KT_EQ(recv_msg(s, buf, sizeof(buf), 0, &mf), 1);
	KT_ASSERT(!(mf & MSG_EOR), "stream: msg_flags 0x%x has MSG_EOR", mf);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(seqpacket_emsgsize)
{
	static uint8_t buf[262145];
	unsigned long long sz;
	int c, s;

	KT_OK(vpair(SOCK_SEQPACKET, tport(0), &c, &s));
	KT_OK(get_u64opt(c, SO_VM_SOCKETS_BUFFER_SIZE, &sz));
	KT_EQ(sz, 262144);
	/* a record larger than the buffer can never be sent */
	KT_ERRNO(send(c, buf, sizeof(buf), MSG_DONTWAIT), EMSGSIZE);
	KT_ERRNO(send(c, buf, sizeof(buf), 0), EMSGSIZE);
	/* exactly the buffer size fits */
	pat_fill(buf, 262144, 7, 0);
	KT_EQ(send(c, buf, 262144, 0), 262144);
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, sizeof(buf), 0), 262144);
	KT_ASSERT(pat_check(buf, 262144, 7, 0) < 0, "data mismatch");
	/* the limit is the smaller of both sides' buffer sizes */
	KT_OK(set_u64opt(s, SO_VM_SOCKETS_BUFFER_SIZE, 8192));
	KT_OK(sync_from(s, c));
	KT_ERRNO(send(c, buf, 8193, 0), EMSGSIZE);
	KT_EQ(send(c, buf, 8192, 0), 8192);
	/* no credit left: a non-blocking send waits for space before it
	 * looks at the record size, so this is EAGAIN, not EMSGSIZE
	 */
	KT_ERRNO(send(c, buf, 8193, MSG_DONTWAIT), EAGAIN);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 8192);
	KT_OK(sync_from(s, c));
	KT_OK(set_u64opt(c, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	KT_ERRNO(send(c, buf, 4097, MSG_DONTWAIT), EMSGSIZE);
	KT_EQ(send(c, buf, 4096, MSG_DONTWAIT), 4096);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(msg_oob_unsupported)
{
	char ch = 0;
	int fd = KT_OK(vsock_socket(TYPE));
	int c, s;

	KT_ERRNO(send(fd, "x", 1, MSG_OOB), EOPNOTSUPP);
	/* unconnected: the state check comes first */
	KT_ERRNO(recv(fd, &ch, 1, MSG_OOB), ENOTCONN);
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_ERRNO(send(c, "x", 1, MSG_OOB), EOPNOTSUPP);
	KT_EQ(send(c, "y", 1, 0), 1);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	KT_ERRNO(recv(s, &ch, 1, MSG_OOB), EOPNOTSUPP);
	KT_EQ(recv(s, &ch, 1, 0), 1);
	KT_ASSERT(ch == 'y', "got %c", ch);
	close(fd);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(send_recv_unconnected)
{
	char ch;
	int fd = KT_OK(vsock_socket(TYPE));
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 1));

	catch_sigpipe();
	KT_ERRNO(send(fd, "x", 1, 0), ENOTCONN);
	KT_ERRNO(write(fd, "x", 1), ENOTCONN);
	KT_ERRNO(recv(fd, &ch, 1, 0), ENOTCONN);
	KT_ERRNO(recv(fd, &ch, 1, MSG_DONTWAIT), ENOTCONN);
	KT_ERRNO(read(fd, &ch, 1), ENOTCONN);
	/* a listener is not connected either */
	KT_ERRNO(send(l, "x", 1, 0), ENOTCONN);
	KT_ERRNO(recv(l, &ch, 1, 0), ENOTCONN);
	KT_OK(vbind(fd, CID_LOCAL, tport(1)));
	KT_ERRNO(send(fd, "x", 1, 0), ENOTCONN);
	KT_ERRNO(recv(fd, &ch, 1, 0), ENOTCONN);
	KT_ASSERT(sigpipe_count == 0, "got %d SIGPIPE", (int)sigpipe_count);
	close(fd);
	close(l);
	return KT_PASS;
}

CASE(sendto_address)
{
	struct sockaddr_vm a = vaddr(CID_LOCAL, tport(0));
	int fd = KT_OK(vsock_socket(TYPE));
	int c, s;

	/* a destination on an unconnected socket is not supported ... */
	KT_ERRNO(sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), EOPNOTSUPP);
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	/* ... and on a connected one it is EISCONN, even the peer's own */
	KT_ERRNO(sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), EISCONN);
	/* no destination: fine */
	KT_EQ(sendto(c, "x", 1, 0, NULL, 0), 1);
	close(fd);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(recv_waitall)
{
	char buf[3000];
	int c, s;
	pid_t pid;

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint8_t b[1000];

		for (int i = 0; i < 3; i++) {
			pat_fill(b, sizeof(b), 1, (uint64_t)i * 1000);
			if (send(c, b, sizeof(b), 0) != 1000)
				_exit(1);
			usleep(50 * 1000);
		}
		_exit(0);
	}
	KT_EQ(recv(s, buf, sizeof(buf), MSG_WAITALL), 3000);
	KT_ASSERT(pat_check((uint8_t *)buf, 3000, 1, 0) < 0, "data mismatch");
	KT_EQ(wait_child(pid, 3000), 0);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(recv_waitall_too_large)
{
	char *buf = malloc(1 << 20);
	unsigned long long sz;
	int c, s;

	KT_ASSERT(buf, "malloc");
	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	KT_OK(get_u64opt(s, SO_VM_SOCKETS_BUFFER_SIZE, &sz));
	/* a MSG_WAITALL target at or above the receive buffer size can never
	 * be satisfied and fails at once
	 */
	KT_ERRNO(recv(s, buf, sz, MSG_WAITALL), ENOMEM);
	KT_ERRNO(recv(s, buf, 1 << 20, MSG_WAITALL), ENOMEM);
	KT_EQ(send(c, "ab", 2, 0), 2);
	KT_EQ(recv(s, buf, 1 << 20, 0), 2);
	close(c);
	close(s);
	free(buf);
	return KT_PASS;
}

CASE(sendmsg_iovec)
{
	char a[] = "first-", b[] = "second-", d[] = "third";
	struct iovec out[3] = {
		{ a, strlen(a) }, { b, strlen(b) }, { d, strlen(d) },
	};
	char r1[5], r2[64];
	struct iovec in[2] = { { r1, sizeof(r1) }, { r2, sizeof(r2) } };
	struct msghdr m = { .msg_iov = out, .msg_iovlen = 3 };
	size_t total = strlen(a) + strlen(b) + strlen(d);
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_EQ(sendmsg(c, &m, 0), total);
	memset(&m, 0, sizeof(m));
	m.msg_iov = in;
	m.msg_iovlen = 2;
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	KT_EQ(recvmsg(s, &m, 0), total);
	KT_ASSERT(!memcmp(r1, "first", 5) && !memcmp(r2, "-second-third", 13),
		  "got '%.5s' '%.13s'", r1, r2);
	KT_EQ(m.msg_namelen, 0);
	close(c);
	close(s);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* shutdown()                                                          */

CASE(shutdown_wr_eof)
{
	char buf[16];
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_EQ(send(c, "data", 4, 0), 4);
	KT_OK(shutdown(c, SHUT_WR));
	KT_EQ(recv(s, buf, sizeof(buf), 0), 4);
	KT_ASSERT(!memcmp(buf, "data", 4), "data mismatch");
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	/* the other direction still works */
	KT_EQ(send(s, "back", 4, 0), 4);
	KT_EQ(recv(c, buf, sizeof(buf), 0), 4);
	KT_ASSERT(!memcmp(buf, "back", 4), "data mismatch");
	close(c);
	close(s);
	return KT_PASS;
}

CASE(shutdown_wr_send_epipe)
{
	int c, s;

	catch_sigpipe();
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_OK(shutdown(c, SHUT_WR));
	KT_ERRNO(send(c, "x", 1, 0), EPIPE);
	/* stream sockets raise SIGPIPE; seqpacket sockets do not */
	KT_EQ(sigpipe_count, TYPE == SOCK_STREAM ? 1 : 0);
	KT_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	KT_EQ(sigpipe_count, TYPE == SOCK_STREAM ? 1 : 0);
	KT_ERRNO(write(c, "x", 1), EPIPE);
	KT_EQ(sigpipe_count, TYPE == SOCK_STREAM ? 2 : 0);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(shutdown_rd)
{
	char buf[16];
	int c, s;

	catch_sigpipe();
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_EQ(send(c, "early", 5, 0), 5);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	KT_OK(shutdown(s, SHUT_RD));
	/* reads return EOF at once, even with data queued */
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	KT_EQ(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 0);
	/* the peer learns about it: its sends fail with EPIPE */
	KT_OK(sync_from(s, c));
	KT_ERRNO(send(c, "late", 4, MSG_NOSIGNAL), EPIPE);
	/* our own sending direction is still open */
	KT_EQ(send(s, "back", 4, 0), 4);
	KT_EQ(recv(c, buf, sizeof(buf), 0), 4);
	KT_ASSERT(!memcmp(buf, "back", 4), "data mismatch");
	close(c);
	close(s);
	return KT_PASS;
}

CASE(shutdown_rdwr)
{
	char buf[16];
	int c, s, ev;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_EQ(send(c, "data", 4, 0), 4);
	KT_OK(shutdown(c, SHUT_RDWR));
	KT_EQ(recv(c, buf, sizeof(buf), 0), 0);
	KT_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	ev = poll1(c, POLL_ALL, 100);
	KT_ASSERT((ev & (POLLIN | POLLHUP | POLLRDHUP)) == (POLLIN | POLLHUP | POLLRDHUP) &&
		  !(ev & POLLOUT), "local poll: got %s", pollstr(ev));
	/* the peer reads the data, then EOF, and cannot send */
	KT_EQ(recv(s, buf, sizeof(buf), 0), 4);
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	KT_ERRNO(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	/* shutting down again is fine */
	KT_OK(shutdown(c, SHUT_RDWR));
	KT_OK(shutdown(c, SHUT_WR));
	close(c);
	close(s);
	return KT_PASS;
}

CASE(shutdown_errors)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 1));
	int c, s;

	KT_ERRNO(shutdown(fd, SHUT_WR), ENOTCONN);
	KT_ERRNO(shutdown(fd, SHUT_RDWR), ENOTCONN);
	KT_ERRNO(shutdown(l, SHUT_RDWR), ENOTCONN);
	/* a bad "how" is checked before the state */
	KT_ERRNO(shutdown(fd, 3), EINVAL);
	KT_ERRNO(shutdown(fd, -1), EINVAL);
	KT_OK(vpair(TYPE, tport(1), &c, &s));
	KT_ERRNO(shutdown(c, 3), EINVAL);
	KT_ERRNO(shutdown(c, 100), EINVAL);
	/* the failed calls did not shut anything down */
	KT_EQ(send(c, "x", 1, 0), 1);
	/* after shutdown, connect() is refused with EINVAL */
	KT_OK(shutdown(c, SHUT_WR));
	KT_ERRNO(vconnect(c, CID_LOCAL, tport(0)), EINVAL);
	close(fd);
	close(l);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(getpeername_after_shutdown)
{
	struct sockaddr_vm a;
	socklen_t len;
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	/* the peer closing does not disconnect the socket's name ... */
	close(c);
	KT_ASSERT(poll1(s, POLLRDHUP, 3000) & POLLRDHUP, "no POLLRDHUP");
	KT_OK(getname(s, true, &a, &len));
	KT_ASSERT(a.svm_cid == CID_LOCAL, "cid %u", a.svm_cid);
	/* ... but a local shutdown() does */
	KT_OK(shutdown(s, SHUT_RD));
	KT_ERRNO(getname(s, true, &a, &len), ENOTCONN);
	KT_OK(getname(s, false, &a, &len));
	close(s);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* close()                                                             */

CASE(close_with_unread_data)
{
	char buf[16];
	int c, s, ev;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_EQ(send(c, "unread", 6, 0), 6);
	KT_ASSERT(poll1(s, POLLIN, 2000) & POLLIN, "no POLLIN");
	close(s);
	/* the peer sees an orderly EOF, not a reset */
	ev = poll1(c, POLLIN | POLLRDHUP, 2000);
	KT_ASSERT((ev & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP),
		  "poll: got %s", pollstr(ev));
	KT_EQ(recv(c, buf, sizeof(buf), 0), 0);
	KT_EQ(sock_error(c), 0);
	KT_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(c);
	return KT_PASS;
}

CASE(close_after_send_keeps_data)
{
	uint8_t buf[4096];
	int c, s;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	pat_fill(buf, sizeof(buf), 3, 0);
	KT_EQ(send(c, buf, sizeof(buf), 0), sizeof(buf));
	close(c);
	/* data queued before the close is still delivered, then EOF */
	KT_ASSERT(poll1(s, POLLRDHUP, 3000) & POLLRDHUP, "no POLLRDHUP");
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv_all(s, buf, sizeof(buf), 0), sizeof(buf));
	KT_ASSERT(pat_check(buf, sizeof(buf), 3, 0) < 0, "data mismatch");
	KT_EQ(recv(s, buf, sizeof(buf), 0), 0);
	close(s);
	return KT_PASS;
}

CASE(close_listener_pending)
{
	char buf[8];
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c1 = KT_OK(vclient(TYPE, port));
	int c2 = KT_OK(vclient(TYPE, port));
	int c3, ev;

	KT_EQ(send(c1, "x", 1, 0), 1);
	close(l);
	/* never-accepted connections are shut down: the clients see EOF */
	for (int i = 0; i < 2; i++) {
		int c = i ? c2 : c1;

		ev = poll1(c, POLLIN | POLLRDHUP, 2000);
		KT_ASSERT((ev & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP),
			  "client %d poll: got %s", i, pollstr(ev));
		KT_EQ(recv(c, buf, sizeof(buf), 0), 0);
		KT_ERRNO(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	}
	/* and the port is free: nobody listens there any more */
	c3 = KT_OK(vsock_socket(TYPE));
	KT_ERRNO(vconnect(c3, CID_LOCAL, port), ECONNRESET);
	close(c1);
	close(c2);
	close(c3);
	return KT_PASS;
}

CASE(close_wakes_blocked_recv)
{
	char buf[8];
	long t0, dt;
	int c, s;
	pid_t pid;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	pid = fork_fn(close_later, &s);
	close(s);
	t0 = kt_now_ms();
	KT_EQ(recv(c, buf, sizeof(buf), 0), 0);
	dt = kt_now_ms() - t0;
	KT_ASSERT(dt >= 100, "recv returned after only %ld ms", dt);
	KT_EQ(wait_child(pid, 3000), 0);
	close(c);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* poll()                                                              */

CASE(poll_unconnected)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int ev;

	/* a fresh socket is TCP_CLOSE and polls writable, like INET does */
	ev = poll1(fd, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLOUT | POLLWRNORM), "fresh: got %s", pollstr(ev));
	KT_OK(vbind(fd, CID_LOCAL, tport(0)));
	ev = poll1(fd, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLOUT | POLLWRNORM), "bound: got %s", pollstr(ev));
	close(fd);
	return KT_PASS;
}

CASE(poll_connected)
{
	int c, s, ev;
	char buf[8];

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	ev = poll1(c, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLOUT | POLLWRNORM), "idle: got %s", pollstr(ev));
	ev = poll1(s, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLOUT | POLLWRNORM), "idle server: got %s", pollstr(ev));
	KT_EQ(send(c, "abc", 3, 0), 3);
	ev = poll1(s, POLLIN, 2000);
	KT_ASSERT(ev & POLLIN, "data: got %s", pollstr(ev));
	ev = poll1(s, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM), "data: got %s", pollstr(ev));
	KT_EQ(recv(s, buf, sizeof(buf), 0), 3);
	ev = poll1(s, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLOUT | POLLWRNORM), "drained: got %s", pollstr(ev));
	close(c);
	close(s);
	return KT_PASS;
}

CASE(poll_peer_shutdown_wr)
{
	int c, s, ev;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_OK(shutdown(c, SHUT_WR));
	ev = poll1(s, POLLIN | POLLRDHUP, 2000);
	KT_ASSERT(ev & POLLRDHUP, "no POLLRDHUP: %s", pollstr(ev));
	ev = poll1(s, POLL_ALL, 0);
	/* half-closed: readable (EOF), RDHUP, still writable, no HUP */
	KT_ASSERT(ev == (POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM),
		  "peer SHUT_WR: got %s", pollstr(ev));
	/* the shutting side: writable no more, nothing else */
	ev = poll1(c, POLL_ALL, 0);
	KT_ASSERT(ev == 0, "local SHUT_WR: got %s", pollstr(ev));
	/* both directions shut: POLLHUP */
	KT_OK(shutdown(s, SHUT_WR));
	ev = poll1(s, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP),
		  "both SHUT_WR: got %s", pollstr(ev));
	ev = poll1(c, POLLIN | POLLRDHUP, 2000);
	KT_ASSERT(ev & POLLHUP, "peer side: got %s", pollstr(ev));
	close(c);
	close(s);
	return KT_PASS;
}

CASE(poll_peer_close)
{
	int c, s, ev;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	close(c);
	ev = poll1(s, POLLIN | POLLRDHUP, 2000);
	KT_ASSERT(ev & POLLRDHUP, "no POLLRDHUP: %s", pollstr(ev));
	usleep(50 * 1000);
	ev = poll1(s, POLL_ALL, 0);
	/* peer closed: readable (EOF) + RDHUP, and writable (the write then
	 * fails); POLLHUP only once we shut our side too
	 */
	KT_ASSERT(ev == (POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM),
		  "peer closed: got %s", pollstr(ev));
	KT_OK(shutdown(s, SHUT_WR));
	ev = poll1(s, POLL_ALL, 0);
	KT_ASSERT(ev == (POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP),
		  "after SHUT_WR: got %s", pollstr(ev));
	close(s);
	return KT_PASS;
}

CASE(poll_rcvlowat)
{
	uint8_t buf[128];
	int c, s, ev, v;
	socklen_t len = sizeof(v);

	KT_OK(vpair(SOCK_STREAM, tport(0), &c, &s));
	v = 100;
	KT_OK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	v = 0;
	KT_OK(getsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, &len));
	KT_EQ(v, 100);
	pat_fill(buf, sizeof(buf), 9, 0);
	KT_EQ(send(c, buf, 60, 0), 60);
	ev = poll1(s, POLLIN, 300);
	KT_ASSERT(ev == 0, "60 of 100 bytes: got %s", pollstr(ev));
	KT_EQ(send(c, buf + 60, 40, 0), 40);
	ev = poll1(s, POLLIN | POLLRDNORM, 2000);
	KT_ASSERT(ev == (POLLIN | POLLRDNORM), "100 bytes: got %s", pollstr(ev));
	memset(buf, 0, sizeof(buf));
	KT_EQ(recv(s, buf, sizeof(buf), 0), 100);
	KT_ASSERT(pat_check(buf, 100, 9, 0) < 0, "data mismatch");
	/* an EOF makes it readable whatever the low-water mark */
	KT_EQ(send(c, buf, 10, 0), 10);
	KT_OK(shutdown(c, SHUT_WR));
	ev = poll1(s, POLLIN, 2000);
	KT_ASSERT(ev & POLLIN, "EOF: got %s", pollstr(ev));
	/* a low-water mark above the buffer size is refused; 0 means 1 */
	v = 262145;
	KT_ERRNO(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)), EINVAL);
	v = 262144;
	KT_OK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	v = 0;
	KT_OK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	len = sizeof(v);
	KT_OK(getsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &v, &len));
	KT_EQ(v, 1);
	close(c);
	close(s);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* socket options                                                      */

CASE(opt_buffer_size_defaults)
{
	unsigned long long v;
	int fd = KT_OK(vsock_socket(TYPE));
	socklen_t len = sizeof(v);

	KT_OK(get_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, &v));
	KT_EQ(v, 262144);
	KT_OK(get_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &v));
	KT_EQ(v, 128);
	KT_OK(get_u64opt(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &v));
	KT_EQ(v, 262144);
	/* a larger buffer is shortened to 8 bytes */
	{
		unsigned char big[16];

		len = sizeof(big);
		KT_OK(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, big, &len));
		KT_EQ(len, 8);
	}
	close(fd);
	return KT_PASS;
}

static int check_sizes(int fd, unsigned long long size, unsigned long long min,
		       unsigned long long max)
{
	unsigned long long s = 0, lo = 0, hi = 0;

	if (get_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, &s) ||
	    get_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &lo) ||
	    get_u64opt(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &hi)) {
		kt_diag("getsockopt: %s", kt_errname(errno));
		return -1;
	}
	if (s != size || lo != min || hi != max) {
		kt_diag("expected size %llu min %llu max %llu, got %llu %llu %llu",
			size, min, max, s, lo, hi);
		return -1;
	}
	return 0;
}

#define SIZES(fd, s, lo, hi)							\
	KT_ASSERT(check_sizes(fd, s, lo, hi) == 0, "sizes")

CASE(opt_buffer_size_clamp)
{
	int fd = KT_OK(vsock_socket(TYPE));

	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 65536));
	SIZES(fd, 65536, 128, 262144);
	/* outside [min, max]: silently clamped */
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1 << 20));
	SIZES(fd, 262144, 128, 262144);
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 64));
	SIZES(fd, 128, 128, 262144);
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 0));
	SIZES(fd, 128, 128, 262144);
	/* moving max below the size pulls the size down */
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 200000));
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 100000));
	SIZES(fd, 100000, 128, 100000);
	/* moving min above the size pushes it up (max still wins) */
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 50000));
	SIZES(fd, 100000, 50000, 100000);
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 60000));
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 70000));
	SIZES(fd, 70000, 70000, 100000);
	/* min above max is accepted; the size is clamped min first, then max */
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 150000));
	SIZES(fd, 100000, 150000, 100000);
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1));
	SIZES(fd, 100000, 150000, 100000);
	/* large values: 64-bit on an unconnected socket */
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 128));
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 1ULL << 33));
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 1ULL << 33));
	SIZES(fd, 1ULL << 33, 128, 1ULL << 33);
	close(fd);
	return KT_PASS;
}

CASE(opt_buffer_size_connected)
{
	unsigned int port = tport(0);
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	int c, s;

	/* an accepted socket inherits the listener's sizes */
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 1 << 20));
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_MIN_SIZE, 4096));
	KT_OK(set_u64opt(l, SO_VM_SOCKETS_BUFFER_SIZE, 524288));
	c = KT_OK(vclient(TYPE, port));
	s = KT_OK(accept(l, NULL, NULL));
	SIZES(s, 524288, 4096, 1 << 20);
	SIZES(c, 262144, 128, 262144);
	/* on a connected socket the size is capped to 32 bits */
	KT_OK(set_u64opt(c, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 1ULL << 33));
	KT_OK(set_u64opt(c, SO_VM_SOCKETS_BUFFER_SIZE, 1ULL << 33));
	SIZES(c, 0xffffffffULL, 128, 1ULL << 33);
	KT_OK(set_u64opt(c, SO_VM_SOCKETS_BUFFER_SIZE, 65536));
	SIZES(c, 65536, 128, 1ULL << 33);
	close(c);
	close(s);
	close(l);
	return KT_PASS;
}

CASE(opt_errors)
{
	unsigned long long v = 4096;
	unsigned int small = 4096;
	int fd = KT_OK(vsock_socket(TYPE));
	socklen_t len;
	static const int unknown[] = { SO_VM_SOCKETS_PEER_HOST_VM_ID, 4,
				       SO_VM_SOCKETS_TRUSTED,
				       SO_VM_SOCKETS_NONBLOCK_TXRX, 9, 100 };

	/* short option lengths */
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &small, sizeof(small)), EINVAL);
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &small, sizeof(small)), EINVAL);
	KT_ERRNO(setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &v, 7), EINVAL);
	len = 4;
	KT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, &len), EINVAL);
	len = 0;
	KT_ERRNO(getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, &len), EINVAL);
	/* unknown options */
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		len = sizeof(v);
		KT_ERRNO(getsockopt(fd, AF_VSOCK, unknown[i], &v, &len), ENOPROTOOPT);
		KT_ERRNO(setsockopt(fd, AF_VSOCK, unknown[i], &v, sizeof(v)), ENOPROTOOPT);
	}
	/* only level AF_VSOCK (40) works, not SOL_VSOCK */
	len = sizeof(v);
	KT_ERRNO(getsockopt(fd, SOL_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, &len), ENOPROTOOPT);
	KT_ERRNO(setsockopt(fd, SOL_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, sizeof(v)), ENOPROTOOPT);
	KT_ERRNO(setsockopt(fd, SOL_TCP, SO_VM_SOCKETS_BUFFER_SIZE, &v, sizeof(v)), ENOPROTOOPT);
	len = sizeof(v);
	KT_ERRNO(getsockopt(fd, SOL_TCP, SO_VM_SOCKETS_BUFFER_SIZE, &v, &len), ENOPROTOOPT);
	/* nothing changed */
	SIZES(fd, 262144, 128, 262144);
	close(fd);
	return KT_PASS;
}

CASE(opt_type_domain_protocol)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int fd2 = KT_OK(socket(AF_VSOCK, TYPE, PF_VSOCK));
	int v;
	socklen_t len;

	len = sizeof(v);
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
	KT_EQ(v, TYPE);
	len = sizeof(v);
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len));
	KT_EQ(v, AF_VSOCK);
	len = sizeof(v);
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len));
	KT_EQ(v, 0);
	/* the protocol argument is not recorded */
	len = sizeof(v);
	KT_OK(getsockopt(fd2, SOL_SOCKET, SO_PROTOCOL, &v, &len));
	KT_EQ(v, 0);
	len = sizeof(v);
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len));
	KT_EQ(v, 0);
	KT_OK(vbind(fd, VMADDR_CID_ANY, tport(0)));
	KT_OK(listen(fd, 1));
	len = sizeof(v);
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len));
	KT_EQ(v, 1);
	close(fd);
	close(fd2);
	return KT_PASS;
}

CASE(opt_zerocopy)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int v;
	socklen_t len = sizeof(v);
	int c, s;

	v = 1;
	KT_OK(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v)));
	v = 0;
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, &len));
	KT_EQ(v, 1);
	v = 2;
	KT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v)), EINVAL);
	KT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, 2), EINVAL);
	/* the loopback device supports zerocopy: connect works */
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	v = 1;
	KT_OK(setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v)));
	close(c);
	close(s);
	close(fd);
	return KT_PASS;
}

CASE(opt_rcvlowat_peek_off)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int v;
	socklen_t len = sizeof(v);

	/* only stream sockets check SO_RCVLOWAT against the buffer size */
	v = 262145;
	if (TYPE == SOCK_STREAM)
		KT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)), EINVAL);
	else
		KT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	KT_OK(set_u64opt(fd, SO_VM_SOCKETS_BUFFER_SIZE, 4096));
	v = 4096;
	KT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	v = 4097;
	if (TYPE == SOCK_STREAM)
		KT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)), EINVAL);
	else
		KT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	KT_OK(getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len));
	KT_EQ(v, TYPE == SOCK_STREAM ? 4096 : 4097);
	/* no peek offsets */
	v = 0;
	KT_ERRNO(setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v)), EOPNOTSUPP);
	close(fd);
	return KT_PASS;
}

/* Read zerocopy completions until EAGAIN; *lo and *hi get the union of the
 * reported ranges.  Returns the number of notifications or -1.
 */
static int zc_completions(int fd, unsigned int *lo, unsigned int *hi)
{
	int n = 0;

	*lo = ~0u;
	*hi = 0;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(struct sock_extended_err)) + 64];
		struct msghdr m = { .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct sock_extended_err *ee;
		struct cmsghdr *cm;

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return errno == EAGAIN ? n : -1;
		cm = CMSG_FIRSTHDR(&m);
		if (!cm || cm->cmsg_level != SOL_VSOCK ||
		    cm->cmsg_type != VSOCK_RECVERR) {
			kt_diag("errqueue: expected cmsg level SOL_VSOCK (%d) type VSOCK_RECVERR (%d), got %d/%d",
				SOL_VSOCK, VSOCK_RECVERR, cm ? cm->cmsg_level : -1,
				cm ? cm->cmsg_type : -1);
			return -1;
		}
		ee = (struct sock_extended_err *)CMSG_DATA(cm);
		if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno) {
			kt_diag("errqueue: origin %u errno %u", ee->ee_origin,
				ee->ee_errno);
			return -1;
		}
		if (ee->ee_info < *lo)
			*lo = ee->ee_info;
		if (ee->ee_data > *hi)
			*hi = ee->ee_data;
		n++;
	}
}

CASE(msg_zerocopy_completion)
{
	const size_t len = 128 * 1024;
	uint8_t *buf = malloc(len), *in = malloc(len);
	unsigned int lo, hi;
	int c, s, v = 1, ev, n;

	KT_ASSERT(buf && in, "malloc");
	KT_OK(vpair(TYPE, tport(0), &c, &s));
	/* without SO_ZEROCOPY the flag is ignored: no completion */
	pat_fill(buf, len, 5, 0);
	KT_EQ(send(c, buf, 1000, MSG_ZEROCOPY), 1000);
	KT_EQ(recv_all(s, in, 1000, 0), 1000);
	KT_EQ(zc_completions(c, &lo, &hi), 0);

	KT_OK(setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v)));
	for (int i = 0; i < 2; i++) {
		pat_fill(buf, len, 6 + (uint32_t)i, 0);
		KT_EQ(send(c, buf, len, MSG_ZEROCOPY), len);
		memset(in, 0, len);
		KT_EQ(TYPE == SOCK_STREAM ? recv_all(s, in, len, 0) :
					    recv(s, in, len, 0), len);
		KT_ASSERT(pat_check(in, len, 6 + (uint32_t)i, 0) < 0,
			  "send %d: data mismatch", i);
	}
	/* completions make the socket poll POLLERR */
	ev = poll1(c, POLLIN, 3000);
	KT_ASSERT(ev & POLLERR, "no POLLERR for the completions: %s", pollstr(ev));
	n = zc_completions(c, &lo, &hi);
	KT_ASSERT(n >= 1 && lo == 0 && hi == 1,
		  "expected completions for sends 0..1, got %d notifications covering %u..%u",
		  n, lo, hi);
	ev = poll1(c, POLL_ALL, 0);
	KT_ASSERT(!(ev & POLLERR), "POLLERR after reading the error queue: %s",
		  pollstr(ev));
	close(c);
	close(s);
	free(buf);
	free(in);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* ioctl()                                                             */

CASE(ioctl_siocoutq)
{
	uint8_t buf[1000];
	int c, s, v = -1;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	KT_OK(ioctl(c, SIOCOUTQ, &v));
	KT_EQ(v, 0);
	KT_EQ(send(c, buf, sizeof(buf), 0), sizeof(buf));
	KT_EQ(recv_all(s, buf, sizeof(buf), 0), sizeof(buf));
	v = -1;
	KT_OK(ioctl(c, SIOCOUTQ, &v));
	KT_EQ(v, 0);
	v = -1;
	KT_OK(ioctl(s, SIOCOUTQ, &v));
	KT_EQ(v, 0);
	close(c);
	close(s);
	return KT_PASS;
}

CASE(ioctl_siocoutq_not_connected)
{
	int fd = KT_OK(vsock_socket(TYPE));
	int l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, tport(0), 1));
	int v;

	/* no transport assigned yet */
	KT_ERRNO(ioctl(fd, SIOCOUTQ, &v), EOPNOTSUPP);
	KT_ERRNO(ioctl(l, SIOCOUTQ, &v), EOPNOTSUPP);
	close(fd);
	close(l);
	return KT_PASS;
}

/* MVSOCK_STOCK=1: the harness self-test against Debian's own modules */
static int stock_modules(void)
{
	const char *e = getenv("MVSOCK_STOCK");

	return e && !strcmp(e, "1");
}

CASE(ioctl_unsupported)
{
	int c, s, v;

	KT_OK(vpair(TYPE, tport(0), &c, &s));
	if (stock_modules()) {
		/* stock 6.12 has no SIOCINQ for vsock */
		KT_ERRNO(ioctl(c, SIOCINQ, &v), ENOTTY);
	} else {
		/* mvsock: SIOCINQ (FIONREAD) is the bytes queued to read */
		v = -1;
		KT_OK(ioctl(c, SIOCINQ, &v));
		KT_EQ(v, 0);
		KT_EQ(send(s, "hello", 5, 0), 5);
		KT_ASSERT(poll1(c, POLLIN, 2000) & POLLIN, "no POLLIN");
		KT_OK(ioctl(c, SIOCINQ, &v));
		KT_EQ(v, 5);
	}
	KT_ERRNO(ioctl(c, _IO('x', 0x42), &v), ENOTTY);
	KT_ERRNO(ioctl(c, SIOCATMARK, &v), ENOTTY);
	/* generic file ioctls still work */
	v = 1;
	KT_OK(ioctl(c, FIONBIO, &v));
	KT_ASSERT(fcntl(c, F_GETFL) & O_NONBLOCK, "FIONBIO did not set O_NONBLOCK");
	close(c);
	close(s);
	return KT_PASS;
}

CASE(dev_vsock_local_cid)
{
	struct stat st;
	unsigned int cid = 0xdeadbeef;
	int fd;

	KT_OK(stat("/dev/vsock", &st));
	KT_ASSERT(S_ISCHR(st.st_mode), "/dev/vsock mode 0%o", st.st_mode);
	fd = KT_OK(open("/dev/vsock", O_RDONLY | O_CLOEXEC));
	KT_OK(ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid));
	/* loopback only: the local CID */
	KT_EQ(cid, VMADDR_CID_LOCAL);
	KT_ERRNO(ioctl(fd, _IO(7, 0xba), &cid), ENOTTY);
	KT_ERRNO(ioctl(fd, FIONREAD, &cid), ENOTTY);
	close(fd);
	return KT_PASS;
}

/* ------------------------------------------------------------------ */
/* ss --vsock                                                          */

static int ss_find(const char *out, const char *netid, const char *netid2,
		   const char *state,
		   const char *local, const char *peer)
{
	const char *p = out;

	while (p && *p) {
		char f[6][128];
		const char *nl = strchr(p, '\n');
		char line[512];
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = 0;
		p = nl ? nl + 1 : NULL;
		if (sscanf(line, "%127s %127s %127s %127s %127s %127s",
			   f[0], f[1], f[2], f[3], f[4], f[5]) != 6)
			continue;
		if ((!strcmp(f[0], netid) || !strcmp(f[0], netid2)) &&
		    !strcmp(f[1], state) &&
		    !strcmp(f[4], local) && !strcmp(f[5], peer))
			return 1;
	}
	return 0;
}

CASE(ss_vsock_lists_sockets)
{
	char cmd[64], out[65536], l1[64], l2[64], l3[64];
	/* iproute2 6.1 prints "???" for seqpacket; newer ones "v_seq" */
	const char *netid = TYPE == SOCK_STREAM ? "v_str" : "v_seq";
	const char *netid2 = TYPE == SOCK_STREAM ? "v_str" : "???";
	unsigned int port = tport(0), cport = tport(1);
	int l, c, s;
	size_t n;
	FILE *f;

	l = KT_OK(vlistener(TYPE, VMADDR_CID_ANY, port, 4));
	c = KT_OK(vsock_socket(TYPE));
	KT_OK(vbind(c, CID_LOCAL, cport));
	KT_OK(vconnect(c, CID_LOCAL, port));
	s = KT_OK(accept(l, NULL, NULL));

	snprintf(cmd, sizeof(cmd), "ss --vsock -a -n 2>&1");
	f = popen(cmd, "r");
	KT_ASSERT(f, "popen: %s", kt_errname(errno));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	KT_ASSERT(pclose(f) == 0, "ss failed: %s", out);

	snprintf(l1, sizeof(l1), "*:%u", port);
	snprintf(l2, sizeof(l2), "1:%u", cport);
	snprintf(l3, sizeof(l3), "1:%u", port);
	if (!ss_find(out, netid, netid2, "LISTEN", l1, "*:*") ||
	    !ss_find(out, netid, netid2, "ESTAB", l2, l3) ||
	    !ss_find(out, netid, netid2, "ESTAB", l3, l2)) {
		kt_diag("expected %s LISTEN %s *:*, ESTAB %s %s and ESTAB %s %s in:",
			netid, l1, l2, l3, l3, l2);
		for (char *t = strtok(out, "\n"); t; t = strtok(NULL, "\n"))
			kt_diag("  %s", t);
		return KT_FAIL;
	}
	close(s);
	close(c);
	close(l);
	return KT_PASS;
}

#define T_S(n, fn) { n "_stream", fn, SOCK_STREAM, 0 }
#define T_Q(n, fn) { n "_seqpacket", fn, SOCK_SEQPACKET, 0 }
#define T_BOTH(n, fn) T_S(n, fn), T_Q(n, fn)
#define T(n, fn) { n, fn, 0, 0 }

static const struct kt_case cases[] = {
	T_BOTH("socket_create", socket_create),
	T("socket_dgram_no_transport", socket_dgram_no_transport),
	T("socket_bad_type", socket_bad_type),
	T("socket_bad_protocol", socket_bad_protocol),
	T("socketpair_unsupported", socketpair_unsupported),

	T_BOTH("getsockname_unbound", getsockname_unbound),
	T_BOTH("bind_ephemeral", bind_ephemeral),
	T_BOTH("bind_local_cid", bind_local_cid),
	T_BOTH("bind_eaddrinuse", bind_eaddrinuse),
	T_BOTH("bind_port_free_after_close", bind_port_free_after_close),
	T_BOTH("bind_twice", bind_twice),
	T_BOTH("bind_nonlocal_cid", bind_nonlocal_cid),
	T_BOTH("bind_bad_addrlen", bind_bad_addrlen),
	T_BOTH("bind_bad_family", bind_bad_family),
	T_BOTH("bind_privileged_port", bind_privileged_port),
	T_BOTH("bind_after_listen_or_connect", bind_after_listen_or_connect),

	T_BOTH("connect_no_listener", connect_no_listener),
	T_BOTH("connect_bound_not_listening", connect_bound_not_listening),
	T_BOTH("connect_type_mismatch", connect_type_mismatch),
	T_BOTH("connect_blocking", connect_blocking),
	T_BOTH("connect_nonblock", connect_nonblock),
	T_BOTH("connect_nonblock_refused", connect_nonblock_refused),
	T_BOTH("connect_retry_after_refused", connect_retry_after_refused),
	T_BOTH("connect_timeout_option", connect_timeout_option),
	T_BOTH("connect_eisconn", connect_eisconn),
	T_BOTH("connect_bad_address", connect_bad_address),
	T_BOTH("connect_unreachable_cid", connect_unreachable_cid),
	T_BOTH("connect_host_cid_alias", connect_host_cid_alias),
	T_BOTH("connect_on_listener", connect_on_listener),

	T_BOTH("listen_unbound", listen_unbound),
	T_BOTH("listen_connected", listen_connected),
	T_BOTH("listen_twice", listen_twice),
	T_BOTH("accept_addresses", accept_addresses),
	T_BOTH("accept_addresses_autobind", accept_addresses_autobind),
	T_BOTH("accept_backlog_limit", accept_backlog_limit),
	T_BOTH("accept4_flags", accept4_flags),
	T_BOTH("accept_nonblock_empty", accept_nonblock_empty),
	T_BOTH("accept_not_listening", accept_not_listening),
	T("accept_blocking_wakeup", accept_blocking_wakeup),
	T_BOTH("accept_after_client_closed", accept_after_client_closed),
	T_BOTH("signal_interrupts_blocking_calls", signal_interrupts_blocking_calls),

	T("msg_peek_stream", msg_peek_stream),
	T("msg_peek_seqpacket", msg_peek_seqpacket),
	T_BOTH("recv_dontwait_empty", recv_dontwait_empty),
	T_BOTH("recv_rcvtimeo", recv_rcvtimeo),
	T_BOTH("recv_zero_length", recv_zero_length),
	T("seqpacket_msg_trunc", seqpacket_msg_trunc),
	T("seqpacket_boundaries", seqpacket_boundaries),
	T("seqpacket_msg_eor", seqpacket_msg_eor),
	T("seqpacket_emsgsize", seqpacket_emsgsize),
	T_BOTH("msg_oob_unsupported", msg_oob_unsupported),
	T_BOTH("send_recv_unconnected", send_recv_unconnected),
	T_BOTH("sendto_address", sendto_address),
	T("recv_waitall_stream", recv_waitall),
	T("recv_waitall_too_large_stream", recv_waitall_too_large),
	T_BOTH("sendmsg_iovec", sendmsg_iovec),

	T_BOTH("shutdown_wr_eof", shutdown_wr_eof),
	T_BOTH("shutdown_wr_send_epipe", shutdown_wr_send_epipe),
	T_BOTH("shutdown_rd", shutdown_rd),
	T_BOTH("shutdown_rdwr", shutdown_rdwr),
	T_BOTH("shutdown_errors", shutdown_errors),
	T_BOTH("getpeername_after_shutdown", getpeername_after_shutdown),

	T_BOTH("close_with_unread_data", close_with_unread_data),
	T_BOTH("close_after_send_keeps_data", close_after_send_keeps_data),
	T_BOTH("close_listener_pending", close_listener_pending),
	T_BOTH("close_wakes_blocked_recv", close_wakes_blocked_recv),

	T_BOTH("poll_unconnected", poll_unconnected),
	T_BOTH("poll_connected", poll_connected),
	T_BOTH("poll_peer_shutdown_wr", poll_peer_shutdown_wr),
	T_BOTH("poll_peer_close", poll_peer_close),
	T("poll_rcvlowat_stream", poll_rcvlowat),

	T_BOTH("opt_buffer_size_defaults", opt_buffer_size_defaults),
	T_BOTH("opt_buffer_size_clamp", opt_buffer_size_clamp),
	T_BOTH("opt_buffer_size_connected", opt_buffer_size_connected),
	T_BOTH("opt_errors", opt_errors),
	T_BOTH("opt_type_domain_protocol", opt_type_domain_protocol),
	T_BOTH("opt_zerocopy", opt_zerocopy),
	T_BOTH("msg_zerocopy_completion", msg_zerocopy_completion),
	T_BOTH("opt_rcvlowat_peek_off", opt_rcvlowat_peek_off),

	T_BOTH("ioctl_siocoutq", ioctl_siocoutq),
	T_BOTH("ioctl_siocoutq_not_connected", ioctl_siocoutq_not_connected),
	T_BOTH("ioctl_unsupported", ioctl_unsupported),
	T("dev_vsock_local_cid", dev_vsock_local_cid),

	T_BOTH("ss_vsock_lists_sockets", ss_vsock_lists_sockets),
};

int main(int argc, char **argv)
{
	ut_port_base_default = 40000;
	return kt_run(argc, argv, cases, (int)(sizeof(cases) / sizeof(cases[0])));
}
