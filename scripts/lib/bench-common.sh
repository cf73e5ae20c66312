# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # sourced; sets variables for its caller
#
# The benchmark library: what the benchmark and demo scripts share, in the
# guest and on the build machine. Sourced by scripts/bench.sh,
# bench-hooks.sh, bench-host.sh, bench-nested.sh, bench-isolation.sh,
# perf-demo.sh and demo.sh (the last three through scripts/lib/nested-
# bench.sh, which adds the nested topology's pieces).
#
# Messages: say TEXT... prints "$BENCH_PFX: TEXT" (BENCH_PFX set by the
# script before sourcing; default "bench").
# Build machine:
#   bench_host_begin [SKIPVAR]     the start of a script's build-machine
#                                  side: exit 0 ("skipped") when $SKIPVAR
#                                  is 0; cd to the work tree; KVER from
#                                  scripts/kver.sh (exported; exit when
#                                  none); mkdir build/bench
#   bench_usage LAST               print the script's "# Usage:" block (up
#                                  to the line "# LAST...") and exit 2
#   bench_ko_dir                   our modules' directory: MVSOCK_KO_DIR
#                                  (relative to the work tree) or kernel/
#   bench_build_modules LOG        kernel/ as "make modules" builds it (the
#                                  top Makefile: KVER, MVSOCK_KSRC, so with
#                                  the host driver); output in LOG, its
#                                  tail shown when it failed
#   bench_vsock_perf               print the vsock_perf to use (relative to
#                                  the work tree): upstream's, from
#                                  selftests/upstream/build.sh, or else the
#                                  same program built by tools/bench
#   bench_log_header LOG [MORE]    start LOG: date, kernel, git revision
#                                  (and MORE), the machine's load
#   bench_sampler_start PHASEFILE OUT  sample every 5 s into OUT: the phase
#                                  (PHASEFILE's content), the other QEMU
#                                  guests running (the bench's own VM
#                                  excluded), the load average
#   bench_sampler_stop             stop sampling
#   bench_sampler_phases OUT       one summary line per phase (boot and end
#                                  left out)
#   bench_sampler_total OUT        one summary line for the whole run
#   bench_phase_filter PHASEFILE   copy stdin to stdout; a line
#                                  "$BENCH_PFX: phase X" writes X to
#                                  PHASEFILE (no file: copy only)
#   bench_vm_run LOG SMP TIMEOUT PHASEFILE CMD...
#                                  run CMD in a VM (selftests/vm/run.sh,
#                                  busy_run) with its output shown and
#                                  added to LOG; returns run.sh's status
#   vm_env_words NAME...           "NAME=VALUE" words for VM_ENV, lists
#                                  with commas (selftests/vm/run.sh)
#   vm_env_lists NAME...           in the VM: commas back to spaces
# Guest (measurements):
#   bench_in_vm WHERE [MARK]       exit 2 unless in the VM ("--in-vm is for
#                                  the WHERE only"); write "MARK: start" to
#                                  /dev/kmsg (for bench_kernel_log)
#   kv LINE KEY, wait_listen PORT, add LABEL KEY VALUE (V[LABEL,KEY])
#   median V..., spread V...       of the arguments
#   bench_medians SRC DST WIDTH [EXCLUDE]
#                                  DST[K] = median of SRC[K] for each key
#                                  (EXCLUDE: extended regex of keys left
#                                  out), one line each through say()
#   rmmod_retry MOD [TRIES] [INTERVAL], rmmod_all TRIES INTERVAL MOD...
#   bench_insmod DIR MOD...        insmod DIR/MOD.ko, in order
#   bench_modprobe_stock MOD       modprobe MOD, and vsock_diag for ss
#   unload_stock_loopback
#   perf_rx_start PORT BUF LOG [TIMEOUT]
#                                  a vsock_perf ($PERF) receiver in the
#                                  background (--vsk-size 1M): PERF_RX_PID
#   perf_tx PEER PORT BYTES BUF LOG [TIMEOUT]
#                                  a vsock_perf sender, in the foreground
#   perf_value LOG rx_bytes|rx_gbps|tx_secs
#                                  a figure of a vsock_perf log
#   bench_table_head WIDTH A B     Markdown header: metric | A | B | ratio
#                                  | target | result (WIDTH: the metric's)
#   bench_table_row WIDTH LABEL VA VB KIND TARGET
#                                  KIND thr: ratio VA/VB; lat: VB/VA (so > 1
#                                  always favours column A); TARGET a ratio
#                                  (at least: PASS or MISS), "<=X" (at most X:
#                                  PASS or FAIL) or "info"
#   bench_kernel_log MARK HEADING  kernel warnings since MARK, via say()
# Demos (scripts/demo.sh, scripts/perf-demo.sh), counting in FAILS:
#   section TITLE EXPLANATION      a numbered section header
#   fail TEXT...                   "$BENCH_PFX: FAILED: TEXT", FAILS + 1
#   demo_insmod DIR MOD            insmod DIR/MOD.ko, or fail and return 1

BENCH_ROOT=${BENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=scripts/lib/busy-host.sh
. "$BENCH_ROOT/scripts/lib/busy-host.sh"

say() { echo "${BENCH_PFX:-bench}: $*"; }

###########################################################################
# Build machine
###########################################################################

# shellcheck disable=SC2120 # the argument is optional
bench_host_begin() { # [skip-variable]
	if [ -n "${1:-}" ] && [ "${!1:-1}" = 0 ]; then
		say "skipped ($1=0)"
		exit 0
	fi
	cd "$BENCH_ROOT" || exit 1
	KVER=$("$BENCH_ROOT/scripts/kver.sh") || exit 1
	export KVER
	mkdir -p "$BENCH_ROOT/build/bench"
}

bench_usage() { # last-heading
	sed -n "/^# Usage:/,/^# $1/p" "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

bench_ko_dir() {
	local d=${MVSOCK_KO_DIR:-$BENCH_ROOT/kernel}
	[[ $d == /* ]] || d=$BENCH_ROOT/$d
	echo "$d"
}

bench_build_modules() { # log
	if ! make -C "$BENCH_ROOT" ${KVER:+KVER="$KVER"} modules >"$1" 2>&1; then
		tail -n 30 "$1"
		echo "${BENCH_PFX:-bench}: module build failed (log: ${1#"$BENCH_ROOT"/})" >&2
		return 1
	fi
}

bench_vsock_perf() {
	if [ -x "$BENCH_ROOT/build/upstream/vsock_perf" ]; then
		echo build/upstream/vsock_perf
		return 0
	fi
	echo "${BENCH_PFX:-bench}: build/upstream/vsock_perf missing: building vsock_perf into build/bench/" >&2
	make -s -C "$BENCH_ROOT/tools/bench" OUT="$BENCH_ROOT/build/bench" vsock_perf >&2 || return 1
	echo build/bench/vsock_perf
}

bench_log_header() { # log [more]
	echo "${BENCH_PFX:-bench}: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel ${KVER:-$(uname -r)}," \
		"git $(git -C "$BENCH_ROOT" describe --always --dirty 2>/dev/null || echo '?')${2:+, $2}" | tee "$1"
	# TCG guests are CPU-bound: anything else running skews the figures.
	echo "${BENCH_PFX:-bench}: host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
		"$(pgrep -c -f '^qemu-system' 2>/dev/null || true) other QEMU guest(s) running" | tee -a "$1"
}

BENCH_SAMPLER=

bench_sampler_start() { # phasefile out
	echo boot >"$1"
	(
		while sleep 5; do
			echo "$(cat "$1" 2>/dev/null) $(($(pgrep -c -f '^qemu-system' || true) - 1)) $(cut -d' ' -f1 /proc/loadavg)"
		done >"$2"
	) &
	BENCH_SAMPLER=$!
}

bench_sampler_stop() {
	[ -n "$BENCH_SAMPLER" ] && kill "$BENCH_SAMPLER" 2>/dev/null
	[ -n "$BENCH_SAMPLER" ] && wait "$BENCH_SAMPLER" 2>/dev/null
	BENCH_SAMPLER=
}

bench_sampler_phases() { # out
	awk -v pfx="${BENCH_PFX:-bench}" '$1 != "boot" && $1 != "end" {
		n[$1]++; if ($2 > 0) busy[$1]++; if ($2 > max[$1]) max[$1] = $2; load[$1] += $3
		if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 }
	} END {
		for (i = 1; i <= k; i++) { p = order[i]
			printf "%s: host while measuring %s: other QEMU guests running in %d%% of %d samples (max %d), mean load average %.2f%s\n",
				pfx, p, 100 * busy[p] / n[p], n[p], max[p], load[p] / n[p], busy[p] ? "; figures are noisy" : ""
		}
	}' "$1"
}

bench_sampler_total() { # out
	awk -v pfx="${BENCH_PFX:-bench}" '$2 > 0 { busy++ } $2 > max { max = $2 } END {
		if (NR) printf "%s: host during the run: other QEMU guests running in %d%% of %d samples (max %d)%s\n",
			pfx, 100 * busy / NR, NR, max, busy ? "; figures are noisy" : ""
	}' "$1"
}

bench_phase_filter() { # [phasefile]
	local f
	while IFS= read -r f; do
		printf '%s\n' "$f"
		case "$f" in
		"${BENCH_PFX:-bench}: phase "*)
			[ -z "${1:-}" ] || echo "${f#"${BENCH_PFX:-bench}": phase }" >"$1" ;;
		esac
	done
}

bench_vm_run() { # log smp timeout phasefile cmd...
	local log=$1 smp=$2 tmo=$3 phase=$4
	shift 4
	busy_run "$BENCH_ROOT/selftests/vm/run.sh" --smp "$smp" --timeout "$tmo" -- "$@" 2>&1 |
		grep --line-buffered -v 'fw_cfg name=etc/sercon-port' |
		bench_phase_filter "$phase" | tee -a "$log"
	return "${PIPESTATUS[0]}"
}

vm_env_words() { # name...
	local v
	for v in "$@"; do
		printf ' %s=%s' "$v" "$(printf '%s' "${!v:-}" | tr -s '[:space:]' ',')"
	done
}

vm_env_lists() { # name...
	local v
	for v in "$@"; do
		printf -v "$v" '%s' "${!v//,/ }"
	done
}

###########################################################################
# Guest: measurements
###########################################################################

bench_in_vm() { # where [mark]
	[ "${MVSOCK_VM:-}" = 1 ] || { echo "${BENCH_PFX:-bench}: --in-vm is for the $1 only" >&2; exit 2; }
	[ -z "${2:-}" ] || echo "$2: start" >/dev/kmsg 2>/dev/null
	return 0
}

# Value of key=value in a "tool: k=v k=v" line.
kv() { # line key
	sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"
}

# Wait until a vsock listener on PORT shows in ss (sock_diag), 5 s at
# most; 1 if it never did (no sock_diag, or not up yet).
wait_listen() { # port
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hln --vsock 2>/dev/null | grep -Eq "[:]$1([[:space:]]|$)" && return 0
		sleep 0.05
	done
	return 1
}

# Append a per-round value to V[label,key] (the caller declares V).
add() { V[$1,$2]="${V[$1,$2]:-}${V[$1,$2]:+ }$3"; } # label key value

# The median of the arguments (the lower one of an even count).
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# (max - min) / median of the arguments, in %; "-" for fewer than two.
spread() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = v[int((NR + 1) / 2)]
		if (NR < 2) printf "-"; else if (m > 0) printf "%.0f%%", 100 * (v[NR] - v[1]) / m }'
}

bench_medians() { # src dst width [exclude-regex]
	local -n bm_src=$1 bm_dst=$2
	local key
	for key in $(printf '%s\n' "${!bm_src[@]}" | grep -Ev "${4:-^\$}" | sort -t, -k2,2 -k1,1); do
		# shellcheck disable=SC2086,SC2004 # one argument per round; associative
		bm_dst[$key]=$(median ${bm_src[$key]})
		say "$(printf "%-${3}s %s -> median %s" "${key/,/ }:" "${bm_src[$key]}" "${bm_dst[$key]}")"
	done
}

# rmmod, retried (closing sockets may hold the module for a while): TRIES
# times [50], INTERVAL seconds apart [0.2], then once more with the error.
rmmod_retry() { # module [tries] [interval]
	local i
	grep -q "^$1 " /proc/modules || return 0
	for ((i = 0; i < ${2:-50}; i++)); do
		rmmod "$1" 2>/dev/null && return 0
		sleep "${3:-0.2}"
	done
	rmmod "$1"
}

# rmmod_retry of each module in order; stops at the first that stays.
rmmod_all() { # tries interval module...
	local t=$1 i=$2 m
	shift 2
	for m in "$@"; do
		rmmod_retry "$m" "$t" "$i" || return 1
	done
}

bench_insmod() { # dir module...
	local d=$1 m
	shift
	for m in "$@"; do
		insmod "$d/$m.ko" || return 1
	done
}

# A stock module, and vsock_diag (without it ss cannot see stock sockets).
bench_modprobe_stock() { # module
	modprobe "$1" || return 1
	modprobe vsock_diag 2>/dev/null ||
		say "(vsock_diag unavailable: ss cannot see stock sockets)"
	return 0
}

# Unload stock vsock_loopback and what it pulled in (vsock_diag too, when
# loaded); stops at the first module that stays.
unload_stock_loopback() {
	rmmod_all 50 0.2 vsock_diag vsock_loopback vmw_vsock_virtio_transport_common vsock
}

PERF_RX_PID=

perf_rx_start() { # port buf log [timeout]
	if [ -n "${4:-}" ]; then
		timeout "$4" "${PERF:?}" --port "$1" --buf-size "$2" --vsk-size 1M >"$3" 2>&1 &
	else
		"${PERF:?}" --port "$1" --buf-size "$2" --vsk-size 1M >"$3" 2>&1 &
	fi
	PERF_RX_PID=$!
}

perf_tx() { # peer port bytes buf log [timeout]
	timeout "${6:-300}" "${PERF:?}" --sender "$1" --port "$2" --bytes "$3" \
		--buf-size "$4" >"$5" 2>&1
}

perf_value() { # log rx_bytes|rx_gbps|tx_secs
	case "$2" in
	rx_bytes) sed -n 's/^total bytes received: \([0-9]*\).*/\1/p' "$1" ;;
	rx_gbps) sed -n 's/^rx performance: \([0-9.]*\).*/\1/p' "$1" ;;
	tx_secs) sed -n 's/^total time in tx loop: \([0-9.]*\).*/\1/p' "$1" ;;
	esac
}

###########################################################################
# Tables
###########################################################################

bench_table_head() { # width column-a column-b
	local d
	printf -v d '%*s' $(($1 + 2)) ''
	printf "| %-${1}s | %9s | %9s | %7s | %7s | %-6s |\n" metric "$2" "$3" ratio target result
	echo "|${d// /-}|----------:|----------:|--------:|--------:|--------|"
}

bench_table_row() { # width label value-a value-b kind target
	awk -v w="$1" -v l="$2" -v a="$3" -v b="$4" -v k="$5" -v t="$6" 'BEGIN {
		r = "n/a"; v = (t == "info") ? "(info)" : "n/a"
		atmost = sub(/^<=/, "", t)
		if (a != "" && b != "" && a > 0 && b > 0) {
			x = (k == "lat") ? b / a : a / b
			r = sprintf("%.2fx", x)
			if (atmost) v = (x <= t) ? "PASS" : "FAIL"
			else if (t != "info") v = (x >= t) ? "PASS" : "MISS"
		}
		tt = (t == "info") ? "-" : sprintf("%s %.1fx", atmost ? "<=" : ">=", t)
		if (a == "") a = "n/a"; if (b == "") b = "n/a"
		printf "| %-" w "s | %9s | %9s | %7s | %7s | %-6s |\n", l, a, b, r, tt, v
	}'
}

###########################################################################
# Demos
###########################################################################

FAILS=0
STEP=0

# A section header and the one-line explanation of what follows.
section() { # title explanation
	STEP=$((STEP + 1))
	echo
	echo "=== $STEP. $1"
	echo "    ($2)"
	echo
}

fail() {
	echo "${BENCH_PFX:-bench}: FAILED: $*"
	FAILS=$((FAILS + 1))
}

demo_insmod() { # dir module
	bench_insmod "$1" "$2" || { fail "insmod $1/$2.ko"; return 1; }
}

# This kernel's warnings and errors since the line MARK was written to
# /dev/kmsg (module signature notes left out): HEADING, then each line,
# through say().
bench_kernel_log() { # mark heading
	local line l
	line=$(dmesg -l emerg,alert,crit,err,warn 2>/dev/null |
		sed -n "/$1/,\$p" |
		grep -Ev "$1|out-of-tree module|module verification failed")
	[ -n "$line" ] || return 0
	say "$2"
	while IFS= read -r l; do say "  $l"; done <<<"$line"
}
