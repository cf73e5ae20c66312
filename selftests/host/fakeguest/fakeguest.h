/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fakeguest program's case files share (main.c has the overview,
 * the case table and these helpers): per-case guests, CIDs and ports, host
 * socket helpers that keep the fake guest running, host jobs in threads.
 */
#ifndef MVSOCK_FAKEGUEST_H
#define MVSOCK_FAKEGUEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>

#include "../../lib/ktap.h"
#include "../fg.h"
#include "num.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB 1024u
#define MiB (1024u * 1024u)

#define CHECK(cond, fmt, ...)							\
	do {									\
		if (!(cond)) {							\
			kt_diag("%s:%d: %s: " fmt, __FILE__, __LINE__, #cond,	\
				##__VA_ARGS__);					\
			fg_report();						\
			return KT_FAIL;						\
		}								\
	} while (0)

#define CHECK_FG(k)								\
	do {									\
		if (!fgs[k]) {							\
			kt_diag("%s:%d: cannot set up fake guest %d",		\
				__FILE__, __LINE__, k);				\
			return KT_FAIL;						\
		}								\
	} while (0)

/* --- per-case resources (main.c) -------------------------------------------- */

#define MAX_FG 4
extern struct fg *fgs[MAX_FG];

/* --- host jobs in threads (main.c) ------------------------------------------ */

enum job_kind {
	JOB_CONNECT,
	JOB_SEND_PATTERN,
	JOB_RECV_PATTERN,
	JOB_RECV_ONE,
	JOB_ACCEPT_CLOSE,
};

struct job {
	enum job_kind kind;
	struct hs_thread th;
	atomic_int done;
	atomic_int stop;
	/* parameters */
	int type;
	uint32_t cid, port;
	int timeout_ms;
	uint64_t bufsize;	/* JOB_CONNECT: SO_VM_SOCKETS_BUFFER_SIZE */
	int fd;
	uint64_t seed, pos, n;
	size_t chunk;
	/* results */
	int res_fd;
	int err;
	ssize_t ret;
	uint64_t bytes, bad;
	long t_end;
	int accepted;
};

/* env NAME as a number (checked by main()), DEF when unset */
uint64_t env_u64(const char *name, uint64_t def);
/* guest CID k (0..3), host port k and guest port k (0..31) of the case */
uint64_t ccid(int k);
uint32_t hport(int k);
uint32_t gport(int k);
/* fake guest k of the case (fgs[k]) */
struct fg *gopen_opts(int k, struct fg_opts *o);
struct fg *gopen(int k);
void gclose(int k);
/* print the guests' misbehaviour counts; finish(): also close them, and
 * fail when any host misbehaviour was seen
 */
void fg_report(void);
int finish(int rc);

/* --- host socket helpers that keep the fake guest running ------------------ */

int h_bufsize(int fd, uint64_t sz);
size_t h_read(struct fg *fg, int fd, void *buf, size_t n, int timeout_ms,
	      int *err);
size_t h_drain(struct fg *fg, int fd, void *buf, size_t n, int settle_ms,
	       int *err);
/* a non-blocking listener on (VMADDR_CID_ANY, port); -1 with errno */
int h_listen(int type, uint32_t port, int backlog);
/* accept within timeout_ms, running the fake guest: fd or -errno */
int h_accept(struct fg *fg, int lfd, int timeout_ms);
bool h_no_accept(struct fg *fg, int lfd, int ms);
bool h_send_all(int fd, const void *buf, size_t n);
void sockname(int fd, bool peer, uint32_t *cid, uint32_t *port);

/* --- host jobs in threads ---------------------------------------------------- */

/* a job of KIND on fd; the pattern jobs: N bytes of stream SEED */
void job_init(struct job *j, enum job_kind kind, int fd, uint64_t seed,
	      uint64_t n);
int job_start(struct job *j);
bool job_wait(struct fg *fg, struct job *j, int timeout_ms);
void job_connect(struct job *j, int type, uint32_t cid, uint32_t port,
		 int timeout_ms);
int h2g_pair(struct fg *fg, int type, uint32_t port, uint64_t bufsize,
	     struct fg_conn **cp);
int g2h_pair(struct fg *fg, int lfd, uint32_t port, int type,
	     uint32_t buf_alloc, struct fg_conn **cp);
/* a short g2h exchange proving an instance works */
int ping(struct fg *fg, int lfd, uint32_t port);
/* a host listener on hport(0), guest 0 and a g2h connection to it */
int g2h_setup(int *lfd, struct fg **fgp, struct fg_conn **c, int *fd);

/* --- the cases --------------------------------------------------------------- */

int t_api_features(const struct kt_case *tc);
int t_api_errors(const struct kt_case *tc);
int t_api_cid_reserved(const struct kt_case *tc);
int t_api_cid_inuse(const struct kt_case *tc);
int t_api_alt_order(const struct kt_case *tc);
int t_api_stop_start(const struct kt_case *tc);
int t_g2h_connect(const struct kt_case *tc);
int t_g2h_refused(const struct kt_case *tc);
int t_h2g_connect(const struct kt_case *tc);
int t_h2g_refused(const struct kt_case *tc);
int t_h2g_timeout(const struct kt_case *tc);
int t_seqpacket_not_negotiated(const struct kt_case *tc);
int t_data_g2h(const struct kt_case *tc);
int t_data_h2g(const struct kt_case *tc);
int t_rx_layouts(const struct kt_case *tc);
int t_linux_guest(const struct kt_case *tc);
int t_credit_guest_slow(const struct kt_case *tc);
int t_credit_host_slow(const struct kt_case *tc);
int t_credit_request(const struct kt_case *tc);
int t_credit_overrun(const struct kt_case *tc);
int t_shutdown_guest_send(const struct kt_case *tc);
int t_shutdown_guest_full(const struct kt_case *tc);
int t_shutdown_host(const struct kt_case *tc);
int t_close_host(const struct kt_case *tc);
int t_rst_guest(const struct kt_case *tc);
int t_seqpacket_g2h(const struct kt_case *tc);
int t_seqpacket_h2g(const struct kt_case *tc);
int t_spoof_request(const struct kt_case *tc);
int t_spoof_established(const struct kt_case *tc);
int t_spoof_other_guest(const struct kt_case *tc);
int t_desc_layouts(const struct kt_case *tc);
int t_desc_malformed(const struct kt_case *tc);
int t_rw_zero_len(const struct kt_case *tc);
int t_bad_op(const struct kt_case *tc);
int t_bad_type(const struct kt_case *tc);
int t_payload_on_control(const struct kt_case *tc);
int t_bad_request(const struct kt_case *tc);
int t_desc_invalid(const struct kt_case *tc);
int t_bounded_no_rx(const struct kt_case *tc);
int t_bounded_huge_credit(const struct kt_case *tc);
int t_bounded_replies(const struct kt_case *tc);
int t_close_fd_live(const struct kt_case *tc);
int t_close_fd_connecting(const struct kt_case *tc);
int t_fuzz(const struct kt_case *tc);

#endif /* MVSOCK_FAKEGUEST_H */
