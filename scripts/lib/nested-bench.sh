# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # sourced; sets variables for its caller
#
# Building blocks for benchmarks in the nested topology (docs/testing.md,
# "Nested topology"): the outer VM (selftests/vm/run.sh) plays the host,
# with a host driver providing /dev/vhost-vsock, and
# selftests/nested/run-inner.sh boots a second-level guest in it. Sourced
# (bash) by scripts/bench-nested.sh and scripts/bench-isolation.sh.
#
# Sides: "host" is the outer VM (CID 2), "guest" the inner guest (CID
# NB_GUEST_CID, default $NESTED_CID of run-inner.sh, i.e. 3). Programs run
# in the guest through $NESTED_EXEC; they must be packed into the inner
# initramfs: pass $(nb_inner_adds) (word-split) to run-inner.sh.
#
# Host driver (outer VM, around run-inner.sh):
#   nb_host_load ours|stock     ours: insmod $NB_KO_DIR/mvsock.ko, modprobe
#                               vhost, insmod $NB_KO_DIR/mvsock_vhost.ko;
#                               stock: modprobe vhost_vsock (+ vsock_diag)
#   nb_host_unload ours|stock   unload what nb_host_load loaded
#   NB_STOCK_GUEST              run-inner.sh --load list: the stock guest driver
#   nb_inner_adds [ours-guest]  run-inner.sh --add options: the programs
#                               below (and our guest driver)
#   nb_guest_load_ours          insmod our guest driver in the inner guest
#   nb_run_inner LABEL TIMEOUT TRIES LOG ARG...
#                               run-inner.sh --timeout TIMEOUT --log-dir
#                               $NESTED_BUILD/last-LABEL ARG...; its output
#                               is appended to LOG and shown without the
#                               result lines; when the inner guest never
#                               came up (the --host command did not touch
#                               $NB_STARTED_FILE), boots again, TRIES boots
#                               at most, while 300 s or more are left
# Traffic (in a run-inner.sh --host command):
#   nb_stream_start ID DIR BUF KIB [GUEST_CID]
#                               start one vsock_perf transfer in the
#                               background: DIR g2h (receiver on the host,
#                               sender in the guest connecting to CID 2) or
#                               h2g (receiver in the guest, sender on the
#                               host connecting to GUEST_CID); BUF is
#                               --buf-size, KIB the KiB sent
#   nb_stream_finish ID         wait for it; sets NB_GBPS (the receiver's
#                               rx rate, Gbit/s), NB_RX_BYTES, NB_TX_SECS
#                               (the sender's time in its send loop) and
#                               NB_TX_GBPS (bytes received / that time: a
#                               cross-check on the other side's clock),
#                               NB_WALL (seconds from start to finish,
#                               program start-up included)
#   nb_stream ID DIR BUF KIB [GUEST_CID]     both of the above
#   nb_stream_wait_flowing ID SECS
#                               wait (SECS at most) until the transfer's
#                               connection is established (ss on the host
#                               side, which both directions have)
#   nb_stream_running ID        true while its sender is still sending
#   nb_pingpong CLIENT_SIDE SECS [GUEST_CID] 1-byte ping-pong
#                               (vsock_pingpong): the echo server on the
#                               other side; sets NB_PP_MEAN, NB_PP_P50,
#                               NB_PP_P99 (µs, measured by the client),
#                               NB_PP_ITERS, NB_WALL
#   nb_guest_pktstats_start, nb_guest_pktstats_read
#                               packets per op and interrupts counted by the
#                               guest's driver (the stock one: its
#                               tracepoints; see below)
#   nb_profile SECS CMD...      run CMD while perf records the whole outer
#                               VM (cpu-clock, call graphs) for SECS; prints
#                               the top of the report
# Results and tables:
#   nb_result LABEL KEY VALUE   print a result line ("nbench-result: ...")
#   nb_collect FILE             read result lines into NB_V[LABEL,KEY]
#                               (space-separated values, one per round)
#   nb_medians ARRAY [EXCLUDE]  ARRAY[LABEL,KEY] = the median of each
#                               NB_V[LABEL,KEY] (bench_medians, width 20)
#   nb_table_stream_pp ARRAY A B SIZES DIRS
#                               the rows (bench_table_row, width 32) of
#                               the stream rates (ARRAY[A,DIR_SIZE] for
#                               each size and direction, target 1.0) and
#                               of the ping-pong (pp_mean and pp_p50:
#                               target 1.0; pp_p99: info) of columns A, B
#   nb_table_head A B, nb_table_row LABEL VA VB KIND TARGET
#                               bench_table_head/_row, width 32
#   nb_dir_name g2h|h2g         "guest->host" or "host->guest"
# On the build machine:
#   nb_prepare [ours-guest] MODULE...
#                               check that $NB_KO_DIR/MODULE.ko exist, build
#                               the static programs and the inner initramfs
#                               (nb_inner_adds [ours-guest]) and kernel
#   nb_outer_run NAME TIMEOUT LOG START
#                               scripts/bench-NAME.sh --in-vm in the outer
#                               VM, the build machine sampled meanwhile
# (The log header, the samplers and the tables are bench-common.sh's.)
# Environment: MVSOCK_KO_DIR (our modules, default kernel/), NB_PERF
# (vsock_perf, default build/bench/static/vsock_perf), NB_PINGPONG
# (default build/bench/static/vsock_pingpong; both from "make -C
# tools/bench static"), NB_PP_WARMUP (untimed round trips, default 50),
# NB_XFER_TIMEOUT (seconds per transfer, default 300), NB_PORT (first vsock
# port used, default 21000), BENCH_PFX (prefix of messages, default
# "nbench"). Everything of scripts/lib/bench-common.sh comes with it.

: "${BENCH_PFX:=nbench}"
# shellcheck source=scripts/lib/bench-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

NB_ROOT=$BENCH_ROOT
NB_KO_DIR=$(bench_ko_dir)
# Statically linked (make -C tools/bench static): in the inner guest a
# dynamically linked program takes seconds more to start (loading libc
# under TCG inside TCG). The same binaries run on both sides.
NB_PERF=${NB_PERF:-$NB_ROOT/build/bench/static/vsock_perf}
NB_PINGPONG=${NB_PINGPONG:-$NB_ROOT/build/bench/static/vsock_pingpong}
NB_PP_WARMUP=${NB_PP_WARMUP:-50}
NB_GUEST_STATS=$NB_ROOT/scripts/lib/nested-guest-stats.sh
NB_HOST_CID=2
NB_STOCK_GUEST=vsock,vmw_vsock_virtio_transport_common,vmw_vsock_virtio_transport
NB_XFER_TIMEOUT=${NB_XFER_TIMEOUT:-300}
NB_PORT=${NB_PORT:-21000}
NB_TMP=${NB_TMP:-}
declare -gA NB_V=() NB_RXPID=() NB_TXPID=()

# A scratch directory, removed by nb_cleanup.
nb_tmp() {
	[ -n "$NB_TMP" ] && [ -d "$NB_TMP" ] && return 0
	NB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nbench.XXXXXX")
}
nb_cleanup() { [ -n "$NB_TMP" ] && rm -rf "$NB_TMP"; NB_TMP=; }

# Programs the inner guest needs, as run-inner.sh options; with
# "ours-guest" also our guest driver (loaded later by nb_guest_load_ours).
# shellcheck disable=SC2120 # the argument is optional
nb_inner_adds() { # [ours-guest]
	local a="--add $NB_PERF --add $NB_PINGPONG --add $NB_GUEST_STATS"
	[ "${1:-}" = ours-guest ] &&
		a+=" --add $NB_KO_DIR/mvsock.ko --add $NB_KO_DIR/mvsock_virtio.ko"
	echo "$a"
}

# In a run-inner.sh --host command of a guest booted without --load: our
# guest driver (packed by nb_inner_adds ours-guest) binds every vsock
# device of the guest.
nb_guest_load_ours() {
	nb_on guest insmod "$NB_KO_DIR/mvsock.ko" &&
		nb_on guest insmod "$NB_KO_DIR/mvsock_virtio.ko"
}

# Boot the inner guest and run its --host command (in the outer VM).
nb_run_inner() { # label timeout tries log run-inner-args...
	local label=$1 to=$2 tries=$3 log=$4 try rc t1
	shift 4
	nb_tmp
	for ((try = 1; ; try++)); do
		say "$label: booting the inner guest (run-inner.sh --timeout $to)"
		rm -f "$NB_TMP/started"
		t1=$SECONDS
		NB_STARTED_FILE=$NB_TMP/started \
		"$NB_ROOT/selftests/nested/run-inner.sh" --timeout "$to" \
			--log-dir "${NESTED_BUILD:-$NB_ROOT/build/nested}/last-$label$([ "$try" = 1 ] || echo "-try$try")" \
			"$@" 2>&1 |
			tee -a "$log" | grep --line-buffered -Ev '^nbench-(result|diag): '
		rc=${PIPESTATUS[0]}
		[ "$rc" = 0 ] && return 0
		say "$label: run-inner.sh exit status $rc"
		# A QEMU killed by a signal says nothing itself: the kernel may.
		dmesg 2>/dev/null | grep -Ei 'segfault|general protection|traps:|killed process|out of memory|qemu' |
			tail -n 5 | sed "s/^/$BENCH_PFX:   outer kernel: /"
		# TCG inside TCG now and then crashes the inner kernel early in
		# its boot: one more boot, when time allows.
		to=$(( to - (SECONDS - t1) ))
		if [ ! -e "$NB_TMP/started" ] && [ "$try" -lt "$tries" ] && [ "$to" -ge 300 ]; then
			say "$label: the inner guest never came up; booting it again"
			continue
		fi
		return "$rc"
	done
}

###########################################################################
# Host driver
###########################################################################

nb_wait_vhost_dev() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ -c /dev/vhost-vsock ] && return 0
		sleep 0.1
	done
	say "no /dev/vhost-vsock after loading the host driver"
	return 1
}

nb_host_load() { # ours|stock
	case "$1" in
	ours)
		if grep -q '^vsock ' /proc/modules; then
			say "stock vsock is loaded: unload it first"
			return 1
		fi
		if ! grep -q '^mvsock ' /proc/modules; then
			insmod "$NB_KO_DIR/mvsock.ko" || return 1
		fi
		modprobe vhost || return 1
		bench_insmod "$NB_KO_DIR" mvsock_vhost || return 1
		;;
	stock)
		if grep -q '^mvsock ' /proc/modules; then
			say "mvsock is loaded: unload it first"
			return 1
		fi
		bench_modprobe_stock vhost_vsock || return 1
		;;
	*) say "unknown host driver '$1'"; return 1 ;;
	esac
	nb_wait_vhost_dev
}

# (15 s per module: orphaned sockets may hold one until their close timeout)
nb_host_unload() { # ours|stock
	case "$1" in
	ours) rmmod_all 60 0.25 mvsock_vhost mvsock ;;
	stock) rmmod_all 60 0.25 vsock_diag vhost_vsock vmw_vsock_virtio_transport_common vsock ;;
	*) return 1 ;;
	esac
}

###########################################################################
# Traffic
###########################################################################

# Run a command on a side, here (host) or in the inner guest, bounded by
# NB_XFER_TIMEOUT (killing the local end of $NESTED_EXEC kills the command
# in the guest).
nb_on() { # side cmd...
	local side=$1
	shift
	case "$side" in
	host) timeout -k 5 "$NB_XFER_TIMEOUT" "$@" ;;
	guest) timeout -k 5 "$NB_XFER_TIMEOUT" \
		"${NESTED_EXEC:?not in a run-inner.sh command}" "$@" ;;
	*) echo "nb_on: bad side '$side'" >&2; return 2 ;;
	esac
}

nb_guest_cid() { echo "${1:-${NB_GUEST_CID:-${NESTED_CID:-3}}}"; }

# Run a client command (on SIDE), retrying while it fails to connect
# (the listener on the other side may not be up yet). Output in FILE.
# The connect failure is recognised by PATTERN in the output.
nb_connect_retry() { # side file pattern cmd...
	local side=$1 file=$2 pat=$3 i rc
	shift 3
	for ((i = 0; i < 60; i++)); do
		nb_on "$side" "$@" >"$file" 2>&1
		rc=$?
		[ $rc = 0 ] && return 0
		grep -q -- "$pat" "$file" || return $rc
		sleep 0.25
	done
	return $rc
}

declare -gA NB_T0=()

nb_stream_start() { # id dir buf kib [guest_cid]
	local id=$1 dir=$2 b=$3 kib=$4 cid rx tx peer port=$((NB_PORT++))
	cid=$(nb_guest_cid "${5:-}")
	nb_tmp
	case "$dir" in
	g2h) rx=host tx=guest peer=$NB_HOST_CID ;;
	h2g) rx=guest tx=host peer=$cid ;;
	*) say "bad direction '$dir'"; return 2 ;;
	esac
	nb_on "$rx" "$NB_PERF" --port "$port" \
		--buf-size "$b" --vsk-size 1M >"$NB_TMP/$id.rx" 2>&1 &
	NB_RXPID[$id]=$!
	NB_T0[$id]=$(date +%s%N)
	# (the guest has no ss: there the connecting side retries instead)
	[ "$rx" = host ] && wait_listen "$port"
	nb_connect_retry "$tx" "$NB_TMP/$id.tx" '^connect:' \
		"$NB_PERF" --sender "$peer" --port "$port" --bytes "${kib}K" \
		--buf-size "$b" &
	NB_TXPID[$id]=$!
	echo "$dir $b ${kib}K port $port" >"$NB_TMP/$id.what"
}

nb_stream_finish() { # id
	local id=$1 rc=0 want
	NB_GBPS=''
	NB_RX_BYTES=''
	NB_TX_SECS=''
	NB_TX_GBPS=''
	NB_WALL=''
	wait "${NB_TXPID[$id]}"
	rc=$?
	if [ $rc != 0 ]; then
		# 141: SIGPIPE (the connection was reset), 124: NB_XFER_TIMEOUT
		say "  vsock_perf sender failed, status $rc, after" \
			"$(awk -v t0="${NB_T0[$id]}" -v t1="$(date +%s%N)" 'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }') s" \
			"($(cat "$NB_TMP/$id.what")):"
		sed "s/^/$BENCH_PFX:     /" "$NB_TMP/$id.tx"
		kill "${NB_RXPID[$id]}" 2>/dev/null
		wait "${NB_RXPID[$id]}" 2>/dev/null
		say "  the receiver's output:"
		sed "s/^/$BENCH_PFX:     /" "$NB_TMP/$id.rx"
		rc=1
	fi
	if ! wait "${NB_RXPID[$id]}" && [ $rc = 0 ]; then
		say "  vsock_perf receiver failed ($(cat "$NB_TMP/$id.what")):"
		sed "s/^/$BENCH_PFX:     /" "$NB_TMP/$id.rx"
		rc=1
	fi
	NB_WALL=$(awk -v t0="${NB_T0[$id]}" -v t1="$(date +%s%N)" \
		'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }')
	[ $rc = 0 ] || return 1
	NB_RX_BYTES=$(perf_value "$NB_TMP/$id.rx" rx_bytes)
	NB_GBPS=$(perf_value "$NB_TMP/$id.rx" rx_gbps)
	NB_TX_SECS=$(perf_value "$NB_TMP/$id.tx" tx_secs)
	if [ -z "$NB_RX_BYTES" ] || [ "$NB_RX_BYTES" = 0 ] || [ -z "$NB_GBPS" ]; then
		say "  vsock_perf receiver got no data ($(cat "$NB_TMP/$id.what"))"
		sed "s/^/$BENCH_PFX:     /" "$NB_TMP/$id.rx"
		return 1
	fi
	NB_TX_GBPS=$(awk -v b="$NB_RX_BYTES" -v t="$NB_TX_SECS" \
		'BEGIN { if (t > 0) printf "%.3f", b * 8 / t / 1e9 }')
	# The receiver stops at POLLRDHUP and may leave the last buffers
	# unread; its rate counts what it read.
	want=$(awk '{ print $3 + 0 }' "$NB_TMP/$id.what")
	[ "$NB_RX_BYTES" = $((want * 1024)) ] || NB_SHORT_RUNS=$((${NB_SHORT_RUNS:-0} + 1))
	return 0
}

nb_stream() { # id dir buf kib [guest_cid]
	nb_stream_start "$@" || return 1
	nb_stream_finish "$1"
}

# The transfer's connection is up (seen by ss on the host side: the
# sender for h2g, the receiver for g2h).
nb_stream_wait_flowing() { # id secs
	local id=$1 port i
	port=$(awk '{ print $5 }' "$NB_TMP/$id.what")
	for ((i = 0; i < $2 * 10; i++)); do
		ss -Hn --vsock state established 2>/dev/null |
			awk -v p="$port" '{ for (f = 1; f <= NF; f++) if ($f ~ ":" p "$") { ok = 1; exit } }
				END { exit !ok }' && return 0
		nb_stream_running "$id" || break
		sleep 0.1
	done
	say "  no established connection for the transfer ($(cat "$NB_TMP/$id.what"))"
	return 1
}

# The sender has not finished: its process is alive and has not printed
# its summary (written at exit).
nb_stream_running() { # id
	kill -0 "${NB_TXPID[$1]}" 2>/dev/null &&
		! grep -q '^total time in tx loop' "$NB_TMP/$1.tx" 2>/dev/null
}

nb_pingpong() { # client_side secs [guest_cid]
	local cs=$1 secs=$2 ss cid peer port=$((NB_PORT++)) spid line rc
	cid=$(nb_guest_cid "${3:-}")
	local t0
	t0=$(date +%s%N)
	nb_tmp
	NB_PP_MEAN=''
	NB_PP_P50=''
	NB_PP_P99=''
	NB_PP_ITERS=''
	case "$cs" in
	host) ss=guest peer=$cid ;;
	guest) ss=host peer=$NB_HOST_CID ;;
	*) say "bad client side '$cs'"; return 2 ;;
	esac
	nb_on "$ss" "$NB_PINGPONG" --server \
		--port "$port" >"$NB_TMP/pp.srv" 2>&1 &
	spid=$!
	[ "$ss" = host ] && wait_listen "$port"
	nb_connect_retry "$cs" "$NB_TMP/pp.cli" 'connect(' "$NB_PINGPONG" --client \
		--cid "$peer" --port "$port" --time "$secs" --warmup "$NB_PP_WARMUP"
	rc=$?
	if [ $rc != 0 ]; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		say "  ping-pong client ($cs) failed:"
		sed "s/^/$BENCH_PFX:     /" "$NB_TMP/pp.cli"
		return 1
	fi
	wait "$spid" || say "  (ping-pong server exited with an error: $(tr '\n' ' ' <"$NB_TMP/pp.srv"))"
	line=$(grep '^pingpong:' "$NB_TMP/pp.cli")
	NB_PP_MEAN=$(kv "$line" mean_us)
	NB_PP_P50=$(kv "$line" p50_us)
	NB_PP_P99=$(kv "$line" p99_us)
	NB_PP_ITERS=$(kv "$line" iters)
	NB_WALL=$(awk -v t0="$t0" -v t1="$(date +%s%N)" 'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }')
	[ -n "$NB_PP_P50" ]
}

# Packet counts seen by the guest's (stock) driver, through its own
# tracepoints (vsock:virtio_transport_recv_pkt / _alloc_pkt, hist
# triggers keyed by op) and the vsock device's interrupts
# (scripts/lib/nested-guest-stats.sh, run in the guest). They do not
# depend on how fast the machine runs, unlike every rate here, so they
# compare host drivers fairly even on a busy machine.
#   nb_guest_pktstats_start     (re)arm the counters
#   nb_guest_pktstats_read      print one line: per op "OP=packets/bytes"
#                               received and sent by the guest, the vsock
#                               device's interrupts, the guest's CPU use
#                               and how often vsock_perf (or the program
#                               named) slept, since the start
nb_guest_pktstats_start() { # [program whose sleeps to count]
	nb_on guest sh "$NB_GUEST_STATS" start "${1:-vsock_perf}"
}

nb_guest_pktstats_read() { # [program]
	nb_on guest sh "$NB_GUEST_STATS" read "${1:-vsock_perf}"
}

# perf record of the whole outer VM while CMD runs (at most SECS seconds
# of recording); the top of the report (by command, DSO and symbol).
nb_profile() { # secs cmd...
	local secs=$1 ppid rc i
	shift
	nb_tmp
	if ! command -v perf >/dev/null; then
		say "perf not found: no profile"
		"$@"
		return
	fi
	rm -f "$NB_TMP/perf.data"
	perf record -q -e cpu-clock -F 999 -a -g -o "$NB_TMP/perf.data" -- sleep "$secs" \
		>"$NB_TMP/perf.log" 2>&1 &
	ppid=$!
	# perf takes seconds to start under TCG: profile the command, not that
	for ((i = 0; i < 100; i++)); do
		[ -s "$NB_TMP/perf.data" ] && break
		sleep 0.2
	done
	sleep 2
	"$@"
	rc=$?
	kill -INT "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	say "profile (perf record -e cpu-clock -a -g, whole outer VM), by command and DSO:"
	perf report -i "$NB_TMP/perf.data" --stdio --no-children -g none \
		--sort comm,dso 2>/dev/null | grep -E '^ +[0-9]' |
		head -n 12 | sed "s/^/$BENCH_PFX:   /"
	say "top kernel symbols, by command:"
	perf report -i "$NB_TMP/perf.data" --stdio --no-children -g none \
		--sort comm,sym 2>/dev/null | grep -F '[k]' |
		head -n 40 | sed "s/^/$BENCH_PFX:   /"
	return $rc
}

###########################################################################
# Results
###########################################################################

nb_result() { echo "nbench-result: $1 $2 $3"; } # label key value

nb_collect() { # file
	local tag label key val
	while read -r tag label key val; do
		[ "$tag" = nbench-result: ] || continue
		[ -n "$val" ] || continue
		NB_V[$label,$key]="${NB_V[$label,$key]:-}${NB_V[$label,$key]:+ }$val"
	done < <(grep '^nbench-result: ' "$1")
}

nb_medians() { bench_medians NB_V "$1" 20 "${2:-}"; } # array [exclude-regex]
nb_table_head() { bench_table_head 32 "$@"; } # column-a column-b
nb_table_row() { bench_table_row 32 "$@"; } # label value-a value-b kind target

nb_dir_name() { # g2h|h2g
	case "$1" in
	g2h) echo "guest->host" ;;
	h2g) echo "host->guest" ;;
	*) echo "$1" ;;
	esac
}

nb_table_stream_pp() { # array a b sizes dirs
	local -n nb_t=$1
	local a=$2 z=$3 b d
	for b in $4; do
		for d in $5; do
			nb_table_row "stream $(nb_dir_name "$d"), $b (Gbit/s)" \
				"${nb_t[$a,${d}_$b]:-}" "${nb_t[$z,${d}_$b]:-}" thr 1.0
		done
	done
	nb_table_row "ping-pong RTT mean (us)" "${nb_t[$a,pp_mean]:-}" "${nb_t[$z,pp_mean]:-}" lat 1.0
	nb_table_row "ping-pong RTT p50 (us)" "${nb_t[$a,pp_p50]:-}" "${nb_t[$z,pp_p50]:-}" lat 1.0
	nb_table_row "ping-pong RTT p99 (us)" "${nb_t[$a,pp_p99]:-}" "${nb_t[$z,pp_p99]:-}" lat info
}

###########################################################################
# On the build machine
###########################################################################

nb_prepare() { # [ours-guest] module...
	local g='' m
	[ "${1:-}" = ours-guest ] && { g=$1; shift; }
	for m in "$@"; do
		[ -f "$NB_KO_DIR/$m.ko" ] || { say "$NB_KO_DIR/$m.ko missing (run make first)" >&2; return 1; }
	done
	say "building tools/bench (static vsock_perf, vsock_pingpong), the inner initramfs"
	make -s -C "$NB_ROOT/tools/bench" OUT="$NB_ROOT/build/bench" all static || return 1
	# Build here what the outer VM would otherwise build itself (slowly):
	# it then only checks that nothing changed. Same arguments there.
	# shellcheck disable=SC2046 # a list of options
	"$NB_ROOT/selftests/nested/mkinitramfs.sh" $(nb_inner_adds ${g:+"$g"}) >/dev/null || return 1
	"$NB_ROOT/selftests/nested/mkinitramfs.sh" --print-vmlinux >/dev/null
}

# nb_outer_run NAME TIMEOUT LOG START: on the build machine, run
# scripts/bench-NAME.sh --in-vm in the outer VM (2 vCPUs, TIMEOUT s)
# with its output added to LOG, sampling the build machine every 5 s
# meanwhile (the phase being measured, other QEMU guests, load average:
# build/bench/NAME-host-samples.txt); print the wall time since START
# (date +%s) and exit with the VM run's status.
nb_outer_run() {
	local name=$1 tmo=$2 log=$3 start=$4 out=$NB_ROOT/build/bench rc
	bench_sampler_start "$out/$name-phase" "$out/$name-host-samples.txt"
	bench_vm_run "$log" 2 "$tmo" "$out/$name-phase" "scripts/bench-$name.sh" --in-vm
	rc=$?
	bench_sampler_stop
	bench_sampler_phases "$out/$name-host-samples.txt" | tee -a "$log"
	echo "bench-$name: wall time $(($(date +%s) - start)) s; output saved in ${log#"$NB_ROOT"/}" | tee -a "$log"
	if [ "$rc" != 0 ]; then
		echo "bench-$name: the VM run failed (status $rc); outer kernel log: build/vm/last-dmesg.txt" >&2
		exit "$rc"
	fi
	exit 0
}
