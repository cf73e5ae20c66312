/* SPDX-License-Identifier: GPL-2.0 */
/*
 * API drift between the kernels mvsock builds for. Primary target is
 * 6.12 LTS; 6.1 LTS is a later goal, keep the differences here.
 */
#ifndef _MVSOCK_COMPAT_H
#define _MVSOCK_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#error "mvsock needs Linux 6.10 or newer for now (proto_accept_arg)"
#endif

#endif /* _MVSOCK_COMPAT_H */
