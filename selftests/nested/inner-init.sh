#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the inner (second-level) guest of the nested topology, packed
# by selftests/nested/mkinitramfs.sh (busybox sh; no root file system: the
# initramfs is all there is). Mounts the usual pseudo file systems, loads
# the modules named on the kernel command line, brings lo up and runs
# vrelay on the virtio-serial port named "nested.ctl": the outer side
# (selftests/nested/run-inner.sh) runs commands here and carries TCP
# connections through it. Ends the machine (reboot -f; QEMU runs with
# -no-reboot) when the link goes away (a relay that crashed is restarted).
#
# Kernel command line parameters (the kernel hands them to us as
# environment variables):
#   inner_load=mod1,mod2    insmod /lib/modules/NAME.ko, in this order
#   inner_autoload=1        load drivers as udev does on an installed
#                           system (an initramfs built with --installed):
#                           a uevent listener (/sbin/uevent-modprobe:
#                           modprobe -b MODALIAS on "add"), then "add" to
#                           every virtio device's uevent file (coldplug,
#                           as udevadm trigger) and wait until every event
#                           was handled (as udevadm settle); the outcome
#                           in /run/autoload.status, modprobe's in
#                           /run/uevent.log
#   inner_listen=P1,P2      TCP ports accepted on 127.0.0.1 here and carried
#                           to 127.0.0.1 on the outer side
#   inner_verbose=1         vrelay logs connections

PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
: "${inner_load:=}" "${inner_listen:=}" "${inner_verbose:=0}" "${inner_autoload:=0}"

mount -t devtmpfs devtmpfs /dev
# The kernel console (ttyS0) is our log; the outer side reads it only when
# something went wrong.
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
hostname mvsock-inner
ip link set lo up

say() { echo "nested-init: $*"; }
read -r up _ </proc/uptime
say "init started at ${up}s"

IFS=,
for m in $inner_load; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done
args=
for p in $inner_listen; do
	[ -n "$p" ] && args="$args -L $p"
done
unset IFS
if [ -n "$inner_load" ]; then
	read -r up _ </proc/uptime
	say "modules loaded at ${up}s"
fi
[ "$inner_verbose" = 1 ] || args="$args -q"

# inner_autoload=1: udev's part on an installed system, the device
# drivers loaded by alias (no udevd here: busybox's uevent listener on
# the same netlink socket, /sbin/uevent-modprobe for each event).
autoload() {
	kv=$(uname -r)
	if [ ! -f "/lib/modules/$kv/modules.dep" ]; then
		say "inner_autoload: no /lib/modules/$kv/modules.dep (initramfs built without --installed)"
		echo "error=no-modules-dep" >/run/autoload.status
		return
	fi
	uevent /sbin/uevent-modprobe </dev/null &
	# listening once its socket is bound: NETLINK_KOBJECT_UEVENT (15),
	# port id not 0 (the kernel's own)
	i=0
	while ! awk '$2 == 15 && $3 != 0 { f = 1 } END { exit !f }' /proc/net/netlink; do
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			say "inner_autoload: the uevent listener did not start"
			echo "error=no-listener" >/run/autoload.status
			return
		fi
		sleep 0.1
	done
	# coldplug: the devices probed before anyone listened
	n=0
	for d in /sys/bus/virtio/devices/*; do
		[ -w "$d/uevent" ] || continue
		echo add >"$d/uevent" && n=$((n + 1))
	done
	# settle: events are handled one at a time, in order; done when the
	# last one the kernel sent was (modprobe's own events included)
	st=settled
	i=0
	while [ $n -gt 0 ]; do
		read -r cur </sys/kernel/uevent_seqnum
		last=
		[ -r /run/uevent.seqnum ] && read -r last </run/uevent.seqnum
		[ "${last:-0}" -ge "$cur" ] && break
		i=$((i + 1))
		if [ $i -ge 1200 ]; then
			st=timeout
			say "inner_autoload: events not settled after 120 s (last handled ${last:-none}, last sent $cur)"
			break
		fi
		sleep 0.1
	done
	read -r up _ </proc/uptime
	echo "status=$st triggered=$n seqnum=$(cat /sys/kernel/uevent_seqnum) uptime=$up" >/run/autoload.status
	say "autoload $st at ${up}s ($n virtio devices triggered)"
}
[ "$inner_autoload" = 1 ] && autoload

# The port's device appears once the virtio-serial driver has talked to
# the device; find it by name (no udev here).
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 600 ]; do
	for p in /sys/class/virtio-ports/vport*; do
		[ -r "$p/name" ] || continue
		if [ "$(cat "$p/name")" = nested.ctl ]; then
			dev=/dev/${p##*/}
			break
		fi
	done
	[ -n "$dev" ] && [ -c "$dev" ] && break
	dev=
	i=$((i + 1))
	sleep 0.1
done
if [ -z "$dev" ]; then
	say "no virtio-serial port named nested.ctl"
else
	read -r up _ </proc/uptime
	say "up at ${up}s, relay on $dev"
	# A relay killed by a signal (a crash) is started again, at most 3
	# times: the outer relay re-handshakes with it (what it carried is
	# lost) and run-inner.sh fails the run on the "relay crashed" line,
	# but the kernel log (the crash's "segfault at" line) can still be
	# fetched.
	n=0
	while :; do
		# shellcheck disable=SC2086 # $args is a list of options
		vrelay -x $args "$dev"
		st=$?
		if [ $st -le 128 ] || [ $st -ge 255 ] || [ $n -ge 3 ]; then
			say "relay exited with status $st"
			break
		fi
		n=$((n + 1))
		say "relay crashed (status $st): starting it again"
	done
fi
reboot -f
sleep 10
