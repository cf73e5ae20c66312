#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the Debian packages mvsock-dkms (module sources for DKMS, the
# modprobe.d file, mvsock(7)) and mvsock-tools (vsocktop, vsockctl, their
# man pages, the example policy and vsockctl-policy.service), built with
# debhelper and dh-dkms (packaging/debian/) from an export of the work
# tree, versioned by scripts/version.sh; then lintian, which must report
# nothing beyond the overrides in packaging/debian/*.lintian-overrides.
# Output: build/deb/*.deb, the lintian report build/deb/lintian.txt, and
# build/deb/lintian.ok when lintian passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
V=$("$ROOT/scripts/version.sh")
OUT=$ROOT/build/deb
SRC=$OUT/mvsock-$V
MAINT=$(sed -n 's/^Maintainer: //p' "$ROOT/packaging/debian/control")

rm -rf "$OUT"
mkdir -p "$SRC"
# The files git knows (and new ones it does not ignore), as they are in
# the work tree now.
# shellcheck disable=SC2016 # the sh -c script expands its own "$f"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
	(cd "$ROOT" && xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh) |
	(cd "$ROOT" && tar --null -T - -cf -) | tar -C "$SRC" -xf -
cp -r "$ROOT/packaging/debian" "$SRC/debian"
echo "$V" >"$SRC/.version"
cat >"$SRC/debian/changelog" <<CHANGELOG
mvsock ($V) unstable; urgency=medium

  * make deb of git $(git -C "$ROOT" rev-parse --short=12 HEAD).

 -- $MAINT  $(date -R)
CHANGELOG

(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck noautodbgsym" \
	dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 || {
	tail -n 30 "$OUT/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed (log: $OUT/build.log)" >&2
	exit 1
}
rm -rf "$SRC"
changes=$(ls "$OUT"/mvsock_*.changes)
if ! lintian --fail-on error,warning --info "$changes" >"$OUT/lintian.txt" 2>&1; then
	grep -E '^[EW]:' "$OUT/lintian.txt" >&2
	echo "mkdeb: lintian found problems (build/deb/lintian.txt)" >&2
	exit 1
fi
# for suite 80-packages: the packages passed lintian
grep -E '^[EWIO]:' "$OUT/lintian.txt" >"$OUT/lintian.ok" || true
ls "$OUT"/*.deb
