#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a raw-peer test program (build/proto/PROGRAM [ARG]...) with the
# test-only selftests/kmod/mvsock_rawdev.ko loaded around it; the suites
# that need the raw device are one line of this. Its TAP output and exit
# status are the program's (1 also when the module does not unload).
# With MVSOCK_STOCK=1 the suite is skipped: the raw device needs mvsock.ko.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
[ $# -ge 1 ] || { echo "usage: with-rawdev.sh PROGRAM [ARG]..." >&2; exit 2; }
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only (raw device needs mvsock.ko)"
	exit 0
fi
if ! insmod "$ROOT/selftests/kmod/mvsock_rawdev.ko"; then
	echo "1..1"
	echo "not ok 1 - insmod selftests/kmod/mvsock_rawdev.ko"
	exit 1
fi
prog=$1
shift
"$ROOT/build/proto/$prog" "$@"
rc=$?
rmmod mvsock_rawdev || rc=1
exit $rc
