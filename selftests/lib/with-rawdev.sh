#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a test program that needs the test-only raw device
# (selftests/kmod/mvsock_rawdev.ko) with the module loaded around it
# (unless it is already loaded); the suites that need it are one line of
# this:  with-rawdev.sh build/PATH/PROGRAM [ARG]...  (path relative to the
# work tree). Its KTAP output and exit status are the program's (1 also
# when the module does not unload). Loads nothing else: mvsock.ko and
# mvsock_loopback.ko come from 00-load. RAWDEV_KO overrides the module's
# path; with MVSOCK_STOCK=1 the suite is skipped (the raw device, the
# mvsock tracepoints and BPF hooks exist only with mvsock.ko).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
[ $# -ge 1 ] || { echo "usage: with-rawdev.sh build/PATH/PROGRAM [ARG]..." >&2; exit 2; }
prog=$ROOT/$1
shift
rawdev_ko=${RAWDEV_KO:-$ROOT/selftests/kmod/mvsock_rawdev.ko}

if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only (the raw device needs mvsock.ko)"
	exit 0
fi
if [ ! -x "$prog" ]; then
	echo "1..1"
	echo "# $prog is not built; run 'make deps && make' on the build machine"
	echo "# (BPF programs need clang, llvm, libelf-dev, zlib1g-dev, python3 and"
	echo "# linux-source-6.12 for libbpf and bpftool)"
	echo "not ok 1 - $(basename "$prog") built"
	exit 1
fi

loaded=0
if [ ! -e /dev/mvsock-rawdev ]; then
	if insmod "$rawdev_ko" 2>&1 | sed 's/^/# /'; [ -e /dev/mvsock-rawdev ]; then
		loaded=1
	else
		echo "# insmod $rawdev_ko failed: the cases that need it will fail"
	fi
fi
"$prog" "$@"
rc=$?
if [ "$loaded" = 1 ] && ! rmmod mvsock_rawdev; then
	echo "# rmmod mvsock_rawdev failed"
	rc=1
fi
exit $rc
