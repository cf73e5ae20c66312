// SPDX-License-Identifier: GPL-2.0
/*
 * tp_count: one counting program for any number of mvsock tracepoints.
 * The loader attaches it to every event of the mvsock trace system, each
 * link with a BPF cookie, the event's index in the per-CPU array
 * "counts". Two kinds, the same count:
 *   count_raw    a raw tracepoint program (the loader's default): it runs
 *                with the tracepoint's arguments, nothing is formatted;
 *   count_event  a classic tracepoint program (loader -c): the kernel
 *                fills the event's perf record first, as for perf. It
 *                returns 1 so that perf still sees the events: a classic
 *                tracepoint program returning 0 hides them from perf.
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

static __always_inline void count_cookie(void *ctx)
{
	__u32 idx = bpf_get_attach_cookie(ctx);
	__u64 *n = bpf_map_lookup_elem(&counts, &idx);

	if (n)
		(*n)++;
}

/* no event name: attached by the loader, once per event */
SEC("raw_tp")
int count_raw(void *ctx)
{
	count_cookie(ctx);
	return 0;
}

SEC("tracepoint")
int count_event(void *ctx)
{
	count_cookie(ctx);
	return 1;
}
