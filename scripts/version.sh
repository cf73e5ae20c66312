#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The project's version: dkms.conf's PACKAGE_VERSION, then, in a git work
# tree, "+git" and the commit count, ".g" and the short commit id, and
# "+dirty" when tracked files differ from the commit, e.g.
# 0.1+git312.g7959047. The same string in the packages' versions and the
# tools' --version. Outside git: the file .version at the top of the tree
# when there is one (make deb writes it into its export), else the base.
#
# Usage: scripts/version.sh [--base]
ROOT=$(cd "$(dirname "$0")/.." && pwd -P) || exit 1
base=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ROOT/dkms.conf")
if [ -z "$base" ]; then
	echo "version.sh: no PACKAGE_VERSION in $ROOT/dkms.conf" >&2
	exit 1
fi
top=$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)
if [ "${1:-}" = --base ]; then
	echo "$base"
	exit 0
fi
if [ "$top" != "$ROOT" ]; then
	if [ -s "$ROOT/.version" ]; then cat "$ROOT/.version"; else echo "$base"; fi
	exit 0
fi
v="$base+git$(git -C "$ROOT" rev-list --count HEAD).g$(git -C "$ROOT" rev-parse --short=7 HEAD)"
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || v="$v+dirty"
echo "$v"
