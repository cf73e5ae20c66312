#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Nested topology, outer side: runs INSIDE the outer test VM (the one
# selftests/vm/run.sh boots; it plays the host and has the host driver
# loaded) and starts a second-level guest with QEMU (TCG: KVM does not work
# inside the TCG VM) that has vhost-vsock-pci devices, i.e. uses this
# machine's /dev/vhost-vsock. The inner guest boots the same kernel
# (uncompressed, PVH entry) with the initramfs of
# selftests/nested/mkinitramfs.sh: busybox, Debian's vsock modules,
# upstream's vsock tests, no root file system.
#
# A virtio-serial port ("nested.ctl") links the two machines; build/nested/
# vrelay runs at both ends of it and carries commands (run here, executed
# there) and TCP connections between 127.0.0.1 on each side (nothing else
# is ever connected to; the inner QEMU has -nic none).
#
# Usage:
#   selftests/nested/run-inner.sh [OPTIONS] -- COMMAND [ARG]...
#	run COMMAND in the inner guest (stdin /dev/null, output here)
#   selftests/nested/run-inner.sh [OPTIONS] --host 'SHELL COMMANDS'
#	run bash -c 'SHELL COMMANDS' here once the inner guest is up; it
#	runs commands in the inner guest with "$NESTED_EXEC" CMD [ARG]...
#	(exit status passed back; killing it kills the command there)
# Options:
#   --timeout S       bound the whole run (default 900)
#   --boot-timeout S  bound the inner boot (default 600)
#   --mem MB          inner guest memory (default 128)
#   --smp N           inner guest CPUs (default 1)
#   --vsock N         number of vhost-vsock-pci devices (default 1; 0 for
#                     none), guest-cid=CID, CID+1, ...
#   --cid CID         first guest CID (default 3)
#   --vhostfd         open the vhost device here and hand QEMU vhostfd=
#                     (default: QEMU opens /dev/vhost-vsock itself)
#   --vhost-dev PATH  the vhost device to open (implies --vhostfd)
#   --load M1,M2      insmod these packed modules at inner boot (e.g.
#                     vsock,vmw_vsock_virtio_transport_common,
#                     vmw_vsock_virtio_transport)
#   --add FILE        pack FILE into the initramfs at its path (repeatable)
#   --installed       the initramfs also has the work tree's modules
#                     installed as the package installs them, with
#                     modules.dep/modules.alias and the modprobe.d
#                     blacklist (mkinitramfs.sh --installed)
#   --autoload        (implies --installed) the inner init loads drivers
#                     by alias as udev would (inner_autoload=1 of
#                     inner-init.sh: uevent listener, coldplug, settle)
#   --listen-inner P  accept TCP on 127.0.0.1:P in the inner guest, carried
#                     to 127.0.0.1:P here (repeatable)
#   --listen-outer P  accept TCP on 127.0.0.1:P here, carried to
#                     127.0.0.1:P in the inner guest (repeatable)
#   --append ARGS     extra inner kernel command line
#   --qemu-args ARGS  extra inner QEMU arguments (split on white space)
#   --strace FILE     run the inner QEMU under strace -f (ioctls, opens)
#   --trace-vhost FILE  log QEMU's vhost ioctls with decoded arguments
#                     (LD_PRELOAD build/nested/vhost-trace.so)
#   --log-dir DIR     keep the inner console log, dmesg, QEMU and relay
#                     logs in DIR (default: $VM_OUT/nested-PID when run
#                     in a selftests/vm/run.sh guest, whose VM_KEEP_OUT
#                     brings it back to the build machine; otherwise
#                     build/nested/last)
#   --monitor         give the inner QEMU an HMP monitor on a unix socket
#                     (NESTED_MONITOR); the command talks to it with
#                     "$NESTED_QMON" 'HMP COMMAND' (selftests/nested/qmon.sh)
#                     and can migrate the inner guest with "$NESTED_MIGRATE"
#                     (below)
#   --hotplug         (implies --monitor) put the vhost-vsock-pci devices
#                     behind a PCI bridge with a standard hot-plug
#                     controller (SHPC; the inner guest's shpchp drives it,
#                     acpi=off stays): device vsockI sits in slot I+1 of bus
#                     NESTED_HOTPLUG_BUS, the bridge's. (pci.0 has only
#                     QEMU's ACPI hot-plug, which the guest, without ACPI,
#                     never sees: device_add there "works" but the guest
#                     never probes the device.)
#
# Hot-plug (--hotplug), from the --host command:
#   "$NESTED_QMON" 'device_del vsock1'
#	QEMU presses the slot's attention button; shpchp powers the slot
#	off after its 5 s abort window (the driver's remove runs), then QEMU
#	frees the device. To skip the 5 s, power the slot off from the inner
#	guest right after device_del: "$NESTED_EXEC" sh -c 'echo 0 >
#	/sys/bus/pci/slots/SLOT/power' (SLOT: the device's slot number on
#	the bridge, addr= below, in decimal).
#   "$NESTED_QMON" "device_add vhost-vsock-pci,id=NEW,guest-cid=N,bus=$NESTED_HOTPLUG_BUS,addr=SLOT"
#	SLOT 1..31, a free one (addr= is required: QEMU would pick slot 0,
#	which SHPC cannot hot-plug); the guest powers the slot on after the
#	same 5 s window (or at once: echo 1 >/sys/bus/pci/slots/SLOT/power
#	in the inner guest) and probes the device.
#   selftests/nested/hotplug.sh (NESTED_HOTPLUG) does either and waits.
#
# Live migration (--monitor), from the --host command:
#   "$NESTED_MIGRATE" [CID_OFFSET]
#	migrates the running inner guest to a new QEMU here whose
#	vhost-vsock-pci devices are the same (ids, buses, slots; hot-plugged
#	ones included) with guest-cid = the old one + CID_OFFSET (default
#	100; the source still holds its CIDs while the migration runs, so
#	they must differ); QEMU then sends the guest's devices
#	VIRTIO_VSOCK_EVENT_TRANSPORT_RESET. Prints "ID NEWCID" per device.
#	On return the source QEMU is gone and NESTED_MONITOR, NESTED_EXEC,
#	the --listen ports, the final kernel log check and the shutdown all
#	work on the new QEMU. No "$NESTED_EXEC" command (or carried TCP
#	connection) may be running across it: the link to the inner guest is
#	re-established, which ends whatever used it. See
#	selftests/nested/migrate.sh.
# Exit status: the command's status, or
#   120  the inner guest's kernel log had an oops/WARNING/BUG/... line or
#        a bad taint, or its relay crashed (inner-init.sh restarts it)
#   121  the inner guest crashed or QEMU died (console log printed)
#   122  setup failed (QEMU would not start, initramfs build failed)
#   124  timeout (boot or command)
#   2    usage error
# Environment: KVER, QEMU (default qemu-system-x86_64), NESTED_DMESG_IGNORE
# (extended regex of inner kernel log lines that must not fail the run),
# NESTED_VERBOSE=1 (QEMU command line, relay log). The command sees
# NESTED_EXEC, NESTED_CID (first guest CID), NESTED_NDEV, NESTED_BOOT_MS
# (wall time of the inner boot), NESTED_DIR (a scratch directory); with
# --monitor also NESTED_MONITOR (the monitor's socket), NESTED_QMON and
# NESTED_MIGRATE; with --hotplug NESTED_HOTPLUG_BUS (the bridge's bus, for
# device_add's bus=) and NESTED_HOTPLUG.
# Timing lines ("nested: ...") go to stderr.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)

TIMEOUT=900
BOOT_TIMEOUT=600
MEM=128
SMP=1
NDEV=1
CID=3
VHOSTFD=0
VHOST_DEV=/dev/vhost-vsock
LOAD=
ADD=()
INSTALLED=0
AUTOLOAD=0
L_INNER=()
L_OUTER=()
APPEND=
QEMU_ARGS=
STRACE=
TRACE_VHOST=
LOGDIR=$ROOT/build/nested/last
# In a test VM the work tree is read-only: keep the logs in its output
# directory, which run.sh can copy back (VM_KEEP_OUT).
[ -n "${VM_OUT:-}" ] && [ -d "${VM_OUT:-}" ] && LOGDIR=$VM_OUT/nested-$$
HOSTCMD=
MONITOR=0
HOTPLUG=0

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
say() { echo "nested: $*" >&2; }
die() { say "error: $*"; exit 122; }
need_arg() { [ $# -ge 2 ] || { say "$1 needs an argument"; usage; }; }
num() { [[ $1 =~ ^[0-9]+$ ]] || { say "'$1' is not a number"; usage; }; }

while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) need_arg "$@"; num "$2"; TIMEOUT=$2; shift 2 ;;
	--boot-timeout) need_arg "$@"; num "$2"; BOOT_TIMEOUT=$2; shift 2 ;;
	--mem) need_arg "$@"; num "$2"; MEM=$2; shift 2 ;;
	--smp) need_arg "$@"; num "$2"; SMP=$2; shift 2 ;;
	--vsock) need_arg "$@"; num "$2"; NDEV=$2; shift 2 ;;
	--cid) need_arg "$@"; num "$2"; CID=$2; shift 2 ;;
	--vhostfd) VHOSTFD=1; shift ;;
	--vhost-dev) need_arg "$@"; VHOST_DEV=$2; VHOSTFD=1; shift 2 ;;
	--load) need_arg "$@"; LOAD=$2; shift 2 ;;
	--add) need_arg "$@"; ADD+=(--add "$2"); shift 2 ;;
	--installed) INSTALLED=1; shift ;;
	--autoload) AUTOLOAD=1; INSTALLED=1; shift ;;
	--listen-inner) need_arg "$@"; num "$2"; L_INNER+=("$2"); shift 2 ;;
	--listen-outer) need_arg "$@"; num "$2"; L_OUTER+=("$2"); shift 2 ;;
	--append) need_arg "$@"; APPEND=$2; shift 2 ;;
	--qemu-args) need_arg "$@"; QEMU_ARGS=$2; shift 2 ;;
	--strace) need_arg "$@"; STRACE=$2; shift 2 ;;
	--trace-vhost) need_arg "$@"; TRACE_VHOST=$2; shift 2 ;;
	--log-dir) need_arg "$@"; LOGDIR=$2; shift 2 ;;
	--host) need_arg "$@"; HOSTCMD=$2; shift 2 ;;
	--monitor) MONITOR=1; shift ;;
	--hotplug) HOTPLUG=1; MONITOR=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	*) say "unknown option '$1'"; usage ;;
	esac
done
if [ -n "$HOSTCMD" ]; then
	[ $# -eq 0 ] || { say "give either --host or a COMMAND"; usage; }
else
	[ $# -ge 1 ] || { say "no command given"; usage; }
fi
[ "${MVSOCK_VM:-0}" = 1 ] ||
	say "warning: not inside the test VM (MVSOCK_VM unset); this is meant to run in selftests/vm/run.sh"

T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
DEADLINE=$(( $(date +%s) + TIMEOUT ))

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU not found"
KVER=${KVER:-$("$ROOT/scripts/kver.sh")}
export KVER
[ "$INSTALLED" = 1 ] && ADD+=(--installed)
INITRD=$("$HERE/mkinitramfs.sh" "${ADD[@]}") || die "cannot build the inner initramfs"
KERNEL=$("$HERE/mkinitramfs.sh" --print-vmlinux) || die "cannot extract the kernel"
VRELAY=${NESTED_BUILD:-$ROOT/build/nested}/vrelay
[ -x "$VRELAY" ] || die "$VRELAY not built"
say "inner initramfs and kernel ready after $(ms) ms"

W=$(mktemp -d "${TMPDIR:-/tmp}/nested.XXXXXX")
QPID=
RPID=
# After a migration (selftests/nested/migrate.sh) the QEMU in charge is
# another process, not our child: $W/qemu.current names it; the relays it
# started are in $W/relay-*.pid, their QEMUs' pids in $W/qemu-*.pid.
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local i p f
	set +e	# keep the exit status; nothing here may end the trap early
	# QEMU's own pid (QPID may be strace's or env's)
	for p in $(cat "$W/qemu.current" "$W"/qemu*.pid 2>/dev/null) $QPID; do
		kill -0 "$p" 2>/dev/null || continue
		kill "$p" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
	done
	[ -n "$QPID" ] && wait "$QPID" 2>/dev/null
	for p in $RPID $(cat "$W"/relay-*.pid 2>/dev/null); do
		kill -0 "$p" 2>/dev/null || continue
		kill "$p" 2>/dev/null
	done
	[ -n "$RPID" ] && wait "$RPID" 2>/dev/null
	if mkdir -p "$LOGDIR" 2>/dev/null; then
		for f in console.log dmesg.txt qemu.log relay.log migrate.log; do
			if [ -f "$W/$f" ]; then cp -f "$W/$f" "$LOGDIR/$f"; else rm -f "$LOGDIR/$f"; fi
		done
		rm -f "$LOGDIR"/qemu-[0-9]*.log
		for f in "$W"/qemu-[0-9]*.log; do
			[ -f "$f" ] && cp -f "$f" "$LOGDIR/"
		done
	fi
	rm -rf "$W"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the inner QEMU ---
ports() { local IFS=,; echo "$*"; }
CMDLINE="console=ttyS0 loglevel=4 panic=-1 rdinit=/init"
# acpi=off: ACPI costs the inner boot ~1/3 of its time (its poweroff then
# does not work: the inner init ends the machine with reboot -f and QEMU
# runs with -no-reboot; PCI devices get MSI-X, legacy INTx has no route).
# mitigations=off: no page table isolation, whose TLB flushes are dear
# under TCG. No crypto self-tests. (The PVH entry skips the decompressor,
# KASLR and EDD.)
CMDLINE+=" acpi=off mitigations=off cryptomgr.notests audit=0"
CMDLINE+=" tsc=reliable no_timer_check i8042.noaux i8042.nopnp i8042.dumbkbd"
# Without ACPI there is neither HPET nor PM timer to calibrate the TSC
# against: the kernel would mark it unstable and fall back to jiffies.
# Under TCG the inner TSC runs at the outer one's rate: tell it.
tsc_khz=$(dmesg 2>/dev/null | awk '
	/tsc: Refined TSC clocksource calibration: / { r = $(NF - 1) }
	/tsc: Detected [0-9.]+ MHz/ { for (i = 1; i < NF; i++) if ($(i + 1) == "MHz") d = $i }
	END { v = r != "" ? r : d; if (v != "") printf "%d\n", v * 1000 }')
# (The boot lines may have left the ring buffer: then /proc/cpuinfo.)
[ -n "$tsc_khz" ] || tsc_khz=$(awk '/^cpu MHz/ { printf "%d\n", $4 * 1000; exit }' /proc/cpuinfo)
[ -n "$tsc_khz" ] && CMDLINE+=" tsc_early_khz=$tsc_khz"
# Initcalls that cost seconds and that nothing here needs (the jitter
# entropy source's self-test, BPF struct_ops registration).
CMDLINE+=" initcall_blacklist=jent_mod_init,bpf_dummy_struct_ops_init,bpf_tcp_ca_kfunc_init"
[ -n "$LOAD" ] && CMDLINE+=" inner_load=$LOAD"
[ "$AUTOLOAD" = 1 ] && CMDLINE+=" inner_autoload=1"
[ ${#L_INNER[@]} -gt 0 ] && CMDLINE+=" inner_listen=$(ports "${L_INNER[@]}")"
[ "${NESTED_VERBOSE:-0}" = 1 ] && CMDLINE+=" inner_verbose=1"
[ -n "$APPEND" ] && CMDLINE+=" $APPEND"

# qboot starts faster than SeaBIOS (see selftests/vm/run.sh).
FIRMWARE=()
[ -r /usr/share/qemu/qboot.rom ] && FIRMWARE=(-bios /usr/share/qemu/qboot.rom)
# What every QEMU of this run has (a migration's destination too); then
# its own pid file, console, link socket and monitor, the vhost-vsock-pci
# devices and QEMU_TAIL.
# cx16=off: under TCG inside TCG the inner kernel's cmpxchg16b (SLUB's
# per-CPU freelist update, "cmpxchg16b %gs:(%rsi)") now and then left
# garbage in EFLAGS: every bad-EFLAGS crash of emu-crash.sh logged here
# faulted right after that instruction (docs/testing.md). Without CX16 the
# kernel does the same update with its own code.
# shellcheck disable=SC2054 # max,cx16=off is one -cpu value
QEMU_BASE=(
	"$QEMU" -accel tcg -M pc -cpu max,cx16=off -smp "$SMP" -m "$MEM"
	-nodefaults -no-user-config -display none -monitor none -no-reboot -nic none
	"${FIRMWARE[@]}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
	-device "virtio-serial-pci,max_ports=2"
	-device "virtserialport,chardev=nested-ctl,name=nested.ctl,nr=1"
)
HOTPLUG_BUS=
if [ "$HOTPLUG" = 1 ]; then
	# A conventional PCI bridge with SHPC (its hot-plug events come as
	# MSI: no INTx route without ACPI). QEMU's ACPI hot-plug would take
	# over the bridge's bus: off, the guest has no ACPI to see it. (Not
	# acpi-root-pci-hotplug=off too: QEMU 7.2 then hands the bridge's bus
	# to ACPI after all, and device_del never reaches the SHPC.)
	HOTPLUG_BUS=hp0
	QEMU_BASE+=(
		-global PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off
		-device "pci-bridge,id=$HOTPLUG_BUS,chassis_nr=1,shpc=on,msi=on"
	)
	[ "$NDEV" -le 31 ] || die "--hotplug: at most 31 devices (slots 1..31 of the bridge)"
fi
QEMU_TAIL=()
if [ -n "$QEMU_ARGS" ]; then
	# shellcheck disable=SC2206 # split on white space, as documented
	QEMU_TAIL=($QEMU_ARGS)
fi
qemu_cmd=(
	"${QEMU_BASE[@]}"
	-pidfile "$W/qemu.pid"
	-serial "file:$W/console.log"
	-chardev "socket,id=nested-ctl,path=$W/link.sock,server=on,wait=on"
)
if [ "$MONITOR" = 1 ]; then
	qemu_cmd+=(
		-chardev "socket,id=nested-mon,path=$W/monitor.sock,server=on,wait=off"
		-mon "chardev=nested-mon,mode=readline"
	)
fi
VFDS=()
for ((i = 0; i < NDEV; i++)); do
	dev="vhost-vsock-pci,id=vsock$i,guest-cid=$((CID + i))"
	[ "$HOTPLUG" = 1 ] && dev+=",bus=$HOTPLUG_BUS,addr=$((i + 1))"
	if [ "$VHOSTFD" = 1 ]; then
		exec {fd}<>"$VHOST_DEV" || die "cannot open $VHOST_DEV"
		VFDS+=("$fd")
		dev+=",vhostfd=$fd"
	fi
	qemu_cmd+=(-device "$dev")
done
qemu_cmd+=("${QEMU_TAIL[@]}")
if [ -n "$TRACE_VHOST" ]; then
	tracer=${NESTED_BUILD:-$ROOT/build/nested}/vhost-trace.so
	[ -r "$tracer" ] || die "$tracer not built"
	qemu_cmd=(env "LD_PRELOAD=$tracer" "VHOST_TRACE_FILE=$TRACE_VHOST" "${qemu_cmd[@]}")
fi
if [ -n "$STRACE" ]; then
	command -v strace >/dev/null || die "strace not found"
	qemu_cmd=(strace -f --seccomp-bpf -tt -o "$STRACE" -e "trace=openat,ioctl,close,eventfd2" "${qemu_cmd[@]}")
fi
[ "${NESTED_VERBOSE:-0}" = 1 ] && say "${qemu_cmd[*]}"

# Start the inner QEMU and the outer end of the link (QEMU waits for the
# relay to connect: wait=on).
launch() {
	local fd p
	"${qemu_cmd[@]}" </dev/null >"$W/qemu.log" 2>&1 &
	QPID=$!
	QSTART=$(ms)
	for fd in "${VFDS[@]}"; do
		exec {fd}>&-
	done
	VFDS=()
	# (-w: QEMU may take long to create the socket on a loaded machine)
	relay_args=(-e "$W/exec.sock" -r "$W/ready" -w 300)
	for p in "${L_OUTER[@]}"; do relay_args+=(-L "$p"); done
	[ "${NESTED_VERBOSE:-0}" = 1 ] || relay_args+=(-q)
	"$VRELAY" "${relay_args[@]}" "$W/link.sock" </dev/null 2>"$W/relay.log" &
	RPID=$!
}
launch

# What selftests/nested/migrate.sh needs to start another QEMU and relay.
if [ "$MONITOR" = 1 ]; then
	{
		declare -p QEMU_BASE QEMU_TAIL
		declare -p VHOSTFD VHOST_DEV STRACE TRACE_VHOST VRELAY L_OUTER
		echo "RELAY_QUIET=$([ "${NESTED_VERBOSE:-0}" = 1 ] && echo 0 || echo 1)"
	} >"$W/run.state"
fi

# The QEMU in charge: ours, or the last migration's destination.
qemu_alive() {
	local p
	if [ -s "$W/qemu.current" ]; then
		read -r p <"$W/qemu.current" && kill -0 "$p" 2>/dev/null
	else
		kill -0 "$QPID" 2>/dev/null
	fi
}

# A crash that selftests/vm/emu-crash.sh recognises as the emulator's
# (a stale int3 after code patching, an impossible EFLAGS value) gets a
# note. Only a note: the run fails all the same.
emu_note() { # kernel log
	local why
	why=$("$ROOT/selftests/vm/emu-crash.sh" "$1") &&
		say "note: a known emulator fault, not the code under test ($why; docs/testing.md)"
	return 0
}

console_tail() {
	local f
	say "inner console (full log: $LOGDIR/console.log):"
	{ tr -d '\r' <"$W/console.log"; } 2>/dev/null | tail -n 60 | sed 's/^/nested:   /' >&2
	emu_note "$W/console.log"
	for f in "$W/qemu.log" "$W"/qemu-[0-9]*.log; do
		[ -s "$f" ] || continue
		say "inner QEMU said (${f##*/}):"
		tail -n 20 "$f" | sed 's/^/nested:   /' >&2
	done
	if [ -s "$W/migrate.log" ]; then
		say "migrations:"
		tail -n 20 "$W/migrate.log" | sed 's/^/nested:   /' >&2
	fi
}

# A TCG-in-TCG inner kernel has been seen to die very early in boot (a
# general protection fault in text_poke_early, start_kernel), before its
# /init ran. Nothing under test has run then (the inner guest loads its
# vsock drivers from /init; until a guest driver starts a device, QEMU has
# given the host driver no guest memory or rings), so such a boot is
# retried once, and reported.
early_crash() {
	! { tr -d '\r' <"$W/console.log"; } 2>/dev/null | grep -q '^nested-init: init started'
}
BOOT_RETRIES=${NESTED_BOOT_RETRIES:-1}
# After the inner QEMU or the relay ended during boot: boot again when the
# kernel died before /init (returns 0), else report (returns 1).
boot_failed() {
	local i
	# (the relay sees the link close while QEMU is still going down)
	for ((i = 0; i < 50; i++)); do
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	console_tail
	# (not with --vhostfd: the fds are numbered in the command)
	if [ "$BOOT_RETRIES" -le 0 ] || [ "$VHOSTFD" = 1 ] || ! early_crash; then
		return 1
	fi
	BOOT_RETRIES=$((BOOT_RETRIES - 1))
	if [ -s "$W/console.log" ]; then
		say "RETRY: the inner kernel died before its /init ran (nothing under test had run): booting it again"
		mkdir -p "$LOGDIR" 2>/dev/null && cp -f "$W/console.log" "$LOGDIR/console-failed-boot.log"
	else
		say "RETRY: the inner guest never printed anything (nothing under test had run): booting it again"
	fi
	kill "$RPID" "$QPID" 2>/dev/null
	wait "$RPID" "$QPID" 2>/dev/null
	rm -f "$W/console.log" "$W/ready" "$W/link.sock" "$W/qemu.pid"
	launch
	boot_end=$(( $(date +%s) + BOOT_TIMEOUT ))
	[ "$boot_end" -gt "$DEADLINE" ] && boot_end=$DEADLINE
	return 0
}
boot_end=$(( $(date +%s) + BOOT_TIMEOUT ))
[ "$boot_end" -gt "$DEADLINE" ] && boot_end=$DEADLINE
while [ ! -s "$W/ready" ]; do
	if ! kill -0 "$QPID" 2>/dev/null; then
		say "the inner QEMU exited during boot"
		boot_failed && continue
		exit 121
	fi
	if ! kill -0 "$RPID" 2>/dev/null; then
		say "the relay exited during boot:"
		sed 's/^/nested:   /' "$W/relay.log" >&2
		boot_failed && continue
		exit 121
	fi
	if [ "$(date +%s)" -ge "$boot_end" ]; then
		say "TIMEOUT: the inner guest was not up after $(( $(ms) / 1000 )) s"
		console_tail
		exit 124
	fi
	sleep 0.5
done
BOOT_MS=$(ms)
read -r _ uptime <"$W/ready"
say "inner guest up $((BOOT_MS - QSTART)) ms after QEMU started ($BOOT_MS ms after this script; inner uptime ${uptime}s)"
steps=$(tr -d '\r' <"$W/console.log" | sed -n 's/^nested-init: \(init started\|modules loaded\|autoload [a-z]*\) at \([0-9.]*s\).*/\1 \2/p' | tr '\n' ',')
[ -n "$steps" ] && say "inner uptime: ${steps%,}"

export NESTED_EXEC=$HERE/inner-exec.sh
export NESTED_SOCK=$W/exec.sock
export NESTED_VRELAY=$VRELAY
export NESTED_CID=$CID
export NESTED_NDEV=$NDEV
export NESTED_BOOT_MS=$BOOT_MS
export NESTED_DIR=$W
if [ "$MONITOR" = 1 ]; then
	export NESTED_MONITOR=$W/monitor.sock
	export NESTED_QMON=$HERE/qmon.sh
	export NESTED_MIGRATE=$HERE/migrate.sh
fi
if [ "$HOTPLUG" = 1 ]; then
	export NESTED_HOTPLUG_BUS=$HOTPLUG_BUS
	export NESTED_HOTPLUG=$HERE/hotplug.sh
fi

left=$(( DEADLINE - $(date +%s) ))
[ "$left" -gt 0 ] || left=1
c0=$(ms)
set +e
if [ -n "$HOSTCMD" ]; then
	timeout -k 10 "$left" bash -c "$HOSTCMD"
else
	timeout -k 10 "$left" "$NESTED_EXEC" "$@"
fi
rc=$?
set -e
say "command took $(( $(ms) - c0 )) ms, exit status $rc"

if ! qemu_alive; then
	say "CRASH: the inner QEMU is gone (command status $rc)"
	console_tail
	exit 121
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	say "TIMEOUT: the command did not finish within the ${TIMEOUT}s of the run"
fi

# The inner guest's kernel log: oops, WARNING, BUG, refcount, ... fail.
BAD_RE='\b[Oo]ops\b|WARNING:|BUG:|kernel BUG|refcount|KASAN|UBSAN|general protection|Call Trace|Kernel panic'
# Taint flags: B (bad page), D (died), W (warning), L (soft lockup).
BAD_TAINT=$(( (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14) ))
verdict=ok
if timeout 120 "$NESTED_EXEC" dmesg >"$W/dmesg.txt" 2>&1 &&
	taint=$(timeout 60 "$NESTED_EXEC" cat /proc/sys/kernel/tainted); then
	bad=$(grep -E "$BAD_RE" "$W/dmesg.txt" || true)
	if [ -n "${NESTED_DMESG_IGNORE:-}" ] && [ -n "$bad" ]; then
		bad=$(grep -Ev -e "$NESTED_DMESG_IGNORE" <<<"$bad" || true)
	fi
	if [ -n "$bad" ]; then
		verdict=fail
		say "inner kernel log check FAILED; offending lines:"
		while IFS= read -r l; do say "  $l"; done <<<"$bad"
		# and the first report whole (the full log is in --log-dir)
		first=$(grep -n -m 1 -E "$BAD_RE" "$W/dmesg.txt" | cut -d: -f1)
		say "the kernel log from there:"
		sed -n "$((first > 5 ? first - 5 : 1)),$((first + 60))p" "$W/dmesg.txt" |
			sed 's/^/nested:   /' >&2
		emu_note "$W/dmesg.txt"
	fi
	if [ -z "${NESTED_DMESG_IGNORE:-}" ] && (( ${taint:-0} & BAD_TAINT )); then
		verdict=fail
		say "the inner kernel is tainted ($taint): a warning, oops, bad page or lockup happened"
	fi
else
	verdict=fail
	say "cannot read the inner guest's kernel log"
	console_tail
fi
# The inner relay restarts itself after a crash (inner-init.sh): still a
# failure.
crashed=$(tr -d '\r' <"$W/console.log" 2>/dev/null | grep -a '^nested-init: relay crashed' || true)
if [ -n "$crashed" ]; then
	verdict=fail
	while IFS= read -r l; do say "the inner guest's relay crashed: $l"; done <<<"$crashed"
	{ grep -a -E 'segfault|trap|general protection' "$W/dmesg.txt" 2>/dev/null || true; } |
		sed 's/^/nested:   /' >&2
fi

# Shut the inner guest down: it ends itself when asked (reboot -f under
# -no-reboot); the link then closes and the relay exits.
timeout 20 "$NESTED_EXEC" reboot -f >/dev/null 2>&1 || true
for ((i = 0; i < 100; i++)); do
	qemu_alive || break
	sleep 0.2
done
say "total $(ms) ms (inner boot $BOOT_MS ms)"

if [ "$verdict" != ok ]; then
	exit 120
fi
exit "$rc"
