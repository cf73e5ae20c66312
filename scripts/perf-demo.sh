#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock perf demo: one QEMU (TCG) guest loads kernel/mvsock.ko and
# kernel/mvsock_loopback.ko and shows the perf tool (Debian's linux-perf)
# on mvsock: `perf list 'mvsock:*'`; a short bulk transfer over loopback
# (upstream vsock_perf, CID 1) under `perf record -e 'mvsock:*'`, read back
# with `perf script` and counted per event and per packet op; `perf trace`
# and `perf stat` on a smaller one; then a larger transfer under
# `perf record -g -e cpu-clock` and its `perf report`. See docs/perf.md.
#
# Usage: scripts/perf-demo.sh             (what "make perf-demo" runs)
#        scripts/perf-demo.sh --in-vm     (inside the guest only)
# Environment: KVER (see scripts/kver.sh), PERF_DEMO_TP_MIB (MiB sent under
# perf record -e 'mvsock:*', default 4), PERF_DEMO_PROF_MIB (MiB sent under
# perf record -g, default 64), PERF_DEMO_TIMEOUT (VM seconds, default 600).
# Output: build/perf-demo/ (every report as a text file, the perf.data
# files, demo.log with the whole run). Exit status: 0 when every step
# worked.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BENCH_PFX='perf-demo'
# shellcheck source=scripts/lib/bench-common.sh
. "$HERE/lib/bench-common.sh"
ROOT=$(cd "$HERE/.." && pwd -P)
OUTDIR=$ROOT/build/perf-demo

: "${PERF_DEMO_TP_MIB:=4}"
: "${PERF_DEMO_PROF_MIB:=64}"

###########################################################################
# Guest side
###########################################################################

# Show a command, run it with its output into FILE, and show the first
# LINES lines of FILE (all of them with LINES 0).
show() { # file lines command...
	local f=$1 lines=$2 rc
	shift 2
	echo "\$ $*"
	"$@" >"$f" 2>&1
	rc=$?
	if [ "$lines" = 0 ]; then
		cat "$f"
	else
		head -n "$lines" "$f"
		[ "$(wc -l <"$f")" -le "$lines" ] || echo "[... $(wc -l <"$f") lines in all: $(basename "$f")]"
	fi
	return "$rc"
}

# A vsock_perf receiver on PORT in the background (its log: rx.PORT).
receiver() { # port
	perf_rx_start "$1" 64K "$TMPD/rx.$1"
	RX_PID=$PERF_RX_PID
	wait_listen "$1" || echo "(no listener on port $1 seen in ss)"
}

# Wait for the receiver; print the bytes it got.
receiver_done() { # port
	wait "$RX_PID" || fail "vsock_perf receiver (port $1)"
	rx_summary "$TMPD/rx.$1"
}

# What a receiver's log says it got.
rx_summary() { # log
	sed -n 's/^total bytes received: /receiver got: /p; s/^rx performance: /receiver rate: /p' "$1"
}

guest_main() {
	local O=${VM_OUT:?} rc p
	bench_in_vm guest
	cd "$ROOT" || exit 1
	TMPD=$(mktemp -d)
	PERF=${PERF_DEMO_VSOCK_PERF:?}
	export PAGER=cat

	echo "mvsock perf demo in a QEMU guest: kernel $(uname -r), $(nproc) vCPUs, $(perf --version)"
	echo "vsock_perf: $PERF"

	section "Load the modules" "kernel/mvsock.ko and kernel/mvsock_loopback.ko (CID 1) from the work tree"
	demo_insmod kernel mvsock || return 1
	demo_insmod kernel mvsock_loopback || return 1
	cat /sys/module/mvsock/parameters/devices

	section "perf list 'mvsock:*'" "every tracepoint of the mvsock system, as perf sees it"
	show "$O/list.txt" 0 perf --no-pager list 'mvsock:*' || fail "perf list"
	local nt np
	nt=$(find /sys/kernel/tracing/events/mvsock -mindepth 1 -maxdepth 1 -type d | wc -l)
	np=$(grep -c '^ *mvsock:.*Tracepoint event' "$O/list.txt")
	echo "perf lists $np events; tracefs has $nt"
	if [ "$np" != "$nt" ] || [ "$np" = 0 ]; then
		fail "perf list shows $np events, tracefs has $nt"
	fi

	p=5100
	section "perf record -e 'mvsock:*' on a ${PERF_DEMO_TP_MIB} MiB transfer" \
		"vsock_perf over loopback, 64 KiB writes, receiver buffer 1 MiB; every mvsock event of the whole system (-a)"
	receiver "$p"
	show "$O/tp-record.txt" 0 perf record -e 'mvsock:*' -a -o "$TMPD/tracepoints.data" -- \
		"$PERF" --sender 1 --port "$p" --bytes "${PERF_DEMO_TP_MIB}M" --buf-size 64K ||
		fail "perf record -e 'mvsock:*'"
	receiver_done "$p"

	section "perf script | head -40" "the events in time order: command, pid, CPU, time, event, then the fields as the tracepoint formats them"
	perf script -i "$TMPD/tracepoints.data" >"$O/script.txt" 2>"$TMPD/script.err" || fail "perf script"
	echo "\$ perf script -i tracepoints.data | head -40"
	head -n 40 "$O/script.txt"
	echo "[... $(wc -l <"$O/script.txt") events in all: script.txt]"

	section "Events per tracepoint" "perf script -F event | sort | uniq -c | sort -rn"
	perf script -i "$TMPD/tracepoints.data" -F event 2>/dev/null | awk '{ print $1 }' |
		sort | uniq -c | sort -rn >"$O/counts.txt"
	cat "$O/counts.txt"
	grep -q 'mvsock:mvsock_pkt_tx:' "$O/counts.txt" || fail "no mvsock_pkt_tx event recorded"

	section "Packets sent, per op and device" \
		"pkt_tx lines of perf script counted by dev= and op="
	perf script -i "$TMPD/tracepoints.data" -F event,trace 2>/dev/null | awk '
	$1 == "mvsock:mvsock_pkt_tx:" {
		op = ""; len = 0
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^op=/) op = $i
			else if ($i ~ /^len=/) len = substr($i, 5) + 0
		}
		k = $2 " " op; n[k]++; b[k] += len
	}
	END { for (k in n) printf "%-28s %7d packets %10d bytes\n", k, n[k], b[k] }' |
		sort >"$O/tx-ops.txt"
	cat "$O/tx-ops.txt"

	p=5101
	section "perf trace -e 'mvsock:*' on a 256 KiB transfer" \
		"perf trace prints each event as it happens, fields by name; it leaves out fields whose value is 0"
	receiver "$p"
	echo "\$ perf trace -e 'mvsock:*' -- vsock_perf --sender 1 --port $p --bytes 256K --buf-size 64K"
	timeout 120 perf trace -o "$O/trace.txt" -e 'mvsock:*' -- \
		"$PERF" --sender 1 --port "$p" --bytes 256K --buf-size 64K >"$TMPD/trace.log" 2>&1
	rc=$?
	echo "perf trace exit status: $rc"
	head -n 24 "$O/trace.txt"
	echo "[... $(grep -c mvsock: "$O/trace.txt") events in all: trace.txt]"
	if [ "$rc" != 0 ] || ! grep -q 'mvsock:mvsock_pkt_tx(' "$O/trace.txt"; then
		fail "perf trace (status $rc)"
		cat "$TMPD/trace.log"
	fi
	receiver_done "$p"

	p=5102
	section "perf stat -e 'mvsock:*' on a 1 MiB transfer" "event counts only, nothing recorded"
	receiver "$p"
	echo "\$ perf stat -e 'mvsock:*' -a -- vsock_perf --sender 1 --port $p --bytes 1M --buf-size 64K"
	perf stat -e 'mvsock:*' -a -o "$O/stat.txt" -- \
		"$PERF" --sender 1 --port "$p" --bytes 1M --buf-size 64K >/dev/null 2>&1 || fail "perf stat"
	grep -v '^$' "$O/stat.txt"
	receiver_done "$p"

	p=5103
	section "perf record -g -e cpu-clock on a ${PERF_DEMO_PROF_MIB} MiB transfer" \
		"call-graph samples of the receiver and the sender (both run under perf record, 999 Hz)"
	echo "\$ perf record -g -e cpu-clock -F 999 -- sh -c 'vsock_perf --port $p ... & vsock_perf --sender 1 --port $p --bytes ${PERF_DEMO_PROF_MIB}M --buf-size 64K; wait'"
	# shellcheck disable=SC2016 # the inner script gets its values as $1..$4
	perf record -g -e cpu-clock -F 999 -o "$TMPD/profile.data" -- sh -c '
		"$1" --port "$2" --buf-size 64K --vsk-size 1M >"$4/rx.$2" 2>&1 &
		for i in $(seq 100); do
			ss -Hln --vsock | grep -q ":$2\b" && break
			sleep 0.05
		done
		"$1" --sender 1 --port "$2" --bytes "$3" --buf-size 64K >"$4/tx.$2" 2>&1 || exit 1
		wait' sh "$PERF" "$p" "${PERF_DEMO_PROF_MIB}M" "$TMPD" >"$O/profile-record.txt" 2>&1 ||
		fail "perf record -g"
	cat "$O/profile-record.txt"
	rx_summary "$TMPD/rx.$p"

	section "perf report --stdio --no-children | head -60" \
		"where the CPU time went, with the call chains that led there (self time per function)"
	perf report -i "$TMPD/profile.data" --stdio --no-children >"$O/report.txt" 2>"$TMPD/report.err" ||
		fail "perf report"
	echo "\$ perf report -i profile.data --stdio --no-children | head -60"
	head -n 60 "$O/report.txt"

	section "Flat profile" "perf report --stdio --no-children --sort sym -g none: the 25 busiest functions"
	perf report -i "$TMPD/profile.data" --stdio --no-children --sort sym -g none 2>/dev/null |
		grep -v '^#' | grep '%' >"$O/report-flat.txt"
	head -n 25 "$O/report-flat.txt"

	section "mvsock functions, including time spent in what they call" \
		"perf report --children --sort sym -g none, the mvsock_* lines"
	perf report -i "$TMPD/profile.data" --stdio --children --sort sym -g none 2>/dev/null |
		grep -E '\] mvsock_' >"$O/report-mvsock.txt"
	head -n 25 "$O/report-mvsock.txt"
	[ -s "$O/report-mvsock.txt" ] || fail "no mvsock function in the profile"

	section "Unload" "rmmod mvsock_loopback mvsock"
	rmmod mvsock_loopback || fail "rmmod mvsock_loopback"
	rmmod_retry mvsock 25 0.2 2>/dev/null || fail "rmmod mvsock"

	# perf reads its data files with mmap: they were written to the guest's
	# tmpfs, and are copied to the shared directory only now.
	cp "$TMPD/tracepoints.data" "$TMPD/profile.data" "$O/" || fail "copying the perf.data files"
	rm -rf "$TMPD"
	echo
	if [ "$FAILS" = 0 ]; then
		echo "perf-demo: everything worked"
		return 0
	fi
	echo "perf-demo: $FAILS step(s) failed"
	return 1
}

###########################################################################
# Host side
###########################################################################

host_main() {
	local rc perf f
	cd "$ROOT" || exit 1
	if ! command -v perf >/dev/null; then
		scripts/deps.sh || exit 1
	fi
	bench_host_begin
	mkdir -p build
	rm -rf "$OUTDIR"
	mkdir -p "$OUTDIR"
	echo "perf-demo: building the kernel modules ($KVER)"
	bench_build_modules "$OUTDIR/kbuild.log" || exit 1
	# vsock_perf: upstream's, from selftests/upstream/build.sh, or the
	# same program built by tools/bench.
	perf=$(bench_vsock_perf) || exit 1
	echo "perf-demo: booting a QEMU guest (TCG, 1-3 min)"
	VM_KEEP_OUT=$OUTDIR VM_ENV="PERF_DEMO_VSOCK_PERF=$ROOT/$perf PERF_DEMO_TP_MIB=$PERF_DEMO_TP_MIB PERF_DEMO_PROF_MIB=$PERF_DEMO_PROF_MIB" \
		"$ROOT/selftests/vm/run.sh" --smp 2 --timeout "${PERF_DEMO_TIMEOUT:-600}" -- \
		scripts/perf-demo.sh --in-vm 2>&1 | grep --line-buffered -v 'fw_cfg name=etc/sercon-port' |
		tee "$OUTDIR/demo.log.tmp"
	rc=${PIPESTATUS[0]}
	mv "$OUTDIR/demo.log.tmp" "$OUTDIR/demo.log"

	echo
	echo "=== Summary"
	echo "files in build/perf-demo/:"
	for f in "$OUTDIR"/*; do
		printf '  %-22s %8s\n' "$(basename "$f")" "$(du -h "$f" | cut -f1)"
	done
	if [ -s "$OUTDIR/counts.txt" ]; then
		echo "events recorded during the ${PERF_DEMO_TP_MIB} MiB transfer: $(awk '{ s += $1 } END { print s }' "$OUTDIR/counts.txt")" \
			"($(wc -l <"$OUTDIR/counts.txt") tracepoints)"
	fi
	if [ -s "$OUTDIR/report-flat.txt" ]; then
		echo "busiest functions of the ${PERF_DEMO_PROF_MIB} MiB transfer (self time):"
		head -n 5 "$OUTDIR/report-flat.txt" | sed 's/^ */  /'
	fi
	echo "(perf.data files carry the guest's tracepoint formats, so 'perf script -i build/perf-demo/tracepoints.data'"
	echo " works on the build machine; symbols of profile.data resolve only in the guest: read report*.txt)"
	[ "$rc" = 0 ] || echo "perf-demo: failed (status $rc); guest kernel log: build/vm/last-dmesg.txt" >&2
	exit "$rc"
}

case "${1:-}" in
--in-vm) guest_main; exit $? ;;
"") host_main ;;
*) bench_usage Environment ;;
esac
