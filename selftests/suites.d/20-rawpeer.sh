#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Protocol engine against a raw peer: build/proto/rawpeer plays the far end
# of a device (selftests/kmod/mvsock_rawdev.ko) packet by packet
# (well-formed, malformed, spoofed, credit-lying and fuzzed packets).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
exec "$ROOT/selftests/lib/with-rawdev.sh" build/proto/rawpeer "${RAWPEER_FUZZ:-100000}"
