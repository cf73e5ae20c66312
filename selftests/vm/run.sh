#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run one command inside a throw-away QEMU (TCG) guest booted from the host's
# distro kernel (/boot/vmlinuz-$KVER), with the host root file system shared
# read-only over 9p under a tmpfs overlay: the guest sees the same files at
# the same paths and can write anywhere; its writes are discarded.
#
# Usage:
#   selftests/vm/run.sh [--timeout SECS] [--smp N] [--mem MB]
#                       [--append 'extra kernel args'] [--qemu-args '...']
#                       [--interactive] -- COMMAND [ARGS...]
#   Defaults: --timeout 600 --smp 2 --mem 2048. --qemu-args is split on
#   white space. --interactive connects the terminal to the command.
#
# The command runs as root (PID 1 is selftests/vm/guest-init.sh) in the
# directory run.sh was started from, with PATH=/usr/local/sbin:...:/bin,
# HOME=/root, MVSOCK_VM=1, VM_OUT=<a directory shared read-write with the
# host> and the variables listed in VM_ENV (format below). /proc, /sys, /dev,
# /dev/pts, /tmp, /run, debugfs, tracefs (/sys/kernel/tracing), bpffs and
# cgroup2 are mounted and lo is up. Its stdout/stderr stream to our stdout.
# Stock vsock modules are blacklisted on the kernel command line (they still
# load with an explicit modprobe). Kernel messages go to a separate console.
#
# VM_ENV format (the one format of every producer and consumer): NAME=VALUE
# words separated by white space (spaces, tabs, newlines), e.g.
# VM_ENV="A=1 B=x,y". A VALUE never contains white space or quotes (it is
# taken literally, not unquoted); a list travels as a comma list ("x,y,z")
# and the command turns it back into words itself (${B//,/ }; e.g.
# CHECK_SUITES, MD_ONLY, the BENCH_*_SIZES of scripts/bench*.sh, which use
# vm_env_words and vm_env_lists of scripts/lib/bench-common.sh). A word that
# is not NAME=VALUE makes run.sh fail (122). The same format serves
# NESTED_INNER_ENV (selftests/nested/vsock-test-peer.sh) in the inner guest.
#
# Exit status: the command's own status, or
#   120  the guest's kernel log had an oops/WARNING/BUG/... line (printed)
#        or the kernel got tainted by a warning/oops/lockup
#   121  the guest crashed or died before reporting (kernel messages printed)
#   122  the runner could not set up the VM
#   124  timeout (QEMU was killed)
#   125  the guest could not start the command (e.g. no such directory)
#   2    usage error
#
# Environment: KVER (kernel release, default scripts/kver.sh), VM_ENV,
# VM_VERBOSE=1 (QEMU command line and boot timings), VM_BIOS=seabios
# (default: qboot), VM_DMESG_IGNORE (extended regex of kernel log lines that
# must not fail the run; it also disables the taint check), QEMU (binary,
# default qemu-system-x86_64), VM_KEEP_OUT=DIR (after the run, copy what the
# command wrote into $VM_OUT to DIR on the host; $VM_OUT itself is removed).
# Logs of the last run: build/vm/last-dmesg.txt (the guest's dmesg, or its
# kernel console log if it died), build/vm/last-console.log.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
VMDIR=$ROOT/build/vm

TIMEOUT=600
SMP=2
MEM=2048
APPEND=
QEMU_ARGS=
INTERACTIVE=0

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "vm: error: $*" >&2
	exit 122
}

need_arg() {
	[ $# -ge 2 ] || { echo "vm: $1 needs an argument" >&2; usage; }
}

while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
	--smp) need_arg "$@"; SMP=$2; shift 2 ;;
	--mem) need_arg "$@"; MEM=$2; shift 2 ;;
	--append) need_arg "$@"; APPEND=$2; shift 2 ;;
	--qemu-args) need_arg "$@"; QEMU_ARGS=$2; shift 2 ;;
	--interactive) INTERACTIVE=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	*) echo "vm: unknown option '$1'" >&2; usage ;;
	esac
done
[ $# -ge 1 ] || { echo "vm: no command given" >&2; usage; }
for n in "$TIMEOUT" "$SMP" "$MEM"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "vm: '$n' is not a positive number" >&2; usage; }
done

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU not found (run 'make deps')"
KVER=${KVER:-$("$ROOT/scripts/kver.sh")} || die "cannot determine the kernel version"
export KVER
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || die "$KERNEL is not readable (run as root, or install linux-image-$KVER)"

CWD=$(pwd -P)
case "$CWD/" in
/proc/*|/sys/*|/dev/*)
	die "cannot run from $CWD: the guest has its own $(echo "$CWD" | cut -d/ -f2) there" ;;
esac
# Host directories the guest must see although they lie under /tmp or /run
# (which are fresh tmpfs in the guest).
KEEP=$ROOT
case "$CWD/" in
"$ROOT"/*) ;;
*) KEEP+=":$CWD" ;;
esac
case "$CWD$ROOT" in
*[[:space:],:]*) die "paths with spaces, commas or colons are not supported ($CWD, $ROOT)" ;;
esac

mkdir -p "$VMDIR/out"
INITRD=$VMDIR/initramfs-$KVER.cpio
"$HERE/mkinitramfs.sh" "$KVER" "$INITRD" || die "cannot build the initramfs"

# Directories of runs whose runner is gone (killed hard) are removed.
for d in "$VMDIR"/out/run.*; do
	[ -d "$d" ] || continue
	kill -0 "${d##*.}" 2>/dev/null || rm -rf "$d"
done
OUT=$VMDIR/out/run.$$
rm -rf "$OUT"
mkdir -p "$OUT"
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	rm -rf "$OUT"
	[ "$INTERACTIVE" = 1 ] && [ -t 0 ] && stty sane 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

env_assign=()
for a in ${VM_ENV:-}; do
	[[ $a == [A-Za-z_]*=* ]] || die "VM_ENV entry '$a' is not NAME=VALUE"
	env_assign+=("$a")
done

{
	printf 'VM_CWD=%q\n' "$CWD"
	printf 'VM_CMD=('; printf ' %q' "$@"; printf ' )\n'
	printf 'VM_ENV=('
	[ ${#env_assign[@]} -gt 0 ] && printf ' %q' "${env_assign[@]}"
	printf ' )\n'
	printf 'VM_INTERACTIVE=%q\n' "$INTERACTIVE"
	printf 'VM_VERBOSE=%q\n' "${VM_VERBOSE:-0}"
	printf 'VM_TERM=%q\n' "${TERM:-dumb}"
	printf 'VM_DMESG_IGNORE=%q\n' "${VM_DMESG_IGNORE:-}"
} >"$OUT/spec.sh"

BLACKLIST=vsock,vsock_loopback,vmw_vsock_virtio_transport,vmw_vsock_virtio_transport_common,vhost_vsock,vsock_diag,vmw_vsock_vmci_transport,hv_sock
# ttyS0: the command's output (our stdout). ttyS1 (the kernel console):
# kernel messages, into a file, so they never interleave with test output.
CMDLINE="console=ttyS1 loglevel=5 panic=-1 rdinit=/init"
CMDLINE+=" modprobe.blacklist=$BLACKLIST"
CMDLINE+=" edd=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp i8042.dumbkbd"
CMDLINE+=" vminit=$HERE/guest-init.sh vmout=$OUT vmkeep=$KEEP"
CMDLINE+=" vm9p=msize=512000,cache=loose"
[ "${VM_VERBOSE:-0}" = 1 ] && CMDLINE+=" vmverbose=1"
[ -n "$APPEND" ] && CMDLINE+=" $APPEND"

# qboot (from qemu-system-data) boots faster than SeaBIOS and prints
# nothing; SeaBIOS is told not to use the serial port. VM_BIOS=seabios
# selects SeaBIOS.
QBOOT=/usr/share/qemu/qboot.rom
if [ "${VM_BIOS:-qboot}" = qboot ] && [ -r "$QBOOT" ]; then
	FIRMWARE=(-bios "$QBOOT")
else
	FIRMWARE=(-fw_cfg "name=etc/sercon-port,string=0")
fi

qemu_cmd=(
	"$QEMU" -accel tcg -nic none -nographic -no-reboot -no-user-config
	-vga none -cpu max -smp "$SMP" -m "$MEM" "${FIRMWARE[@]}"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
	-serial mon:stdio -serial "file:$OUT/kernel.log"
	-virtfs "local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$OUT,mount_tag=vmout,security_model=none,multidevs=remap"
)
if [ -n "$QEMU_ARGS" ]; then
	# shellcheck disable=SC2206 # --qemu-args is split on white space
	qemu_cmd+=($QEMU_ARGS)
fi

VERBOSE=${VM_VERBOSE:-0}
[ "$VERBOSE" = 1 ] && echo "vm: ${qemu_cmd[*]}" >&2

start=$(date +%s%N)
ms_since_start() { echo $(( ($(date +%s%N) - start) / 1000000 )); }

# Stream the console to stdout as it comes, keeping a copy for parsing.
stream() {
	if [ "$VERBOSE" = 1 ]; then
		local line
		while IFS= read -r line || [ -n "$line" ]; do
			printf '%s\n' "$line"
			printf '%s\n' "$line" >>"$OUT/console.log"
			case "$line" in
			*"MVSOCK-VM: command start"*)
				echo "vm: boot to command took $(ms_since_start) ms (wall)" >&2 ;;
			MVSOCK-VM-EXIT*)
				echo "vm: exit status reported after $(ms_since_start) ms" >&2 ;;
			esac
		done
	else
		tee "$OUT/console.log"
	fi
}

# Interactive: QEMU must stay in the terminal's foreground process group to
# read it (timeout would otherwise put it in a group of its own).
if [ "$INTERACTIVE" = 1 ] && [ -t 0 ]; then
	stdin=/dev/stdin
	tmo=(timeout --foreground -k 10 "$TIMEOUT")
else
	stdin=/dev/null
	tmo=(timeout -k 10 "$TIMEOUT")
fi
set +e
"${tmo[@]}" "${qemu_cmd[@]}" <"$stdin" | stream
st=("${PIPESTATUS[@]}")
set -e
qrc=${st[0]}
[ "$VERBOSE" = 1 ] && echo "vm: total $(ms_since_start) ms, qemu exit $qrc" >&2

cp -f "$OUT/console.log" "$VMDIR/last-console.log" 2>/dev/null || true
if [ -s "$OUT/dmesg.txt" ]; then
	cp -f "$OUT/dmesg.txt" "$VMDIR/last-dmesg.txt"
else
	cp -f "$OUT/kernel.log" "$VMDIR/last-dmesg.txt" 2>/dev/null || true
fi
if [ -n "${VM_KEEP_OUT:-}" ]; then
	# The runner's own files (spec.sh, console.log, ...) are left out.
	mkdir -p "$VM_KEEP_OUT" &&
		find "$OUT" -mindepth 1 -maxdepth 1 ! -name spec.sh ! -name console.log \
			! -name kernel.log ! -name dmesg.txt ! -name status \
			-exec cp -a -t "$VM_KEEP_OUT" {} + ||
		echo "vm: warning: could not copy $OUT to $VM_KEEP_OUT" >&2
fi

# The kernel console log from the first oops/BUG/WARNING/panic line on, or
# its last lines when there is none.
kernel_tail() {
	local first
	first=$(tr -d '\r' <"$OUT/kernel.log" 2>/dev/null |
		grep -n -m 1 -E 'Kernel panic|\b[Oo]ops\b|BUG:|WARNING:|general protection|Call Trace' |
		cut -d: -f1)
	echo "vm: kernel messages (full log: $VMDIR/last-dmesg.txt):" >&2
	if [ -n "$first" ]; then
		first=$(( first > 5 ? first - 5 : 1 ))
		tail -n "+$first" "$OUT/kernel.log" | head -n 120
	else
		tail -n 40 "$OUT/kernel.log" 2>/dev/null
	fi | tr -d '\r' | sed 's/^/vm:   /' >&2
}

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "vm: TIMEOUT: the guest did not finish within ${TIMEOUT}s; QEMU killed" >&2
	kernel_tail
	exit 124
fi

sentinel=$(tr -d '\r' <"$OUT/console.log" | grep -a '^MVSOCK-VM-EXIT ' | tail -n 1 || true)
if [ -z "$sentinel" ] && [ -s "$OUT/status" ]; then
	# The status file is written just before the sentinel; the serial
	# output may have been cut at power-off.
	sentinel=$(cat "$OUT/status")
fi
if [ -z "$sentinel" ]; then
	if grep -aq 'MVSOCK-VM-INIT-FAILED' "$OUT/console.log"; then
		echo "vm: CRASH: the guest's initramfs failed (see the message above)" >&2
	else
		echo "vm: CRASH: the guest died without reporting an exit status (qemu exit $qrc)" >&2
	fi
	kernel_tail
	exit 121
fi

status=$(sed -n 's/.*status=\([0-9]*\).*/\1/p' <<<"$sentinel")
verdict=$(sed -n 's/.*dmesg=\([a-z]*\).*/\1/p' <<<"$sentinel")
if [ "$verdict" != ok ]; then
	echo "vm: FAIL: kernel log check failed (command exit status $status); see $VMDIR/last-dmesg.txt" >&2
	exit 120
fi
exit "$status"
