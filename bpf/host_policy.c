// SPDX-License-Identifier: GPL-2.0
/*
 * host_policy: let each guest CID reach only the listed host ports.
 *
 * Usage: host_policy [-v] CID:PORT[,PORT...]...
 *   e.g. host_policy 3:1234,1235 4:22
 *
 * Loads host_policy.bpf.c, fills its allow map from the arguments,
 * attaches it as the mvsock_bpf_ops set (mvsock.ko must be loaded; only
 * one set may be attached) and prints every refused request as
 * "deny cid CID port PORT (from port P, device D)" until SIGINT or
 * SIGTERM, then detaches. -v prints libbpf's log; --help, --version.
 */
#define _GNU_SOURCE		/* strchrnul */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "host_policy.h"
#include "host_policy.skel.h"
#include "../tools/lib/num.h"

static const char hp_doc[] =
"Let each guest CID reach only the listed host ports (a mvsock_bpf_ops\n"
"set, attached until SIGINT or SIGTERM); prints each refused request.\n"
"\vExamples:\n"
"  host_policy 3:1234,1235 4:22  CID 3 may reach ports 1234 and 1235,\n"
"                                CID 4 port 22, nothing else\n"
"  host_policy -v 3:1234         the same for one port, with libbpf's log\n"
"\n"
CLI_EXIT_DOC;

/*
 * "CID:PORT[,PORT...]" -> entries of the allow map (@map_fd < 0: only
 * check it); -EINVAL: malformed, else 0 or -errno of the map
 */
static int add_rule(int map_fd, const char *arg, int *nrules)
{
	const char *colon = strchr(arg, ':'), *p, *q;
	uint64_t cid, port;
	struct hp_key key;
	__u8 one = 1;

	if (!colon || num_u64n(arg, colon - arg, 10, 0, UINT32_MAX, &cid))
		return -EINVAL;
	key.cid = cid;
	for (p = colon + 1;; p = q + 1) {
		q = strchrnul(p, ',');
		if (num_u64n(p, q - p, 10, 0, UINT32_MAX, &port))
			return -EINVAL;
		key.port = port;
		if (map_fd >= 0) {
			if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY))
				return -errno;
			(*nrules)++;
		}
		if (!*q)
			return 0;
	}
}

static int check_rule(const char *arg)
{
	int n = 0;

	return add_rule(-1, arg, &n);
}

static const struct argp hp_argp = {
	.parser = loader_parse_args,
	.args_doc = "CID:PORT[,PORT...]...",
	.doc = hp_doc,
	.children = cli_children,
};

static int on_denial(void *ctx, void *data, size_t size)
{
	const struct hp_denial *d = data;

	(void)ctx;
	if (size < sizeof(*d))
		return 0;
	printf("deny cid %u port %u (from port %u, device %d)\n", d->cid,
	       d->port, d->peer_port, d->dev_id);
	return 0;
}

int main(int argc, char **argv)
{
	struct loader_args a = {
		.what = "rule", .want = "CID:PORT[,PORT...]", .check = check_rule,
	};
	struct host_policy_bpf *skel;
	struct ring_buffer *rb = NULL;
	struct bpf_link *link = NULL;
	int i, nrules = 0, err = 1;

	loader_init(&hp_argp, argc, argv, &a, "host_policy");
	skel = host_policy_bpf__open_and_load();
	if (!skel)
		return loader_load_failed();
	for (i = 0; i < a.n; i++) {
		int r = add_rule(bpf_map__fd(skel->maps.allow), a.v[i], &nrules);

		if (r) {
			cli_fail("cannot add %s: %s", a.v[i], strerror(-r));
			goto out;
		}
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.denials), on_denial,
			      NULL, NULL);
	if (!rb) {
		cli_fail("ring buffer: %s", strerror(errno));
		goto out;
	}
	link = loader_attach(skel->maps.host_policy);
	if (!link)
		goto out;
	printf("attached: %d rules; denials follow (Ctrl-C detaches)\n", nrules);
	while (!loader_stop) {
		int n = ring_buffer__poll(rb, 200);

		if (n < 0 && n != -EINTR) {
			cli_fail("ring buffer poll: %s", strerror(-n));
			goto out;
		}
	}
	ring_buffer__consume(rb);
	err = 0;
out:
	loader_detach(link);
	ring_buffer__free(rb);
	host_policy_bpf__destroy(skel);
	return err;
}
