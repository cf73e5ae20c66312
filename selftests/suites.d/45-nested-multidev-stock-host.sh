#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Interoperability: OUR multi-device guest driver against Debian's STOCK
# host driver (vhost_vsock). The same cases as 41-nested-multidev.sh
# (selftests/multidev/cases.sh with MD_HOST=stock: host-side checks that
# need our host driver's ioctl are left out). Our socket core leaves this
# VM for the run (stock vhost_vsock needs the stock AF_VSOCK) and is put
# back at the end with kernel/mvsock_loopback.ko, as 00-load left it.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
export MD_HOST=stock
[ "${MVSOCK_STOCK:-0}" = 1 ] && exec "$ROOT/selftests/suites.d/41-nested-multidev.sh"
"$ROOT/selftests/suites.d/41-nested-multidev.sh"
rc=$?
# (stderr: the TAP stream is complete; this is the next suites' setup)
for m in vhost_vsock vmw_vsock_virtio_transport_common vsock_diag vsock; do
	grep -q "^$m " /proc/modules && rmmod "$m"
done
if ! insmod "$ROOT/kernel/mvsock.ko" || ! insmod "$ROOT/kernel/mvsock_loopback.ko"; then
	echo "# cannot reload kernel/mvsock.ko and mvsock_loopback.ko"
	rc=1
fi
exit $rc
