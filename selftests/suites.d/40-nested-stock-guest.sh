#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested topology (docs/testing.md, "Nested topology"), stock guest: OUR host
# driver (kernel/mvsock_vhost.ko: /dev/vhost-vsock) in this VM serves a
# second-level guest (selftests/nested/run-inner.sh: QEMU TCG,
# vhost-vsock-pci, guest-cid=3) that runs Debian's STOCK guest driver
# (vsock, vmw_vsock_virtio_transport_common, vmw_vsock_virtio_transport).
# Upstream vsock_test runs across the two machines in both directions:
# server here + client in the inner guest (--peer-cid=3 here, 2 there),
# then the other way round; its TCP control connection is carried over a
# virtio-serial port between 127.0.0.1 on each side.
#
# With MVSOCK_STOCK=1 (harness self-test) the host driver is Debian's
# vhost_vsock instead, and 00-load has loaded the stock socket layer.
# Normally 00-load has loaded kernel/mvsock.ko (loaded here when not, so
# the suite can also run alone). The host driver is unloaded at the end,
# the inner QEMU and the relay are gone: later suites see what they saw
# before.
#
# Results: host driver loaded; inner guest up; 2 x 26 vsock_test cases
# ("host-server/guest-client: NAME", "guest-server/host-client: NAME");
# inner guest clean (kernel log, no crash); host driver unloads.
# Environment: NESTED_TIMEOUT (seconds for the nested run, default 1500),
# NESTED_KNOWN_FAIL (see selftests/nested/vsock-test-both.sh).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
VSOCK_TEST=${MVSOCK_BUILD:-$ROOT/build}/upstream/vsock_test
# shellcheck source=selftests/nested/suite-lib.sh
. "$ROOT/selftests/nested/suite-lib.sh"

if [ ! -x "$VSOCK_TEST" ]; then
	echo "1..1"
	echo "not ok 1 - $VSOCK_TEST not built (selftests/upstream/build.sh)"
	exit 1
fi
ncases=$("$VSOCK_TEST" --list | grep -c '^[0-9]')
nested_begin $((2 * ncases))
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	nested_host_load stock
else
	nested_host_load ours
fi
nested_run "inner guest up (stock guest driver)" \
	--load vsock,vmw_vsock_virtio_transport_common,vmw_vsock_virtio_transport \
	--listen-inner 1240 --listen-outer 1241 \
	-- "'$NESTED/vsock-test-both.sh'"
nested_host_unload
nested_end
