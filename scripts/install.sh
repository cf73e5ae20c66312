#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install / make uninstall: puts the built modules, tools, man pages
# and configuration where a Debian system looks for them (docs/install.md),
# or removes exactly those files again.
#
# Usage: scripts/install.sh install|uninstall|list [PART...]
#        scripts/install.sh dkms-src DIR
#   PART: modules (kernel/*.ko -> /lib/modules/$KVER/updates/, then depmod)
#         tools   (vsocktop, vsockctl -> $PREFIX/sbin; their man pages)
#         config  (/etc/modprobe.d/mvsock.conf, mvsock(7), the example
#                 /etc/mvsock/policy.rules, vsockctl-policy.service)
#         default: all three
#   list prints the files (under $DESTDIR) one per line. dkms-src copies
#   what DKMS builds the modules from (dkms.conf, kernel/, include/ and the
#   scripts dkms.conf runs) into DIR, e.g. /usr/src/mvsock-0.1.
# Environment: DESTDIR (default empty), PREFIX (default /usr/local),
# UNITDIR (default $PREFIX/lib/systemd/system), KVER (default
# scripts/kver.sh). depmod runs only when DESTDIR is empty.
#
# /etc/mvsock/policy.rules is installed only when there is none (it is
# the operator's file), and uninstall removes it only while it is still
# the example, byte for byte.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
KVER=${KVER:-$("$ROOT/scripts/kver.sh" --quiet)}
MODULES="mvsock mvsock_loopback mvsock_virtio mvsock_vhost"

die() { echo "install.sh: $*" >&2; exit 1; }

# "MODE SOURCE DESTINATION" per file of the given parts
manifest() {
	local part m
	for part in "$@"; do
		case $part in
		modules)
			for m in $MODULES; do
				[ "$m" != mvsock_vhost ] || [ -f "$ROOT/kernel/$m.ko" ] || continue
				echo "644 kernel/$m.ko /lib/modules/$KVER/updates/$m.ko"
			done ;;
		tools)
			for m in vsocktop vsockctl; do
				echo "755 build/tools/$m $PREFIX/sbin/$m"
				echo "644 docs/man/$m.8 $PREFIX/share/man/man8/$m.8"
			done ;;
		config)
			echo "644 packaging/modprobe.conf /etc/modprobe.d/mvsock.conf"
			echo "644 docs/man/mvsock.7 $PREFIX/share/man/man7/mvsock.7"
			echo "644 packaging/policy.rules /etc/mvsock/policy.rules"
			echo "644 packaging/vsockctl-policy.service $UNITDIR/vsockctl-policy.service" ;;
		*)
			echo "install.sh: unknown part '$part' (modules, tools, config)" >&2
			exit 2 ;;
		esac
	done
}

# the unit runs vsockctl from where it was installed
put() { # mode source destination
	case $2 in
	*.service) sed "s|@SBINDIR@|$PREFIX/sbin|g" "$ROOT/$2" >"$DESTDIR$3.tmp" &&
		chmod "$1" "$DESTDIR$3.tmp" && mv -f "$DESTDIR$3.tmp" "$DESTDIR$3" ;;
	*) install -m "$1" "$ROOT/$2" "$DESTDIR$3" ;;
	esac
}

do_install() {
	local mode src dst
	while read -r mode src dst; do
		[ -f "$ROOT/$src" ] || die "$src is missing (run make first)"
	done < <(manifest "$@")
	while read -r mode src dst; do
		mkdir -p "$DESTDIR$(dirname "$dst")"
		if [ "$dst" = /etc/mvsock/policy.rules ] && [ -e "$DESTDIR$dst" ]; then
			echo "install.sh: keeping the existing $DESTDIR$dst"
			continue
		fi
		put "$mode" "$src" "$dst"
		echo "installed $DESTDIR$dst"
	done < <(manifest "$@")
}

do_uninstall() {
	local mode src dst
	while read -r mode src dst; do
		[ -e "$DESTDIR$dst" ] || continue
		if [ "$dst" = /etc/mvsock/policy.rules ] && ! cmp -s "$ROOT/$src" "$DESTDIR$dst"; then
			echo "install.sh: keeping $DESTDIR$dst (changed since install)"
			continue
		fi
		rm -f "$DESTDIR$dst"
		echo "removed $DESTDIR$dst"
	done < <(manifest "$@")
	rmdir "$DESTDIR/etc/mvsock" 2>/dev/null || true
}

# dkms.conf's MAKE runs scripts/dkms.mk, which runs scripts/ksrc.sh (which
# may run scripts/kver.sh and sources scripts/lib/linux-source.sh)
dkms_src() { # dir
	local f
	[ -n "${1:-}" ] || die "dkms-src needs a directory"
	mkdir -p "$1/kernel" "$1/scripts/lib"
	cp "$ROOT/dkms.conf" "$1/"
	cp -r "$ROOT/include" "$1/"
	cp "$ROOT/scripts/dkms.mk" "$ROOT/scripts/ksrc.sh" "$ROOT/scripts/kver.sh" "$1/scripts/"
	cp "$ROOT/scripts/lib/linux-source.sh" "$1/scripts/lib/"
	for f in "$ROOT"/kernel/Kbuild "$ROOT"/kernel/*.[ch]; do
		case $f in *.mod.c) continue ;; esac
		cp "$f" "$1/kernel/"
	done
}

[ $# -ge 1 ] || { sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
cmd=$1
shift
if [ "$cmd" = dkms-src ]; then
	dkms_src "${1:-}"
	exit 0
fi
[ $# -gt 0 ] || set -- modules tools config
manifest "$@" >/dev/null
case $cmd in
install) do_install "$@" ;;
uninstall) do_uninstall "$@" ;;
list) manifest "$@" | while read -r _ _ dst; do echo "$DESTDIR$dst"; done; exit 0 ;;
*) echo "install.sh: unknown command '$cmd' (install, uninstall, list)" >&2; exit 2 ;;
esac
if [ -z "$DESTDIR" ] && [[ " $* " == *" modules "* ]]; then
	depmod -a "$KVER"
fi
