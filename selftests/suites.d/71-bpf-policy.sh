#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# BPF connection policy: build/selftests/bpf/policy_test (sources in
# selftests/bpf/, built by `make`) attaches mvsock_bpf_ops sets and checks
# that the connect, accept and route verdicts are enforced, swapped and
# detached cleanly, that bad return values fall back as docs/bpf.md says,
# and runs the example loaders of bpf/ (build/bpf/host_policy,
# build/bpf/route_policy) against raw test devices
# (selftests/kmod/mvsock_rawdev.ko, loaded around the run). See
# selftests/lib/with-rawdev.sh.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/lib/with-rawdev.sh" build/selftests/bpf/policy_test "$@"
