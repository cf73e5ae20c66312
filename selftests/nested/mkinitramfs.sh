#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build what the inner (second-level) guest of the nested topology boots:
#   - build/nested/vrelay (static; both ends of the link) and
#     build/nested/vhost-trace.so (run-inner.sh --trace-vhost);
#   - an initramfs with a static busybox, vrelay,
#     selftests/nested/inner-init.sh as /init, Debian's own vsock modules
#     (decompressed, for the stock guest driver), upstream's vsock tests
#     from build/upstream/ with the shared libraries they need, and any
#     file given with --add, each at its own absolute path (shared
#     libraries of ELF files come along), and
#     selftests/nested/uevent-modprobe.sh as /sbin/uevent-modprobe;
#   - with --installed, also what an installed mvsock package leaves on
#     a system: the work tree's kernel/*.ko in /lib/modules/$KVER/updates/
#     (scripts/install.sh's "modules" part), packaging/modprobe.conf as
#     /etc/modprobe.d/mvsock.conf, the packed Debian modules at their own
#     paths under /lib/modules/$KVER/kernel/ (decompressed: busybox
#     modprobe gets no .ko.xz) and modules.dep, modules.alias, ... from
#     "depmod -b" (for busybox modprobe: inner-init.sh's inner_autoload);
#   - the kernel as an uncompressed ELF image (vmlinux, booted through its
#     PVH entry: TCG inside TCG spends many seconds decompressing a
#     bzImage).
# The inner guest has no root file system: what it runs must be in here.
# Outputs are rebuilt only when an input changed; each set of --add files
# has its own initramfs.
#
# Usage: selftests/nested/mkinitramfs.sh [--add FILE]... [--installed]
#            [--print-vmlinux]
#   Prints the path of the initramfs (or, with --print-vmlinux, of the
#   kernel image) on stdout.
# Environment: KVER (default scripts/kver.sh), NESTED_BUILD (output
# directory, default build/nested), BUSYBOX (default /bin/busybox),
# CC (default gcc), DEPMOD (default depmod).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
KVER=${KVER:-$("$ROOT/scripts/kver.sh")}
OUTDIR=${NESTED_BUILD:-$ROOT/build/nested}
BUSYBOX=${BUSYBOX:-/bin/busybox}
CC=${CC:-gcc}
MODDIR=/lib/modules/$KVER
# Stock modules packed (loaded only when asked: inner_load=...).
MODULES="vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport vsock_diag virtio_mmio"
APPLETS="sh ash mount umount mkdir rmdir insmod rmmod lsmod modprobe poweroff reboot
	echo cat sleep usleep ls ln ip hostname grep egrep sed awk sort uniq head tail wc
	cut tr dmesg ps kill killall pidof timeout env printf test [ true false seq stat
	cp mv rm touch mktemp date uname id xargs tee od hexdump find chmod sync nproc
	free top uptime sysctl mknod realpath readlink basename dirname expr yes dd nc
	setsid nohup stty watch uevent"

die() { echo "nested-mkinitramfs: $*" >&2; exit 1; }

PRINT=initramfs
ADD=()
INSTALLED=0
while [ $# -gt 0 ]; do
	case "$1" in
	--add) [ $# -ge 2 ] || die "--add needs a file"; ADD+=("$2"); shift 2 ;;
	--installed) INSTALLED=1; shift ;;
	--print-vmlinux) PRINT=vmlinux; shift ;;
	-h|--help) sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	*) die "unknown argument '$1'" ;;
	esac
done

[ -f "$MODDIR/modules.dep" ] || die "$MODDIR/modules.dep not found (is linux-image-$KVER installed?)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static"
fi
mkdir -p "$OUTDIR"

# Rebuild OUT when the key (a description of every input) changed.
fresh() { # out key
	[ -e "$1" ] && [ -f "$1.key" ] && [ "$(cat "$1.key")" = "$2" ]
}

# --- vrelay (static, used on both sides), vhost-trace.so (debugging aid) ---
VRELAY=$OUTDIR/vrelay
key="$(stat -c '%n %s %Y' "$HERE/vrelay.c") cc=$CC"
if ! fresh "$VRELAY" "$key"; then
	"$CC" -static -O2 -Wall -Wextra -Werror -o "$VRELAY.tmp" "$HERE/vrelay.c" ||
		die "cannot build vrelay (static glibc: libc6-dev)"
	mv -f "$VRELAY.tmp" "$VRELAY"
	echo "$key" >"$VRELAY.key"
fi
TRACER=$OUTDIR/vhost-trace.so
key="$(stat -c '%n %s %Y' "$HERE/vhost-trace.c") cc=$CC"
if ! fresh "$TRACER" "$key"; then
	"$CC" -shared -fPIC -O2 -Wall -Wextra -Werror -o "$TRACER.tmp" \
		"$HERE/vhost-trace.c" -ldl || die "cannot build vhost-trace.so"
	mv -f "$TRACER.tmp" "$TRACER"
	echo "$key" >"$TRACER.key"
fi

# --- the kernel, uncompressed ---
VMLINUX=$OUTDIR/vmlinux-$KVER
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || die "$KERNEL is not readable"
key="$(stat -c '%n %s %Y' "$KERNEL") extract-v1"
if ! fresh "$VMLINUX" "$key"; then
	# x86 boot protocol: setup_sects at 0x1f1, payload_offset and
	# payload_length at 0x248/0x24c, relative to the protected-mode code
	# that starts after the (setup_sects + 1) sectors of the setup code.
	u8() { od -An -tu1 -j "$1" -N1 "$KERNEL" | tr -d ' '; }
	u32() { od -An -tu4 -j "$1" -N4 "$KERNEL" | tr -d ' '; }
	sects=$(u8 $((0x1f1)))
	[ "$sects" = 0 ] && sects=4
	off=$(( (sects + 1) * 512 + $(u32 $((0x248))) ))
	len=$(u32 $((0x24c)))
	magic=$(od -An -tx1 -j "$off" -N4 "$KERNEL" | tr -d ' ')
	case "$magic" in
	28b52ffd) dec=(zstd -qdc) ;;
	fd377a58) dec=(xz -qdc) ;;
	1f8b*) dec=(gzip -qdc) ;;
	*) die "$KERNEL: unknown payload compression (magic $magic)" ;;
	esac
	# The payload ends with its 4-byte uncompressed size, which the
	# decompressors tolerate as trailing garbage with a warning only.
	tail -c +$((off + 1)) "$KERNEL" | head -c "$len" |
		"${dec[@]}" >"$VMLINUX.tmp" 2>/dev/null || true
	if [ "$(od -An -tx1 -N4 "$VMLINUX.tmp" 2>/dev/null | tr -d ' ')" != 7f454c46 ]; then
		rm -f "$VMLINUX.tmp"
		die "could not extract vmlinux from $KERNEL"
	fi
	mv -f "$VMLINUX.tmp" "$VMLINUX"
	echo "$key" >"$VMLINUX.key"
fi
if [ "$PRINT" = vmlinux ]; then
	echo "$VMLINUX"
	exit 0
fi

# --- the initramfs ---
modname() {
	local b=${1##*/}
	b=${b%%.ko*}
	echo "${b//-/_}"
}
# The packed modules and their dependencies, dependencies first (one awk:
# forks are dear under TCG, and this also runs inside the test VM).
mapfile -t MODS < <(awk -v want="$MODULES" '
	function name(p) { sub(/.*\//, "", p); sub(/\.ko.*/, "", p); gsub(/-/, "_", p); return p }
	FILENAME ~ /modules\.builtin$/ { builtin[name($0)] = 1; next }
	{
		k = $1; sub(/:$/, "", k); m = name(k)
		path[m] = k; deps[m] = ""
		for (i = 2; i <= NF; i++) deps[m] = deps[m] " " name($i)
	}
	function add(m,   n, d, i) {
		if (m in seen) return
		seen[m] = 1
		if (m in builtin) return
		if (!(m in path)) { print "?" m; return }
		n = split(deps[m], d, " ")
		for (i = 1; i <= n; i++) add(d[i])
		print path[m]
	}
	END { n = split(want, w, " "); for (i = 1; i <= n; i++) add(w[i]) }
' "$MODDIR/modules.builtin" "$MODDIR/modules.dep")
for p in "${MODS[@]}"; do
	[[ $p == \?* ]] && die "module ${p#?} is neither in modules.dep nor built in"
done

# Files at their own paths: upstream's tests when built, and --add ones.
FILES=()
for p in vsock_test vsock_diag_test vsock_perf; do
	[ -x "$ROOT/build/upstream/$p" ] && FILES+=("$ROOT/build/upstream/$p")
done
for f in "${ADD[@]}"; do
	[ -f "$f" ] || die "--add $f: no such file"
	FILES+=("$(realpath "$f")")
done
# Shared libraries (and the dynamic loader) of the ELF files.
declare -A HAVE_LIB=()
LIBS=()
for f in "${FILES[@]}"; do
	[ "$(od -An -tx1 -N4 "$f" | tr -d ' ')" = 7f454c46 ] || continue
	while read -r lib; do
		[ -n "${HAVE_LIB[$lib]:-}" ] && continue
		HAVE_LIB[$lib]=1
		LIBS+=("$lib")
	done < <(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
done

# --installed: what scripts/install.sh installs of the modules (kernel/*.ko)
# and the package's modprobe.d file.
INST=()
DEPMOD=${DEPMOD:-}
if [ "$INSTALLED" = 1 ]; then
	for f in "$ROOT"/kernel/*.ko; do
		[ -f "$f" ] && INST+=("$f")
	done
	[ ${#INST[@]} -gt 0 ] || die "--installed: no kernel/*.ko (run make first)"
	INST+=("$ROOT/packaging/modprobe.conf" "$ROOT/scripts/install.sh")
	if [ -z "$DEPMOD" ]; then
		DEPMOD=$(PATH=$PATH:/sbin:/usr/sbin command -v depmod) || die "--installed: depmod not found (kmod)"
	fi
fi

# One output per set of --add files (and --installed), so that suites
# with different files each find theirs already built (run-check.sh
# builds them here first).
OUT=$OUTDIR/initramfs-$KVER.cpio
if [ ${#ADD[@]} -gt 0 ] || [ "$INSTALLED" = 1 ]; then
	OUT=$OUTDIR/initramfs-$KVER-$({
		printf '%s\n' "${ADD[@]}"
		[ "$INSTALLED" = 0 ] || echo --installed
	} | md5sum | cut -c1-8).cpio
fi
key=$(
	echo "kver=$KVER"
	stat -c '%n %s %Y' "$BUSYBOX" "$VRELAY" "$HERE/inner-init.sh" "$HERE/mkinitramfs.sh" \
		"$HERE/uevent-modprobe.sh"
	for p in "${MODS[@]}"; do stat -c '%n %s %Y' "$MODDIR/$p"; done
	for f in "${FILES[@]}" "${LIBS[@]}"; do stat -L -c '%n %s %Y' "$f"; done
	[ "$INSTALLED" = 0 ] || echo installed
	for f in "${INST[@]}"; do stat -c '%n %s %Y' "$f"; done
)
if fresh "$OUT" "$key"; then
	echo "$OUT"
	exit 0
fi
if [ -f "$OUT.key" ]; then
	echo "nested-mkinitramfs: inputs changed:" >&2
	diff <(cat "$OUT.key") <(echo "$key") | grep '^[<>]' | sed 's/^/  /' >&2 || true
fi

stage=$(mktemp -d "$OUTDIR/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,lib/modules,etc}
cp "$BUSYBOX" "$stage/bin/busybox"
for a in $APPLETS; do
	ln -s busybox "$stage/bin/$a"
done
cp "$VRELAY" "$stage/bin/vrelay"
install -m 0755 "$HERE/inner-init.sh" "$stage/init"
install -m 0755 "$HERE/uevent-modprobe.sh" "$stage/sbin/uevent-modprobe"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"
for p in "${MODS[@]}"; do
	dst=$stage/lib/modules/$(modname "$p").ko
	case "$p" in
	*.ko.xz) xz -dc "$MODDIR/$p" >"$dst" ;;
	*.ko.zst) zstd -qdc "$MODDIR/$p" >"$dst" ;;
	*.ko.gz) gzip -dc "$MODDIR/$p" >"$dst" ;;
	*.ko) cp "$MODDIR/$p" "$dst" ;;
	*) die "unknown module file type: $p" ;;
	esac
done
for f in "${FILES[@]}" "${LIBS[@]}"; do
	mkdir -p "$stage$(dirname "$f")"
	cp -L "$f" "$stage$f"
done
if [ "$INSTALLED" = 1 ]; then
	kdir=$stage$MODDIR
	# Debian's modules where Debian has them (uncompressed; the same
	# files as /lib/modules/NAME.ko), ours where the package puts them,
	# then depmod over that tree as on a system.
	for p in "${MODS[@]}"; do
		mkdir -p "$kdir/$(dirname "$p")"
		ln "$stage/lib/modules/$(modname "$p").ko" "$kdir/${p%.ko*}.ko"
	done
	cp "$MODDIR/modules.builtin" "$MODDIR/modules.builtin.modinfo" "$MODDIR/modules.order" "$kdir/"
	DESTDIR=$stage KVER=$KVER "$ROOT/scripts/install.sh" install modules >/dev/null ||
		die "--installed: scripts/install.sh install modules failed"
	# a module also packed with --add: one file, two names (the inner
	# guest has little memory)
	for f in "$kdir"/updates/*.ko; do
		a=$stage$ROOT/kernel/${f##*/}
		if [ -f "$a" ] && cmp -s "$a" "$f"; then
			ln -f "$a" "$f"
		fi
	done
	install -D -m 0644 "$ROOT/packaging/modprobe.conf" "$stage/etc/modprobe.d/mvsock.conf"
	"$DEPMOD" -b "$stage" "$KVER" || die "--installed: depmod -b $stage $KVER failed"
	grep -q '^updates/mvsock_virtio\.ko:' "$kdir/modules.dep" ||
		die "--installed: depmod did not list updates/mvsock_virtio.ko"
fi

# /dev/console (char 5:1) cannot be created in the staging directory
# without root: append it as a second cpio archive (the kernel unpacks
# both), written by hand in the newc format.
newc() { # name mode major minor
	local name=$1 n=$(( ${#1} + 1 ))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$n" 0 "$name"
	head -c $(( (4 - (110 + n) % 4) % 4 )) /dev/zero
}
{
	(cd "$stage" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
		"$BUSYBOX" cpio -o -H newc 2>/dev/null)
	newc dev/console $(( 0x2000 | 0600 )) 5 1
	newc 'TRAILER!!!' 0 0 0
} >"$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
echo "$key" >"$OUT.key"
echo "nested-mkinitramfs: built $OUT ($(du -k "$OUT" | cut -f1) KiB)" >&2
echo "$OUT"
