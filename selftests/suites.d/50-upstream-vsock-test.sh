#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Upstream tools/testing/vsock/vsock_test (built by selftests/upstream/
# build.sh), server and client in this VM over loopback.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/upstream/run-pair.sh" --port 1234 \
	"$ROOT/build/upstream/vsock_test"
