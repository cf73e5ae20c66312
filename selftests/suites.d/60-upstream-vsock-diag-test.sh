#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Upstream tools/testing/vsock/vsock_diag_test (built by selftests/upstream/
# build.sh), server and client in this VM over loopback.
#
# "Connect" cannot pass over loopback, with any transport: it expects the
# diag dump to show one connected socket, but both ends of the connection
# live in this one machine, so it sees two (verified on Debian's stock
# vsock_loopback: "expected 1 sockets, found 2"). Its failure is reported as
# a SKIP; a pass is still reported as a pass.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/upstream/run-pair.sh" --port 1235 \
	--known-fail "Connect=fails on stock loopback too" \
	"$ROOT/build/upstream/vsock_diag_test"
