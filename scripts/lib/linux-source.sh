# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# lsrc_extract [--files] OUT MEMBERS [NOTE]: extract MEMBERS (white-space
# separated paths of the kernel tree) from the installed linux-source
# tarball of $KVER's series (/usr/src/linux-source-6.12.tar.xz) into OUT,
# unless OUT/.stamp shows they are there already (the tarball's mtime and
# size and the member list); NOTE, when given, is printed on stderr before
# extracting. --files: every member is a file, not a directory, and tar
# stops reading once it has them all (--occurrence=1; a directory would
# stop at its first entry). Prints OUT on stdout. Sourced by
# scripts/ksrc.sh and scripts/bpf-src.sh (set -e: a failure ends the
# script).

lsrc_extract() { # [--files] out members [note]
	local once=()
	[ "$1" != --files ] || { once=(--occurrence=1); shift; }
	local out=$1 want=$2 series tarball id f members=()
	series=$(echo "$KVER" | cut -d. -f1,2)
	tarball=/usr/src/linux-source-$series.tar.xz
	if [ ! -f "$tarball" ]; then
		echo "${0##*/}: $tarball missing (make deps, or apt-get install linux-source-$series)" >&2
		return 1
	fi
	id="$(stat -c %Y:%s "$tarball") $want"
	if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$id" ]; then
		echo "$out"
		return 0
	fi
	[ -z "${3:-}" ] || echo "${0##*/}: $3 from $tarball" >&2
	rm -rf "$out"
	mkdir -p "$out"
	for f in $want; do
		members+=("linux-source-$series/$f")
	done
	tar -xJf "$tarball" -C "$out" "${once[@]}" --strip-components=1 "${members[@]}"
	echo "$id" >"$out/.stamp"
	echo "$out"
}
