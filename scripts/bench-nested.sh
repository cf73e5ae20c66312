#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock host<->guest benchmark in the nested topology: OUR host driver
# (mvsock.ko + vhost + mvsock_vhost.ko) against Debian's STOCK vhost_vsock,
# both serving the same second-level guest with Debian's stock guest driver.
# One outer VM boot (selftests/vm/run.sh, the host role); in it, for each
# host driver: load it, boot the inner guest (selftests/nested/run-inner.sh,
# TCG inside TCG: 80-330 s per boot), measure, stop the guest, unload it.
# Takes several minutes: 10-25 with the defaults, depending on the load.
# Not a test: misses are reported, the exit status is 0 unless the build or
# a VM run failed.
# scripts/bench.sh (make bench) runs it after the loopback part unless
# BENCH_NESTED=0.
#
# Usage: scripts/bench-nested.sh                (on the build machine)
#        scripts/bench-nested.sh --in-vm        (in the outer VM only)
#        scripts/bench-nested.sh --measure LABEL (in a run-inner.sh --host
#                                                 command only)
#
# Measured with each host driver, BENCH_NESTED_REPS rounds within one inner
# boot, each figure the median over the rounds:
#   - stream throughput, upstream vsock_perf (receiver --vsk-size 1M; its
#     rx rate), for each size in BENCH_NESTED_SIZES and each direction in
#     BENCH_NESTED_DIRS: g2h = sender in the guest, receiver on the host;
#     h2g = the reverse. Round 1 sends BENCH_NESTED_MIN_KIB per transfer;
#     later rounds size --bytes from the previous rate for about
#     BENCH_NESTED_SECS seconds per transfer (never less than the minimum);
#   - 1-byte ping-pong round trip (tools/bench vsock_pingpong --client on
#     the host, connecting to the guest's CID 3, --server in the guest):
#     mean, p50, p99 over BENCH_NESTED_LAT_SECS per round (after 50
#     untimed round trips);
#   - an "inner CPU probe": a fixed busybox awk loop timed in the inner
#     guest, to show how fast the machine ran for each host driver.
# Both programs are linked statically (make -C tools/bench static): in the
# inner guest, loading libc takes seconds per program start.
# Host drivers are measured one after the other (the guest must reboot to
# change them): the contention of the build machine is sampled every 5 s
# and reported per host driver.
#
# Environment (defaults in brackets):
#   BENCH_NESTED [1]            0: skip (prints a note, exit 0)
#   BENCH_NESTED_HOSTS ["ours stock"]  host drivers, in this order
#   BENCH_NESTED_SIZES ["4K 64K 1M"]   BENCH_NESTED_DIRS ["g2h h2g"]
#   BENCH_NESTED_REPS [3]  BENCH_NESTED_SECS [4]  BENCH_NESTED_LAT_SECS [4]
#   BENCH_NESTED_MIN_KIB [4096] KiB sent by a transfer in round 1 and at least
#                               (4x the socket buffer)
#   BENCH_NESTED_DIAG [1]       after the rounds, one BENCH_NESTED_MIN_KIB
#                               transfer each way with BENCH_NESTED_DIAG_SIZE
#                               [64K] writes and one ping-pong run, counting
#                               the packets (per op) and interrupts of the
#                               guest's driver (scripts/lib/nested-guest-
#                               stats.sh): unlike the rates, these counts do
#                               not depend on the machine's load; 0: skip
#   BENCH_NESTED_PROFILE        "DIR_SIZE" (e.g. "g2h_64K"): after the rounds,
#                               one more such transfer under perf record in
#                               the outer VM, report printed
#   BENCH_NESTED_TIMEOUT [2400] seconds before the outer VM is killed; each
#                               inner run gets what is left, split evenly
#   BENCH_NESTED_BOOT_TRIES [2] inner boots per host driver when the inner
#                               guest crashes before it is up (TCG inside
#                               TCG occasionally does, early in its boot)
#   MVSOCK_KO_DIR [kernel]      where mvsock.ko and mvsock_vhost.ko are
#   KVER (see scripts/kver.sh)
# Output: the table on stdout; a copy of the whole run in
# build/bench/last-nested.txt (date, kernel, git revision, contention).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
OUT=$ROOT/build/bench
BENCH_PFX=bench-nested
# shellcheck source=scripts/lib/nested-bench.sh
. "$HERE/lib/nested-bench.sh"

: "${BENCH_NESTED:=1}"
: "${BENCH_NESTED_HOSTS:=ours stock}"
: "${BENCH_NESTED_SIZES:=4K 64K 1M}"
: "${BENCH_NESTED_DIRS:=g2h h2g}"
: "${BENCH_NESTED_REPS:=3}"
: "${BENCH_NESTED_SECS:=4}"
: "${BENCH_NESTED_LAT_SECS:=4}"
: "${BENCH_NESTED_MIN_KIB:=4096}"
: "${BENCH_NESTED_PROFILE:=}"
: "${BENCH_NESTED_DIAG:=1}"
: "${BENCH_NESTED_DIAG_SIZE:=64K}"
: "${BENCH_NESTED_TIMEOUT:=2400}"
: "${BENCH_NESTED_BOOT_TRIES:=2}"
# Inner builds (initramfs with our programs, kernel image) apart from
# build/nested/, which the nested test suite uses.
export NESTED_BUILD=${NESTED_BUILD:-$ROOT/build/nested-bench}


###########################################################################
# In a run-inner.sh --host command: the rounds with one host driver
###########################################################################

declare -A KIB=()

diag() { # label key what counts
	echo "nbench-diag: $1 $2 ($3): $4"
}

measure_main() { # label
	local st=$1 r b d key summary t0 id=0 line
	[ -n "${NESTED_EXEC:-}" ] || { echo "--measure runs under run-inner.sh --host" >&2; exit 2; }
	nb_tmp
	[ -z "${NB_STARTED_FILE:-}" ] || : >"$NB_STARTED_FILE"
	NB_PORT=$((21000 + RANDOM % 20000))
	for ((r = 1; r <= BENCH_NESTED_REPS; r++)); do
		t0=$SECONDS
		summary=
		for b in $BENCH_NESTED_SIZES; do
			for d in $BENCH_NESTED_DIRS; do
				key=${d}_$b
				# Round 1 sends BENCH_NESTED_MIN_KIB; each transfer
				# sizes the next one of its kind for about
				# BENCH_NESTED_SECS (never below the minimum).
				: "${KIB[$key]:=$BENCH_NESTED_MIN_KIB}"
				if nb_stream $((id++)) "$d" "$b" "${KIB[$key]}"; then
					nb_result "$st" "$key" "$NB_GBPS"
					summary+=" $key=$NB_GBPS(tx:$NB_TX_GBPS,$((KIB[$key] / 1024))M,${NB_WALL}s)"
					KIB[$key]=$(awk -v g="$NB_GBPS" -v s="$BENCH_NESTED_SECS" \
						-v c="$BENCH_NESTED_MIN_KIB" 'BEGIN {
						k = int(g * 1e9 / 8 * s / 1024 / 1024 + 0.5) * 1024
						if (k < c) k = c; if (k > 4194304) k = 4194304; print k }')
				else
					summary+=" $key=fail"
				fi
			done
		done
		# How fast the machine runs the inner guest right now (the host
		# driver plays no part): a fixed loop of busybox awk, timed there.
		if line=$(nb_on guest sh "$NB_GUEST_STATS" probe 2>/dev/null) &&
			[ -n "$line" ]; then
			nb_result "$st" probe "$line"
			summary+=" probe=${line}ms"
		fi
		if nb_pingpong host "$BENCH_NESTED_LAT_SECS"; then
			nb_result "$st" pp_mean "$NB_PP_MEAN"
			nb_result "$st" pp_p50 "$NB_PP_P50"
			nb_result "$st" pp_p99 "$NB_PP_P99"
			summary+=" rtt_p50=${NB_PP_P50}us rtt_p99=${NB_PP_P99}us (${NB_PP_ITERS}x,${NB_WALL}s)"
		else
			say "$st ping-pong failed"
		fi
		say "round $r $st (Gbit/s):$summary ($((SECONDS - t0)) s)"
	done
	[ "${NB_SHORT_RUNS:-0}" = 0 ] || nb_result "$st" short_runs "$NB_SHORT_RUNS"
	# Packet and interrupt counts of the guest's driver for one transfer
	# each way and one ping-pong run: independent of the machine's speed.
	if [ "$BENCH_NESTED_DIAG" != 0 ]; then
		b=${BENCH_NESTED_DIAG_SIZE}
		for d in $BENCH_NESTED_DIRS; do
			nb_guest_pktstats_start || { say "$st: guest packet counters unavailable"; break; }
			if nb_stream $((id++)) "$d" "$b" "$BENCH_NESTED_MIN_KIB"; then
				diag "$st" "${d}_$b" "$((BENCH_NESTED_MIN_KIB / 1024)) MiB, $NB_GBPS Gbit/s" \
					"$(nb_guest_pktstats_read)"
			fi
		done
		if nb_guest_pktstats_start vsock_pingpong && nb_pingpong host 2; then
			diag "$st" pingpong "$NB_PP_ITERS round trips + $NB_PP_WARMUP warm-up" \
				"$(nb_guest_pktstats_read vsock_pingpong)"
		fi
	fi
	if [ -n "$BENCH_NESTED_PROFILE" ]; then
		d=${BENCH_NESTED_PROFILE%%_*}
		b=${BENCH_NESTED_PROFILE#*_}
		key=${d}_$b
		say "profiling $st $key ($((3 * ${KIB[$key]:-4096} / 1024)) MiB)"
		nb_profile 300 nb_stream prof "$d" "$b" "$((3 * ${KIB[$key]:-4096}))" &&
			say "profiled transfer: $NB_GBPS Gbit/s"
	fi
	nb_cleanup
	return 0
}

###########################################################################
# In the outer VM
###########################################################################

print_table() {
	local st
	echo
	echo "== mvsock nested benchmark: host driver ours (mvsock_vhost) vs stock (vhost_vsock)"
	echo "   outer VM (host, CID 2): $(uname -r), $(nproc) vCPUs (QEMU TCG), $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
	echo "   inner guest (CID 3): same kernel, stock guest driver, 1 vCPU, 128 MiB (QEMU TCG inside TCG)"
	echo "   ratio > 1 always means ours is better: ours/stock for throughput,"
	echo "   stock/ours (speed-up) for latencies."
	echo
	nb_table_head ours stock
	nb_table_stream_pp R ours stock "$BENCH_NESTED_SIZES" "$BENCH_NESTED_DIRS"
	nb_table_row "inner CPU probe (ms)" "${R[ours,probe]:-}" "${R[stock,probe]:-}" lat info
	echo
	echo "The inner CPU probe is a fixed busybox awk loop timed in the inner guest:"
	echo "how fast the machine ran while each host driver was measured (the driver"
	echo "plays no part in it). Unequal probes mean unequal contention."
	if [ -n "${R[ours,probe]:-}" ] && [ -n "${R[stock,probe]:-}" ]; then
		awk -v o="${R[ours,probe]}" -v s="${R[stock,probe]}" 'BEGIN {
			if (o > 0 && s > 0 && (o / s > 1.2 || s / o > 1.2))
				printf "warning: the machine ran %.0f%% %s while ours was measured: the rates compare\nunequal conditions; the packet counts below do not depend on it.\n",
					100 * ((o > s ? o / s : s / o) - 1), (o > s) ? "slower" : "faster"
		}'
	fi
	for st in ours stock; do
		# one count per inner boot of that driver (BENCH_NESTED_HOSTS
		# may name it more than once): their sum
		[ -n "${NB_V[$st,short_runs]:-}" ] &&
			echo "note: $st: $(tr ' ' '\n' <<<"${NB_V[$st,short_runs]}" | awk '{ n += $1 } END { print n }')" \
				"vsock_perf runs read less than was sent" \
				"(the receiver stops at POLLRDHUP; rates count what was read)"
	done
	return 0
}

declare -A R=()

vm_main() {
	local st inner_to log key left n t0=$SECONDS status=0
	bench_in_vm "outer VM" mvsock-bench-nested
	nb_tmp
	log=$NB_TMP/run.log
	: >"$log"
	say "host drivers: $BENCH_NESTED_HOSTS; $BENCH_NESTED_REPS rounds per inner boot of:" \
		"stream $BENCH_NESTED_DIRS x $BENCH_NESTED_SIZES (~${BENCH_NESTED_SECS}s each)," \
		"ping-pong ${BENCH_NESTED_LAT_SECS}s; modules from $NB_KO_DIR"
	n=$(wc -w <<<"$BENCH_NESTED_HOSTS")
	for st in $BENCH_NESTED_HOSTS; do
		# What is left of the outer VM's time, shared by the inner runs
		# still to come (a margin for unloading and the table).
		left=$(( BENCH_NESTED_TIMEOUT - 60 - (SECONDS - t0) ))
		inner_to=$(( left / n ))
		n=$((n - 1))
		say "phase $st"
		if [ "$inner_to" -lt 300 ]; then
			say "$st: not enough time left (${inner_to}s); skipped"
			continue
		fi
		if ! nb_host_load "$st"; then
			say "ERROR: cannot load the $st host driver"
			status=1
			continue
		fi
		say "$st: host driver loaded"
		# shellcheck disable=SC2046 # nb_inner_adds: a list of options
		nb_run_inner "$st" "$inner_to" "$BENCH_NESTED_BOOT_TRIES" "$log" \
			--load "$NB_STOCK_GUEST" $(nb_inner_adds) \
			--host "'$ROOT/scripts/bench-nested.sh' --measure $st" || status=1
		if ! nb_host_unload "$st"; then
			say "ERROR: cannot unload the $st host driver; stopping here"
			status=1
			break
		fi
	done
	say "phase end"

	nb_collect "$log"
	echo
	nb_medians R ',short_runs$'
	print_table
	if grep -q '^nbench-diag: ' "$log"; then
		echo "Packets and interrupts counted by the guest's driver (recv = from the host,"
		echo "sent = to the host; OP=packets/payload bytes; irqs = vsock device interrupts):"
		sed -n 's/^nbench-diag: /  /p' "$log" | sort -s -k2,2
		echo
	fi
	say "outer VM time $((SECONDS - t0)) s"
	bench_kernel_log "mvsock-bench-nested: start" "outer kernel warnings/errors logged during the bench:"
	nb_cleanup
	return $status
}

###########################################################################
# On the build machine
###########################################################################

host_main() {
	local log start
	start=$(date +%s)
	bench_host_begin BENCH_NESTED
	nb_prepare mvsock mvsock_vhost || exit 1
	log=$OUT/last-nested.txt
	bench_log_header "$log" "modules from ${NB_KO_DIR#"$ROOT"/}"
	echo "bench-nested: booting the outer VM; two inner guest boots of 80-330 s each" \
		"under TCG: the whole run takes several minutes (10-25, depending on the load)" | tee -a "$log"

	local MVSOCK_KO_DIR=$NB_KO_DIR
	export VM_ENV
	VM_ENV="${VM_ENV:-}$(vm_env_words BENCH_NESTED_HOSTS BENCH_NESTED_SIZES \
		BENCH_NESTED_DIRS BENCH_NESTED_REPS BENCH_NESTED_SECS BENCH_NESTED_LAT_SECS \
		BENCH_NESTED_MIN_KIB BENCH_NESTED_PROFILE BENCH_NESTED_TIMEOUT \
		BENCH_NESTED_DIAG BENCH_NESTED_DIAG_SIZE BENCH_NESTED_BOOT_TRIES \
		MVSOCK_KO_DIR NESTED_BUILD)"
	nb_outer_run nested $((BENCH_NESTED_TIMEOUT + 60)) "$log" "$start"
}

unpack_lists() {
	vm_env_lists BENCH_NESTED_HOSTS BENCH_NESTED_SIZES BENCH_NESTED_DIRS
}

case "${1:-}" in
--in-vm)
	[ $# -eq 1 ] || { echo "usage: $0 --in-vm" >&2; exit 2; }
	unpack_lists
	vm_main
	exit $?
	;;
--measure)
	[ $# -eq 2 ] || { echo "usage: $0 --measure LABEL" >&2; exit 2; }
	unpack_lists
	measure_main "$2"
	exit $?
	;;
"") host_main ;;
*)
	bench_usage Measured
	;;
esac
