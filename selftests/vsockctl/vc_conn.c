// SPDX-License-Identifier: GPL-2.0
/*
 * vc_conn: connect in a loop and count the verdicts, for the atomic
 * reload test of suites.d/74-vsockctl.sh and the policy bench
 * (scripts/bench-hooks.sh, configuration p).
 *
 *   vc_conn [-t SECS] CID PORT[,PORT...]
 *	connects to each PORT in turn (a listener that accepts and closes,
 *	such as mdtool serve), until SIGTERM or SIGINT, or for SECS seconds;
 *	then prints one line per port: "port=P ok=N ECONNRESET=N EACCES=N
 *	... per_s=R" (each errno seen, by name; R: connect() calls per
 *	second to that port) and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "../../tools/lib/num.h"

#define VC_MAX_PORTS	16
#define VC_MAX_ERRNO	134

static volatile sig_atomic_t vc_stop;

static void vc_on_signal(int sig)
{
	(void)sig;
	vc_stop = 1;
}

/* 0 connected, else the errno of connect() */
static int vc_try(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = errno;
	close(fd);
	return err;
}

static double vc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int vc_usage(void)
{
	fprintf(stderr, "usage: vc_conn [-t SECS] CID PORT[,PORT...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static unsigned long counts[VC_MAX_PORTS][VC_MAX_ERRNO];
	uint32_t ports[VC_MAX_PORTS], cid;
	unsigned int n = 0, i;
	char *list, *tok, *save = NULL;
	double secs = 0, start, end;
	unsigned long tries;
	int e;

	if (argc == 5 && !strcmp(argv[1], "-t")) {
		if (num_double(argv[2], 0, 1e9, &secs))
			return vc_usage();
		argc -= 2;
		argv += 2;
	}
	if (argc != 3 || num_u32(argv[1], 10, 0, UINT32_MAX, &cid))
		return vc_usage();
	list = strdup(argv[2]);
	for (tok = strtok_r(list, ",", &save); tok && n < VC_MAX_PORTS;
	     tok = strtok_r(NULL, ",", &save))
		if (num_u32(tok, 10, 0, UINT32_MAX, &ports[n++]))
			return vc_usage();
	free(list);
	signal(SIGTERM, vc_on_signal);
	signal(SIGINT, vc_on_signal);
	if (!n) {
		fprintf(stderr, "vc_conn: no port\n");
		return 2;
	}
	printf("started\n");
	fflush(stdout);
	start = vc_now();
	for (i = 0; !vc_stop; i = (i + 1) % n) {
		if (secs > 0 && i == 0 && vc_now() - start >= secs)
			break;
		e = vc_try(cid, ports[i]);
		if (e == EINTR && vc_stop)
			break;
		counts[i][e < VC_MAX_ERRNO ? e : 0]++;
	}
	end = vc_now();
	for (i = 0; i < n; i++) {
		printf("port=%u ok=%lu", ports[i], counts[i][0]);
		tries = counts[i][0];
		for (e = 1; e < VC_MAX_ERRNO; e++) {
			if (counts[i][e])
				printf(" %s=%lu", strerrorname_np(e) ?: "E?", counts[i][e]);
			tries += counts[i][e];
		}
		printf(" per_s=%.1f\n", tries / (end - start > 0 ? end - start : 1));
	}
	return 0;
}
