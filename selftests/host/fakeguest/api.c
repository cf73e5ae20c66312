// SPDX-License-Identifier: GPL-2.0
/*
 * fakeguest cases: feature bits, ioctl errors, reserved and busy CIDs, the CID-last
 * setup order, stop/start like a paused VM (api_).
 */
#include "fakeguest.h"

/* ============================================================================
 * API cases
 * ==========================================================================*/

static int dev_open(void)
{
	return open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
}

int t_api_features(const struct kt_case *tc)
{
	uint64_t f, bad = 0, good;
	int fd;

	(void)tc;
	fd = dev_open();
	CHECK(fd >= 0, "open /dev/vhost-vsock: %s", kt_errname(errno));
	KT_OK(ioctl(fd, VHOST_SET_OWNER));
	KT_OK(ioctl(fd, VHOST_GET_FEATURES, &f));
	kt_diag("host offers features 0x%llx", (unsigned long long)f);
	CHECK(f & FG_BIT(FG_F_VERSION_1), "VIRTIO_F_VERSION_1 not offered");
	CHECK(f & FG_BIT(FG_F_SEQPACKET), "VIRTIO_VSOCK_F_SEQPACKET not offered");
	for (int b = 63; b >= 2; b--) {
		if (!(f & FG_BIT(b))) {
			bad = FG_BIT(b);
			break;
		}
	}
	good = f & (FG_BIT(FG_F_VERSION_1) | FG_BIT(FG_F_SEQPACKET));
	if (bad) {
		uint64_t v = good | bad;

		KT_ERRNO(ioctl(fd, VHOST_SET_FEATURES, &v), EOPNOTSUPP);
	}
	KT_OK(ioctl(fd, VHOST_SET_FEATURES, &good));
	close(fd);
	return KT_PASS;
}

int t_api_errors(const struct kt_case *tc)
{
	struct vhost_vring_state st = { .index = 0, .num = 256 };
	struct fg_opts o = { .cid = ccid(0) };
	struct fg *fg;
	uint64_t f = FG_BIT(FG_F_VERSION_1);
	int one = 1, zero = 0;
	pid_t pid;
	int status;

	(void)tc;
	fg = fg_alloc(&o);
	CHECK(fg, "fg_alloc");
	fgs[0] = fg;
	fg->fd = dev_open();
	CHECK(fg->fd >= 0, "open: %s", kt_errname(errno));

	/* everything but SET_OWNER needs an owner */
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EPERM);
	errno = 0;
	CHECK(fg_set_mem_table(fg) == -EPERM, "SET_MEM_TABLE before SET_OWNER: %s",
	      kt_errname(errno));
	KT_OK(ioctl(fg->fd, VHOST_SET_OWNER));
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_OWNER), EBUSY);

	/* only the rx and tx queues belong to the host */
	st.index = FG_VQ_EVENT;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), ENOBUFS);
	st.index = 3;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), ENOBUFS);
	st.index = 0;
	st.num = 3;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EINVAL);
	st.num = 0;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EINVAL);

	/* running without rings cannot work */
	errno = 0;
	CHECK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &one) < 0,
	      "SET_RUNNING 1 without rings succeeded");
	kt_diag("SET_RUNNING 1 without rings: %s", kt_errname(errno));

	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_GUEST_CID, &fg->cid));
	KT_OK(ioctl(fg->fd, VHOST_SET_FEATURES, &f));
	KT_OK(fg_set_mem_table(fg));
	KT_OK(fg_set_vring(fg, FG_VQ_RX));
	KT_OK(fg_set_vring(fg, FG_VQ_TX));
	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &one));

	/* the ring geometry is fixed while running */
	st.index = FG_VQ_TX;
	st.num = 128;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_NUM, &st), EBUSY);
	st.num = 0;
	KT_ERRNO(ioctl(fg->fd, VHOST_SET_VRING_BASE, &st), EBUSY);

	/* another process is not the owner */
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int rc = 0;

		if (ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &zero) == 0 ||
		    errno != EPERM)
			rc |= 1;
		if (fg_set_mem_table(fg) != -EPERM)
			rc |= 2;
		_exit(rc);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "non-owner ioctls did not fail with EPERM (mask %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	KT_OK(ioctl(fg->fd, VHOST_VSOCK_SET_RUNNING, &zero));
	return finish(KT_PASS);
}

int t_api_cid_reserved(const struct kt_case *tc)
{
	static const uint64_t bad[] = {
		0, 1, 2, 0xffffffffULL, 1ULL << 32, (1ULL << 32) + 3,
		(1ULL << 32) + 0xffffffffULL, ~0ULL,
	};
	uint64_t good = ccid(0);
	int fd;

	(void)tc;
	fd = dev_open();
	CHECK(fd >= 0, "open: %s", kt_errname(errno));
	KT_OK(ioctl(fd, VHOST_SET_OWNER));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &bad[i]) != -1 ||
		    errno != EINVAL) {
			kt_diag("SET_GUEST_CID %#llx: expected EINVAL, got %s",
				(unsigned long long)bad[i], kt_errname(errno));
			return KT_FAIL;
		}
	}
	KT_OK(ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &good));
	close(fd);
	return KT_PASS;
}

int t_api_cid_inuse(const struct kt_case *tc)
{
	uint64_t x = ccid(0), y = ccid(1);
	int b, c;

	(void)tc;
	gopen(0);
	CHECK_FG(0);
	b = dev_open();
	c = dev_open();
	CHECK(b >= 0 && c >= 0, "open: %s", kt_errname(errno));
	KT_OK(ioctl(b, VHOST_SET_OWNER));
	KT_OK(ioctl(c, VHOST_SET_OWNER));
	/* taken by a running instance */
	KT_ERRNO(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &x), EADDRINUSE);
	/* the owner may set its own CID again */
	KT_OK(ioctl(fgs[0]->fd, VHOST_VSOCK_SET_GUEST_CID, &x));
	/* taken by an instance that is not running */
	KT_OK(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &y));
	KT_ERRNO(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &y), EADDRINUSE);
	/* freed by close */
	gclose(0);
	KT_OK(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &x));
	/* freed by moving to another CID */
	KT_OK(ioctl(b, VHOST_VSOCK_SET_GUEST_CID, &(uint64_t){ ccid(2) }));
	KT_OK(ioctl(c, VHOST_VSOCK_SET_GUEST_CID, &y));
	close(b);
	close(c);
	return finish(KT_PASS);
}

int t_api_alt_order(const struct kt_case *tc)
{
	struct fg_opts o = { .order = FG_ORDER_ALT };
	int lfd;

	(void)tc;
	lfd = h_listen(SOCK_STREAM, hport(0), 4);
	CHECK(lfd >= 0, "listen: %s", kt_errname(errno));
	gopen_opts(0, &o);
	CHECK_FG(0);
	if (ping(fgs[0], lfd, hport(0)) != KT_PASS)
		return KT_FAIL;
	close(lfd);
	return finish(KT_PASS);
}

int t_api_stop_start(const struct kt_case *tc)
{
	struct fg_conn *c;
	struct fg *fg;
	unsigned int rxb, txb;
	uint16_t used_before;
	char buf[16];
	int fd, e;

	(void)tc;
	fg = gopen(0);
	CHECK_FG(0);
	fg_listen(fg, gport(0), FG_TYPE_STREAM, FGL_ACCEPT, 0);
	fd = h2g_pair(fg, SOCK_STREAM, gport(0), 0, &c);
	CHECK(fd >= 0, "host->guest connection: %s", kt_errname(-fd));
	CHECK(fg_tx_drain(fg, 2000), "tx not drained");

	/* like QEMU stopping the VM: SET_RUNNING 0, GET_VRING_BASE */
	CHECK(fg_stop(fg, &rxb, &txb) == 0, "stop");
	fg_poll(fg, 0);		/* anything used before the stop */
	kt_diag("vring bases at stop: rx %u (posted %u), tx %u (posted %u)",
		rxb, fg->vq[FG_VQ_RX].avail_idx, txb, fg->vq[FG_VQ_TX].avail_idx);
	CHECK(txb == fg->vq[FG_VQ_TX].avail_idx,
	      "tx base %u != chains published %u (all were consumed)", txb,
	      fg->vq[FG_VQ_TX].avail_idx);
	CHECK(rxb == (uint16_t)(fg->vq[FG_VQ_RX].last_used + fg->vq[FG_VQ_RX].swallowed),
	      "rx base %u != rx buffers used %u", rxb, fg->vq[FG_VQ_RX].last_used);

	/* stopped: the host must not touch guest memory */
	used_before = fg->vq[FG_VQ_RX].last_used;
	CHECK(h_send_all(fd, "while-stopped", 13), "host send while stopped: %s",
	      kt_errname(errno));
	fg_conn_send(c, FG_OP_RW, 0, "x", 1, NULL);	/* tx kick while stopped */
	usleep(300000);
	CHECK(*(volatile uint16_t *)((uint8_t *)fg->vq[FG_VQ_RX].used + 2) ==
	      used_before, "host used rx buffers while stopped");
	CHECK(recv(fd, buf, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN,
	      "host received guest data while stopped");

	/* QEMU restart: features, mem table, rings again, running */
	fg->vq[FG_VQ_RX].base_on_start = rxb;
	fg->vq[FG_VQ_TX].base_on_start = txb;
	KT_OK(ioctl(fg->fd, VHOST_SET_FEATURES, &fg->features_acked));
	KT_OK(fg_set_mem_table(fg));
	KT_OK(fg_set_vring(fg, FG_VQ_RX));
	KT_OK(fg_set_vring(fg, FG_VQ_TX));
	CHECK(fg_start(fg) == 0, "restart");
	CHECK(fg_conn_wait_rx(c, 13, 3000), "data sent while stopped not delivered after restart");
	CHECK(fg_conn_read(c, buf, 13) == 13 && !memcmp(buf, "while-stopped", 13),
	      "data mismatch");
	CHECK(h_read(fg, fd, buf, 1, 3000, &e) == 1 && buf[0] == 'x',
	      "guest data sent while stopped not delivered: %s", kt_errname(e));
	close(fd);
	return finish(KT_PASS);
}
