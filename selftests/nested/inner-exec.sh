#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command in the inner guest of the nested topology, from a command
# that selftests/nested/run-inner.sh runs in the outer VM (it sets
# NESTED_SOCK and NESTED_VRELAY and points NESTED_EXEC here):
#   "$NESTED_EXEC" COMMAND [ARG]...
# COMMAND runs in / of the inner guest (busybox; PATH=/bin) with stdin
# /dev/null; its stdout and stderr come out on our stdout; our exit status
# is its status (128+N when killed by signal N, 255 when the inner guest
# went away first). Killing us kills its process group in the inner guest.
# Background processes it starts survive it: give them their own output
# (e.g. >/tmp/log 2>&1), or their writes fail once it has ended.

if [ -z "${NESTED_SOCK:-}" ] || [ -z "${NESTED_VRELAY:-}" ]; then
	echo "inner-exec: run from a selftests/nested/run-inner.sh command" >&2
	exit 2
fi
[ $# -ge 1 ] || { echo "usage: inner-exec.sh COMMAND [ARG]..." >&2; exit 2; }
exec "$NESTED_VRELAY" -c "$NESTED_SOCK" -- "$@"
