// SPDX-License-Identifier: GPL-2.0
/*
 * tp_count: one counting program for any number of classic tracepoints.
 * The loader attaches it to every event of the mvsock trace system, each
 * link with a BPF cookie, the event's index in the per-CPU array
 * "counts". It returns 1 so that perf still sees the events: a classic
 * tracepoint program returning 0 hides them from perf.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define TPC_MAX_EVENTS 64	/* the loader reads it from the map */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TPC_MAX_EVENTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* no event name: attached by the loader, once per event */
SEC("tracepoint")
int count_event(void *ctx)
{
	__u32 idx = bpf_get_attach_cookie(ctx);
	__u64 *n = bpf_map_lookup_elem(&counts, &idx);

	if (n)
		(*n)++;
	return 1;
}
