#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host driver tests (topology 2, "host"): loads the host driver behind
# /dev/vhost-vsock and runs build/host/fakeguest (sources in
# selftests/host/), a user-space program that plays the virtio-vsock guest
# driver with its rings in its own memory, against host AF_VSOCK sockets in
# the same VM. Runs inside the test VM only.
#
# Driver: kernel/mvsock_vhost.ko (needs the vhost core: modprobe vhost; our
# kernel/mvsock.ko was loaded by 00-load). With MVSOCK_STOCK=1, Debian's
# stock vhost_vsock instead (00-load loaded the stock vsock stack). A
# missing kernel/mvsock_vhost.ko is a failure, not a skip.
#
# The program's KTAP results become one TAP stream, each case named
# "fakeguest.CASE", plus a last result for unloading the driver (a
# reference leak keeps it loaded). A program that dies early gets
# "not ok" lines for the cases it did not report.
#
# Environment: HOST_TESTS="pat1 pat2" runs only the cases whose names
# contain one of the patterns; FG_FUZZ, FG_SEED, FG_DATA_MB, FG_CID_BASE,
# FG_PORT_BASE, FG_ALWAYS_KICK, KTAP_TIMEOUT_SCALE are passed to the
# program (see selftests/host/fakeguest/main.c).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
BIN=${MVSOCK_BUILD:-$ROOT/build}/host/fakeguest
# shellcheck disable=SC2206 # patterns are split on white space
FILTER=(${HOST_TESTS:-})

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"

bail() { # description [diagnostic-file]
	echo "1..1"
	echo "not ok 1 - $1"
	[ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/# /' "$2"
	exit 1
}

if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "# MVSOCK_STOCK=1: testing Debian's stock vhost_vsock"
	drv=vhost_vsock
	modprobe vhost_vsock >"$tmp/load" 2>&1 ||
		bail "modprobe vhost_vsock (stock)" "$tmp/load"
else
	drv=mvsock_vhost
	ko=$ROOT/kernel/mvsock_vhost.ko
	[ -f "$ko" ] || bail "kernel/mvsock_vhost.ko not built"
	modprobe vhost >"$tmp/load" 2>&1 || bail "modprobe vhost" "$tmp/load"
	insmod "$ko" >"$tmp/load" 2>&1 || bail "insmod kernel/mvsock_vhost.ko" "$tmp/load"
fi
[ -c /dev/vhost-vsock ] || bail "/dev/vhost-vsock missing after loading $drv"
[ -x "$BIN" ] || bail "$BIN not built (run make)"

"$BIN" -l "${FILTER[@]}" >"$tmp/list" 2>/dev/null
want=$(wc -l <"$tmp/list")
echo "1..$((want + 1))"

start=$SECONDS
timeout --kill-after=5 "${HOST_TIMEOUT:-900}" "$BIN" "${FILTER[@]}" </dev/null 2>&1 |
	"$ROOT/selftests/lib/ktap-merge.sh" --offset 0 --prefix fakeguest. --summary "$tmp/count"
rc=${PIPESTATUS[0]}
got=0
read -r got _ 2>/dev/null <"$tmp/count"
echo "# fakeguest: exit status $rc, ${got}/${want} results, $((SECONDS - start)) s"
fail=0
[ "$rc" = 0 ] || fail=1
if [ "$got" -lt "$want" ]; then
	fail=1
	tail -n +"$((got + 1))" "$tmp/list" | while IFS= read -r c; do
		got=$((got + 1))
		echo "not ok $got - fakeguest.$c # no result (exit status $rc)"
	done
fi

# Unload: orphaned host sockets may hold the driver for up to their close
# timeout (8 s), so retry for a while.
n=$((want + 1))
for _ in $(seq 30); do
	rmmod "$drv" >"$tmp/unload" 2>&1 && break
	sleep 0.5
done
if grep -q "^$drv " /proc/modules; then
	echo "not ok $n - rmmod $drv"
	sed 's/^/# /' "$tmp/unload"
	fail=1
else
	echo "ok $n - rmmod $drv"
fi
exit "$fail"
