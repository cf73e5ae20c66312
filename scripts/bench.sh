#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock loopback benchmark: our modules against stock vsock_loopback, in
# one QEMU (TCG) guest. Not a test: misses are reported, the exit status
# is 0 unless the build or the VM itself failed. After it, unless
# BENCH_HOOKS=0, scripts/bench-hooks.sh: the cost of the tracepoints and
# BPF hooks, over loopback too (one more VM boot, a few minutes).
#
# Usage: scripts/bench.sh                      (what "make bench" runs)
#        scripts/bench.sh --in-vm VSOCK_PERF   (inside the guest only)
#
# Measured on our mvsock.ko + mvsock_loopback.ko and on stock vsock +
# vsock_loopback, in BENCH_REPS interleaved rounds (ours, stock, ours,
# stock, ...: the modules are swapped each time, so slow drifts of the
# host, e.g. other guests starting, hit both stacks alike); each figure is
# the median over the rounds:
#   - stream throughput, upstream vsock_perf (receiver --vsk-size 1M), for
#     each write/read size in BENCH_SIZES; in round 1 a short calibration
#     run per size sizes --bytes for ~BENCH_SECS seconds per run; the
#     receiver's rate is used;
#   - 1-byte ping-pong round trip (tools/bench/vsock_pingpong): mean, p50,
#     p99 of each round, BENCH_LAT_SECS per round;
#   - connect + accept + close cycles per second (tools/bench/vsock_connrate),
#     BENCH_CONN_SECS per round;
# and once, the guest's single-core memcpy bandwidth (tools/bench/memcpy_bw).
# Then, unless BENCH_HOST=0, scripts/bench-host.sh: our host driver against
# stock vhost_vsock, both serving a user-space fake guest (4-8 minutes
# more); unless BENCH_NESTED=0, scripts/bench-nested.sh: the same two host
# drivers serving a real guest in the nested topology (several minutes more);
# then, unless BENCH_ISOLATION=0, scripts/bench-isolation.sh: ping-pong
# latency on one device of a guest, idle and while another device carries
# a bulk stream (nested topology too, 8-25 minutes more).
#
# Environment (defaults in brackets):
#   BENCH_SIZES ["4K 64K 256K 1M"]  BENCH_REPS [3]  BENCH_SECS [2.5]
#   BENCH_LAT_SECS [2]  BENCH_CONN_SECS [2]  BENCH_STACKS ["ours stock"]
#   BENCH_SMP [2]  BENCH_VM_TIMEOUT [900]  KVER (see scripts/kver.sh)
#   MVSOCK_KO_DIR [kernel, built first]  prebuilt modules to use instead
#   BENCH_HOST [1] and BENCH_HOST_*: see scripts/bench-host.sh
#   BENCH_NESTED [1] and BENCH_NESTED_*: see scripts/bench-nested.sh
#   BENCH_ISOLATION [1] and BENCH_ISOLATION_*: see scripts/bench-isolation.sh
#   BENCH_HOOKS [1] and BENCH_HOOKS_*: see scripts/bench-hooks.sh
# Output: the table on stdout; a copy of the whole run in
# build/bench/last-run.txt (with date, kernel and git revision).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BENCH_PFX=bench
# shellcheck source=scripts/lib/bench-common.sh
. "$HERE/lib/bench-common.sh"
ROOT=$(cd "$HERE/.." && pwd -P)
OUT=$ROOT/build/bench
# Our modules (MVSOCK_KO_DIR: use prebuilt ones from there, e.g. a copy,
# and do not build kernel/).
KO_DIR=$(bench_ko_dir)

: "${BENCH_SIZES:=4K 64K 256K 1M}"
: "${BENCH_REPS:=3}"
: "${BENCH_SECS:=2.5}"
: "${BENCH_LAT_SECS:=2}"
: "${BENCH_CONN_SECS:=2}"
: "${BENCH_STACKS:=ours stock}"

# Target per metric key: the ratio (>1 = ours better) to reach, or "info".
target_for() {
	case "$1" in
	stream_4K) echo 1.5 ;;
	connrate) echo 1.2 ;;
	pp_p99) echo info ;;
	*) echo 1.0 ;;
	esac
}

###########################################################################
# Guest side
###########################################################################

declare -A R=()	# R[stack,key] = value; R[memcpy]

NEXT_PORT=20000
PERF_GBPS=
SHORT_RUNS=0

# One vsock_perf transfer; sets PERF_GBPS (the receiver's rate, Gbit/s).
run_perf() { # bufsize MiB
	local b=$1 mib=$2 port=$((NEXT_PORT++)) rpid got want
	local rlog=$TMPD/rx.$port tlog=$TMPD/tx.$port
	PERF_GBPS=
	perf_rx_start "$port" "$b" "$rlog" 300
	rpid=$PERF_RX_PID
	wait_listen "$port" || sleep 0.5 # no sock_diag? give the receiver a moment anyway
	if ! perf_tx 1 "$port" "${mib}M" "$b" "$tlog"; then
		say "  vsock_perf sender failed (port $port, $b x ${mib}M):"
		sed 's/^/bench:     /' "$tlog"
		kill "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
		return 1
	fi
	if ! wait "$rpid"; then
		say "  vsock_perf receiver failed (port $port, $b x ${mib}M):"
		sed 's/^/bench:     /' "$rlog"
		return 1
	fi
	got=$(perf_value "$rlog" rx_bytes)
	want=$((mib * 1048576))
	if [ -z "$got" ] || [ "$got" = 0 ]; then
		say "  vsock_perf receiver got no data (port $port)"
		return 1
	fi
	# vsock_perf's receiver stops at POLLRDHUP and may leave the last few
	# buffers unread; its rate counts what it did read, so that is fine.
	[ "$got" = "$want" ] || SHORT_RUNS=$((SHORT_RUNS + 1))
	PERF_GBPS=$(perf_value "$rlog" rx_gbps)
	[ -n "$PERF_GBPS" ]
}

declare -A V=()	# V[stack,key] = the per-round values, space-separated
declare -A MIB=()	# MIB[stack,size] = MiB per vsock_perf run (calibrated)

# Calibration: 16 MiB, then size the real runs for ~BENCH_SECS seconds.
calibrate() { # stack size
	if ! run_perf "$2" 16; then
		say "$1 stream $2: calibration run failed"
		return 1
	fi
	MIB[$1,$2]=$(awk -v g="$PERF_GBPS" -v s="$BENCH_SECS" 'BEGIN {
		m = int(g * 1e9 / 8 * s / 1048576 + 0.5)
		if (m < 16) m = 16; if (m > 16384) m = 16384; print m }')
}

measure_round() { # stack round
	local st=$1 b line f t0=$SECONDS summary=
	local p1=$((NEXT_PORT++)) p2=$((NEXT_PORT++))
	for b in $BENCH_SIZES; do
		[ -n "${MIB[$st,$b]:-}" ] || calibrate "$st" "$b" || continue
		if run_perf "$b" "${MIB[$st,$b]}"; then
			add "$st" "stream_$b" "$PERF_GBPS"
			summary+=" $b=$PERF_GBPS"
		else
			summary+=" $b=fail"
		fi
	done
	if line=$(timeout 120 "$BIN/vsock_pingpong" --port "$p1" --time "$BENCH_LAT_SECS"); then
		add "$st" pp_mean "$(kv "$line" mean_us)"
		add "$st" pp_p50 "$(kv "$line" p50_us)"
		add "$st" pp_p99 "$(kv "$line" p99_us)"
		summary+=" rtt_p50=$(kv "$line" p50_us)us"
	else
		say "$st ping-pong failed"
	fi
	if line=$(timeout 120 "$BIN/vsock_connrate" --port "$p2" --time "$BENCH_CONN_SECS"); then
		add "$st" connrate "$(kv "$line" conn_per_s)"
		add "$st" connok "$(kv "$line" ok_per_s)"
		f=$(kv "$line" failures)
		R[$st,connfail]=$((${R[$st,connfail]:-0} + ${f:-0}))
		summary+=" conn/s=$(kv "$line" conn_per_s)"
	else
		say "$st connection rate failed"
	fi
	say "round $2 $st (Gbit/s):$summary ($((SECONDS - t0)) s)"
}

# One table row. kind: thr (ratio ours/stock) or lat (stock/ours).
row() { # label key kind
	bench_table_row 28 "$1" "${R[ours,$2]:-}" "${R[stock,$2]:-}" "$3" "$(target_for "$2")"
}

print_table() {
	local b st best=0 bestb=
	echo
	echo "== mvsock loopback benchmark: ours (mvsock) vs stock (vsock_loopback)"
	echo "   guest: $(uname -r), $(nproc) vCPUs (QEMU TCG), $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
	echo "   ratio > 1 always means ours is better: ours/stock for throughput and"
	echo "   rates, stock/ours (speed-up) for latencies (lower latency is better)."
	echo
	bench_table_head 28 ours stock
	for b in $BENCH_SIZES; do
		row "stream, $b writes (Gbit/s)" "stream_$b" thr
	done
	row "ping-pong RTT mean (us)" pp_mean lat
	row "ping-pong RTT p50 (us)" pp_p50 lat
	row "ping-pong RTT p99 (us)" pp_p99 lat
	row "connections/s" connrate thr
	echo
	for st in ours stock; do
		[ "${R[$st,connfail]:-0}" = 0 ] ||
			echo "note: $st: ${R[$st,connfail]} connect cycles failed in the connection-rate runs;" \
				"not counting the time lost in them: ${R[$st,connok]:-?} conn/s (median)"
	done
	[ "$SHORT_RUNS" = 0 ] ||
		echo "note: $SHORT_RUNS vsock_perf runs read less than was sent (the receiver stops at POLLRDHUP; rates count what was read)"
	for b in $BENCH_SIZES; do
		awk -v x="${R[ours,stream_$b]:-0}" -v y="$best" 'BEGIN { exit !(x > y) }' &&
			{ best=${R[ours,stream_$b]}; bestb=$b; }
	done
	if [ -n "${R[memcpy]:-}" ]; then
		awk -v m="${R[memcpy]}" -v g="$best" -v b="$bestb" 'BEGIN {
			printf "VM single-core memcpy bandwidth: %.3f GB/s (best copy of 128 MiB).\n", m
			printf "A loopback byte is copied twice (sender -> kernel -> receiver), so half\n"
			printf "of that, %.3f GB/s, is a rough ceiling for one stream.\n", m / 2
			if (g > 0)
				printf "Our best stream: %.3f Gbit/s = %.3f GB/s (%s writes) = %.0f%% of that ceiling.\n",
					g, g / 8, b, 100 * (g / 8) / (m / 2)
		}'
	fi
}

guest_main() {
	local st line t0=$SECONDS
	PERF=$1
	BIN=$OUT
	bench_in_vm guest mvsock-bench
	[ -x "$PERF" ] || { echo "bench: $PERF is missing" >&2; exit 1; }
	TMPD=$(mktemp -d)

	say "$BENCH_REPS rounds of: $BENCH_STACKS; sizes $BENCH_SIZES, ~${BENCH_SECS}s per run" \
		"(calibrated in round 1); ping-pong ${BENCH_LAT_SECS}s; connect rate ${BENCH_CONN_SECS}s"
	if line=$(timeout 120 "$BIN/memcpy_bw" --size 128 --time 2); then
		R[memcpy]=$(kv "$line" best_gbps)
		say "$line"
	fi

	local round key skip=" "
	for ((round = 1; round <= BENCH_REPS; round++)); do
		for st in $BENCH_STACKS; do
			[[ $skip == *" $st "* ]] && continue
			case "$st" in
			ours)
				if ! bench_insmod "$KO_DIR" mvsock mvsock_loopback; then
					say "ERROR: cannot load mvsock (see dmesg)"
					skip+="ours "
					continue
				fi
				measure_round ours "$round"
				if ! rmmod_all 50 0.2 mvsock_loopback mvsock; then
					say "ERROR: cannot unload mvsock; stopping here"
					break 2
				fi
				;;
			stock)
				if ! bench_modprobe_stock vsock_loopback; then
					say "ERROR: cannot load stock vsock_loopback"
					skip+="stock "
					continue
				fi
				measure_round stock "$round"
				if ! unload_stock_loopback; then
					say "ERROR: cannot unload stock vsock_loopback; stopping here"
					break 2
				fi
				;;
			*) say "unknown stack '$st'"; skip+="$st " ;;
			esac
		done
	done

	# Medians over the rounds.
	echo
	bench_medians V R 24

	print_table
	echo
	say "guest time $((SECONDS - t0)) s"
	bench_kernel_log 'mvsock-bench: start' 'kernel warnings/errors logged during the bench:'
	rm -rf "$TMPD"
	return 0
}

###########################################################################
# Host side
###########################################################################

# One more part of make bench, in its own VM, unless VARIABLE is 0: says
# what comes next and how long it takes (or that it was skipped); returns
# the part's exit status.
bench_part() { # variable script what duration skipped-what
	if [ "${!1:-1}" = 0 ]; then
		echo "bench: $5 skipped ($1=0)"
		return 0
	fi
	echo
	echo "bench: next, $3 (scripts/$2): takes $4; $1=0 skips it"
	VM_ENV='' "$ROOT/scripts/$2"
}

host_main() {
	local perf rc log start others
	local hooks_rc=0 host_rc=0 nested_rc=0 iso_rc=0
	start=$(date +%s)
	bench_host_begin

	if [ -n "${MVSOCK_KO_DIR:-}" ]; then
		echo "bench: using the modules in $KO_DIR (MVSOCK_KO_DIR; not building kernel/)"
	else
		echo "bench: building kernel modules ($KVER)"
		bench_build_modules "$OUT/kbuild.log" || exit 1
	fi
	echo "bench: building tools/bench"
	make -s -C "$ROOT/tools/bench" OUT="$OUT" || exit 1
	perf=$(bench_vsock_perf) || exit 1

	log=$OUT/last-run.txt
	bench_log_header "$log" "vsock_perf: $perf"
	others=$(pgrep -c -f '^qemu-system' 2>/dev/null || true)
	[ "${others:-0}" = 0 ] ||
		echo "bench: warning: other guests compete for the host CPUs; expect noisy figures" | tee -a "$log"
	echo "bench: booting the VM (the whole run takes a few minutes)"

	export VM_ENV
	VM_ENV=$(vm_env_words BENCH_SIZES BENCH_STACKS BENCH_REPS BENCH_SECS \
		BENCH_LAT_SECS BENCH_CONN_SECS)${MVSOCK_KO_DIR:+ MVSOCK_KO_DIR=$KO_DIR}
	# Sample the host every 5 s: how many other guests ran meanwhile.
	bench_sampler_start "$OUT/phase" "$OUT/host-samples.txt"
	bench_vm_run "$log" "${BENCH_SMP:-2}" "${BENCH_VM_TIMEOUT:-900}" "" \
		scripts/bench.sh --in-vm "$perf"
	rc=$?
	bench_sampler_stop
	bench_sampler_total "$OUT/host-samples.txt" | tee -a "$log"
	echo "bench: wall time $(($(date +%s) - start)) s; output saved in ${log#"$ROOT"/}" | tee -a "$log"
	if [ "$rc" != 0 ]; then
		echo "bench: the VM run failed (status $rc); guest kernel log: build/vm/last-dmesg.txt" >&2
	fi

	# The cost of the tracepoints and BPF hooks (loopback, one more VM):
	# build/bench/last-hooks.txt. A failure counts as the loopback part's.
	bench_part BENCH_HOOKS bench-hooks.sh "the cost of the tracepoints and BPF hooks" \
		"5-15 minutes, depending on the load" "hook cost benchmark" || hooks_rc=$?
	[ "$rc" != 0 ] || rc=$hooks_rc
	# Our host driver against stock with the fake guest:
	# build/bench/last-host.txt.
	bench_part BENCH_HOST bench-host.sh "host driver ours vs stock with a user-space fake guest" \
		"4-8 minutes" "host driver benchmark with the fake guest" || host_rc=$?
	# The host<->guest part (nested topology): build/bench/last-nested.txt.
	bench_part BENCH_NESTED bench-nested.sh "host driver ours vs stock in the nested topology" \
		"several minutes (10-25, depending on the load)" "nested host<->guest benchmark" || nested_rc=$?
	# Isolation between two devices of one guest (nested topology):
	# build/bench/last-isolation.txt.
	bench_part BENCH_ISOLATION bench-isolation.sh "isolation between two vsock devices of one guest" \
		"several minutes (8-25, depending on the load)" "isolation benchmark" || iso_rc=$?
	[ "$rc" = 0 ] || exit "$rc"
	[ "$host_rc" = 0 ] || exit "$host_rc"
	[ "$nested_rc" = 0 ] || exit "$nested_rc"
	exit "$iso_rc"
}

if [ "${1:-}" = --in-vm ]; then
	[ $# -eq 2 ] || { echo "usage: $0 --in-vm VSOCK_PERF" >&2; exit 2; }
	vm_env_lists BENCH_SIZES BENCH_STACKS
	guest_main "$2"
	exit $?
fi
if [ $# -ne 0 ]; then
	bench_usage Measured
fi
host_main
