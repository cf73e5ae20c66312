#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the tiny initramfs used by selftests/vm/run.sh: a static busybox, the
# modules needed to mount the host root over virtio-9p with a tmpfs overlay
# (decompressed, in dependency order; built-in ones are skipped) and
# selftests/vm/initramfs-init.sh as /init.
#
# Usage: selftests/vm/mkinitramfs.sh KVER OUTPUT
# The output is rebuilt only when one of its inputs changed.

set -euo pipefail

KVER=${1:?usage: mkinitramfs.sh KVER OUTPUT}
OUT=${2:?usage: mkinitramfs.sh KVER OUTPUT}
HERE=$(cd "$(dirname "$0")" && pwd -P)
MODDIR=/lib/modules/$KVER
BUSYBOX=${BUSYBOX:-/bin/busybox}
WANTED="netfs 9pnet 9pnet_virtio 9p overlay"
APPLETS="sh mount umount mkdir insmod switch_root poweroff echo cat sleep ls ln ip hostname grep"

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ -f "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep not found (is linux-image-$KVER installed?)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static, or run 'make deps')"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# Normalised module name of a path like kernel/fs/9p/9p.ko.xz
modname() {
	local b=${1##*/}
	b=${b%%.ko*}
	echo "${b//-/_}"
}

declare -A DEPLINE=() BUILTIN=() SEEN=()
ORDER=()
while IFS= read -r line; do
	key=${line%%:*}
	DEPLINE[$(modname "$key")]=$line
done <"$MODDIR/modules.dep"
if [ -f "$MODDIR/modules.builtin" ]; then
	while IFS= read -r line; do
		BUILTIN[$(modname "$line")]=1
	done <"$MODDIR/modules.builtin"
fi

# Depth-first: dependencies first, each module once.
add_module() {
	local m=$1 line deps d
	[ -n "${SEEN[$m]:-}" ] && return 0
	SEEN[$m]=1
	if [ -n "${BUILTIN[$m]:-}" ]; then
		return 0
	fi
	line=${DEPLINE[$m]:-}
	[ -n "$line" ] || die "module $m is neither in modules.dep nor built in for $KVER"
	deps=${line#*:}
	for d in $deps; do
		add_module "$(modname "$d")"
	done
	ORDER+=("${line%%:*}")
}
for m in $WANTED; do
	add_module "$m"
done

# Key describing every input; the image is rebuilt when it changes.
key=$(
	echo "kver=$KVER"
	stat -c '%n %s %Y' "$BUSYBOX" "$HERE/initramfs-init.sh" "$0"
	for p in "${ORDER[@]}"; do stat -c '%n %s %Y' "$MODDIR/$p"; done
)
if [ -f "$OUT" ] && [ -f "$OUT.key" ] && [ "$(cat "$OUT.key")" = "$key" ]; then
	exit 0
fi

mkdir -p "$(dirname "$OUT")"
stage=$(mktemp -d "$OUT.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules,lower,rw,newroot}
cp "$BUSYBOX" "$stage/bin/busybox"
for a in $APPLETS; do
	ln -s busybox "$stage/bin/$a"
done
install -m 0755 "$HERE/initramfs-init.sh" "$stage/init"

: >"$stage/lib/modules/load-order"
for p in "${ORDER[@]}"; do
	name=$(modname "$p")
	case "$p" in
	*.ko.xz) xz -dc "$MODDIR/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko.zst) zstd -qdc "$MODDIR/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$MODDIR/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko) cp "$MODDIR/$p" "$stage/lib/modules/$name.ko" ;;
	*) die "unknown module file type: $p" ;;
	esac
	echo "$name" >>"$stage/lib/modules/load-order"
done

# newc header for a special file that cpio cannot take from the staging
# directory without root: /dev/console (char 5:1), so that the kernel hands
# /init an open console.
newc_entry() { # name mode rdevmajor rdevminor
	local name=$1 mode=$2 maj=$3 min=$4 namesize hdr pad
	namesize=$(( ${#name} + 1 ))
	hdr=$(printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$mode" 0 0 1 0 0 0 0 "$maj" "$min" "$namesize" 0)
	printf '%s%s\0' "$hdr" "$name"
	pad=$(( (4 - (110 + namesize) % 4) % 4 ))
	head -c "$pad" /dev/zero
}

tmp="$OUT.tmp.$$"
{
	(cd "$stage" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
		"$BUSYBOX" cpio -o -H newc 2>/dev/null)
	# A second archive, concatenated: the kernel unpacks both.
	newc_entry dev/console $(( 0x2000 | 0600 )) 5 1
	newc_entry TRAILER!!! 0 0 0
} >"$tmp"
mv -f "$tmp" "$OUT"
echo "$key" >"$OUT.key"
echo "mkinitramfs: built $OUT ($(du -k "$OUT" | cut -f1) KiB; modules: ${ORDER[*]})" >&2
