#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock demo: one QEMU (TCG) guest loads our modules from the work tree,
# turns on the mvsock tracepoints, runs a small echo exchange over the
# loopback device (CID 1) with socat, and shows what the system sees:
# ss --vsock, the local CID ioctl, and the first trace events.
#
# Usage: scripts/demo.sh             (what "make demo-local" runs)
#        scripts/demo.sh --in-vm     (inside the guest only)
# Environment: KVER (see scripts/kver.sh), DEMO_EVENTS (trace lines shown,
# default 30), DEMO_PORT (default 5000).
# Exit status: 0 when every step worked, non-zero otherwise.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BENCH_PFX=demo
# shellcheck source=scripts/lib/bench-common.sh
. "$HERE/lib/bench-common.sh"
ROOT=$(cd "$HERE/.." && pwd -P)

: "${DEMO_EVENTS:=30}"
: "${DEMO_PORT:=5000}"

###########################################################################
# Guest side
###########################################################################

guest_main() {
	local T=/sys/kernel/tracing tmp lpid cpid i ssout ev
	bench_in_vm guest
	tmp=$(mktemp -d)
	cd "$ROOT" || exit 1

	echo "mvsock demo in a QEMU guest: kernel $(uname -r), $(nproc) vCPUs"

	section "Load mvsock.ko" \
		"the AF_VSOCK socket family, device registry and protocol engine, from the work tree"
	demo_insmod kernel mvsock || return 1
	grep '^mvsock' /proc/modules
	ls -l /dev/vsock

	section "Enable the mvsock tracepoints" \
		"every event of the 'mvsock' system goes to $T/trace from now on"
	if [ ! -d "$T/events/mvsock" ]; then
		[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null
	fi
	if [ -d "$T/events/mvsock" ]; then
		echo 0 >"$T/tracing_on"
		echo >"$T/trace"
		echo 1 >"$T/events/mvsock/enable" || fail "enabling the mvsock events"
		echo 1 >"$T/tracing_on"
		echo "events: $(cd "$T/events/mvsock" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f ' | tr ' ' '\n' | sort | tr '\n' ' ')"
	else
		fail "$T/events/mvsock does not exist"
	fi

	section "Load mvsock_loopback.ko" \
		"registers the loopback device, CID 1 (traced as mvsock_dev_add)"
	demo_insmod kernel mvsock_loopback || return 1
	grep '^mvsock' /proc/modules

	section "Local CID" \
		"IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock, then mvsock's list of every local endpoint"
	"$ROOT/build/demo/vsock_localcid" || fail "vsock_localcid"

	section "Traffic over loopback" \
		"socat listens on port $DEMO_PORT and echoes each line back with a prefix; a socat client connects to CID 1 (loopback)"
	if ! command -v socat >/dev/null; then
		fail "socat is not installed (make deps)"
	else
		# The echo program is a file: socat's address syntax eats quotes.
		printf '#!/bin/sh\nexec sed -u "s/^/echoed by server: /"\n' >"$tmp/echo.sh"
		chmod +x "$tmp/echo.sh"
		echo "\$ socat VSOCK-LISTEN:$DEMO_PORT,fork EXEC:echo.sh &    # echo.sh: sed -u 's/^/echoed by server: /'"
		socat "VSOCK-LISTEN:$DEMO_PORT,fork" "EXEC:$tmp/echo.sh" \
			2>"$tmp/server.err" &
		lpid=$!
		for ((i = 0; i < 50; i++)); do
			ss -Hln --vsock 2>/dev/null | grep -q ":$DEMO_PORT\b" && break
			sleep 0.1
		done
		echo "\$ { echo 'hello over mvsock'; echo 'second line'; sleep 5; } | socat - VSOCK-CONNECT:1:$DEMO_PORT"
		{ echo 'hello over mvsock'; echo 'second line'; sleep 5; } |
			socat - "VSOCK-CONNECT:1:$DEMO_PORT" >"$tmp/client.out" 2>"$tmp/client.err" &
		cpid=$!
		for ((i = 0; i < 80; i++)); do
			[ "$(wc -l <"$tmp/client.out")" -ge 2 ] && break
			sleep 0.1
		done
		echo "client received:"
		sed 's/^/    /' "$tmp/client.out"

		section "ss --vsock -a while the connection is open" \
			"sock_diag view: the listener (LISTEN) and both ends of the connection (ESTAB)"
		ssout=$(ss --vsock -a 2>&1)
		echo "$ssout"
		grep -q LISTEN <<<"$ssout" || fail "ss shows no LISTEN socket"
		[ "$(grep -c ESTAB <<<"$ssout")" -ge 2 ] || fail "ss does not show both ESTAB ends"

		if ! wait "$cpid"; then
			fail "the socat client failed: $(cat "$tmp/client.err")"
		fi
		kill "$lpid" 2>/dev/null
		wait "$lpid" 2>/dev/null
		if ! grep -q '^echoed by server: hello over mvsock$' "$tmp/client.out" ||
			! grep -q '^echoed by server: second line$' "$tmp/client.out"; then
			fail "the client did not get its lines echoed back"
			sed 's/^/    server: /' "$tmp/server.err"
			sed 's/^/    client: /' "$tmp/client.err"
		else
			echo
			echo "echo exchange OK (2 lines sent, 2 lines echoed back)"
		fi
	fi

	if [ -d "$T/events/mvsock" ]; then
		echo 0 >"$T/tracing_on"
		grep -v '^#' "$T/trace" >"$tmp/trace"

		section "The first $DEMO_EVENTS trace events" \
			"from $T/trace: packet ops, socket types and states by name, as the tracepoints print them"
		head -n "$DEMO_EVENTS" "$tmp/trace" | tr -s ' \t' ' '

		section "Events recorded, by type" \
			"all $(wc -l <"$tmp/trace") events of this demo, counted per tracepoint"
		grep -o 'mvsock_[a-z_]*:' "$tmp/trace" | tr -d : | sort | uniq -c
		for ev in mvsock_dev_add mvsock_sock_state mvsock_route mvsock_pkt_tx mvsock_pkt_rx; do
			grep -q "$ev:" "$tmp/trace" || fail "no $ev event recorded"
		done
		echo 0 >"$T/events/mvsock/enable"
	fi

	section "Unload" "rmmod mvsock_loopback mvsock"
	rmmod mvsock_loopback || fail "rmmod mvsock_loopback"
	for ((i = 0; i < 25; i++)); do
		rmmod mvsock 2>/dev/null && break
		sleep 0.2
	done
	if grep -q '^mvsock ' /proc/modules; then
		rmmod mvsock || fail "rmmod mvsock"
	else
		echo "unloaded"
	fi

	rm -rf "$tmp"
	echo
	if [ "$FAILS" = 0 ]; then
		echo "demo: everything worked"
		return 0
	fi
	echo "demo: $FAILS step(s) failed"
	return 1
}

###########################################################################
# Host side
###########################################################################

host_main() {
	local rc
	bench_host_begin
	mkdir -p build/demo
	echo "demo: building kernel modules ($KVER) and tools/demo"
	bench_build_modules "$ROOT/build/demo/kbuild.log" || exit 1
	make -s -C tools/demo OUT="$ROOT/build/demo" || exit 1
	echo "demo: booting a QEMU guest (TCG, ~10-30 s)"
	"$ROOT/selftests/vm/run.sh" --smp 2 --timeout "${DEMO_VM_TIMEOUT:-300}" -- \
		scripts/demo.sh --in-vm 2>&1 | grep --line-buffered -v 'fw_cfg name=etc/sercon-port'
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || echo "demo: failed (status $rc); guest kernel log: build/vm/last-dmesg.txt" >&2
	exit "$rc"
}

case "${1:-}" in
--in-vm) guest_main; exit $? ;;
"") host_main ;;
*) bench_usage Environment ;;
esac
