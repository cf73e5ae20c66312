// SPDX-License-Identifier: GPL-2.0
/*
 * route_policy: send connections to given host ports through given local
 * devices (guest side, several devices).
 *
 * Usage: route_policy [-v] PORT:CID...
 *   e.g. route_policy 1234:5   (connect(2, 1234) leaves through the
 *        device whose CID is 5, unless the socket is bound)
 *
 * Loads route_policy.bpf.c, fills its route map, attaches it as the
 * mvsock_bpf_ops set until SIGINT or SIGTERM, then prints how many
 * connections it routed and detaches. A CID that is no local device's
 * makes the kernel use the default device (docs/bpf.md). -v prints
 * libbpf's log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "route_policy.h"
#include "route_policy.skel.h"

/* "PORT:CID" */
static int parse_route(const char *arg, __u32 *port, __u32 *cid)
{
	unsigned long p, c;
	char *end;

	errno = 0;
	p = strtoul(arg, &end, 10);
	if (errno || end == arg || *end != ':' || p > 0xffffffffUL)
		return -1;
	arg = end + 1;
	c = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || c > 0xffffffffUL)
		return -1;
	*port = (__u32)p;
	*cid = (__u32)c;
	return 0;
}

int main(int argc, char **argv)
{
	int i = loader_init(argc, argv, "PORT:CID...");
	int first = i, err = 1;
	struct route_policy_bpf *skel;
	struct bpf_link *link = NULL;

	skel = route_policy_bpf__open_and_load();
	if (!skel) {
		loader_load_failed("route_policy");
		return 1;
	}
	for (; i < argc; i++) {
		__u32 port, cid;

		if (parse_route(argv[i], &port, &cid)) {
			fprintf(stderr, "route_policy: bad route '%s': want PORT:CID\n",
				argv[i]);
			goto out;
		}
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.routes), &port,
					&cid, BPF_ANY)) {
			fprintf(stderr, "route_policy: cannot add %s: %s\n",
				argv[i], strerror(errno));
			goto out;
		}
	}
	link = loader_attach(skel->maps.route_policy, "route_policy");
	if (!link)
		goto out;
	printf("attached: %d routes (Ctrl-C detaches)\n", argc - first);
	while (!loader_stop)
		usleep(100 * 1000);
	printf("routed %llu connections\n",
	       (unsigned long long)skel->bss->routed);
	err = 0;
out:
	loader_detach(link);
	route_policy_bpf__destroy(skel);
	return err;
}
