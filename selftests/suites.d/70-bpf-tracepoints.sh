#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# BPF on the mvsock tracepoints: build/selftests/bpf/tp_test (sources in
# selftests/bpf/, built by `make` with the BPF toolchain of bpf/) attaches
# a classic and a tp_btf program to every mvsock:* tracepoint, makes known
# traffic over loopback (CID 1) and over the test-only raw device
# (selftests/kmod/mvsock_rawdev.ko, loaded around the run as the raw-peer
# suites do), and checks the exact events and their fields, and that perf
# still sees the events while the programs are attached.
# Loads nothing else: mvsock.ko and mvsock_loopback.ko come from 00-load.
# RAWDEV_KO overrides the raw device module's path.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
prog=$ROOT/build/selftests/bpf/tp_test
rawdev_ko=${RAWDEV_KO:-$ROOT/selftests/kmod/mvsock_rawdev.ko}

if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only (the stock modules have no mvsock tracepoints)"
	exit 0
fi
if [ ! -x "$prog" ]; then
	echo "1..1"
	echo "# $prog is not built: the BPF toolchain (clang, llvm, libelf-dev,"
	echo "# zlib1g-dev, python3, linux-source-6.12 for libbpf and bpftool) is"
	echo "# missing or its build failed; run 'make deps && make' on the build machine"
	echo "not ok 1 - bpf tracepoint test built"
	exit 1
fi

loaded=0
if [ ! -e /dev/mvsock-rawdev ]; then
	if insmod "$rawdev_ko" 2>&1 | sed 's/^/# /'; [ -e /dev/mvsock-rawdev ]; then
		loaded=1
	else
		echo "# insmod $rawdev_ko failed: the device case will fail"
	fi
fi
"$prog"
rc=$?
if [ "$loaded" = 1 ] && ! rmmod mvsock_rawdev; then
	echo "# rmmod mvsock_rawdev failed"
	rc=1
fi
exit $rc
