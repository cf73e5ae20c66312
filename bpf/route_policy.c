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
 * libbpf's log; --help, --version.
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
#include "../tools/lib/num.h"

static const char rp_doc[] =
"Send unbound connections to the given host ports through the device of\n"
"the given local CID (a mvsock_bpf_ops set, attached until SIGINT or\n"
"SIGTERM); then prints how many connections it routed.\n"
"\vExamples:\n"
"  route_policy 1234:5           connect(2, 1234) leaves through the\n"
"                                device whose CID is 5\n"
"  route_policy 22:4 80:5        two routes\n"
"\n"
CLI_EXIT_DOC;

struct rp_route {
	__u32 port, cid;
};

/* "PORT:CID" */
static int parse_route(const char *arg, struct rp_route *r)
{
	const char *colon = strchr(arg, ':');
	uint64_t port;

	if (!colon || num_u64n(arg, colon - arg, 10, 0, UINT32_MAX, &port) ||
	    num_u32(colon + 1, 10, 0, UINT32_MAX, &r->cid))
		return -EINVAL;
	r->port = port;
	return 0;
}

static int check_route(const char *arg)
{
	struct rp_route r;

	return parse_route(arg, &r);
}

static const struct argp rp_argp = {
	.parser = loader_parse_args,
	.args_doc = "PORT:CID...",
	.doc = rp_doc,
	.children = cli_children,
};

int main(int argc, char **argv)
{
	struct loader_args a = {
		.what = "route", .want = "PORT:CID", .check = check_route,
	};
	struct route_policy_bpf *skel;
	struct bpf_link *link = NULL;
	int i, err = 1;

	loader_init(&rp_argp, argc, argv, &a, "route_policy");
	skel = route_policy_bpf__open_and_load();
	if (!skel)
		return loader_load_failed();
	for (i = 0; i < a.n; i++) {
		struct rp_route r;

		parse_route(a.v[i], &r);
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.routes),
					&r.port, &r.cid, BPF_ANY)) {
			cli_fail("cannot add %s: %s", a.v[i], strerror(errno));
			goto out;
		}
	}
	link = loader_attach(skel->maps.route_policy);
	if (!link)
		goto out;
	printf("attached: %d routes (Ctrl-C detaches)\n", a.n);
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
