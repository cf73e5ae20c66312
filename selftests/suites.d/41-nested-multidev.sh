#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested topology, multi-device guest: OUR host driver
# (kernel/mvsock_vhost.ko) in this VM, a second-level guest with THREE
# vhost-vsock-pci devices (guest CIDs 3, 4, 5) that runs OUR guest driver
# (kernel/mvsock.ko + kernel/mvsock_virtio.ko: loaded at boot by alias from
# where the package installs them, then by insmod in the first cases).
# The cases are selftests/multidev/cases.sh: autoload, registry and ioctls,
# routing seen from the host, listeners per CID, the default device through
# sysfs, concurrent checksummed transfers on every device, isolation,
# vsocktop on both sides (exact bytes per device; through a hot-unplug),
# upstream vsock_test through a non-default device, unload with live
# connections.
#
# Results: host driver loaded; inner guest up; the cases; inner guest clean
# (kernel log, no crash); host driver unloads.
# Environment: NESTED_TIMEOUT (seconds for the nested run, default 1700:
# under guest-check.sh's SUITE_TIMEOUT of 1800, so that a late run still
# ends with its checks and unloads the host driver).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP the stock modules have no multi-device guest driver"
	exit 0
fi
# shellcheck source=selftests/nested/suite-lib.sh
. "$ROOT/selftests/nested/suite-lib.sh"
MD_HOST=${MD_HOST:-ours}
export NESTED_TIMEOUT=${NESTED_TIMEOUT:-1700}
. "$ROOT/selftests/multidev/suite-args.sh"

nested_begin "$("$ROOT/selftests/multidev/cases.sh" --count)"
nested_host_load "$MD_HOST"
nested_run "inner guest up (our guest driver packed, $MD_NDEV vsock devices)" \
	"${MD_RUN_ARGS[@]}" "${MD_CASE_ARGS[@]}" -- "MD_HOST=$MD_HOST '$ROOT/selftests/multidev/cases.sh'"
nested_host_unload
nested_end
