#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract the few kernel-internal headers mvsock builds against (the vhost
# core's drivers/vhost/vhost.h, for kernel/vhost.c) from the installed
# linux-source tarball into build/ksrc/. Nothing of it is copied into the
# repository. Prints the directory on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=$ROOT/build/ksrc
KVER=${KVER:-$("$ROOT/scripts/kver.sh" --quiet)}
series=$(echo "$KVER" | cut -d. -f1,2)
tarball=/usr/src/linux-source-$series.tar.xz
want="drivers/vhost/vhost.h"

if [ ! -f "$tarball" ]; then
	echo "ksrc.sh: $tarball missing (apt-get install linux-source-$series)" >&2
	exit 1
fi
stamp=$OUT/.stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stat -c %Y:%s "$tarball")" ]; then
	echo "$OUT"
	exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"
members=()
for f in $want; do
	members+=("linux-source-$series/$f")
done
tar -xJf "$tarball" -C "$OUT" --strip-components=1 "${members[@]}"
stat -c %Y:%s "$tarball" > "$stamp"
echo "$OUT"
