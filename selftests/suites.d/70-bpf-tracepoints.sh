#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# BPF on the mvsock tracepoints: build/selftests/bpf/tp_test (sources in
# selftests/bpf/, built by `make` with the BPF toolchain of bpf/) attaches
# a classic and a tp_btf program to every mvsock:* tracepoint, makes known
# traffic over loopback (CID 1) and over the test-only raw device
# (selftests/kmod/mvsock_rawdev.ko, loaded around the run), and checks the
# exact events and their fields, and that perf still sees the events while
# the programs are attached. See selftests/lib/with-rawdev.sh.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/lib/with-rawdev.sh" build/selftests/bpf/tp_test "$@"
