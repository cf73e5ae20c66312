#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested topology (DESIGN.md, Tests, topology 3), stock guest: OUR host
# driver (kernel/mvsock_vhost.ko: /dev/vhost-vsock) in this VM serves a
# second-level guest (selftests/nested/run-inner.sh: QEMU TCG,
# vhost-vsock-pci, guest-cid=3) that runs Debian's STOCK guest driver
# (vsock, vmw_vsock_virtio_transport_common, vmw_vsock_virtio_transport).
# Upstream vsock_test runs across the two machines in both directions:
# server here + client in the inner guest (--peer-cid=3 here, 2 there),
# then the other way round; its TCP control connection is carried over a
# virtio-serial port between 127.0.0.1 on each side.
#
# With MVSOCK_STOCK=1 (harness self-test) the host driver is Debian's
# vhost_vsock instead, and 00-load has loaded the stock socket layer.
# Normally 00-load has loaded kernel/mvsock.ko (loaded here when not, so
# the suite can also run alone). The host driver is unloaded at the end,
# the inner QEMU and the relay are gone: later suites see what they saw
# before.
#
# Results: host driver loaded; inner guest up; 2 x 26 vsock_test cases
# ("host-server/guest-client: NAME", "guest-server/host-client: NAME");
# inner guest clean (kernel log, no crash); host driver unloads.
# Environment: NESTED_TIMEOUT (seconds for the nested run, default 1500),
# NESTED_KNOWN_FAIL (see selftests/nested/vsock-test-both.sh).

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
NESTED=$ROOT/selftests/nested
VSOCK_TEST=${MVSOCK_BUILD:-$ROOT/build}/upstream/vsock_test
STOCK=${MVSOCK_STOCK:-0}
start=$SECONDS

echo "TAP version 13"
if [ "$STOCK" != 1 ] && [ ! -f "$ROOT/kernel/mvsock_vhost.ko" ]; then
	echo "1..1"
	echo "not ok 1 - kernel/mvsock_vhost.ko not built"
	exit 1
fi
if [ ! -x "$VSOCK_TEST" ]; then
	echo "1..1"
	echo "not ok 1 - $VSOCK_TEST not built (selftests/upstream/build.sh)"
	exit 1
fi
ncases=$("$VSOCK_TEST" --list | grep -c '^[0-9]')
plan=$(( 2 + 2 * ncases + 2 ))
echo "1..$plan"

fail=0
n=0
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT

result() { # status description [diagnostics-file]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
	[ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/# /' "$3"
	return 0
}

# --- 1: the host driver ---
if [ "$STOCK" = 1 ]; then
	what="modprobe vhost_vsock (stock host driver)"
	modprobe vhost_vsock >"$log" 2>&1
	rc=$?
	HOSTMOD=vhost_vsock
else
	what="insmod kernel/mvsock_vhost.ko"
	rc=0
	if ! grep -q '^mvsock ' /proc/modules; then
		echo "kernel/mvsock.ko was not loaded: loading it" >"$log"
		insmod "$ROOT/kernel/mvsock.ko" >>"$log" 2>&1 || rc=1
	fi
	[ $rc = 0 ] && { modprobe vhost >>"$log" 2>&1 || rc=1; }
	[ $rc = 0 ] && { insmod "$ROOT/kernel/mvsock_vhost.ko" >>"$log" 2>&1 || rc=1; }
	HOSTMOD=mvsock_vhost
fi
for _ in $(seq 20); do
	[ -c /dev/vhost-vsock ] && break
	sleep 0.1
done
if [ $rc = 0 ] && [ ! -c /dev/vhost-vsock ]; then
	echo "no /dev/vhost-vsock after loading the host driver" >>"$log"
	rc=1
fi
result $rc "$what; /dev/vhost-vsock present" "$log"
if [ $rc != 0 ]; then
	while [ $n -lt "$plan" ]; do
		n=$((n + 1))
		echo "not ok $n - not run: the host driver did not load"
	done
	exit 1
fi

# --- 2 .. plan-2: boot the inner guest, vsock_test both ways ---
# Lines of the nested run: TAP lines pass (numbered 2, 3, ...), the rest
# (timings, relay, QEMU messages) become diagnostics.
"$NESTED/run-inner.sh" --timeout "${NESTED_TIMEOUT:-1500}" \
	--load vsock,vmw_vsock_virtio_transport_common,vmw_vsock_virtio_transport \
	--listen-inner 1240 --listen-outer 1241 \
	--host "echo \"ok 2 - inner guest up (stock guest driver, CID \$NESTED_CID, boot \$NESTED_BOOT_MS ms)\"
		NESTED_TAP_FIRST=3 '$NESTED/vsock-test-both.sh'" 2>&1 |
	awk -v last="$out" '
		/^(not )?ok [0-9]+ - / {
			k = ($1 == "not") ? $3 : $2
			if (k + 0 > max) max = k + 0
			if ($1 == "not") bad = 1
			print; fflush(); next
		}
		/^#/ { print; fflush(); next }
		{ print "# " $0; fflush() }
		END { print max + 0, bad + 0 > last }'
rc=${PIPESTATUS[0]}
max=0 bad=1
read -r max bad <"$out"
n=${max:-0}
[ "$bad" = 1 ] && fail=1
if [ "$n" -lt 2 ]; then
	n=2
	echo "not ok 2 - inner guest up (run-inner.sh exit status $rc)"
	fail=1
fi
while [ "$n" -lt $((plan - 2)) ]; do
	n=$((n + 1))
	echo "not ok $n - not run (run-inner.sh exit status $rc)"
	fail=1
done

case $rc in
0|1) verdict=0; why="inner guest clean (kernel log, no crash)" ;;
120) verdict=1; why="inner guest clean: its kernel log had an oops/WARNING/BUG line" ;;
121) verdict=1; why="inner guest clean: it crashed or QEMU died" ;;
124) verdict=1; why="inner guest clean: timed out" ;;
*) verdict=1; why="inner guest clean: run-inner.sh exit status $rc" ;;
esac
result $verdict "$why"

# --- last: nothing left behind (run-inner.sh stops its QEMU and relay) ---
: >"$log"
if pgrep -f 'socket,id=nested-ctl,' >/dev/null; then
	echo "an inner QEMU is still running:" >>"$log"
	pgrep -a -f 'socket,id=nested-ctl,' >>"$log"
fi
# Orphaned host sockets may hold the driver for up to their close timeout
# (8 s): retry for a while.
ok=1
for _ in $(seq 30); do
	if rmmod "$HOSTMOD" 2>"$log.rmmod"; then ok=0; break; fi
	sleep 0.5
done
[ $ok = 0 ] || cat "$log.rmmod" >>"$log"
rm -f "$log.rmmod"
result $ok "rmmod $HOSTMOD" "$log"
echo "# whole nested run: $((SECONDS - start)) s"
exit $fail
