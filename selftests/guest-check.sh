#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (see selftests/run-check.sh): every suite
# selftests/suites.d/NN-name.sh in order, as one KTAP document whose subtests
# are the suites. A suite is an executable that prints TAP/KTAP (a plan
# "1..N" and "ok N - name" / "not ok N - name" lines, "# " diagnostics) and
# exits non-zero when something failed. Its output is indented by two
# spaces here; this script prints "ok N - NN-name" or "not ok N - NN-name"
# for the suite itself after it.
#
# Suites named 00-* set things up (load the modules under test): when one
# fails, the remaining suites are not run (reported as failed).
#
# Environment: CHECK_SUITES="50-* 60-*" or "50-*,60-*" runs only the suites
# whose names match one of the globs (00-* always run); SUITE_TIMEOUT
# (seconds, default 2700) bounds each suite. The line "# mvsock-suites: ..."
# names the suites it runs (run-check.sh reruns the unfinished ones).

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
export MVSOCK_ROOT=$ROOT
export MVSOCK_BUILD=$ROOT/build

suites=()
for s in selftests/suites.d/[0-9][0-9]-*.sh; do
	[ -x "$s" ] || continue
	name=$(basename "$s" .sh)
	if [ -n "${CHECK_SUITES:-}" ] && [[ $name != 00-* ]]; then
		keep=0
		IFS=', ' read -r -a globs <<<"$CHECK_SUITES"
		for g in "${globs[@]}"; do
			# shellcheck disable=SC2053 # glob match intended
			[[ $name == $g ]] && keep=1
		done
		[ "$keep" = 1 ] || continue
	fi
	suites+=("$s")
done

echo "KTAP version 1"
echo "# mvsock check on $(uname -r), ${MVSOCK_STOCK:+stock modules (MVSOCK_STOCK=1), }${#suites[@]} suites"
echo "# mvsock-suites: $(basename -s .sh "${suites[@]}" | tr '\n' ' ')"
echo "1..${#suites[@]}"

indent() {
	local l
	while IFS= read -r l || [ -n "$l" ]; do
		printf '  %s\n' "$l"
	done
}

n=0
bad=0
abort=
for s in "${suites[@]}"; do
	n=$((n + 1))
	name=$(basename "$s" .sh)
	if [ -n "$abort" ]; then
		echo "not ok $n - $name # not run: setup suite $abort failed"
		bad=$((bad + 1))
		continue
	fi
	echo "# mvsock-suite: begin $name"
	start=$SECONDS
	timeout --kill-after=10 "${SUITE_TIMEOUT:-2700}" "$s" </dev/null 2>&1 | indent
	rc=${PIPESTATUS[0]}
	echo "# mvsock-suite: end $name exit=$rc time=$((SECONDS - start))s"
	if [ "$rc" = 0 ]; then
		echo "ok $n - $name"
	else
		[ "$rc" = 124 ] && echo "# $name: timed out after ${SUITE_TIMEOUT:-2700}s"
		echo "not ok $n - $name # exit status $rc"
		bad=$((bad + 1))
		[[ $name == 00-* ]] && abort=$name
	fi
done
[ "$bad" = 0 ]
