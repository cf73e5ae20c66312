// SPDX-License-Identifier: GPL-2.0
/*
 * lotraffic: a short burst of loopback traffic for the module
 * load/unload cycle: one STREAM and one SEQPACKET connection, each
 * carrying checksummed data both ways, then a close. Exit 0 on success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../lib/vsock_util.h"

#define LEN (1 << 20)

/* exactly len bytes each way: one message (SEQPACKET) or a stream */
static int xfer_all(int fd, char *buf, size_t len, int do_send)
{
	ssize_t n = do_send ? send_all(fd, buf, len, 0) :
			      recv_all(fd, buf, len, 0);

	return n == (ssize_t)len ? 0 : -1;
}

static int run(int type, unsigned int port)
{
	size_t len = type == SOCK_STREAM ? LEN : 4096;
	char *out = malloc(len), *in = malloc(len);
	int lfd, fd, status;
	pid_t pid;

	if (!out || !in)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 31 + port);
	lfd = vlistener(type, VMADDR_CID_ANY, port, 4);
	if (lfd < 0) {
		perror("listen");
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int c = vconnect_to(type, VMADDR_CID_LOCAL, port, 0);

		if (c < 0)
			_exit(2);
		if (xfer_all(c, out, len, 1))
			_exit(3);
		if (xfer_all(c, in, len, 0))
			_exit(4);
		_exit(memcmp(in, out, len) ? 5 : 0);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return -1;
	if (xfer_all(fd, in, len, 0))
		return -1;
	if (memcmp(in, out, len))
		return -1;
	if (xfer_all(fd, in, len, 1))
		return -1;
	waitpid(pid, &status, 0);
	close(fd);
	close(lfd);
	free(in);
	free(out);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(void)
{
	if (run(SOCK_STREAM, 9100) || run(SOCK_SEQPACKET, 9101)) {
		fprintf(stderr, "lotraffic failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
