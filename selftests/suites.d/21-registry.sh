#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Device registry, guest side: build/proto/registry registers several
# guest-role devices through the test-only selftests/kmod/mvsock_rawdev.ko
# and checks the default device's rules (first registered, the proposed
# priority field, the sysfs pin and "auto"), GET_LOCAL_CID and
# IOCTL_MVSOCK_LIST_CIDS, routing, and CID changes (TRANSPORT_RESET).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/lib/with-rawdev.sh" build/proto/registry
