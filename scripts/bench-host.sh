#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock host driver benchmark against the fake guest: OUR host driver
# (mvsock.ko + vhost + mvsock_vhost.ko) against Debian's STOCK vhost_vsock,
# each serving selftests/host/fgbench, a user-space guest driver (the
# fake guest of selftests/host/fg.c) on /dev/vhost-vsock. Nothing is
# emulated on the guest's side, so unlike the nested benchmark
# (scripts/bench-nested.sh) the figures follow the host driver's own work
# and latency. One VM boot (selftests/vm/run.sh --smp 2, QEMU TCG); the
# host drivers are swapped (rmmod/insmod) between rounds, in ABBA order
# (odd rounds ours first, even rounds stock first).
# Takes 4-8 minutes with the defaults. Not a test: misses are reported,
# the exit status is 0 unless the build or the VM run failed.
# scripts/bench.sh (make bench) runs it after the hook-cost part unless
# BENCH_HOST=0.
#
# Usage: scripts/bench-host.sh           (on the build machine)
#        scripts/bench-host.sh --in-vm   (in the VM only)
#
# Measured with each host driver, in every round, each figure the median
# over the rounds:
#   - stream throughput for each size in BENCH_HOST_SIZES and direction in
#     BENCH_HOST_DIRS, BENCH_HOST_SECS seconds each: g2h = the fake guest
#     sends packets of min(size, 64K) payload, a host socket reads with
#     size-byte reads; h2g = a host socket writes size bytes at a time, the
#     fake guest consumes them. 1 MiB receive buffers on either side;
#   - 1-byte ping-pong round trip: a host socket writes and reads back, the
#     fake guest echoes; mean, p50, p99 over BENCH_HOST_LAT_SECS (after 50
#     untimed round trips).
# Then, per host driver, what the fake guest counted (medians over the
# rounds): interrupts (calls) and notifications (kicks) per MiB moved or
# per round trip, and the control packets it received.
#
# Environment (defaults in brackets):
#   BENCH_HOST [1]             0: skip (prints a note, exit 0)
#   BENCH_HOST_REPS [5]        rounds (each measures both host drivers)
#   BENCH_HOST_SIZES ["4K 64K 1M"]  BENCH_HOST_DIRS ["g2h h2g"]
#   BENCH_HOST_SECS [3]        seconds per transfer
#   BENCH_HOST_LAT_SECS [3]    ping-pong seconds per round
#   BENCH_HOST_TIMEOUT [1800]  seconds before the VM is killed
#   MVSOCK_KO_DIR [kernel]     where mvsock.ko and mvsock_vhost.ko are
#   KVER (see scripts/kver.sh)
# Output: the tables on stdout; a copy of the whole run in
# build/bench/last-host.txt.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
OUT=$ROOT/build/bench
BENCH_PFX=bench-host
# shellcheck source=scripts/lib/nested-bench.sh
. "$HERE/lib/nested-bench.sh"

: "${BENCH_HOST:=1}"
: "${BENCH_HOST_REPS:=5}"
: "${BENCH_HOST_SIZES:=4K 64K 1M}"
: "${BENCH_HOST_DIRS:=g2h h2g}"
: "${BENCH_HOST_SECS:=3}"
: "${BENCH_HOST_LAT_SECS:=3}"
: "${BENCH_HOST_TIMEOUT:=1800}"
FGBENCH=$ROOT/build/host/fgbench
# the fake guest's CID: any unreserved one, nothing else uses it in the VM
FG_CID=3


###########################################################################
# In the VM
###########################################################################

PORT=22000

# One fgbench run: its result lines become nb_result lines of LABEL, its
# counts "bench-host-count: LABEL KEY RUN NAME VALUE" lines (RUN: the
# port, one per run). Echoes the human line; 1 when it failed.
fgb() { # label key fgbench-args...
	local st=$1 key=$2 out rc tag k v
	shift 2
	PORT=$((PORT + 1))
	out=$(timeout -k 5 $((BENCH_HOST_SECS + BENCH_HOST_LAT_SECS + 90)) \
		"$FGBENCH" -c "$FG_CID" -p "$PORT" "$@" 2>&1)
	rc=$?
	if [ "$rc" != 0 ]; then
		say "$st $key: fgbench failed (status $rc):"
		printf '%s\n' "$out" | head -n 20 | sed "s/^/${BENCH_PFX}:   /"
		return 1
	fi
	while read -r tag k v; do
		case "$tag" in
		fgbench-result:) nb_result "$st" "$k" "$v" ;;
		fgbench-count:) echo "bench-host-count: $st $key $PORT $k $v" ;;
		esac
	done <<<"$out"
	grep '^fgbench: ' <<<"$out" | sed "s/^fgbench: /$st: /"
	return 0
}

measure() { # label
	local st=$1 b d fail=0
	for b in $BENCH_HOST_SIZES; do
		for d in $BENCH_HOST_DIRS; do
			fgb "$st" "${d}_$b" "$d" "$b" "$BENCH_HOST_SECS" || fail=1
		done
	done
	fgb "$st" pingpong pingpong "$BENCH_HOST_LAT_SECS" || fail=1
	return $fail
}

print_table() {
	echo
	echo "== mvsock host driver benchmark: ours (mvsock_vhost) vs stock (vhost_vsock), fake guest"
	echo "   VM: $(uname -r), $(nproc) vCPUs (QEMU TCG), $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo);"
	echo "   guest: selftests/host/fgbench in the same VM (user space, EVENT_IDX, indirect tx,"
	echo "   128-entry rings, 4 KiB rx buffers); $BENCH_HOST_REPS rounds, medians."
	echo "   ratio > 1 always means ours is better: ours/stock for throughput,"
	echo "   stock/ours (speed-up) for latencies."
	echo
	nb_table_head ours stock
	nb_table_stream_pp R ours stock "$BENCH_HOST_SIZES" "$BENCH_HOST_DIRS"
	echo
}

# What the fake guest counted, per MiB moved (streams) or per round trip
# (ping-pong), median over the rounds.
print_counts() { # log
	echo "What the fake guest counted (median over the rounds; per MiB moved, or per"
	echo "round trip for the ping-pong): interrupts = rx/tx calls, notifications ="
	echo "rx/tx kicks, packets received from the host by op, packets sent:"
	echo
	awk '$1 == "bench-host-count:" {
		v[$2, $3, $4, $5] = $6
		if (!(($2, $3, $4) in isrun)) { isrun[$2, $3, $4] = 1; runs[$2, $3] = runs[$2, $3] " " $4 }
		if (!($2 in isdrv)) { isdrv[$2] = 1; drv[++nd] = $2 }
		if (!($3 in iskey)) { iskey[$3] = 1; key[++nk] = $3 }
	}
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return a[int((n + 1) / 2)]
	}
	END {
		nc = split("rx_calls tx_kicks tx_calls rx_kicks rx_RW rx_CREDIT_UPDATE rx_CREDIT_REQUEST tx_pkts", cols, " ")
		printf "| %-6s | %-9s |", "driver", "run"
		for (c = 1; c <= nc; c++) printf " %s |", cols[c]
		printf "\n|--------|-----------|"
		for (c = 1; c <= nc; c++) printf "---:|"
		printf "\n"
		for (k = 1; k <= nk * nd; k++) {
			kk[1] = drv[(k - 1) % nd + 1]
			kk[2] = key[int((k - 1) / nd) + 1]
			if (!((kk[1], kk[2]) in runs)) continue
			nr = split(runs[kk[1], kk[2]], rr, " ")
			printf "| %-6s | %-9s |", kk[1], kk[2]
			for (c = 1; c <= nc; c++) {
				n = 0
				for (r = 1; r <= nr; r++) {
					id = kk[1] SUBSEP kk[2] SUBSEP rr[r]
					d = (kk[2] == "pingpong") ? v[id, "round_trips"] : v[id, "bytes"] / 1048576
					if (d > 0) a[++n] = v[id, cols[c]] / d
				}
				if (n) printf " %.3g |", med(a, n); else printf " - |"
			}
			printf "\n"
		}
	}' "$1"
	echo
}

# shellcheck disable=SC2034 # filled by nb_medians, read by nb_table_stream_pp
declare -A R=()

vm_main() {
	local r st order log t0=$SECONDS status=0
	bench_in_vm VM mvsock-bench-host
	[ -x "$FGBENCH" ] || { say "$FGBENCH missing"; exit 1; }
	nb_tmp
	log=$NB_TMP/run.log
	: >"$log"
	say "$BENCH_HOST_REPS rounds of: stream $BENCH_HOST_DIRS x $BENCH_HOST_SIZES" \
		"(${BENCH_HOST_SECS}s each), ping-pong ${BENCH_HOST_LAT_SECS}s; modules from $NB_KO_DIR"
	for ((r = 1; r <= BENCH_HOST_REPS; r++)); do
		if ((r % 2)); then order="ours stock"; else order="stock ours"; fi
		for st in $order; do
			say "phase $st"
			if ! nb_host_load "$st"; then
				say "ERROR: cannot load the $st host driver"
				status=1
				break 2
			fi
			measure "$st" 2>&1 | tee -a "$log" |
				grep -Ev '^(nbench-result|bench-host-count): ' |
				sed "s/^/${BENCH_PFX}: round $r /" || status=1
			if ! nb_host_unload "$st"; then
				say "ERROR: cannot unload the $st host driver; stopping here"
				status=1
				break 2
			fi
		done
	done
	say "phase end"
	grep -q 'fgbench failed' "$log" && status=1

	nb_collect "$log"
	echo
	nb_medians R
	print_table
	print_counts "$log"
	say "VM time $((SECONDS - t0)) s"
	bench_kernel_log "mvsock-bench-host: start" "kernel warnings/errors logged during the bench:"
	nb_cleanup
	return $status
}

###########################################################################
# On the build machine
###########################################################################

host_main() {
	local log start m
	start=$(date +%s)
	bench_host_begin BENCH_HOST
	for m in mvsock mvsock_vhost; do
		[ -f "$NB_KO_DIR/$m.ko" ] || { say "$NB_KO_DIR/$m.ko missing (run make first)" >&2; exit 1; }
	done
	make -s -C "$ROOT/selftests" fgbench || exit 1
	log=$OUT/last-host.txt
	bench_log_header "$log" "modules from ${NB_KO_DIR#"$ROOT"/}"
	echo "bench-host: booting the VM; the run takes 4-8 minutes" | tee -a "$log"
	local MVSOCK_KO_DIR=$NB_KO_DIR
	export VM_ENV
	VM_ENV="${VM_ENV:-}$(vm_env_words BENCH_HOST_REPS BENCH_HOST_SIZES \
		BENCH_HOST_DIRS BENCH_HOST_SECS BENCH_HOST_LAT_SECS MVSOCK_KO_DIR)"
	nb_outer_run host "$BENCH_HOST_TIMEOUT" "$log" "$start"
}

case "${1:-}" in
--in-vm)
	[ $# -eq 1 ] || { echo "usage: $0 --in-vm" >&2; exit 2; }
	vm_env_lists BENCH_HOST_SIZES BENCH_HOST_DIRS
	vm_main
	exit $?
	;;
"") host_main ;;
*)
	bench_usage Measured
	;;
esac
