// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_localcid: print this machine's local vsock CID(s).
 *
 * IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock gives the CID an unbound
 * socket would use (mvsock: the default device's CID); with mvsock loaded,
 * IOCTL_MVSOCK_LIST_CIDS then lists every local endpoint (device id, role,
 * CID, default flag). The second ioctl is optional: a kernel without it
 * (stock vsock) just gets a note.
 *
 * Exit status: 0 when GET_LOCAL_CID worked, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>
#include <linux/mvsock.h>

#define MAX_ENTRIES 64

static const char *role_name(uint32_t role)
{
	switch (role) {
	case MVSOCK_ROLE_ID_LOCAL: return "local";
	case MVSOCK_ROLE_ID_GUEST: return "guest";
	case MVSOCK_ROLE_ID_HOST: return "host";
	default: return "?";
	}
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/vsock";
	struct mvsock_cid_list *l;
	unsigned int cid = 0, i;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "vsock_localcid: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		fprintf(stderr, "vsock_localcid: IOCTL_VM_SOCKETS_GET_LOCAL_CID: %s\n",
			strerror(errno));
		close(fd);
		return 1;
	}
	printf("IOCTL_VM_SOCKETS_GET_LOCAL_CID on %s: %u%s\n", path, cid,
	       cid == VMADDR_CID_LOCAL ? " (VMADDR_CID_LOCAL: loopback only)" :
	       cid == VMADDR_CID_HOST ? " (VMADDR_CID_HOST)" : "");

	l = calloc(1, sizeof(*l) + MAX_ENTRIES * sizeof(l->entries[0]));
	if (!l) {
		close(fd);
		return 1;
	}
	l->count = MAX_ENTRIES;
	if (ioctl(fd, IOCTL_MVSOCK_LIST_CIDS, l) < 0) {
		printf("IOCTL_MVSOCK_LIST_CIDS: not supported here (%s)\n", strerror(errno));
	} else {
		printf("IOCTL_MVSOCK_LIST_CIDS: %u local endpoint(s)\n", l->total);
		printf("  %-6s %-6s %-10s %-8s %s\n", "dev", "role", "cid", "default", "peer_cid");
		for (i = 0; i < l->count; i++)
			printf("  %-6u %-6s %-10u %-8s %u\n", l->entries[i].dev_id,
			       role_name(l->entries[i].role), l->entries[i].cid,
			       l->entries[i].flags & MVSOCK_CID_F_DEFAULT ? "yes" : "no",
			       l->entries[i].peer_cid);
	}
	free(l);
	close(fd);
	return 0;
}
