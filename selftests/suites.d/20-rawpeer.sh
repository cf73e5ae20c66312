#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Protocol engine against a raw peer: loads the test-only
# selftests/kmod/mvsock_rawdev.ko and runs build/proto/rawpeer, which
# plays the far end of a device packet by packet (well-formed, malformed,
# spoofed, credit-lying and fuzzed packets).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only (raw device needs mvsock.ko)"
	exit 0
fi
if ! insmod "$ROOT/selftests/kmod/mvsock_rawdev.ko"; then
	echo "1..1"
	echo "not ok 1 - insmod selftests/kmod/mvsock_rawdev.ko"
	exit 1
fi
"$ROOT/build/proto/rawpeer" "${RAWPEER_FUZZ:-100000}"
rc=$?
rmmod mvsock_rawdev || rc=1
exit $rc
