#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of a selftests/vm guest, after switch_root into the overlay of the
# host root. Sets up the usual mounts, runs the command described by
# $vmout/spec.sh, checks the kernel log, prints the exit sentinel on ttyS0
# and powers off. Never exits (PID 1 must not): every path ends in poweroff.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec </dev/null >/dev/ttyS0 2>&1

say() { echo "MVSOCK-VM: $*"; }

# Patterns of kernel log lines that fail a run.
BAD_RE='\b[Oo]ops\b|WARNING:|BUG:|kernel BUG|refcount|KASAN|UBSAN|general protection|Call Trace|Kernel panic'
# Taint flags that fail a run: B (bad page), D (died), W (warning), L (soft lockup).
BAD_TAINT=$(( (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14) ))

power_off() {
	sync
	# Let the UART drain before the machine goes away: stty's tcsetattr
	# (TCSADRAIN) waits for queued output.
	stty -F /dev/ttyS0 -echo 2>/dev/null
	busybox poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 5
}

finish() { # status dmesg-verdict
	local line="MVSOCK-VM-EXIT status=$1 dmesg=$2"
	[ -n "${vmout:-}" ] && echo "$line" >"$vmout/status"
	echo "$line"
	power_off
}

# /proc, /sys, /dev, /tmp, /run, debugfs, tracefs, bpffs, cgroup2 and lo were
# set up by the initramfs (selftests/vm/initramfs-init.sh).

if [ -z "${vmout:-}" ] || [ ! -r "$vmout/spec.sh" ]; then
	say "no run description (vmout=${vmout:-unset})"
	finish 125 ok
fi

VM_CWD=/
VM_CMD=()
VM_ENV=()
VM_INTERACTIVE=0
VM_VERBOSE=0
VM_DMESG_IGNORE=
# shellcheck source=/dev/null
. "$vmout/spec.sh"

[ "$VM_VERBOSE" = 1 ] && say "command start (guest uptime $(cut -d' ' -f1 /proc/uptime) s)"

if ! cd "$VM_CWD"; then
	say "cannot cd to $VM_CWD inside the guest"
	finish 125 ok
fi

envargs=(
	-i
	PATH="$PATH"
	HOME=/root
	USER=root
	LOGNAME=root
	SHELL=/bin/bash
	LANG=C.UTF-8
	TERM="${VM_TERM:-dumb}"
	MVSOCK_VM=1
	VM_OUT="$vmout"
	"${VM_ENV[@]}"
)

if [ "$VM_INTERACTIVE" = 1 ]; then
	setsid -c -w env "${envargs[@]}" "${VM_CMD[@]}" \
		</dev/ttyS0 >/dev/ttyS0 2>&1
	rc=$?
	# The end of the command's session hung the tty up: reopen it.
	exec </dev/null >/dev/ttyS0 2>&1
else
	# Plain "\n" line ends for the host's parsers.
	stty -F /dev/ttyS0 -onlcr 2>/dev/null
	env "${envargs[@]}" "${VM_CMD[@]}" </dev/null
	rc=$?
fi

verdict=ok
dmesg >"$vmout/dmesg.txt" 2>&1
bad=$(grep -E "$BAD_RE" "$vmout/dmesg.txt")
if [ -n "$VM_DMESG_IGNORE" ] && [ -n "$bad" ]; then
	bad=$(grep -Ev -e "$VM_DMESG_IGNORE" <<<"$bad")
fi
if [ -n "$bad" ]; then
	verdict=fail
	say "kernel log check FAILED; offending lines:"
	while IFS= read -r l; do say "  $l"; done <<<"$bad"
fi
taint=$(cat /proc/sys/kernel/tainted 2>/dev/null || echo 0)
if [ -z "$VM_DMESG_IGNORE" ] && (( taint & BAD_TAINT )); then
	verdict=fail
	say "kernel is tainted ($taint): a warning, oops, bad page or lockup happened"
fi

finish "$rc" "$verdict"
