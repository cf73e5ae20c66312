#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The inner guest's stand-in for udev's module loading (packed as
# /sbin/uevent-modprobe by selftests/nested/mkinitramfs.sh). With
# inner_autoload=1, selftests/nested/inner-init.sh runs busybox's
# "uevent /sbin/uevent-modprobe": a listener on the kernel's uevent
# netlink socket (what udevd reads) that runs this once per event, one
# event at a time, with the event's variables in the environment. As
# udev's 80-drivers.rules ("kmod load $env{MODALIAS}" on "add", the
# modprobe.d blacklist applied): a device added with a MODALIAS gets
# "modprobe -b MODALIAS", which looks the alias up in modules.alias
# (depmod's, of the modules installed in /lib/modules/$(uname -r)/).
#
# /run/uevent.log: a line per such modprobe (sequence number, device,
# alias, exit status), then what modprobe said, indented. /run/uevent.seqnum: the
# sequence number of the last event handled (inner-init.sh's settle).

if [ "${ACTION:-}" = add ] && [ -n "${MODALIAS:-}" ]; then
	out=$(modprobe -b "$MODALIAS" 2>&1)
	st=$?
	{
		echo "seqnum=${SEQNUM:-?} devpath=${DEVPATH:-?} modalias=$MODALIAS status=$st"
		[ -z "$out" ] || echo "$out" | while IFS= read -r l; do echo "  $l"; done
	} >>/run/uevent.log
fi
[ -n "${SEQNUM:-}" ] && echo "$SEQNUM" >/run/uevent.seqnum
exit 0
