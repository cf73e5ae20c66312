/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the raw-peer tests (selftests/proto) share: the virtio-vsock packet
 * as they write and read it through /dev/mvsock-rawdev (the 44-byte
 * little-endian header, x86 only: no byte swapping, and its payload), and
 * their KTAP cases: a case returns true or false, calling fail() first to
 * say why; cases share state (the raw devices), so the programs run them
 * with lib/ktap.h's kt_run_inline(), in order in one process.
 */
#ifndef _MVSOCK_RAWPKT_H
#define _MVSOCK_RAWPKT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/ktap.h"

#define HDR_LEN 44
#define TYPE_STREAM 1
#define TYPE_SEQPACKET 2
enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW,
	OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct pkt {
	struct hdr h;
	unsigned char data[65536 + 64];
};

static char why[512];

/* say why the running case fails (before returning false) */
__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

/* Each program defines raw_before(), run before every case. */
static void raw_before(void);

static inline int raw_verdict(const struct kt_case *tc, bool ok)
{
	if (!ok)
		kt_diag("%s: %s", tc->name, why);
	why[0] = 0;
	return ok ? KT_PASS : KT_FAIL;
}

/* RAW_CASE(fn) makes fn_kt, the kt_case function of "static bool fn(void)" */
#define RAW_CASE(fn)							\
	static int fn##_kt(const struct kt_case *tc)			\
	{								\
		raw_before();						\
		return raw_verdict(tc, fn());				\
	}

#endif
