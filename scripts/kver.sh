#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel release (uname -r style) that mvsock builds and tests
# against: the newest /lib/modules/6.12.* that has a "build" directory and a
# matching /boot/vmlinuz-*. Set KVER in the environment to override it (it is
# then only validated).
#
# Usage: scripts/kver.sh [--quiet]
#   exit 0 and print the version, or exit 1 with a message on stderr.

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

err() {
	[ "$quiet" = 1 ] || echo "kver.sh: $*" >&2
}

if [ -n "${KVER:-}" ]; then
	if [ ! -d "/lib/modules/$KVER/build" ]; then
		err "KVER=$KVER: /lib/modules/$KVER/build does not exist (headers not installed?)"
		exit 1
	fi
	if [ ! -e "/boot/vmlinuz-$KVER" ]; then
		err "KVER=$KVER: /boot/vmlinuz-$KVER does not exist"
		exit 1
	fi
	echo "$KVER"
	exit 0
fi

best=$(
	for d in /lib/modules/6.12.*; do
		[ -d "$d/build" ] || continue
		v=${d#/lib/modules/}
		[ -e "/boot/vmlinuz-$v" ] || continue
		echo "$v"
	done | sort -V | tail -n 1
)

if [ -z "$best" ]; then
	err "no usable 6.12 kernel found (need /lib/modules/6.12.*/build and /boot/vmlinuz-6.12.*); run 'make deps' or set KVER="
	exit 1
fi
echo "$best"
