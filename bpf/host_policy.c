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
 * SIGTERM, then detaches. -v prints libbpf's log.
 */
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

static int parse_u32(const char *s, char **end, __u32 *out)
{
	unsigned long v;

	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || *end == s || v > 0xffffffffUL)
		return -1;
	*out = (__u32)v;
	return 0;
}

/* "CID:PORT[,PORT...]" -> entries of the allow map */
static int add_rule(int map_fd, const char *arg, int *nrules)
{
	struct hp_key key;
	const char *p;
	char *end;
	__u8 one = 1;

	if (parse_u32(arg, &end, &key.cid) || *end != ':')
		return -1;
	p = end + 1;
	for (;;) {
		if (parse_u32(p, &end, &key.port) || (*end && *end != ','))
			return -1;
		if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY)) {
			fprintf(stderr, "host_policy: cannot add %u:%u: %s\n",
				key.cid, key.port, strerror(errno));
			return -2;
		}
		(*nrules)++;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

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
	int i = loader_init(argc, argv, "CID:PORT[,PORT...]...");
	struct host_policy_bpf *skel;
	struct ring_buffer *rb = NULL;
	struct bpf_link *link = NULL;
	int nrules = 0, err = 1;

	skel = host_policy_bpf__open_and_load();
	if (!skel) {
		loader_load_failed("host_policy");
		return 1;
	}
	for (; i < argc; i++) {
		int r = add_rule(bpf_map__fd(skel->maps.allow), argv[i], &nrules);

		if (r == -1)
			fprintf(stderr, "host_policy: bad rule '%s': want CID:PORT[,PORT...]\n",
				argv[i]);
		if (r)
			goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.denials), on_denial,
			      NULL, NULL);
	if (!rb) {
		fprintf(stderr, "host_policy: ring buffer: %s\n", strerror(errno));
		goto out;
	}
	link = loader_attach(skel->maps.host_policy, "host_policy");
	if (!link)
		goto out;
	printf("attached: %d rules; denials follow (Ctrl-C detaches)\n", nrules);
	while (!loader_stop) {
		int n = ring_buffer__poll(rb, 200);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "host_policy: ring buffer poll: %s\n",
				strerror(-n));
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
