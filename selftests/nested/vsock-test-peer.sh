#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The PROGRAM that selftests/upstream/run-pair.sh starts, for the nested
# topology: run-pair.sh starts it twice (--mode=server, --mode=client) as
# if both ends lived in one machine with --peer-cid=1; this script runs one
# end here (the outer VM, the host: CID 2) and the other in the inner guest
# (through $NESTED_EXEC), with the right --peer-cid for each.
#
# Environment:
#   NESTED_PROG    the upstream program (same path in both machines: the
#                  inner initramfs packs build/upstream/ at its path)
#   NESTED_SERVER  outer: the server runs here, the client in the inner
#                  guest; inner: the other way round
#   NESTED_CID     the inner guest's CID (set by run-inner.sh)
#   NESTED_INNER_ENV  NAME=VALUE ... set for the program in the inner guest
#                  (e.g. LD_PRELOAD of selftests/multidev/bindshim.c)
# The control connection: the client connects to 127.0.0.1:PORT on its own
# side, which the relay carries to 127.0.0.1:PORT on the server's side (the
# runner must listen there: run-inner.sh --listen-inner/--listen-outer).

PROG=${NESTED_PROG:?NESTED_PROG not set}
SERVER=${NESTED_SERVER:?NESTED_SERVER not set (outer or inner)}
GUEST_CID=${NESTED_CID:-3}
HOST_CID=2

mode=
args=()
for a in "$@"; do
	case "$a" in
	--list|--help) exec "$PROG" "$@" ;;
	--mode=*) mode=${a#--mode=}; args+=("$a") ;;
	--peer-cid=*) ;;
	*) args+=("$a") ;;
	esac
done
[ "$mode" = server ] && args+=(--control-host=127.0.0.1)

# The client gives its server 10 s to answer on the control connection:
# under TCG in TCG an inner server can take longer than that to start, so
# the outer client waits until the inner one listens (/proc/net/tcp: local
# 127.0.0.1:PORT in state 0A, LISTEN).
if [ "$mode" = client ] && [ "$SERVER" = inner ]; then
	port=
	for a in "${args[@]}"; do
		case "$a" in --control-port=*) port=${a#--control-port=} ;; esac
	done
	if [ -n "$port" ]; then
		hex=$(printf '%04X' "$port")
		for _ in $(seq 240); do
			"${NESTED_EXEC:?}" grep -q "0100007F:$hex 00000000:0000 0A" /proc/net/tcp && break
			sleep 0.5
		done
	fi
fi
if { [ "$mode" = server ] && [ "$SERVER" = outer ]; } ||
	{ [ "$mode" = client ] && [ "$SERVER" = inner ]; }; then
	exec "$PROG" "${args[@]}" --peer-cid="$GUEST_CID"
fi
# shellcheck disable=SC2086 # NESTED_INNER_ENV is a list of assignments
exec "${NESTED_EXEC:?not run by run-inner.sh}" env ${NESTED_INNER_ENV:-} \
	"$PROG" "${args[@]}" --peer-cid="$HOST_CID"
