#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the nested suite alone, from the build machine: build what it needs
# here (upstream's vsock tests, the inner initramfs and kernel image: much
# faster than inside the VM), then boot ONE outer VM (selftests/vm/run.sh)
# that runs selftests/suites.d/40-nested-stock-guest.sh(.disabled).
#
# Usage: selftests/nested/check.sh [--stock] [--timeout SECS]
#   --stock    the host driver is Debian's vhost_vsock (MVSOCK_STOCK=1)
#              instead of kernel/mvsock_vhost.ko (+ kernel/mvsock.ko)
#   --timeout  bound the outer VM (default 2400)
# Exit status: the suite's (0: everything passed), or the runner's
# (120 kernel log, 121 crash, 124 timeout; see selftests/vm/run.sh).

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT"
STOCK=0
TIMEOUT=2400
while [ $# -gt 0 ]; do
	case "$1" in
	--stock) STOCK=1; shift ;;
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	*) sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

suite=selftests/suites.d/40-nested-stock-guest.sh
[ -e "$suite" ] || suite=$suite.disabled
selftests/upstream/build.sh >&2
selftests/nested/mkinitramfs.sh >/dev/null
start=$(date +%s)
set +e
VM_ENV="${VM_ENV:-} MVSOCK_STOCK=$STOCK" selftests/vm/run.sh --timeout "$TIMEOUT" -- bash "$suite"
rc=$?
set -e
echo "# nested check: $(( $(date +%s) - start )) s wall including the outer VM boot; exit status $rc" >&2
exit $rc
