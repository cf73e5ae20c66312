// SPDX-License-Identifier: GPL-2.0
/*
 * registry: KTAP tests of the device registry's guest-side rules with
 * several guest-role devices played through /dev/mvsock-rawdev
 * (selftests/kmod): which device is the default (first registered, the
 * proposed priority field, the sysfs pin and "auto"), what
 * IOCTL_VM_SOCKETS_GET_LOCAL_CID and IOCTL_MVSOCK_LIST_CIDS report, where
 * unbound and bound connections leave, and what a CID change (virtio
 * TRANSPORT_RESET) does: only that device's connections are reset.
 *
 * Needs mvsock.ko and mvsock_rawdev.ko loaded, and no other guest device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../kmod/mvsock_rawdev.h"
#include "../../include/uapi/linux/mvsock.h"
#include "rawpkt.h"

#define DEFAULT_PARAM "/sys/module/mvsock/parameters/default_dev"
#define MAXDEV 8
#define NO_PRIO UINT32_MAX

struct rdev {
	int fd;
	uint32_t cid;
	uint32_t id;
};

static struct rdev devs[MAXDEV];

/* Register guest device @i with @cid (priority NO_PRIO: none). */
static int dev_open(int i, uint32_t cid, uint32_t prio)
{
	struct mvsock_rawdev_cfg cfg = { .role = 1, .cid = cid };
	struct mvsock_rawdev_stats st;
	int fd = open("/dev/mvsock-rawdev", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (prio != NO_PRIO) {
		cfg.flags = MVSOCK_RAWDEV_F_PRIORITY;
		cfg.priority = prio;
	}
	if (ioctl(fd, MVSOCK_RAWDEV_START, &cfg) ||
	    ioctl(fd, MVSOCK_RAWDEV_STATS, &st)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	devs[i].fd = fd;
	devs[i].cid = cid;
	devs[i].id = st.dev_id;
	return 0;
}

static void dev_close(int i)
{
	if (devs[i].fd >= 0)
		close(devs[i].fd);
	devs[i].fd = -1;
}

static void dev_close_all(void)
{
	int i;

	for (i = 0; i < MAXDEV; i++)
		dev_close(i);
}

static long local_cid(void)
{
	unsigned int cid;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	long r = -1;

	if (fd >= 0 && !ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid))
		r = cid;
	if (fd >= 0)
		close(fd);
	return r;
}

/* The CID the list ioctl flags as default (0 when none, -1 on error). */
static long listed_default(void)
{
	struct {
		struct mvsock_cid_list l;
		struct mvsock_cid_entry e[32];
	} b;
	unsigned int i;
	long r = 0;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.l.count = 32;
	if (ioctl(fd, IOCTL_MVSOCK_LIST_CIDS, &b)) {
		close(fd);
		return -1;
	}
	close(fd);
	for (i = 0; i < b.l.count; i++)
		if (b.e[i].flags & MVSOCK_CID_F_DEFAULT) {
			if (r)
				return -2;	/* two defaults */
			r = b.e[i].cid;
		}
	return r;
}

/* GET_LOCAL_CID and the list's default flag both name @cid */
static bool default_is(uint32_t cid)
{
	long lc = local_cid(), ld = listed_default();

	if (lc != cid || ld != cid) {
		fail("default should be CID %u: GET_LOCAL_CID %ld, list %ld",
		     cid, lc, ld);
		return false;
	}
	return true;
}

static int write_param(const char *val)
{
	int fd = open(DEFAULT_PARAM, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

static int set_default_id(uint32_t id)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u\n", id);
	return write_param(buf);
}

/* connect(2, port) after bind(@bind_cid) (VMADDR_CID_ANY: no bind),
 * non-blocking; the REQUEST must appear on device @want. Returns the
 * socket, the peer side answers with a RESPONSE so it is connected. */
static int connect_via(uint32_t bind_cid, uint32_t port, int want)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK };
	struct pollfd p;
	struct pkt pk;
	int i, fd, got = -1;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return -1;
	}
	if (bind_cid != VMADDR_CID_ANY) {
		a.svm_cid = bind_cid;
		a.svm_port = VMADDR_PORT_ANY;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			fail("bind(%u): %s", bind_cid, strerror(errno));
			goto err;
		}
	}
	a.svm_cid = VMADDR_CID_HOST;
	a.svm_port = port;
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    errno != EINPROGRESS) {
		fail("connect: %s (want EINPROGRESS)", strerror(errno));
		goto err;
	}
	/* which device carried the REQUEST? (skipping leftovers of earlier
	 * connections: their SHUTDOWN/RST packets) */
	for (i = 0; i < MAXDEV && got < 0; i++) {
		p.fd = devs[i].fd;
		p.events = POLLIN;
		while (p.fd >= 0 && got < 0 &&
		       poll(&p, 1, i == want ? 2000 : 0) > 0) {
			if (read(p.fd, &pk, sizeof(pk)) < HDR_LEN)
				break;
			if (pk.h.op == OP_REQUEST && pk.h.dst_port == port)
				got = i;
		}
	}
	if (got != want) {
		fail("REQUEST left through device %d, expected %d", got, want);
		goto err;
	}
	if (pk.h.src_cid != devs[want].cid || pk.h.dst_cid != VMADDR_CID_HOST) {
		fail("REQUEST %llu -> %llu, expected %u -> 2",
		     (unsigned long long)pk.h.src_cid,
		     (unsigned long long)pk.h.dst_cid, devs[want].cid);
		goto err;
	}
	{
		struct hdr r = pk.h;

		r.src_cid = VMADDR_CID_HOST;
		r.dst_cid = devs[want].cid;
		r.src_port = pk.h.dst_port;
		r.dst_port = pk.h.src_port;
		r.op = OP_RESPONSE;
		r.len = 0;
		r.buf_alloc = 262144;
		r.fwd_cnt = 0;
		if (write(devs[want].fd, &r, sizeof(r)) != sizeof(r)) {
			fail("RESPONSE write: %s", strerror(errno));
			goto err;
		}
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 2000) != 1 || (p.revents & (POLLERR | POLLHUP))) {
		fail("not connected after the RESPONSE (revents %#x)", p.revents);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/* Is @fd still connected (not reset)? */
static bool alive(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	poll(&p, 1, 0);
	return !err && !(p.revents & (POLLERR | POLLHUP));
}

/* ---- cases ----------------------------------------------------------- */

static bool t_first_is_default(void)
{
	if (dev_open(0, 100, NO_PRIO) || dev_open(1, 101, NO_PRIO)) {
		fail("rawdev: %s", strerror(errno));
		return false;
	}
	return default_is(100);
}

static bool t_routing(void)
{
	int a, b;
	bool ok;

	a = connect_via(VMADDR_CID_ANY, 4000, 0);
	if (a < 0)
		return false;
	b = connect_via(101, 4001, 1);
	ok = b >= 0;
	close(a);
	if (b >= 0)
		close(b);
	return ok;
}

static bool t_priority_takes_over(void)
{
	/* 102 with priority 5 beats devices without; 103 (9) does not */
	if (dev_open(2, 102, 5) || !default_is(102))
		return false;
	if (dev_open(3, 103, 9) || !default_is(102))
		return false;
	if (dev_open(4, 104, 1) || !default_is(104))
		return false;
	return connect_via(VMADDR_CID_ANY, 4002, 4) >= 0;
}

static bool t_default_goes_next(void)
{
	dev_close(4);	/* 104 (1) -> 102 (5) */
	if (!default_is(102))
		return false;
	dev_close(2);	/* -> 103 (9), before those without */
	if (!default_is(103))
		return false;
	dev_close(3);	/* -> 100, the earliest without */
	return default_is(100);
}

static bool t_pin_beats_priority(void)
{
	int err = set_default_id(devs[1].id);

	if (err) {
		fail("write %u: %s", devs[1].id, strerror(-err));
		return false;
	}
	if (!default_is(101))
		return false;
	if (dev_open(2, 102, 0)) {
		fail("rawdev: %s", strerror(errno));
		return false;
	}
	/* pinned: priority 0 does not take over */
	if (!default_is(101))
		return false;
	err = write_param("auto");
	if (err) {
		fail("write auto: %s", strerror(-err));
		return false;
	}
	if (!default_is(102))
		return false;
	dev_close(2);
	return default_is(100);
}

static bool t_pin_cleared_with_device(void)
{
	if (set_default_id(devs[1].id) || !default_is(101))
		return false;
	dev_close(1);
	if (!default_is(100))
		return false;
	/* no pin left: a device with a priority takes over again */
	if (dev_open(1, 101, 3) || !default_is(101))
		return false;
	dev_close(1);
	return default_is(100) && !dev_open(1, 101, NO_PRIO);
}

static bool t_bad_default_writes(void)
{
	int e1 = write_param("99999\n"), e2 = write_param("x\n");
	int e3 = write_param("-1\n");

	if (e1 != -ENODEV || e2 != -EINVAL || e3 != -EINVAL) {
		fail("unknown id: %d (want %d), 'x': %d, '-1': %d (want %d)",
		     e1, -ENODEV, e2, e3, -EINVAL);
		return false;
	}
	return default_is(100);
}

static bool t_set_cid_resets_only_that_device(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_port = VMADDR_PORT_ANY };
	uint32_t cid = 110;
	int s0, s1, t;
	bool ok = false;

	s0 = connect_via(100, 4010, 0);
	s1 = connect_via(101, 4011, 1);
	if (s0 < 0 || s1 < 0)
		goto out;
	if (ioctl(devs[0].fd, MVSOCK_RAWDEV_SET_CID, &cid)) {
		fail("SET_CID: %s", strerror(errno));
		goto out;
	}
	if (alive(s0) || !alive(s1)) {
		fail("after the CID change: device 0's socket %s, device 1's %s",
		     alive(s0) ? "alive (want reset)" : "reset",
		     alive(s1) ? "alive" : "reset (want alive)");
		goto out;
	}
	/* the old CID is gone, the new one is local and routes there */
	t = socket(AF_VSOCK, SOCK_STREAM, 0);
	a.svm_cid = 100;
	if (!bind(t, (struct sockaddr *)&a, sizeof(a)) || errno != EADDRNOTAVAIL) {
		fail("bind to the old CID: %s (want EADDRNOTAVAIL)",
		     strerror(errno));
		close(t);
		goto out;
	}
	close(t);
	devs[0].cid = 110;
	if (!default_is(110))
		goto out;
	t = connect_via(110, 4012, 0);
	if (t < 0)
		goto out;
	close(t);
	ok = true;
out:
	if (s0 >= 0)
		close(s0);
	if (s1 >= 0)
		close(s1);
	return ok;
}

static bool t_set_cid_clash_keeps_cid(void)
{
	uint32_t cid = 101, bad = 1;
	int s0 = connect_via(110, 4020, 0);
	bool ok = false;

	if (s0 < 0)
		return false;
	if (!ioctl(devs[0].fd, MVSOCK_RAWDEV_SET_CID, &cid) ||
	    errno != EADDRINUSE) {
		fail("CID of another device: %s (want EADDRINUSE)",
		     strerror(errno));
		goto out;
	}
	if (alive(s0)) {
		fail("the connection survived a transport reset");
		goto out;
	}
	if (!ioctl(devs[0].fd, MVSOCK_RAWDEV_SET_CID, &bad) ||
	    errno != EINVAL) {
		fail("CID 1: %s (want EINVAL)", strerror(errno));
		goto out;
	}
	ok = default_is(110);
out:
	close(s0);
	return ok;
}

static bool t_last_device_gone(void)
{
	long lc;

	dev_close_all();
	lc = local_cid();
	if (listed_default() != 0) {
		fail("a default is listed with no guest device");
		return false;
	}
	/* no guest device: the host CID, the loopback's, or ANY */
	if (lc != VMADDR_CID_HOST && lc != VMADDR_CID_LOCAL &&
	    lc != VMADDR_CID_ANY) {
		fail("GET_LOCAL_CID with no guest device: %ld", lc);
		return false;
	}
	return true;
}

static void raw_before(void)
{
}

RAW_CASE(t_first_is_default)
RAW_CASE(t_routing)
RAW_CASE(t_priority_takes_over)
RAW_CASE(t_default_goes_next)
RAW_CASE(t_pin_beats_priority)
RAW_CASE(t_pin_cleared_with_device)
RAW_CASE(t_bad_default_writes)
RAW_CASE(t_set_cid_resets_only_that_device)
RAW_CASE(t_set_cid_clash_keeps_cid)
RAW_CASE(t_last_device_gone)

static const struct kt_case cases[] = {
	{ "first_registered_is_default", t_first_is_default_kt, 0, 0 },
	{ "unbound_and_bound_routing", t_routing_kt, 0, 0 },
	{ "priority_takes_over", t_priority_takes_over_kt, 0, 0 },
	{ "default_goes_to_next_by_priority_then_age", t_default_goes_next_kt, 0, 0 },
	{ "sysfs_pin_beats_priority_auto_unpins", t_pin_beats_priority_kt, 0, 0 },
	{ "pin_cleared_when_its_device_goes", t_pin_cleared_with_device_kt, 0, 0 },
	{ "sysfs_bad_writes_rejected", t_bad_default_writes_kt, 0, 0 },
	{ "set_cid_resets_only_that_device", t_set_cid_resets_only_that_device_kt, 0, 0 },
	{ "set_cid_clash_keeps_cid_still_resets", t_set_cid_clash_keeps_cid_kt, 0, 0 },
	{ "last_device_gone", t_last_device_gone_kt, 0, 0 },
};

int main(int argc, char **argv)
{
	unsigned int i;
	int rc;

	for (i = 0; i < MAXDEV; i++)
		devs[i].fd = -1;
	rc = kt_run_inline(argc, argv, cases, (int)(sizeof(cases) / sizeof(cases[0])));
	dev_close_all();
	return rc;
}
