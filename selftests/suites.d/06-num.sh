#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/lib/num.h, the number parser of every mvsock program, through its
# unit test build/vsockctl-tests/num_test (selftests/vsockctl/num_test.c):
# one result per case of the program (whole string, sign or blank,
# trailing junk, range edges, overflow, base prefixes, tokens, doubles),
# then its exit status. Pure user space.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"
T=$ROOT/build/vsockctl-tests/num_test
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

echo "KTAP version 1"
if ! "$T" -l >"$W/list" 2>&1 || ! [ -s "$W/list" ]; then
	echo "1..1"
	result 1 "num_test lists its cases ($T; run make)" "$W/list"
	exit "$fail"
fi
echo "1..$(($(wc -l <"$W/list") + 1))"
"$T" >"$W/out" 2>&1
rc=$?
while IFS= read -r name; do
	# the "# " lines just before the case's result are its details
	awk -v n="$name" '/^# /{d = d $0 "\n"; next}
		$0 == "ok " n || $0 == "not ok " n {printf "%s", d; exit}
		{d = ""}' "$W/out" | sed 's/^# //' >"$W/diag"
	grep -qxF "ok $name" "$W/out"
	result $? "num.h: $name" "$W/diag"
done <"$W/list"
if [ "$rc" = 0 ]; then
	result 0 "num_test exits 0"
else
	result 1 "num_test exits 0 (exit $rc)" "$W/out"
fi
exit "$fail"
