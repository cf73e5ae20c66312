/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF selftests (tp_test.c, policy_test.c) share: libbpf's log
 * as KTAP diagnostics ("# " on every line; debug messages only with -v)
 * and the virtio-vsock header as the raw test device carries it.
 */
#ifndef MVSOCK_BPF_TEST_H
#define MVSOCK_BPF_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

static bool verbose;
/* set bt_want to a text libbpf's messages must contain: bt_seen says */
static const char *bt_want;
static bool bt_seen;

static int bt_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	static char msg[65536];
	char *line, *save = NULL;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (bt_want && strstr(msg, bt_want))
		bt_seen = true;
	/* an expected failure's log only with -v */
	if ((level == LIBBPF_DEBUG || bt_want) && !verbose)
		return 0;
	/* one message may hold a whole verifier log: "# " on every line */
	for (line = strtok_r(msg, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "# %s\n", line);
	return 0;
}

/* -v anywhere on the command line: libbpf's debug log too */
static void bt_setup(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-v"))
			verbose = true;
	libbpf_set_print(bt_libbpf_print);
}

/* the 44-byte virtio-vsock header (little endian, x86 only) */
struct vhdr {
	__u64 src_cid, dst_cid;
	__u32 src_port, dst_port, len;
	__u16 type, op;
	__u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

#endif
