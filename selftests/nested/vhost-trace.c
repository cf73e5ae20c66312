// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-trace.so: an LD_PRELOAD library that logs, with decoded arguments,
 * every vhost ioctl a program (QEMU) makes and every message it writes to
 * a vhost file descriptor (IOTLB), to the file named by $VHOST_TRACE_FILE
 * (default stderr). A debugging aid for host drivers that must look like
 * the kernel's vhost-vsock to QEMU: selftests/nested/run-inner.sh
 * --trace-vhost FILE. Only the vhost ioctls (type 0xAF) are touched; the
 * calls themselves are passed through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static unsigned char is_vhost[4096];

static void init(void)
{
	const char *path = getenv("VHOST_TRACE_FILE");

	if (!real_ioctl)
		real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	if (!real_write)
		real_write = dlsym(RTLD_NEXT, "write");
	if (!out) {
		int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;

		out = fd >= 0 ? fdopen(fd, "a") : NULL;
		if (!out)
			out = stderr;
		setvbuf(out, NULL, _IOLBF, 0);
	}
}

static void tlog(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&lock);
	fprintf(out, "%ld.%06ld tid %ld ", (long)ts.tv_sec, ts.tv_nsec / 1000,
		(long)syscall(SYS_gettid));
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&lock);
}

static const char *name_of(unsigned long req)
{
	switch (req) {
#define N(x) case x: return #x
	N(VHOST_GET_FEATURES);
	N(VHOST_SET_FEATURES);
	N(VHOST_SET_OWNER);
	N(VHOST_RESET_OWNER);
	N(VHOST_SET_MEM_TABLE);
	N(VHOST_SET_LOG_BASE);
	N(VHOST_SET_LOG_FD);
	N(VHOST_SET_VRING_NUM);
	N(VHOST_SET_VRING_ADDR);
	N(VHOST_SET_VRING_BASE);
	N(VHOST_GET_VRING_BASE);
	N(VHOST_SET_VRING_KICK);
	N(VHOST_SET_VRING_CALL);
	N(VHOST_SET_VRING_ERR);
	N(VHOST_SET_VRING_ENDIAN);
	N(VHOST_GET_VRING_ENDIAN);
	N(VHOST_SET_VRING_BUSYLOOP_TIMEOUT);
	N(VHOST_GET_VRING_BUSYLOOP_TIMEOUT);
	N(VHOST_SET_BACKEND_FEATURES);
	N(VHOST_GET_BACKEND_FEATURES);
	N(VHOST_VSOCK_SET_GUEST_CID);
	N(VHOST_VSOCK_SET_RUNNING);
#undef N
	}
	return NULL;
}

static void decode(int fd, unsigned long req, void *arg, int ret, int err)
{
	const char *name = name_of(req);
	char res[64];

	if (ret < 0)
		snprintf(res, sizeof(res), "= -1 %s", strerror(err));
	else
		snprintf(res, sizeof(res), "= %d", ret);
	if (!name) {
		tlog("ioctl(%d, 0x%lx, %p) %s\n", fd, req, arg, res);
		return;
	}
	switch (req) {
	case VHOST_GET_FEATURES:
	case VHOST_SET_FEATURES:
	case VHOST_GET_BACKEND_FEATURES:
	case VHOST_SET_BACKEND_FEATURES:
	case VHOST_SET_LOG_BASE:
	case VHOST_VSOCK_SET_GUEST_CID:
		tlog("ioctl(%d, %s, 0x%llx) %s\n", fd, name,
		     (unsigned long long)*(uint64_t *)arg, res);
		break;
	case VHOST_SET_LOG_FD:
	case VHOST_VSOCK_SET_RUNNING:
		tlog("ioctl(%d, %s, %d) %s\n", fd, name, *(int *)arg, res);
		break;
	case VHOST_SET_OWNER:
	case VHOST_RESET_OWNER:
		tlog("ioctl(%d, %s) %s\n", fd, name, res);
		break;
	case VHOST_SET_MEM_TABLE: {
		struct vhost_memory *m = arg;

		tlog("ioctl(%d, %s, {nregions=%u}) %s\n", fd, name, m->nregions, res);
		for (unsigned int i = 0; i < m->nregions && i < 64; i++)
			tlog("    region %u: gpa=0x%llx size=0x%llx uaddr=0x%llx\n", i,
			     (unsigned long long)m->regions[i].guest_phys_addr,
			     (unsigned long long)m->regions[i].memory_size,
			     (unsigned long long)m->regions[i].userspace_addr);
		break;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_ENDIAN:
	case VHOST_GET_VRING_ENDIAN:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT: {
		struct vhost_vring_state *s = arg;

		tlog("ioctl(%d, %s, {index=%u, num=%u}) %s\n", fd, name, s->index, s->num, res);
		break;
	}
	case VHOST_SET_VRING_ADDR: {
		struct vhost_vring_addr *a = arg;

		tlog("ioctl(%d, %s, {index=%u, flags=0x%x, desc=0x%llx, used=0x%llx, avail=0x%llx, log=0x%llx}) %s\n",
		     fd, name, a->index, a->flags,
		     (unsigned long long)a->desc_user_addr,
		     (unsigned long long)a->used_user_addr,
		     (unsigned long long)a->avail_user_addr,
		     (unsigned long long)a->log_guest_addr, res);
		break;
	}
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR: {
		struct vhost_vring_file *f = arg;

		tlog("ioctl(%d, %s, {index=%u, fd=%d}) %s\n", fd, name, f->index, f->fd, res);
		break;
	}
	default:
		tlog("ioctl(%d, %s, %p) %s\n", fd, name, arg, res);
	}
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int ret, err;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	init();
	ret = real_ioctl(fd, req, arg);
	err = errno;
	if (_IOC_TYPE(req) == VHOST_VIRTIO) {
		if (fd >= 0 && fd < (int)sizeof(is_vhost))
			is_vhost[fd] = 1;
		decode(fd, req, arg, ret, err);
	}
	errno = err;
	return ret;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	ssize_t ret;
	int err;

	init();
	ret = real_write(fd, buf, len);
	err = errno;
	if (fd >= 0 && fd < (int)sizeof(is_vhost) && is_vhost[fd])
		tlog("write(%d, <%zu bytes: vhost message type %u>) = %zd\n", fd, len,
		     len >= 4 ? *(const uint32_t *)buf : 0, ret);
	errno = err;
	return ret;
}

int close(int fd)
{
	static int (*real_close)(int);

	if (!real_close)
		real_close = dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd < (int)sizeof(is_vhost) && is_vhost[fd]) {
		init();
		is_vhost[fd] = 0;
		tlog("close(%d) (vhost)\n", fd);
	}
	return real_close(fd);
}
