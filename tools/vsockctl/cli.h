/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vsockctl's commands share: the options, error reporting and the
 * device registry (vsockctl.c); the policy commands are in policy.c.
 */
#ifndef VSOCKCTL_CLI_H
#define VSOCKCTL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/mvsock_cli.h"	/* cli_fail(), cli_usage() */

#define VC_MODULE_DIR	"/sys/module/mvsock"
#define VC_DEVICES_FILE	VC_MODULE_DIR "/parameters/devices"
#define VC_DEFAULT_FILE	VC_MODULE_DIR "/parameters/default_dev"
#define VC_BPF_OPS_FILE	VC_MODULE_DIR "/parameters/bpf_ops"

struct vc_opts {
	bool json;
	bool follow;		/* policy log -f */
	bool print;		/* policy check --print */
};

extern struct vc_opts vc_opt;

/* 0 when mvsock.ko is loaded, else cli_fail()'s 1 */
int vc_need_module(void);

/* a registry device (one line of VC_DEVICES_FILE) */
struct vc_dev {
	uint32_t id;
	char name[32];
	char role[8];
	uint32_t cid;
	bool is_default;
	int priority;		/* -1: none offered */
	char state[12];
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
	uint64_t rx_dropped, tx_dropped, rx_bad, rst_sent;
};

/* the registry; *@n devices in a malloc'ed array, NULL + errno on error */
struct vc_dev *vc_read_devices(unsigned int *n);

/* JSON string (quotes included) */
void vc_json_str(const char *s);

int vc_cmd_policy(int argc, char **argv);

#endif
