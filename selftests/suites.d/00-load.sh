#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Setup suite: load the modules under test, from the work tree:
# kernel/mvsock.ko then kernel/mvsock_loopback.ko.
# With MVSOCK_STOCK=1 (a self-test of the harness only) it loads Debian's
# own vsock_loopback and vsock_diag instead.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "TAP version 13"
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..3"
	echo "# MVSOCK_STOCK=1: testing Debian's stock vsock modules (harness self-test)"
	modprobe vsock_loopback >"$log" 2>&1
	result $? "modprobe vsock_loopback (stock)" "$log"
	modprobe vsock_diag >"$log" 2>&1
	result $? "modprobe vsock_diag (stock)" "$log"
else
	echo "1..3"
	for m in mvsock mvsock_loopback; do
		ko=$ROOT/kernel/$m.ko
		if [ ! -f "$ko" ]; then
			echo "$ko not built (run make)" >"$log"
			result 1 "insmod kernel/$m.ko" "$log"
			continue
		fi
		insmod "$ko" >"$log" 2>&1
		result $? "insmod kernel/$m.ko" "$log"
	done
fi

# AF_VSOCK must work: /dev/vsock is created by the socket family's module.
if [ -c /dev/vsock ]; then
	result 0 "/dev/vsock exists"
else
	echo "loaded modules:" >"$log"
	grep -i vsock /proc/modules >>"$log"
	result 1 "/dev/vsock exists" "$log"
fi
exit "$fail"
