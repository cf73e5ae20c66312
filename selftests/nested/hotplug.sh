#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hot-unplug / hot-plug a vhost-vsock-pci device of the inner guest and wait
# until the inner guest has dealt with it, from a command of
# selftests/nested/run-inner.sh --hotplug:
#   "$NESTED_HOTPLUG" del ID [--now]
#	device_del ID, then wait until QEMU has freed the device: the inner
#	guest's shpchp powered the slot off, after the driver's remove ran
#	and the PCI device went away.
#   "$NESTED_HOTPLUG" add ID CID SLOT [--now]
#	device_add vhost-vsock-pci,id=ID,guest-cid=CID,bus=$NESTED_HOTPLUG_BUS,
#	addr=SLOT (1..31, free), then wait until a driver of the inner guest is
#	bound to the new device's virtio device and mvsock's registry
#	(/sys/module/mvsock/parameters/devices) lists a guest device with
#	CID: the probe is done. (The driver's sysfs link alone is not enough:
#	the driver core makes it before it calls the probe.)
#   --now  skip shpchp's 5 s "attention button" abort window: a watcher in
#	the inner guest powers the slot off (del) or on (add) through
#	/sys/bus/pci/slots/SLOT/power as soon as the kernel logged the
#	button press. Without it the guest acts when the window ends, as on
#	real hardware.
# Prints one line, e.g. "hotplug: del vsock1 (slot 2): gone after 6512 ms".
# Exit status: 0 done; 1 QEMU refused or the guest did not finish within
# HOTPLUG_TIMEOUT seconds (default 120); 2 usage.
# The slot of a device is its addr= on the bridge: vsockI of run-inner.sh
# is in slot I+1; the inner guest calls it /sys/bus/pci/slots/SLOT.

set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
QMON=${NESTED_QMON:-$HERE/qmon.sh}
TMO=${HOTPLUG_TIMEOUT:-120}
T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
say() { echo "hotplug: $*"; }
usage() {
	sed -n '/^#   "\$NESTED_HOTPLUG" del/,/^# Prints/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

NOW=0
ARGS=()
for a in "$@"; do
	case $a in
	--now) NOW=1 ;;
	-*) usage ;;
	*) ARGS+=("$a") ;;
	esac
done
set -- "${ARGS[@]}"
[ $# -ge 2 ] || usage
OP=$1
ID=$2
case $OP in
del) [ $# -eq 2 ] || usage ;;
add)
	[ $# -eq 4 ] || usage
	CID=$3
	SLOT=$4
	[[ $CID =~ ^[0-9]+$ ]] && [[ $SLOT =~ ^[0-9]+$ ]] && [ "$SLOT" -ge 1 ] && [ "$SLOT" -le 31 ] || usage
	;;
*) usage ;;
esac
if [ -z "${NESTED_MONITOR:-}" ] || [ -z "${NESTED_EXEC:-}" ] || [ -z "${NESTED_HOTPLUG_BUS:-}" ]; then
	echo "hotplug: run from a command of selftests/nested/run-inner.sh --hotplug" >&2
	exit 2
fi

# The slot (decimal) of device ID on the hot-plug bridge, from `info pci`.
slot_of() {
	"$QMON" 'info pci' | awk -v want="id \"$1\"" '
		/^ *Bus +[0-9]+, device +[0-9]+, function/ { d = $4; sub(/,/, "", d) }
		index($0, want) { print d + 0; exit }'
}
present() { "$QMON" 'info pci' | grep -qF "id \"$1\""; }

# The guest side of --now: once shpchp has taken the button press (it logs
# "PCI slot #SLOT - powering off/on due to button press", then waits 5 s),
# power the slot off/on through sysfs, which cancels the wait. It follows
# the kernel log (/dev/kmsg; no forks per line, the inner guest is slow)
# from a marker it logs itself, and prints "ready" on reading the marker.
watcher() { # slot off|on value
	cat <<EOF
m="nested-hotplug: watching slot $1 (\$\$)"
f=/tmp/nested-hotplug.\$\$
mknod \$f p || exit 1
cat /dev/kmsg >\$f &
c=\$!
echo "\$m" >/dev/kmsg
seen=0
hit=0
while read -r rec; do
	case \$rec in
	*"\$m"*) seen=1; echo ready ;;
	*"PCI slot #$1 - powering $2 due to button press"*)
		[ \$seen = 1 ] && { hit=1; break; } ;;
	esac
done <\$f
kill \$c 2>/dev/null
rm -f \$f
# (fails harmlessly when the slot got there by itself first)
[ \$hit = 1 ] && echo $3 >/sys/bus/pci/slots/$1/power 2>/dev/null
exit 0
EOF
}
WPID=
WOUT=
start_watcher() { # slot off|on value
	local i
	WOUT=$(mktemp)
	"$NESTED_EXEC" sh -c "$(watcher "$1" "$2" "$3")" >"$WOUT" 2>&1 &
	WPID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^ready' "$WOUT" && return 0
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	say "the watcher in the inner guest did not start: $(cat "$WOUT")" >&2
	return 1
}
end_watcher() {
	[ -n "$WPID" ] || return 0
	kill "$WPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	grep -v '^ready' "$WOUT" >&2
	rm -f "$WOUT"
	WPID=
}
trap end_watcher EXIT

if [ "$OP" = del ]; then
	SLOT=$(slot_of "$ID")
	[ -n "$SLOT" ] || { say "no device '$ID' in QEMU's info pci" >&2; exit 1; }
	[ $NOW = 1 ] && { start_watcher "$SLOT" off 0 || exit 1; }
	T0=$(date +%s%N)
	out=$("$QMON" "device_del $ID") || { say "device_del $ID: $out" >&2; exit 1; }
	end=$((SECONDS + TMO))
	while present "$ID"; do
		if [ $SECONDS -ge $end ]; then
			say "del $ID (slot $SLOT): still there after ${TMO}s" >&2
			exit 1
		fi
		sleep 0.2
	done
	say "del $ID (slot $SLOT): gone after $(ms) ms"
	exit 0
fi

[ $NOW = 1 ] && { start_watcher "$SLOT" on 1 || exit 1; }
T0=$(date +%s%N)
out=$("$QMON" "device_add vhost-vsock-pci,id=$ID,guest-cid=$CID,bus=$NESTED_HOTPLUG_BUS,addr=$SLOT") ||
	{ say "device_add $ID: $out" >&2; exit 1; }
# In the inner guest: the slot's PCI device gets a virtio device with a
# driver bound, and the registry lists the CID (busybox sh; tests without
# forks, the guest may be slow). Exit 1: no driver bound; 3: bound, not
# registered.
"$NESTED_EXEC" sh -c "
	i=0 b=0
	while [ \$i -lt $((TMO * 10)) ]; do
		if [ \$b = 0 ] && read -r a </sys/bus/pci/slots/$SLOT/address 2>/dev/null; then
			for d in /sys/bus/pci/devices/\$a.0/virtio*/driver; do
				[ -e \"\$d\" ] && b=1
			done
		fi
		if [ \$b = 1 ]; then
			while read -r l; do
				case \"\$l \" in *' role=guest cid=$CID '*) exit 0 ;; esac
			done </sys/module/mvsock/parameters/devices
		fi
		sleep 0.1
		i=\$((i + 1))
	done
	exit \$((b * 2 + 1))"
rc=$?
case $rc in
0) ;;
3)
	say "add $ID (slot $SLOT): a driver is bound, but no guest device with CID $CID in mvsock's registry after ${TMO}s" >&2
	exit 1
	;;
*)
	say "add $ID (slot $SLOT): no driver bound after ${TMO}s (inner-exec status $rc)" >&2
	exit 1
	;;
esac
say "add $ID (slot $SLOT, CID $CID): probed after $(ms) ms"
exit 0
