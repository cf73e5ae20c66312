#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Upstream vsock_test across the two machines of the nested topology, in
# both directions: (1) server here in the outer VM (host, CID 2) and client
# in the inner guest, (2) server in the inner guest and client here. Runs
# as the --host command of selftests/nested/run-inner.sh, which must be
# started with --listen-inner 1240 --listen-outer 1241 (control ports of
# directions 1 and 2).
#
# Prints TAP result lines numbered from NESTED_TAP_FIRST (default 1), no
# plan: 2 x (number of vsock_test tests) lines, named
# "host-server/guest-client: NAME" and "guest-server/host-client: NAME".
# Each direction goes through selftests/upstream/run-pair.sh (which
# restarts the pair after a failure) with selftests/nested/vsock-test-peer.sh
# as its program. Exit status 0 when nothing failed.
#
# Environment: NESTED_KNOWN_FAIL="NAME=REASON;NAME=REASON" (passed to
# run-pair.sh --known-fail), VSOCK_TEST (default build/upstream/vsock_test).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
export NESTED_PROG=${VSOCK_TEST:-$ROOT/build/upstream/vsock_test}
first=${NESTED_TAP_FIRST:-1}

known=()
IFS=';' read -r -a kf <<<"${NESTED_KNOWN_FAIL:-}"
for k in "${kf[@]}"; do
	[ -n "$k" ] && known+=(--known-fail "$k")
done

rc=0
n=$(( first - 1 ))
for dir in "outer 1240 host-server/guest-client" "inner 1241 guest-server/host-client"; do
	read -r server port label <<<"$dir"
	start=$SECONDS
	echo "# $label: vsock_test, server in the ${server} machine, control port $port"
	# Renumbered, names prefixed, header and plan dropped; streamed.
	NESTED_SERVER=$server "$ROOT/selftests/upstream/run-pair.sh" --port "$port" \
		"${known[@]}" "$HERE/vsock-test-peer.sh" 2>&1 |
		"$ROOT/selftests/lib/ktap-merge.sh" --offset "$n" --prefix "$label: " \
			--summary "$NESTED_DIR/pair.count"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	read -r cnt _ <"$NESTED_DIR/pair.count"
	n=$(( n + cnt ))
	echo "# $label: $((SECONDS - start)) s"
done
exit "$rc"
