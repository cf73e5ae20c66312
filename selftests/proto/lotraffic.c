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

#define LEN (1 << 20)

static int xfer_all(int fd, char *buf, size_t len, int do_send)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = do_send ? send(fd, buf + done, len - done, 0) :
				      recv(fd, buf + done, len - done, 0);
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int run(int type, unsigned int port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	size_t len = type == SOCK_STREAM ? LEN : 4096;
	char *out = malloc(len), *in = malloc(len);
	int lfd, fd, status;
	pid_t pid;

	if (!out || !in)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 31 + port);
	lfd = socket(AF_VSOCK, type, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 4)) {
		perror("listen");
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int c = socket(AF_VSOCK, type, 0);

		a.svm_cid = VMADDR_CID_LOCAL;
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
			_exit(2);
		if (type == SOCK_STREAM ? xfer_all(c, out, len, 1) :
		    send(c, out, len, 0) != (ssize_t)len)
			_exit(3);
		if (type == SOCK_STREAM ? xfer_all(c, in, len, 0) :
		    recv(c, in, len, 0) != (ssize_t)len)
			_exit(4);
		_exit(memcmp(in, out, len) ? 5 : 0);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return -1;
	if (type == SOCK_STREAM ? xfer_all(fd, in, len, 0) :
	    recv(fd, in, len, 0) != (ssize_t)len)
		return -1;
	if (memcmp(in, out, len))
		return -1;
	if (type == SOCK_STREAM ? xfer_all(fd, in, len, 1) :
	    send(fd, in, len, 0) != (ssize_t)len)
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
