/* SPDX-License-Identifier: GPL-2.0 */
/* vsocktop's collector: BPF maps + sock_diag + the device registry. */
#ifndef VSOCKTOP_COLLECT_H
#define VSOCKTOP_COLLECT_H

#include <stdint.h>

#include "snapshot.h"

struct vsocktop_bpf;

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns() */
uint64_t vt_now_ns(void);

/*
 * @skel: loaded and attached, its start_ns set to @start_ns. Returns NULL
 * with vt_errmsg set when out of memory or no netlink socket.
 */
struct vt_collector *vt_collector_new(enum vt_mode mode, struct vsocktop_bpf *skel,
				      uint64_t start_ns);
void vt_collector_free(struct vt_collector *c);

#endif
