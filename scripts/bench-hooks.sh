#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cost of mvsock's tracepoints and BPF hooks (issue 5), over the
# loopback device in one QEMU (TCG) guest. Not a test: ratios below the
# target are reported as FAIL, the exit status is 0 unless the build or
# the VM run itself failed.
#
# Usage: scripts/bench-hooks.sh                      (make bench runs it)
#        scripts/bench-hooks.sh --in-vm VSOCK_PERF   (inside the guest only)
#
# Nine configurations, measured round by round in this order (0 a b c t v p
# s u, 0 a b ...: a slow drift of the host hits all of them alike); every
# figure is the median over the rounds:
#   0  build/nohooks/kernel/ (make modules-nohooks): no tracepoints and no
#      BPF hooks compiled in
#   a  kernel/, the normal build, nothing attached
#   b  kernel/ + build/bpf/tp_count: a counting BPF program on every
#      mvsock:* event (raw tracepoint programs, as BPF tools attach them);
#      the counts are printed
#   c  kernel/ + build/bpf/host_policy attached (rule "1:" the bench's
#      ports); its accept hook runs for every connection, which is checked
#      with the program's run count after the measurement
#   t  as b, but classic tracepoint programs (tp_count -c: the kernel
#      formats every event's perf record before the program runs);
#      information only, t/a shows what that formatting adds
#   v  kernel/ + build/tools/vsocktop -o json -i 1 running (its BPF
#      programs on the mvsock:* events it uses, its maps read every
#      second); the issue's vsocktop cost, v/a
#   p  kernel/ + a 100-rule policy loaded with build/tools/vsockctl (49
#      `in` and 49 `out` rules that do not match the bench's ports, then
#      `allow in cid 1` and `allow out cid 1`: every connection scans all
#      of them twice); p/a is the policy's cost. After the measurement,
#      vc_conn (build/vsockctl-tests) connects for a second each to an
#      allowed port, a port denied by an `out` rule (connect() fails at
#      once) and one denied by an `in` rule (the peer answers RST): a
#      denied connect must cost less than an allowed one
#   s  stock vsock + vsock_loopback, nothing attached (ping-pong only)
#   u  as s, with the same counting program (raw tracepoint) on every
#      vsock:* event of the stock kernel (ping-pong only)
# s and u are a reference, information only: what one event with a
# counting program costs on the upstream kernel's own tracepoints in the
# same boot, against b's cost per event on ours (a table after the main
# one: p50 difference / events per round trip).
# In each: stream throughput (upstream vsock_perf, receiver --vsk-size 1M,
# the receiver's rate) for each size in BENCH_HOOKS_SIZES, transfers sized
# in a calibration run of configuration a for ~BENCH_HOOKS_SECS; 1-byte
# ping-pong (tools/bench/vsock_pingpong) p50 and p99; connections/s
# (tools/bench/vsock_connrate: the policy hook runs once per connection).
# Ratios: b/a, c/a, v/a, p/a (and t/a, information), and a/0 ("a is indistinguishable from a build
# without hooks"), > 1 meaning faster; target >= 0.97 (p99: information).
# The per-event table compares what one event costs with vsocktop (a, v)
# with one event of the counting program on stock's own tracepoints (s, u).
#
# Environment (defaults in brackets):
#   BENCH_HOOKS_REPS [3]  BENCH_HOOKS_SIZES ["4K 64K 1M"]  BENCH_HOOKS_SECS [2.5]
#   BENCH_HOOKS_LAT_SECS [2]  BENCH_HOOKS_CONN_SECS [2]
#   BENCH_HOOKS_CONFIGS ["0 a b c t v p s u"]
#   BENCH_HOOKS_EVENTS [all]  the events b and t attach to (tp_count's
#                             arguments, e.g. "mvsock_pkt_tx mvsock_pkt_rx")  BENCH_HOOKS_TIMEOUT [1800] (VM)
#   BENCH_SMP [2]  KVER (see scripts/kver.sh)
#   MVSOCK_KO_DIR [kernel, built first]  the normal build's modules
# Output: the table on stdout; a copy of the whole run in
# build/bench/last-hooks.txt (with date, kernel and git revision).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BENCH_PFX=hooks
# shellcheck source=scripts/lib/bench-common.sh
. "$HERE/lib/bench-common.sh"
ROOT=$(cd "$HERE/.." && pwd -P)
OUT=$ROOT/build/bench
KO_DIR=$(bench_ko_dir)
NOHOOKS_DIR=$ROOT/build/nohooks/kernel
BPF_DIR=$ROOT/build/bpf
BPFTOOL=$BPF_DIR/bpftool/bpftool

: "${BENCH_HOOKS_REPS:=3}"
: "${BENCH_HOOKS_SIZES:=4K 64K 1M}"
: "${BENCH_HOOKS_SECS:=2.5}"
: "${BENCH_HOOKS_LAT_SECS:=2}"
: "${BENCH_HOOKS_CONN_SECS:=2}"
: "${BENCH_HOOKS_CONFIGS:=0 a b c t v p s u}"
: "${BENCH_HOOKS_EVENTS:=}"
TARGET=0.97

###########################################################################
# Guest side
###########################################################################

cfg_name() {
	case "$1" in
	0) echo "no hooks built" ;;
	a) echo "nothing attached" ;;
	b) echo "tracepoints+BPF" ;;
	c) echo "host_policy" ;;
	t) echo "classic tracepoints+BPF" ;;
	v) echo "vsocktop running" ;;
	p) echo "100-rule policy" ;;
	s) echo "stock, nothing attached" ;;
	u) echo "stock, tracepoints+BPF" ;;
	esac
}

declare -A V=()		# V[cfg,key] = per-round values, space-separated
declare -A MED=()	# MED[cfg,key] = median
declare -A MIB=()	# MIB[size] = MiB per transfer (calibrated)
NEXT_PORT=30000
FAILS=0

# One vsock_perf transfer; sets GBPS (the receiver's rate, Gbit/s).
GBPS=
perf_gbps() { # size MiB
	local port=$((NEXT_PORT++)) rx rlog=$TMPD/rx
	GBPS=
	perf_rx_start "$port" "$1" "$rlog" 300
	rx=$PERF_RX_PID
	wait_listen "$port"
	if ! perf_tx 1 "$port" "$2M" "$1" "$TMPD/tx" || ! wait "$rx"; then
		kill "$rx" 2>/dev/null
		wait "$rx" 2>/dev/null
		say "  vsock_perf $1 x $2M failed:"
		sed 's/^/hooks:     /' "$TMPD/tx" "$rlog"
		return 1
	fi
	GBPS=$(perf_value "$rlog" rx_gbps)
	[ -n "$GBPS" ]
}

LOADER_PID=
LOADER_LOG=

# Start a loader in the background; wait for its "attached" line (or,
# with LOADER_READY set, a line matching that).
start_loader() { # log program args...
	local i log=$1
	shift
	LOADER_LOG=$log
	"$@" >"$log" 2>&1 &
	LOADER_PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q "${LOADER_READY:-^attached}" "$log" && return 0
		kill -0 "$LOADER_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "  ${1##*/} did not attach:"
	sed 's/^/hooks:     /' "$log"
	stop_loader
	return 1
}

stop_loader() {
	[ -n "$LOADER_PID" ] || return 0
	kill -TERM "$LOADER_PID" 2>/dev/null
	wait "$LOADER_PID"
	local rc=$?
	LOADER_PID=
	return $rc
}

# Load the modules of a configuration, with its BPF programs attached
# between mvsock.ko and mvsock_loopback.ko (so that tp_count sees the
# loopback device come and go too).
setup() { # cfg round
	local dir=$KO_DIR ports p
	case "$1" in
	s) modprobe vsock_loopback; return ;;
	u) setup_stock_counted "$2"; return ;;
	0) dir=$NOHOOKS_DIR ;;
	esac
	insmod "$dir/mvsock.ko" || return 1
	case "$1" in
	0)
		if [ -e /sys/kernel/tracing/events/mvsock ] ||
			[ -e /sys/module/mvsock/parameters/bpf_ops ]; then
			say "ERROR: $dir/mvsock.ko has tracepoints or BPF hooks"
			return 1
		fi
		;;
	b)
		# shellcheck disable=SC2086 # one argument per event
		start_loader "$TMPD/tp_count.$2" "$BPF_DIR/tp_count" $BENCH_HOOKS_EVENTS || return 1
		;;
	t)
		# shellcheck disable=SC2086 # one argument per event
		start_loader "$TMPD/tp_count.$2" "$BPF_DIR/tp_count" -c $BENCH_HOOKS_EVENTS || return 1
		;;
	v)
		# ready once it printed its first snapshot
		LOADER_READY='^{' start_loader "$TMPD/vsocktop.$2" \
			"$ROOT/build/tools/vsocktop" -o json -i 1 || return 1
		;;
	p)
		policy_rules >"$TMPD/p100.rules"
		"$VSOCKCTL" policy load "$TMPD/p100.rules" >"$TMPD/vsockctl.$2" 2>&1 ||
			{ say "ERROR: vsockctl policy load:"; sed 's/^/hooks:     /' "$TMPD/vsockctl.$2"; return 1; }
		;;
	c)
		# the ports this round of c will use (rule CID 1: loopback)
		ports=$NEXT_PORT
		for ((p = NEXT_PORT + 1; p < NEXT_PORT + 16; p++)); do ports+=,$p; done
		start_loader "$TMPD/host_policy.$2" "$BPF_DIR/host_policy" "1:$ports" || return 1
		p=$(cat /sys/module/mvsock/parameters/bpf_ops)
		[ "$p" = host_policy ] || { say "ERROR: bpf_ops is '$p'"; return 1; }
		;;
	esac
	insmod "$dir/mvsock_loopback.ko"
}

# Stock vsock_loopback with tp_count on every vsock:* event (raw programs
# attach by the event's name, whatever its system).
setup_stock_counted() { # round
	local ev
	modprobe vsock_loopback || return 1
	ev=$(find /sys/kernel/tracing/events/vsock -mindepth 1 -maxdepth 1 \
		-type d -printf '%f ' 2>/dev/null)
	[ -n "$ev" ] || { say "ERROR: stock vsock has no tracepoints here"; return 1; }
	# shellcheck disable=SC2086 # one argument per event
	start_loader "$TMPD/tp_count.u$1" "$BPF_DIR/tp_count" $ev
}

teardown_stock() {
	local rc=0
	stop_loader || rc=1
	unload_stock_loopback || rc=1
	return $rc
}

teardown() { # cfg round
	local rc=0 line
	case "$1" in s | u) teardown_stock; return ;; esac
	rmmod_retry mvsock_loopback || rc=1
	if [ "$1" = p ] && ! "$VSOCKCTL" policy clear >/dev/null; then
		say "  vsockctl policy clear failed"
		rc=1
	fi
	if ! stop_loader; then
		say "  the loader failed:"
		sed 's/^/hooks:     /' "$LOADER_LOG"
		rc=1
	elif [ "$1" = v ]; then
		say "  v round $2: vsocktop printed $(grep -c '^{' "$LOADER_LOG") snapshots"
	elif [ "$1" = b ] || [ "$1" = t ]; then
		line=$(grep '^total' "$LOADER_LOG")
		say "  $1 round $2: tp_count: $(sed -n 's/^attached \([0-9]*\) events (\([a-z]*\)).*/\1 events attached (\2)/p' "$LOADER_LOG"); $line"
		if [ "$2" = 1 ]; then
			say "  counts per event (round 1):"
			awk '$1 == "count" { printf "hooks:     %-22s %12s\n", $2, $3 }' "$LOADER_LOG"
		else
			line=$(awk '$1 == "count" && $3 == 0 { z = z " " $2 } END { print z }' "$LOADER_LOG")
			[ -z "$line" ] || say "  events without a count:$line"
		fi
	fi
	rmmod_retry mvsock || rc=1
	return $rc
}

# configuration p's rules: 100, none matching the bench's ports before
# the last two; port 21048 (out) and 20048 (in) are the denied ones
policy_rules() {
	local i
	echo "default deny"
	for ((i = 0; i < 49; i++)); do echo "deny in cid 1 port $((20000 + i))"; done
	for ((i = 0; i < 49; i++)); do echo "deny out cid 1 port $((21000 + i)) errno EACCES"; done
	echo "allow in cid 1"
	echo "allow out cid 1"
}

# p: connect()s per second to an allowed port and to denied ones, a
# second each (vc_conn), with the rule counters as proof that they ran
policy_deny_cost() { # round
	local port=$((NEXT_PORT++)) srv=() k line rate
	"$MDTOOL" serve -n 1000000 "$port" >"$TMPD/srv" 2>&1 &
	srv+=($!)
	"$MDTOOL" serve -n 1000000 20048 >"$TMPD/srv2" 2>&1 &
	srv+=($!)
	wait_listen "$port"
	wait_listen 20048
	for k in "allowed:$port" "out_denied:21048" "in_denied:20048"; do
		line=$(timeout 60 "$VC_CONN" -t 1 1 "${k#*:}" | grep '^port=')
		rate=$(sed -n 's/.* per_s=\([0-9.]*\).*/\1/p' <<<"$line")
		[ -n "$rate" ] && add p "conn_${k%%:*}" "$rate"
		say "  p round $1: ${k%%:*} (port ${k#*:}): $line"
	done
	kill "${srv[@]}" 2>/dev/null
	wait "${srv[@]}" 2>/dev/null
	say "  p round $1: $("$VSOCKCTL" policy show | grep -E '^(default|allow)' | tr -s ' ' | tr '\n' ';')"
	policy_prog_cost "$1"
}

# p: the policy programs' own time per run (bpf_stats) over a 1-second
# connection run, against the time of a connection
policy_prog_cost() { # round
	local port=$((NEXT_PORT++)) n0 t0 n1 t1 line
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r n0 t0 < <(prog_stats vc_connect vc_accept)
	line=$(timeout 60 "$BIN/vsock_connrate" --port "$port" --time 1)
	read -r n1 t1 < <(prog_stats vc_connect vc_accept)
	sysctl -qw kernel.bpf_stats_enabled=0
	awk -v r="$1" -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v c="$(kv "$line" conn_per_s)" 'BEGIN {
		if (n <= 0 || c <= 0) { print "hooks:   p round " r ": no program runs counted"; exit }
		# (the run lasts 1 s: t ns of it were the programs)
		printf "hooks:   p round %s: vc_connect + vc_accept %.0f ns per run, %.1f runs per connection, %.2f%% of the run at %s connections/s\n",
			r, t / n, n / c, 100 * t / 1e9, c }'
}

# "RUN_CNT RUN_TIME_NS" of the programs NAME... added up (bpftool; 0 0
# without stats)
prog_stats() { # name...
	local prog
	for prog in "$@"; do "$BPFTOOL" prog show name "$prog"; done | awk '{
		for (i = 1; i < NF; i++) {
			if ($i == "run_cnt") c += $(i + 1)
			if ($i == "run_time_ns") t += $(i + 1)
		} } END { print c + 0, t + 0 }'
}

# The policy program's run count (and time) over 3 new connections (bpf_stats only
# for this check, so it does not weigh on the measurement).
policy_proof() { # round
	local before after i ns1 n1 ns2 line port=$((NEXT_PORT++))
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r before _ < <(prog_stats hp_accept)
	for ((i = 0; i < 3; i++)); do
		timeout 60 "$BIN/vsock_pingpong" --port $((NEXT_PORT++)) --iters 1 --warmup 0 >/dev/null
	done
	read -r after ns1 < <(prog_stats hp_accept)
	say "  c round $1: bpf_ops=$(cat /sys/module/mvsock/parameters/bpf_ops)," \
		"hp_accept ran $((${after:-0} - ${before:-0})) times for 3 connections"
	# its cost over a 1-second connection run (3 runs are too few: the
	# first runs of new code are slow under TCG)
	line=$(timeout 60 "$BIN/vsock_connrate" --port "$port" --time 1)
	read -r n1 ns2 < <(prog_stats hp_accept)
	sysctl -qw kernel.bpf_stats_enabled=0
	awk -v r="$1" -v n=$((n1 - after)) -v t=$((ns2 - ns1)) -v c="$(kv "$line" conn_per_s)" 'BEGIN {
		if (n <= 0 || c <= 0) { print "hooks:   c round " r ": no program runs counted"; exit }
		printf "hooks:   c round %s: hp_accept %.0f ns per run over %d connections (%.2f%% of a connection at %s/s)\n",
			r, t / n, n, 100 * t / n / 1e9 * c, c }'
}

# What the counting program itself costs, by bpf_stats (measured apart:
# the stats add two clock reads per run): runs and run time during a
# 1-second ping-pong, per event and per round trip.
event_cost() { # cfg round
	local prog=count_raw n0 t0 n1 t1 line iters port=$((NEXT_PORT++))
	[ "$1" = t ] && prog=count_event
	# vsocktop's programs (tp_btf)
	[ "$1" = v ] && prog="btf_pkt_done btf_deliver btf_sock_state btf_stall btf_queue"
	sysctl -qw kernel.bpf_stats_enabled=1
	# shellcheck disable=SC2086 # one argument per program
	read -r n0 t0 < <(prog_stats $prog)
	line=$(timeout 60 "$BIN/vsock_pingpong" --port "$port" --time 1)
	# shellcheck disable=SC2086 # one argument per program
	read -r n1 t1 < <(prog_stats $prog)
	sysctl -qw kernel.bpf_stats_enabled=0
	iters=$(kv "$line" iters)
	[ "${iters:-0}" -gt 0 ] && [ $((n1 - n0)) -gt 0 ] &&
		add "$1" ev_rtt "$(awk -v n=$((n1 - n0)) -v i="$iters" 'BEGIN { printf "%.2f", n / i }')"
	awk -v c="$1" -v r="$2" -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v i="${iters:-0}" \
		-v p50="$(kv "$line" p50_us)" 'BEGIN {
		if (n <= 0 || i <= 0) { print "hooks:   " c " round " r ": no program runs counted"; exit }
		printf "hooks:   %s round %s: %.1f events per round trip, the program %.0f ns per event," \
			" %.2f us per round trip (%.1f%% of p50 %s us)\n", c, r, n / i, t / n, t / i / 1000,
			100 * t / i / 1000 / p50, p50 }'
}

measure() { # cfg round
	local c=$1 b line sum='' p1 p2 sizes=$BENCH_HOOKS_SIZES ref=0
	case "$c" in s | u) ref=1 sizes= ;; esac	# the reference: ping-pong only
	for b in $sizes; do
		if perf_gbps "$b" "${MIB[$b]}"; then
			add "$c" "stream_$b" "$GBPS"
			sum+=" $b=$GBPS"
		else
			FAILS=$((FAILS + 1))
		fi
	done
	p1=$((NEXT_PORT++))
	p2=$((NEXT_PORT++))
	if line=$(timeout 120 "$BIN/vsock_pingpong" --port "$p1" \
		--time "$BENCH_HOOKS_LAT_SECS"); then
		add "$c" pp_p50 "$(kv "$line" p50_us)"
		add "$c" pp_p99 "$(kv "$line" p99_us)"
		sum+=" p50=$(kv "$line" p50_us)us p99=$(kv "$line" p99_us)us"
	else
		FAILS=$((FAILS + 1))
	fi
	if [ "$ref" = 1 ]; then
		:
	elif line=$(timeout 120 "$BIN/vsock_connrate" --port "$p2" \
		--time "$BENCH_HOOKS_CONN_SECS"); then
		add "$c" connrate "$(kv "$line" conn_per_s)"
		sum+=" conn/s=$(kv "$line" conn_per_s)"
	else
		FAILS=$((FAILS + 1))
	fi
	say "round $2 $c ($(cfg_name "$c")):$sum"
}

# A ratio x/y (thr) or y/x (lat) with PASS/FAIL against TARGET.
ratio() { # kind x y info
	awk -v k="$1" -v x="$2" -v y="$3" -v i="$4" -v t="$TARGET" 'BEGIN {
		if (x == "" || y == "" || x <= 0 || y <= 0) { printf "%-12s", "n/a"; exit }
		r = (k == "lat") ? y / x : x / y
		printf "%6.3f %-5s", r, i ? "(i)" : (r >= t ? "PASS" : "FAIL") }'
}

row() { # label key kind info
	local c vals=() r1 r2 r3 r4 r5 r6
	for c in 0 a b c t v p; do vals+=("${MED[$c,$2]:-n/a}"); done
	r1=$(ratio "$3" "${MED[a,$2]:-}" "${MED[0,$2]:-}" "$4")
	r2=$(ratio "$3" "${MED[b,$2]:-}" "${MED[a,$2]:-}" "$4")
	r3=$(ratio "$3" "${MED[c,$2]:-}" "${MED[a,$2]:-}" "$4")
	r4=$(ratio "$3" "${MED[t,$2]:-}" "${MED[a,$2]:-}" 1)
	r5=$(ratio "$3" "${MED[v,$2]:-}" "${MED[a,$2]:-}" "$4")
	r6=$(ratio "$3" "${MED[p,$2]:-}" "${MED[a,$2]:-}" "$4")
	printf '| %-24s | %9s | %9s | %9s | %9s | %9s | %9s | %9s | %-12s | %-12s | %-12s | %-12s | %-12s | %-12s |\n' \
		"$1" "${vals[@]}" "$r1" "$r2" "$r3" "$r4" "$r5" "$r6"
}

report() {
	local b key c
	echo
	echo "== mvsock hook cost (loopback): $BENCH_HOOKS_REPS rounds, medians"
	echo "   guest: $(uname -r), $(nproc) vCPUs (QEMU TCG)"
	echo "   0: build without tracepoints and BPF hooks; a: normal build, nothing"
	echo "   attached; b: a counting BPF program (raw tracepoint) on every mvsock"
	echo "   event; c: host_policy attached; t: as b with classic tracepoint programs;"
	echo "   v: vsocktop -o json -i 1 running; p: a 100-rule vsockctl policy loaded."
	echo "   Ratio > 1 = faster than the reference (a/0: a vs 0; b/a, c/a, t/a, v/a, p/a vs a),"
	echo "   target >= $TARGET; (i): information only."
	echo
	printf '| %-24s | %9s | %9s | %9s | %9s | %9s | %9s | %9s | %-12s | %-12s | %-12s | %-12s | %-12s | %-12s |\n' \
		metric 0 a b c t v p a/0 b/a c/a t/a v/a p/a
	echo '|--------------------------|----------:|----------:|----------:|----------:|----------:|----------:|----------:|--------------|--------------|--------------|--------------|--------------|--------------|'
	for b in $BENCH_HOOKS_SIZES; do
		row "stream $b (Gbit/s)" "stream_$b" thr ""
	done
	row "ping-pong p50 (us)" pp_p50 lat ""
	row "ping-pong p99 (us)" pp_p99 lat 1
	row "connections/s" connrate thr ""
	echo
	echo "Spread of the rounds, (max - min) / median (a difference smaller than"
	echo "the spread cannot be told from noise with $BENCH_HOOKS_REPS rounds):"
	for key in $(for b in $BENCH_HOOKS_SIZES; do echo "stream_$b"; done) pp_p50 pp_p99 connrate; do
		printf '  %-14s' "$key"
		for c in 0 a b c t v p s u; do
			# shellcheck disable=SC2086 # one argument per round
			[ -n "${V[$c,$key]:-}" ] && printf '  %s: %5s' "$c" "$(spread ${V[$c,$key]})"
		done
		echo
	done
	per_event_report
	policy_report
}

# p: what a denied connect costs against an allowed one
policy_report() {
	[ -n "${MED[p,conn_allowed]:-}" ] || return 0
	echo
	echo "Policy (p, 100 rules): connect() calls per second, one second each (vc_conn)"
	printf '  allowed %s/s, denied by an out rule %s/s, denied by an in rule (RST) %s/s: ' \
		"${MED[p,conn_allowed]}" "${MED[p,conn_out_denied]:-n/a}" "${MED[p,conn_in_denied]:-n/a}"
	awk -v a="${MED[p,conn_allowed]}" -v o="${MED[p,conn_out_denied]:-0}" \
		-v i="${MED[p,conn_in_denied]:-0}" 'BEGIN {
		print (o > a && i > a) ? "a denied connect costs less: PASS" : "a denied connect costs less: FAIL" }'
}

# One line of the per-event table: p50 without and with the counting
# program, events per round trip, and the difference per event.
per_event_row() { # label cfg-without cfg-with
	awk -v l="$1" -v x="${MED[$2,pp_p50]:-}" -v y="${MED[$3,pp_p50]:-}" \
		-v e="${MED[$3,ev_rtt]:-}" 'BEGIN {
		if (x == "" || y == "" || e == "" || e <= 0) {
			printf "| %-18s | %9s | %9s | %6s | %9s |\n", l, "n/a", "n/a", "n/a", "n/a"; exit }
		printf "| %-18s | %9.2f | %9.2f | %6.2f | %9.3f |\n", l, x, y, e, (y - x) / e }'
}

per_event_report() {
	[ -n "${MED[u,pp_p50]:-}" ] || return 0	# s and u were measured
	echo
	echo "Per event (information): ping-pong p50 without and with a counting BPF"
	echo "program (raw tracepoint) on every event, the events per round trip"
	echo "(bpf_stats run counts), and the p50 difference per event; ours: a, b;"
	echo "stock (vsock_loopback, its own vsock:* tracepoints): s, u."
	echo
	printf '| %-18s | %9s | %9s | %6s | %9s |\n' stack "p50 (us)" "+BPF (us)" "ev/RT" "us/event"
	echo '|--------------------|----------:|----------:|-------:|----------:|'
	per_event_row "ours (a, b)" a b
	per_event_row "vsocktop (a, v)" a v
	per_event_row "stock (s, u)" s u
	# vsocktop's target: an event costs it no more than the counting
	# program costs one of stock's own events
	awk -v a="${MED[a,pp_p50]:-}" -v v="${MED[v,pp_p50]:-}" -v ev="${MED[v,ev_rtt]:-}" \
		-v s="${MED[s,pp_p50]:-}" -v u="${MED[u,pp_p50]:-}" -v eu="${MED[u,ev_rtt]:-}" 'BEGIN {
		if (a == "" || v == "" || ev <= 0 || s == "" || u == "" || eu <= 0) exit
		x = (v - a) / ev; y = (u - s) / eu
		printf "\nvsocktop per event %.3f us, stock counting program per event %.3f us: %s\n",
			x, y, x <= y ? "PASS" : "FAIL" }'
}

guest_main() {
	local round c key b t0=$SECONDS line
	PERF=$1
	BIN=$OUT
	VSOCKCTL=$ROOT/build/tools/vsockctl
	VC_CONN=$ROOT/build/vsockctl-tests/vc_conn
	MDTOOL=$ROOT/build/multidev/mdtool
	bench_in_vm guest mvsock-bench-hooks
	TMPD=$(mktemp -d)
	say "$BENCH_HOOKS_REPS rounds of: $BENCH_HOOKS_CONFIGS; sizes $BENCH_HOOKS_SIZES" \
		"(~${BENCH_HOOKS_SECS}s per transfer), ping-pong ${BENCH_HOOKS_LAT_SECS}s," \
		"connect rate ${BENCH_HOOKS_CONN_SECS}s"

	# Calibration, on configuration a: the same transfer sizes for all.
	if ! setup a 0; then
		say "ERROR: cannot set up the normal build"
		exit 1
	fi
	for b in $BENCH_HOOKS_SIZES; do
		perf_gbps "$b" 16 || GBPS=0.1
		MIB[$b]=$(awk -v g="$GBPS" -v s="$BENCH_HOOKS_SECS" 'BEGIN {
			m = int(g * 1e9 / 8 * s / 1048576 + 0.5)
			if (m < 16) m = 16; if (m > 16384) m = 16384; print m }')
		say "calibration $b: $GBPS Gbit/s -> ${MIB[$b]} MiB per transfer"
	done
	teardown a 0 || exit 1

	for ((round = 1; round <= BENCH_HOOKS_REPS; round++)); do
		for c in $BENCH_HOOKS_CONFIGS; do
			if ! setup "$c" "$round"; then
				say "ERROR: cannot set up configuration $c; stopping"
				teardown "$c" "$round"
				break 2
			fi
			measure "$c" "$round"
			[ "$c" != c ] || policy_proof "$round"
			[ "$c" != p ] || policy_deny_cost "$round"
			case "$c" in b | t | u | v) event_cost "$c" "$round" ;; esac
			if ! teardown "$c" "$round"; then
				say "ERROR: configuration $c did not end cleanly; stopping"
				break 2
			fi
		done
	done

	echo
	bench_medians V MED 18
	report
	echo
	[ "$FAILS" = 0 ] || say "$FAILS measurements failed (see above)"
	say "guest time $((SECONDS - t0)) s"
	bench_kernel_log 'mvsock-bench-hooks: start' 'kernel warnings/errors logged during the run:'
	rm -rf "$TMPD"
}

###########################################################################
# Host side
###########################################################################

host_main() {
	local perf rc log start others
	start=$(date +%s)
	bench_host_begin
	echo "hooks: building: modules${MVSOCK_KO_DIR:+ (not: using $KO_DIR)}, modules-nohooks, bpf/, tools/bench"
	{
		if [ -z "${MVSOCK_KO_DIR:-}" ]; then make -C "$ROOT" modules || exit 1; fi
		make -C "$ROOT" modules-nohooks && make -C "$ROOT/bpf" &&
			make -C "$ROOT/tools/vsocktop" && make -C "$ROOT/tools/vsockctl" &&
			make -C "$ROOT/selftests" &&
			make -C "$ROOT/tools/bench" OUT="$OUT"
	} >"$OUT/hooks-build.log" 2>&1 || {
		tail -n 30 "$OUT/hooks-build.log"
		echo "hooks: build failed (log: $OUT/hooks-build.log)" >&2
		exit 1
	}
	perf=$(bench_vsock_perf) || exit 1

	log=$OUT/last-hooks.txt
	bench_log_header "$log"
	export VM_ENV
	VM_ENV=$(vm_env_words BENCH_HOOKS_SIZES BENCH_HOOKS_CONFIGS BENCH_HOOKS_EVENTS \
		BENCH_HOOKS_REPS BENCH_HOOKS_SECS BENCH_HOOKS_LAT_SECS \
		BENCH_HOOKS_CONN_SECS)${MVSOCK_KO_DIR:+ MVSOCK_KO_DIR=$KO_DIR}
	bench_vm_run "$log" "${BENCH_SMP:-2}" "${BENCH_HOOKS_TIMEOUT:-1800}" "" \
		scripts/bench-hooks.sh --in-vm "$perf"
	rc=$?
	others=$(pgrep -c -f '^qemu-system' 2>/dev/null || true)
	echo "hooks: at the end: load average $(cut -d' ' -f1-3 /proc/loadavg)," \
		"${others:-0} other QEMU guest(s); wall time $(($(date +%s) - start)) s;" \
		"output saved in ${log#"$ROOT"/}" | tee -a "$log"
	[ "$rc" = 0 ] ||
		echo "hooks: the VM run failed (status $rc); guest kernel log: build/vm/last-dmesg.txt" >&2
	exit "$rc"
}

if [ "${1:-}" = --in-vm ]; then
	[ $# -eq 2 ] || { echo "usage: $0 --in-vm VSOCK_PERF" >&2; exit 2; }
	vm_env_lists BENCH_HOOKS_SIZES BENCH_HOOKS_CONFIGS BENCH_HOOKS_EVENTS
	guest_main "$2"
	exit $?
fi
if [ $# -ne 0 ]; then
	bench_usage Nine
fi
host_main
