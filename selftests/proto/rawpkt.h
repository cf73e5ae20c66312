/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the raw-peer tests (selftests/proto) share: the virtio-vsock packet
 * as they write and read it through /dev/mvsock-rawdev (the 44-byte
 * little-endian header, x86 only: no byte swapping, and its payload), and
 * their sequential KTAP reporting: a case returns true or false, calling
 * fail() first to say why (cases share state, so they run in order in one
 * process, unlike lib/ktap.h's forked cases).
 */
#ifndef _MVSOCK_RAWPKT_H
#define _MVSOCK_RAWPKT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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

static int test_no;
static int failures;
static char why[512];

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

static void report(const char *name, bool ok)
{
	test_no++;
	if (!ok) {
		printf("# %s: %s\n", name, why);
		failures++;
	}
	printf("%sok %d %s\n", ok ? "" : "not ", test_no, name);
	fflush(stdout);
	why[0] = 0;
}

#endif
