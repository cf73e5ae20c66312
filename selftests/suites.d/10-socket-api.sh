#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# AF_VSOCK socket API and protocol-engine selftests over loopback (CID 1):
# build/selftests/sockapi and build/selftests/stream_engine (sources in
# selftests/socket/). Runs inside the test VM only.
#
# The programs' KTAP results are merged into one TAP stream: one plan for
# all cases, numbered in order, each named "PROGRAM.CASE". A program that
# dies early gets "not ok" lines for the cases it did not report, so the
# plan always matches.
#
# Environment: MVSOCK_STOCK=1 loads Debian's stock vsock_loopback and
# vsock_diag first (harness self-test; normally 00-load loaded ours).
# SOCKET_TESTS="pat1 pat2" runs only the cases whose names contain one of
# the patterns. KTAP_TIMEOUT_SCALE multiplies the per-case timeouts.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
BIN=${MVSOCK_BUILD:-$ROOT/build}/selftests
PROGS=(sockapi stream_engine)
# shellcheck disable=SC2206 # patterns are split on white space
FILTER=(${SOCKET_TESTS:-})

if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	modprobe vsock_loopback || echo "# modprobe vsock_loopback failed"
	modprobe vsock_diag || echo "# modprobe vsock_diag failed"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A want
total=0
for p in "${PROGS[@]}"; do
	if [ -x "$BIN/$p" ]; then
		"$BIN/$p" -l "${FILTER[@]}" >"$tmp/$p.list" 2>/dev/null
		want[$p]=$(wc -l <"$tmp/$p.list")
	else
		want[$p]=1
	fi
	total=$((total + want[$p]))
done

echo "TAP version 13"
echo "1..$total"

num=0
fail=0
for p in "${PROGS[@]}"; do
	if [ ! -x "$BIN/$p" ]; then
		num=$((num + 1))
		echo "not ok $num - $p # $BIN/$p not built (run make)"
		fail=1
		continue
	fi
	[ "${want[$p]}" = 0 ] && continue
	start=$SECONDS
	timeout --kill-after=5 900 "$BIN/$p" "${FILTER[@]}" </dev/null 2>&1 |
		"$ROOT/selftests/lib/ktap-merge.sh" --offset "$num" --prefix "$p." \
			--summary "$tmp/$p.count"
	rc=${PIPESTATUS[0]}
	got=0
	read -r got _ 2>/dev/null <"$tmp/$p.count"
	echo "# $p: exit status $rc, ${got}/${want[$p]} results, $((SECONDS - start)) s"
	[ "$rc" = 0 ] || fail=1
	# cases the program never reported (it crashed or hung)
	if [ "$got" -lt "${want[$p]}" ]; then
		fail=1
		tail -n +"$((got + 1))" "$tmp/$p.list" | while IFS= read -r c; do
			echo "not ok $((num + got + 1)) - $p.$c # no result (exit status $rc)"
			got=$((got + 1))
		done
	fi
	num=$((num + want[$p]))
done
exit "$fail"
