#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock isolation benchmark (issue 4) in the nested topology: does a bulk
# stream on one virtio-vsock device of a guest slow down request/response
# traffic on another? One outer VM boot (selftests/vm/run.sh, the host role,
# OUR host driver mvsock.ko + vhost + mvsock_vhost.ko) and in it one inner
# guest boot (selftests/nested/run-inner.sh --vsock 2: two vhost-vsock-pci
# devices, A = CID 3 and B = CID 4; OUR guest driver mvsock.ko +
# mvsock_virtio.ko binds both). TCG inside TCG: the inner boot alone takes
# 1.5-4 min; the whole run 8-25 min with the defaults. Not a test: a missed
# goal is reported, the exit status is 0 unless the build or a VM run failed.
# scripts/bench.sh (make bench) runs it after the nested part unless
# BENCH_ISOLATION=0.
#
# Usage: scripts/bench-isolation.sh            (on the build machine)
#        scripts/bench-isolation.sh --in-vm    (in the outer VM only)
#        scripts/bench-isolation.sh --measure  (in a run-inner.sh --host
#                                               command only)
#
# Measured in BENCH_ISOLATION_REPS rounds, each figure the median over the
# rounds; in each round, for two layouts (in the order sep, one in odd
# rounds, one, sep in even ones):
#   sep  separate devices: ping-pong to CID 4 (device B), the bulk stream
#        to CID 3 (device A);
#   one  one device: ping-pong and bulk stream both to CID 3 (device A);
# and for each layout:
#   - idle: 1-byte ping-pong (tools/bench vsock_pingpong --client on the
#     host, --server in the guest; 50 untimed round trips, then
#     BENCH_ISOLATION_SECS timed): p50 and p99 (and mean);
#   - loaded: the bulk stream (upstream vsock_perf, host -> guest,
#     --buf-size BENCH_ISOLATION_BUF, receiver in the guest at --vsk-size
#     1M) is started; once its connection is up, the same ping-pong runs;
#     then the stream is waited for. The measurement counts only when the
#     stream's sender was still sending when the ping-pong ended; otherwise
#     it is reported invalid, the stream made 2x longer and the measurement
#     run once more. The stream's rate (the receiver's rx rate, over the
#     whole stream) is reported per layout;
# then, once per round, the same stream alone (no ping-pong; half as long),
# for comparison, and two controls: the ping-pong on B while a busy loop
# takes the inner guest's CPU, and while one more takes an outer VM CPU,
# no stream (how much of the loaded figure is only CPU sharing). Unless
# BENCH_ISOLATION_KIB is set, the stream's length is sized from the
# previous stream's rate to last twice the time the measurement needs (a
# 4 MiB stream first calibrates).
# Around every ping-pong the busy share of all CPUs of the inner guest
# and of the outer VM is read from /proc/stat (a second table): whether
# the stream leaves the guest any idle CPU for B's traffic.
# Goal (issue 4): p99 on B under load <= 1.5x idle, separate devices.
#
# Environment (defaults in brackets):
#   BENCH_ISOLATION [1]           0: skip (prints a note, exit 0)
#   BENCH_ISOLATION_REPS [3]      rounds
#   BENCH_ISOLATION_SECS [4]      timed ping-pong per measurement
#   BENCH_ISOLATION_BUF [64K]     the stream's --buf-size
#   BENCH_ISOLATION_KIB []        KiB sent by each stream (default: sized
#                                 automatically, see above)
#   BENCH_ISOLATION_INNER_SMP [1] inner guest vCPUs
#   BENCH_ISOLATION_TIMEOUT [1800] seconds before the outer VM is killed
#   BENCH_ISOLATION_BOOT_TRIES [2] inner boots when the inner guest dies
#                                 before it is up (TCG inside TCG
#                                 occasionally does)
#   BENCH_ISOLATION_CONTROL [1]   0: no control measurements
#   MVSOCK_KO_DIR [kernel]        where mvsock.ko, mvsock_vhost.ko and
#                                 mvsock_virtio.ko are
#   KVER (see scripts/kver.sh)
# Output: the table on stdout; a copy of the whole run in
# build/bench/last-isolation.txt (date, kernel, git revision, contention).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
OUT=$ROOT/build/bench
BENCH_PFX=bench-isolation
# A stream is sized for about a minute, but a busy build machine can slow
# the inner guest several times over.
: "${NB_XFER_TIMEOUT:=600}"
# shellcheck source=scripts/lib/nested-bench.sh
. "$HERE/lib/nested-bench.sh"

: "${BENCH_ISOLATION:=1}"
: "${BENCH_ISOLATION_REPS:=3}"
: "${BENCH_ISOLATION_SECS:=4}"
: "${BENCH_ISOLATION_BUF:=64K}"
: "${BENCH_ISOLATION_KIB:=}"
: "${BENCH_ISOLATION_INNER_SMP:=1}"
: "${BENCH_ISOLATION_TIMEOUT:=1800}"
: "${BENCH_ISOLATION_BOOT_TRIES:=2}"
: "${BENCH_ISOLATION_CONTROL:=1}"
# Inner builds apart from build/nested/ (the nested test suite's); shared
# with bench-nested.sh (each set of --add files has its own initramfs).
export NESTED_BUILD=${NESTED_BUILD:-$ROOT/build/nested-bench}

CID_A=3
CID_B=4
CAL_KIB=4096	# the calibrating stream
MIN_KIB=4096	# the bulk stream sends at least this (4x the socket buffer)
MAX_KIB=4194304


layout_name() { # sep|one
	case "$1" in
	sep) echo "separate devices" ;;
	one) echo "one device" ;;
	*) echo "$1" ;;
	esac
}

###########################################################################
# In the run-inner.sh --host command
###########################################################################

KIB=
T_NEED=		# seconds a loaded measurement needed, stream start to ping-pong end
ID=0

now_ns() { date +%s%N; }

# Busy and total jiffies of all CPUs on SIDE (host: the outer VM).
cpu_jiffies() { # side
	nb_on "$1" head -n 1 /proc/stat | awk '$1 == "cpu" {
		for (i = 2; i <= 9 && i <= NF; i++) t += $i	# guest time is in user
		print t - $5 - $6, t }'
}

# Start of a ping-pong whose CPU use is recorded: CPU_G, CPU_H.
cpu_mark() {
	CPU_G=$(cpu_jiffies guest)
	CPU_H=$(cpu_jiffies host)
}

# The busy share (%) of the guest's and the outer VM's CPUs since
# cpu_mark: CPU_GB, CPU_HB ('?' when unknown) and CPU_SAY.
cpu_measure() {
	local g h
	g=$(cpu_jiffies guest)
	h=$(cpu_jiffies host)
	read -r CPU_GB CPU_HB < <(awk -v a="$CPU_G" -v b="$g" -v c="$CPU_H" -v d="$h" 'BEGIN {
		split(a, x); split(b, y); split(c, u); split(d, v)
		gt = y[2] - x[2]; ht = v[2] - u[2]
		printf "%.0f %.0f\n", (gt > 0 ? 100 * (y[1] - x[1]) / gt : -1),
			(ht > 0 ? 100 * (v[1] - u[1]) / ht : -1) }')
	[ "${CPU_GB:--1}" -ge 0 ] || CPU_GB='?'
	[ "${CPU_HB:--1}" -ge 0 ] || CPU_HB='?'
	CPU_SAY="CPUs busy: guest $CPU_GB%, outer VM $CPU_HB%"
}

# Record what cpu_measure found as LABEL PREFIX_gbusy / PREFIX_hbusy.
cpu_result() { # label prefix
	[ "$CPU_GB" = '?' ] || nb_result "$1" "${2}_gbusy" "$CPU_GB"
	[ "$CPU_HB" = '?' ] || nb_result "$1" "${2}_hbusy" "$CPU_HB"
}

# KiB for a stream at RATE Gbit/s to last 2x SECS seconds (clamped).
stream_kib() { # gbps secs
	awk -v g="$1" -v s="$2" -v lo="$MIN_KIB" -v hi="$MAX_KIB" 'BEGIN {
		k = int(g * 1e9 / 8 * 2 * s / 1024 / 1024 + 0.5) * 1024
		if (k < lo) k = lo; if (k > hi) k = hi; print k }'
}

# Resize the stream from the last one's rate, unless fixed by the user.
resize() { # gbps
	[ -z "$BENCH_ISOLATION_KIB" ] && [ -n "$1" ] && [ -n "$T_NEED" ] &&
		KIB=$(stream_kib "$1" "$T_NEED")
	return 0
}

# The ping-pong idle, then under the bulk stream; results under label L.
measure_layout() { # layout round
	local l=$1 r=$2 cid_pp=$CID_B try id t0 up ok running old line=
	[ "$l" = one ] && cid_pp=$CID_A
	say "phase $l"
	cpu_mark
	if nb_pingpong host "$BENCH_ISOLATION_SECS" "$cid_pp"; then
		cpu_measure
		cpu_result "$l" idle
		nb_result "$l" idle_mean "$NB_PP_MEAN"
		nb_result "$l" idle_p50 "$NB_PP_P50"
		nb_result "$l" idle_p99 "$NB_PP_P99"
		line+=" idle: p50=${NB_PP_P50}us p99=${NB_PP_P99}us (${NB_PP_ITERS}x,${NB_WALL}s; $CPU_SAY);"
		# First sizing: the stream must outlast its start and a ping-pong.
		[ -n "$T_NEED" ] || T_NEED=$(awk -v w="$NB_WALL" -v f="${T_FLOW:-3}" \
			'BEGIN { printf "%.1f", w + f + 1 }')
		[ -n "$KIB" ] || resize "${CAL_GBPS:-}"
	else
		say "round $r $l: idle ping-pong failed"
	fi
	: "${KIB:=${BENCH_ISOLATION_KIB:-$MIN_KIB}}"
	for try in 1 2; do
		id=bulk$((ID++))
		t0=$(now_ns)
		nb_stream_start "$id" h2g "$BENCH_ISOLATION_BUF" "$KIB" "$CID_A"
		up=0
		ok=0
		running=0
		if nb_stream_wait_flowing "$id" 120; then
			up=1
			cpu_mark
			nb_pingpong host "$BENCH_ISOLATION_SECS" "$cid_pp" && ok=1
			# (whether the stream outlasted the ping-pong: before
			# the CPU figures, whose reads in the guest take time)
			nb_stream_running "$id" && running=1
			cpu_measure
			T_NEED=$(awk -v t0="$t0" -v t1="$(now_ns)" 'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }')
		fi
		if [ $running = 1 ] && [ $ok = 1 ]; then
			# Valid: the stream ran during the whole ping-pong.
			cpu_result "$l" loaded
			nb_result "$l" loaded_mean "$NB_PP_MEAN"
			nb_result "$l" loaded_p50 "$NB_PP_P50"
			nb_result "$l" loaded_p99 "$NB_PP_P99"
			line+=" loaded: p50=${NB_PP_P50}us p99=${NB_PP_P99}us (${NB_PP_ITERS}x; $CPU_SAY),"
			if nb_stream_finish "$id"; then
				nb_result "$l" stream "$NB_GBPS"
				line+=" stream $NB_GBPS Gbit/s ($((KIB / 1024))M,${NB_WALL}s,"
				line+=" ping-pong ended after ${T_NEED}s)"
				resize "$NB_GBPS"
			else
				line+=" stream failed after the ping-pong"
			fi
			break
		fi
		if ! nb_stream_finish "$id"; then
			say "round $r $l: the bulk stream failed"
			break
		fi
		if [ $up = 0 ]; then
			say "round $r $l: the bulk stream never connected"
			break
		elif [ $ok = 0 ]; then
			say "round $r $l: loaded ping-pong failed"
			break
		fi
		# Too short: the ping-pong ran partly without load.
		say "round $r $l: INVALID: the bulk stream ($((KIB / 1024)) MiB, ${NB_WALL}s) ended" \
			"before the ping-pong (${T_NEED}s after the stream's start); once more, longer"
		nb_result "$l" invalid 1
		old=$KIB
		resize "$NB_GBPS"
		KIB=$((KIB > old * 2 ? KIB : old * 2))
		KIB=$((KIB > MAX_KIB ? MAX_KIB : KIB))
	done
	say "round $r $(layout_name "$l"):$line"
}

# Controls: the ping-pong on B while busy loops take CPU and no stream
# runs: cpu = one in the inner guest; cpu2 = one there and one in the
# outer VM (where the stream's sender and device A's vhost worker run).
# In TCG inside TCG a round trip is mostly CPU time, so a fair share of
# the CPUs alone slows it; these rows say how much of the loaded figure
# that is, which no driver that keeps the guest's scheduling fair removes.
measure_cpu() { # cpu|cpu2 round
	local k=$1 r=$2 hog outer='' what="guest CPU busy"
	say "phase $k"
	# shellcheck disable=SC2016 # expanded by the guest's shell
	nb_on guest sh -c 'echo $$ >/tmp/isolation-hog.pid; while :; do :; done' \
		>/dev/null 2>&1 &
	hog=$!
	if [ "$k" = cpu2 ]; then
		sh -c 'while :; do :; done' &
		outer=$!
		what="guest and outer VM CPU busy"
	fi
	sleep 1
	cpu_mark
	if nb_pingpong host "$BENCH_ISOLATION_SECS" "$CID_B"; then
		cpu_measure
		cpu_result "$k" loaded
		nb_result "$k" loaded_mean "$NB_PP_MEAN"
		nb_result "$k" loaded_p50 "$NB_PP_P50"
		nb_result "$k" loaded_p99 "$NB_PP_P99"
		say "round $r control, $what, no stream: p50=${NB_PP_P50}us" \
			"p99=${NB_PP_P99}us (${NB_PP_ITERS}x,${NB_WALL}s; $CPU_SAY)"
	else
		say "round $r control ($k): ping-pong failed"
	fi
	[ -z "$outer" ] || { kill "$outer"; wait "$outer" 2>/dev/null; }
	# shellcheck disable=SC2016
	nb_on guest sh -c 'kill "$(cat /tmp/isolation-hog.pid)"' ||
		say "round $r control: cannot stop the busy loop"
	wait "$hog"
}

# The inner guest still answers (TCG inside TCG now and then kills it:
# then stop, and run-inner.sh prints its console).
guest_alive() { # round
	NB_XFER_TIMEOUT=60 nb_on guest true >/dev/null 2>&1 && return 0
	say "round $1: ERROR: the inner guest no longer answers; stopping the measurements"
	GUEST_GONE=1
	return 1
}

measure_main() {
	local r l order line t0 k
	[ -n "${NESTED_EXEC:-}" ] || { echo "--measure runs under run-inner.sh --host" >&2; exit 2; }
	nb_tmp
	[ -z "${NB_STARTED_FILE:-}" ] || : >"$NB_STARTED_FILE"
	NB_PORT=$((21000 + RANDOM % 20000))
	say "inner guest up after ${NESTED_BOOT_MS:-?} ms; loading our guest driver"
	if ! nb_guest_load_ours; then
		say "ERROR: cannot load our guest driver in the inner guest"
		return 1
	fi
	line=$(nb_on guest cat /sys/module/mvsock/parameters/devices)
	while IFS= read -r l; do say "  guest device: $l"; done <<<"$line"
	if ! grep -q "cid=$CID_A " <<<"$line" || ! grep -q "cid=$CID_B " <<<"$line"; then
		say "ERROR: the inner guest lacks CID $CID_A or $CID_B"
		return 1
	fi
	# The stream's rate, to size the streams, and how long it takes to start.
	KIB=$BENCH_ISOLATION_KIB
	nb_stream_start cal h2g "$BENCH_ISOLATION_BUF" "$CAL_KIB" "$CID_A"
	t0=$(now_ns)
	nb_stream_wait_flowing cal 120 &&
		T_FLOW=$(awk -v t0="$t0" -v t1="$(now_ns)" 'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }')
	if nb_stream_finish cal; then
		CAL_GBPS=$NB_GBPS
		say "calibration: bulk stream alone, $((CAL_KIB / 1024)) MiB: $NB_GBPS Gbit/s" \
			"(${NB_WALL}s; connected after ${T_FLOW:-?}s)"
	else
		say "calibration stream failed"
	fi
	for ((r = 1; r <= BENCH_ISOLATION_REPS; r++)); do
		order="sep one"
		((r % 2)) || order="one sep"
		for l in $order; do
			guest_alive "$r" || break 2
			measure_layout "$l" "$r"
		done
		if [ "$BENCH_ISOLATION_CONTROL" != 0 ]; then
			guest_alive "$r" || break
			measure_cpu cpu "$r"
			guest_alive "$r" || break
			measure_cpu cpu2 "$r"
		fi
		# The stream alone, half as long as the loaded ones (which run
		# about twice as long as the ping-pong).
		say "phase alone"
		k=$(( (${KIB:-$MIN_KIB} >> 11) << 10 ))	# half, in whole MiB
		[ "$k" -ge "$MIN_KIB" ] || k=$MIN_KIB
		if nb_stream "alone$r" h2g "$BENCH_ISOLATION_BUF" "$k" "$CID_A"; then
			nb_result all stream_alone "$NB_GBPS"
			say "round $r: bulk stream alone: $NB_GBPS Gbit/s ($((k / 1024))M,${NB_WALL}s)"
		fi
	done
	say "phase end"
	[ -z "${GUEST_GONE:-}" ] || { nb_cleanup; return 1; }
	[ "${NB_SHORT_RUNS:-0}" = 0 ] || nb_result all short_runs "$NB_SHORT_RUNS"
	nb_cleanup
	return 0
}

###########################################################################
# In the outer VM
###########################################################################

declare -A R=()

stream_row() { # label layout
	nb_table_row "$1" "${R[all,stream_alone]:-}" "${R[$2,stream]:-}" lat info
}

cpu_row() { # label layout prefix
	printf '| %-32s | %9s | %9s |\n' "$1" "${R[$2,${3}_gbusy]:-n/a}" "${R[$2,${3}_hbusy]:-n/a}"
}

print_table() {
	local l n
	echo
	echo "== mvsock isolation benchmark: ping-pong latency idle vs under a bulk stream"
	echo "   outer VM (host, CID 2, our mvsock_vhost): $(uname -r), $(nproc) vCPUs (QEMU TCG)"
	echo "   inner guest: our mvsock_virtio, devices A (CID $CID_A) and B (CID $CID_B)," \
		"$BENCH_ISOLATION_INNER_SMP vCPU(s), 128 MiB (QEMU TCG inside TCG)"
	echo "   ping-pong: host -> B (separate devices) or -> A (one device);" \
		"bulk stream: host -> A, $BENCH_ISOLATION_BUF writes"
	echo "   ratio = loaded / idle (lower is better); median of $BENCH_ISOLATION_REPS rounds"
	echo
	nb_table_head idle loaded
	nb_table_row "separate devices: p50 RTT (us)" "${R[sep,idle_p50]:-}" "${R[sep,loaded_p50]:-}" lat info
	nb_table_row "separate devices: p99 RTT (us)" "${R[sep,idle_p99]:-}" "${R[sep,loaded_p99]:-}" lat "<=1.5"
	nb_table_row "one device: p50 RTT (us)" "${R[one,idle_p50]:-}" "${R[one,loaded_p50]:-}" lat info
	nb_table_row "one device: p99 RTT (us)" "${R[one,idle_p99]:-}" "${R[one,loaded_p99]:-}" lat info
	stream_row "bulk, separate devices (Gbit/s)" sep
	stream_row "bulk, one device (Gbit/s)" one
	nb_table_row "control, guest CPU: p50 RTT (us)" "${R[sep,idle_p50]:-}" "${R[cpu,loaded_p50]:-}" lat info
	nb_table_row "control, guest CPU: p99 RTT (us)" "${R[sep,idle_p99]:-}" "${R[cpu,loaded_p99]:-}" lat info
	nb_table_row "control, both CPUs: p50 RTT (us)" "${R[sep,idle_p50]:-}" "${R[cpu2,loaded_p50]:-}" lat info
	nb_table_row "control, both CPUs: p99 RTT (us)" "${R[sep,idle_p99]:-}" "${R[cpu2,loaded_p99]:-}" lat info
	echo
	echo "CPUs busy during the ping-pong (%, all CPUs; median of the rounds):"
	echo
	echo "| during the ping-pong             |     guest |  outer VM |"
	echo "|----------------------------------|----------:|----------:|"
	cpu_row "separate devices, idle" sep idle
	cpu_row "separate devices, loaded" sep loaded
	cpu_row "one device, loaded" one loaded
	cpu_row "control, guest CPU" cpu loaded
	cpu_row "control, both CPUs" cpu2 loaded
	echo
	echo "RTT rows: idle = no other traffic; loaded = while the bulk stream runs;"
	echo "control = ping-pong on B while busy loops run, no stream: guest CPU = one"
	echo "in the inner guest; both CPUs = one there and one in the outer VM (the"
	echo "host); against the same idle figure as separate devices."
	echo "Bulk rows: idle = the stream alone; loaded = the stream during the loaded"
	echo "ping-pong (its rate over the whole stream, which outlasts the ping-pong)."
	awk -v i="${R[sep,idle_p99]:-}" -v l="${R[sep,loaded_p99]:-}" 'BEGIN {
		if (i > 0 && l > 0)
			printf "goal (issue 4): p99 loaded <= 1.5x idle (separate devices): %.2fx %s\n",
				l / i, (l / i <= 1.5) ? "PASS" : "FAIL"
		else
			print "goal (issue 4): p99 loaded <= 1.5x idle (separate devices): n/a (no figures)"
	}'
	awk -v s="${R[sep,idle_p99]:-}" -v sl="${R[sep,loaded_p99]:-}" \
		-v o="${R[one,idle_p99]:-}" -v ol="${R[one,loaded_p99]:-}" 'BEGIN {
		if (s > 0 && sl > 0 && o > 0 && ol > 0)
			printf "p99 under load, one device / separate devices: %.2fx\n", ol / sl
	}'
	for l in sep one; do
		n=$(wc -w <<<"${NB_V[$l,invalid]:-}")
		[ "$n" = 0 ] ||
			echo "note: $(layout_name "$l"): $n loaded measurement(s) invalid (the stream ended before the ping-pong) and repeated"
		n=$(wc -w <<<"${NB_V[$l,loaded_p99]:-}")
		[ "$n" = "$BENCH_ISOLATION_REPS" ] ||
			echo "note: $(layout_name "$l"): $n valid loaded measurement(s) of $BENCH_ISOLATION_REPS rounds"
	done
	[ -z "${NB_V[all,short_runs]:-}" ] ||
		echo "note: ${NB_V[all,short_runs]} vsock_perf runs read less than was sent" \
			"(the receiver stops at POLLRDHUP; rates count what was read)"
	return 0
}

vm_main() {
	local rc inner_to log key t0=$SECONDS status=0
	bench_in_vm "outer VM" mvsock-bench-isolation
	nb_tmp
	log=$NB_TMP/run.log
	: >"$log"
	say "$BENCH_ISOLATION_REPS rounds of: ping-pong ${BENCH_ISOLATION_SECS}s idle and under a" \
		"bulk stream ($BENCH_ISOLATION_BUF writes), separate devices and one device;" \
		"modules from $NB_KO_DIR"
	inner_to=$(( BENCH_ISOLATION_TIMEOUT - 60 ))
	if ! nb_host_load ours; then
		say "ERROR: cannot load our host driver"
		return 1
	fi
	# shellcheck disable=SC2046 # nb_inner_adds: a list of options
	nb_run_inner isolation "$inner_to" "$BENCH_ISOLATION_BOOT_TRIES" "$log" \
		--vsock 2 --cid "$CID_A" --smp "$BENCH_ISOLATION_INNER_SMP" \
		$(nb_inner_adds ours-guest) \
		--host "'$ROOT/scripts/bench-isolation.sh' --measure"
	rc=$?
	[ "$rc" = 0 ] || status=1
	if ! nb_host_unload ours; then
		say "ERROR: cannot unload our host driver"
		status=1
	fi

	nb_collect "$log"
	echo
	nb_medians R ',(short_runs|invalid)$'
	print_table
	say "outer VM time $((SECONDS - t0)) s"
	bench_kernel_log "mvsock-bench-isolation: start" "outer kernel warnings/errors logged during the bench:"
	nb_cleanup
	return $status
}

###########################################################################
# On the build machine
###########################################################################

host_main() {
	local log start
	start=$(date +%s)
	bench_host_begin BENCH_ISOLATION
	nb_prepare ours-guest mvsock mvsock_vhost mvsock_virtio || exit 1
	log=$OUT/last-isolation.txt
	bench_log_header "$log" "modules from ${NB_KO_DIR#"$ROOT"/}"
	echo "bench-isolation: booting the outer VM; one inner guest boot of 80-330 s" \
		"under TCG: the whole run takes several minutes (8-25, depending on the load)" | tee -a "$log"

	local MVSOCK_KO_DIR=$NB_KO_DIR
	export VM_ENV
	VM_ENV="${VM_ENV:-}$(vm_env_words BENCH_ISOLATION_REPS BENCH_ISOLATION_SECS \
		BENCH_ISOLATION_BUF BENCH_ISOLATION_KIB BENCH_ISOLATION_INNER_SMP \
		BENCH_ISOLATION_TIMEOUT BENCH_ISOLATION_BOOT_TRIES BENCH_ISOLATION_CONTROL \
		MVSOCK_KO_DIR NESTED_BUILD)"
	nb_outer_run isolation $((BENCH_ISOLATION_TIMEOUT + 60)) "$log" "$start"
}

case "${1:-}" in
--in-vm)
	[ $# -eq 1 ] || { echo "usage: $0 --in-vm" >&2; exit 2; }
	vm_main
	exit $?
	;;
--measure)
	[ $# -eq 1 ] || { echo "usage: $0 --measure" >&2; exit 2; }
	measure_main
	exit $?
	;;
"") host_main ;;
*)
	bench_usage Measured
	;;
esac
