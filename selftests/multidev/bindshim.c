// SPDX-License-Identifier: GPL-2.0
/*
 * bindshim.so: LD_PRELOAD=build/multidev/bindshim.so MD_BIND_CID=N PROGRAM
 * makes every connect() of a not yet bound AF_VSOCK socket of PROGRAM
 * leave through the local device whose CID is N: it binds the socket to
 * (N, VMADDR_PORT_ANY) first, as an application that picks its device
 * would. Used to run unmodified upstream vsock_test through a device that
 * is not the default one. Sockets already bound are left alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "num.h"

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static unsigned int bind_cid(void)
{
	uint32_t cid;

	/* unset or not a number: no bind */
	if (num_u32(getenv("MD_BIND_CID"), 10, 0, UINT32_MAX, &cid))
		return VMADDR_CID_ANY;
	return cid;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	static connect_fn real;
	struct sockaddr_vm me;
	socklen_t ml = sizeof(me);
	unsigned int cid = bind_cid();
	int saved = errno;

	if (!real)
		real = (connect_fn)dlsym(RTLD_NEXT, "connect");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (cid != VMADDR_CID_ANY && addr && len >= sizeof(sa_family_t) &&
	    addr->sa_family == AF_VSOCK &&
	    !getsockname(fd, (struct sockaddr *)&me, &ml) &&
	    me.svm_port == VMADDR_PORT_ANY) {
		memset(&me, 0, sizeof(me));
		me.svm_family = AF_VSOCK;
		me.svm_cid = cid;
		me.svm_port = VMADDR_PORT_ANY;
		/* a failed bind shows up as connect()'s result */
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)))
			return -1;
	}
	errno = saved;
	return real(fd, addr, len);
}
