#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the upstream vsock tests (tools/testing/vsock: vsock_test,
# vsock_diag_test, vsock_perf) from Debian's linux-source tarball into
# build/upstream/. Only the pieces needed are extracted (once per tarball),
# and the tarball's own UAPI headers are generated with "make headers" so the
# tests do not depend on the older headers in /usr/include.
# vsock_uring_test is not built (it needs liburing).
#
# Usage: selftests/upstream/build.sh
# Environment: LINUX_SOURCE_TARBALL (default /usr/src/linux-source-6.12.tar.xz)

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
OUT=$ROOT/build/upstream
SRC=$OUT/src
TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
PROGS=(vsock_test vsock_diag_test vsock_perf)
JOBS=$(nproc 2>/dev/null || echo 2)

die() { echo "upstream: error: $*" >&2; exit 1; }

[ -r "$TARBALL" ] || die "$TARBALL not found (install linux-source-6.12: run 'make deps')"

key="$(stat -L -c '%n %s %Y' "$TARBALL") $(sha1sum <"$HERE/build.sh" | cut -c1-12)"
if [ ! -f "$SRC/.mvsock-extracted" ] || [ "$(cat "$SRC/.mvsock-extracted")" != "$key" ]; then
	echo "upstream: extracting tools/testing/vsock and UAPI headers from $TARBALL"
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	top=$(tar -tJf "$TARBALL" 2>/dev/null | head -n 1 || true)
	top=${top%%/*}
	[ -n "$top" ] || die "cannot read $TARBALL"
	# What "make headers" needs: the top Makefile and scripts, the UAPI
	# trees, x86's Makefiles, syscall tables and tools.
	parts=(
		Makefile scripts include/uapi include/asm-generic
		arch/x86/Makefile arch/x86/Makefile_32.cpu arch/x86/include/uapi
		arch/x86/entry/syscalls arch/x86/tools
		tools/include tools/testing/vsock
	)
	members=()
	for p in "${parts[@]}"; do members+=("$top/$p"); done
	tar -xJf "$TARBALL" -C "$SRC.tmp" --strip-components=1 "${members[@]}" ||
		die "extracting from $TARBALL failed"
	echo "upstream: generating UAPI headers (make headers)"
	make -s -C "$SRC.tmp" ARCH=x86 headers >/dev/null ||
		die "'make headers' failed in $SRC.tmp"
	echo "$key" >"$SRC.tmp/.mvsock-extracted"
	mv "$SRC.tmp" "$SRC"
fi

make -s -j"$JOBS" -C "$SRC/tools/testing/vsock" "${PROGS[@]}" ||
	die "building ${PROGS[*]} failed"
for p in "${PROGS[@]}"; do
	if [ ! -e "$OUT/$p" ] || [ "$SRC/tools/testing/vsock/$p" -nt "$OUT/$p" ]; then
		install -m 0755 "$SRC/tools/testing/vsock/$p" "$OUT/$p"
	fi
done
echo "upstream: ${PROGS[*]} up to date in $OUT"
