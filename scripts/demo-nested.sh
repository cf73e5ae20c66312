#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mvsock demo of the whole system in the nested topology (docs/testing.md,
# "Nested topology"), what "make demo" runs after the build:
#   - the host is a QEMU (TCG) VM (selftests/vm/run.sh) with our
#     kernel/mvsock.ko and kernel/mvsock_vhost.ko;
#   - the guest is a second-level VM inside it
#     (selftests/nested/run-inner.sh) with THREE virtio-vsock devices,
#     guest CIDs 3, 4 and 5, driven by our kernel/mvsock.ko and
#     kernel/mvsock_virtio.ko (the inner guest of the multi-device suite:
#     selftests/multidev/suite-args.sh).
# The steps (scripts/lib/demo-nested-steps.sh, run in the host VM while
# the guest is up): vsockctl devices on both sides; a checksummed stream
# through each device at once; vsocktop -b snapshots of both sides during
# it; a vsockctl policy on the host that lets CID 4 reach one port only;
# perf stat -e 'mvsock:*' of the traffic. Each step checks what it shows;
# "demo: everything worked" comes only when every check passed.
#
# Usage: scripts/demo-nested.sh             (what "make demo" runs)
#        scripts/demo-nested.sh --in-vm     (inside the host VM only)
# Environment: KVER (see scripts/kver.sh), DEMO_MIB (MiB per stream,
# default 2), DEMO_TIMEOUT (seconds for the host VM, default 1800: an
# idle machine needs about 3 minutes, a busy one much longer),
# DEMO_INNER_TIMEOUT (seconds for the guest, default 1500).
# Output: the terminal shows the steps; build/demo/ keeps the whole run
# (demo.log) and each tool's full output (build/demo/vm/).
# Exit status: 0 when every step worked.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
OUTDIR=$ROOT/build/demo

: "${DEMO_MIB:=2}"

###########################################################################
# Host VM side: load the host driver, start perf stat (its start-up,
# seconds under TCG, overlaps the guest's boot), boot the guest and run
# the steps in this VM with it up.
###########################################################################

vm_main() {
	local O=${VM_OUT:?} rc t0=$SECONDS
	[ "${MVSOCK_VM:-}" = 1 ] || { echo "demo: --in-vm is for the host VM only" >&2; exit 2; }
	cd "$ROOT" || exit 1
	# shellcheck source=scripts/lib/nested-bench.sh
	. "$ROOT/scripts/lib/nested-bench.sh"
	# shellcheck source=selftests/multidev/suite-args.sh
	. "$ROOT/selftests/multidev/suite-args.sh"
	export DEMO_OUT=$O DEMO_MIB
	DEMO_TMP=$(mktemp -d)
	export DEMO_TMP

	echo "host VM: kernel $(uname -r), $(nproc) vCPUs, $(free -m | awk '/^Mem:/ { print $2 }') MiB"
	nb_host_load ours >"$O/host-load.log" 2>&1 || {
		cat "$O/host-load.log"
		echo "demo: step 1 FAILED: the host driver did not load (kernel/mvsock.ko, kernel/mvsock_vhost.ko)"
		return 1
	}
	# perf stat of the traffic: started now with its counters off; step 2
	# turns them on and off through the control FIFOs, step 5 ends it.
	# (opened read-write here first: then neither perf's opens nor the
	# steps' writes block on a FIFO without its other end)
	mkfifo "$DEMO_TMP/perf.ctl" "$DEMO_TMP/perf.ack"
	exec {DEMO_PERF_CTL}<>"$DEMO_TMP/perf.ctl" {DEMO_PERF_ACK}<>"$DEMO_TMP/perf.ack"
	export DEMO_PERF_CTL DEMO_PERF_ACK
	perf stat -a -D -1 --control "fifo:$DEMO_TMP/perf.ctl,$DEMO_TMP/perf.ack" \
		-e 'mvsock:*' -o "$O/perf-stat.txt" >"$O/perf-stat.log" 2>&1 &
	export DEMO_PERF_PID=$!

	echo "booting the guest: QEMU (TCG) inside this VM, 3 vhost-vsock-pci devices (1-2 min)"
	"$ROOT/selftests/nested/run-inner.sh" --timeout "${DEMO_INNER_TIMEOUT:-1500}" \
		--log-dir "$O/nested" "${MD_RUN_ARGS[@]}" \
		--host "'$ROOT/scripts/lib/demo-nested-steps.sh'" 2>"$O/run-inner.log"
	rc=$?
	# (step 5 ends it; a failed run may not have)
	kill -INT "$DEMO_PERF_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$DEMO_TMP"
	case $rc in
	0) echo "the guest shut down; its kernel log has no oops, WARNING or BUG line" ;;
	120) echo "demo: FAILED: the guest's kernel log has an oops/WARNING/BUG line (build/demo/vm/run-inner.log, build/demo/vm/nested/)" ;;
	121) echo "demo: FAILED: the guest crashed or its QEMU died (build/demo/vm/run-inner.log)" ;;
	124) echo "demo: FAILED: timeout (build/demo/vm/run-inner.log)" ;;
	122) echo "demo: FAILED: the guest could not be started:"; tail -n 5 "$O/run-inner.log" ;;
	*) echo "demo: FAILED: a step failed (status $rc)" ;;
	esac
	if [ "$rc" != 0 ] && [ ! -e "$O/steps-done" ]; then
		echo "the guest's boot log: build/demo/vm/run-inner.log"
		grep -E '^nested: (TIMEOUT|CRASH|RETRY|error|the inner)' "$O/run-inner.log" | head -n 5
	fi
	echo "host VM part: $((SECONDS - t0)) s"
	return "$rc"
}

###########################################################################
# Build machine side
###########################################################################

host_main() {
	local kver rc f tsc t0=$SECONDS missing=()
	cd "$ROOT" || exit 1
	kver=$("$ROOT/scripts/kver.sh") || exit 1
	export KVER=$kver
	for f in kernel/mvsock.ko kernel/mvsock_vhost.ko kernel/mvsock_virtio.ko \
		build/tools/vsockctl build/tools/vsocktop build/multidev/mdtool; do
		[ -e "$f" ] || missing+=("$f")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "demo: not built: ${missing[*]} (run make first)" >&2
		exit 1
	fi
	command -v perf >/dev/null || { echo "demo: perf is not installed (make deps)" >&2; exit 1; }
	# (build/demo/ also has scripts/demo.sh's files: only ours go)
	rm -rf "$OUTDIR/vm" "$OUTDIR/demo.log" "$OUTDIR/initramfs.log"
	mkdir -p "$OUTDIR"
	{
		echo "mvsock demo, nested topology: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), kernel $kver, git $(git describe --always --dirty 2>/dev/null || echo '?')"
		echo "build machine: $(nproc) CPUs,$(uptime | sed 's/.*,\( *load average\)/\1/')"
	} | tee "$OUTDIR/demo.log"
	# The guest's initramfs, here (much faster than in the host VM,
	# which then only checks it is up to date).
	# shellcheck source=selftests/multidev/suite-args.sh
	. "$ROOT/selftests/multidev/suite-args.sh"
	md_prebuild_initramfs "${MD_RUN_ARGS[@]}" >"$OUTDIR/initramfs.log" 2>&1 || {
		cat "$OUTDIR/initramfs.log"
		echo "demo: cannot build the guest's initramfs" >&2
		exit 1
	}
	# Under TCG the VM's TSC runs at this machine's rate: say so. (On a
	# busy machine its own calibration has come out 24 times too slow: its
	# clock then raced, with soft lockup reports and timeouts.)
	tsc=$(awk '/^cpu MHz/ { printf "%d\n", $4 * 1000; exit }' /proc/cpuinfo)
	echo "booting the host VM (QEMU TCG, 2 vCPUs)" | tee -a "$OUTDIR/demo.log"
	VM_KEEP_OUT=$OUTDIR/vm VM_ENV="DEMO_MIB=$DEMO_MIB DEMO_INNER_TIMEOUT=${DEMO_INNER_TIMEOUT:-1500}" \
		"$ROOT/selftests/vm/run.sh" --smp 2 --timeout "${DEMO_TIMEOUT:-1800}" \
		${tsc:+--append "tsc_early_khz=$tsc"} -- \
		scripts/demo-nested.sh --in-vm 2>&1 | tee -a "$OUTDIR/demo.log" |
		grep --line-buffered -v -e 'fw_cfg name=etc/sercon-port' -e '^MVSOCK-VM-EXIT '
	rc=${PIPESTATUS[0]}
	{
		echo
		echo "== 6. result"
		echo "wall time: $((SECONDS - t0)) s (build machine:$(uptime | sed 's/.*,\( *load average\)/\1/'))"
		echo "logs: build/demo/demo.log (this run), build/demo/vm/ (each tool's full output, the guest's logs)"
		if [ "$rc" = 0 ]; then
			echo "demo: everything worked"
		else
			f=$(cut -d: -f1 "$OUTDIR/vm/failed.txt" 2>/dev/null | sort -u | tr '\n' ',')
			echo "demo: FAILED (status $rc${f:+; ${f%,}})$( [ "$rc" -ge 120 ] && echo "; host VM kernel log: build/vm/last-dmesg.txt")"
		fi
	} | tee -a "$OUTDIR/demo.log"
	exit "$rc"
}

case "${1:-}" in
--in-vm) vm_main; exit $? ;;
"") host_main ;;
*) sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
