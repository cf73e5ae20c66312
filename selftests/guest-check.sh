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
# SUITE_EMU_RETRIES (default 1): suites run again after an inner guest
# died of a known emulator fault.

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

# run_suite FILE NAME: its output indented, also kept in $out; its status
out=$(mktemp)
trap 'rm -f "$out"' EXIT
EMU_NOTE='note: a known emulator fault, not the code under test'
emu_retries=${SUITE_EMU_RETRIES:-1}
suite_timeout=${SUITE_TIMEOUT:-2700}
run_suite() {
	local start=$SECONDS rc
	echo "# mvsock-suite: begin $2"
	timeout --kill-after=10 "$suite_timeout" "$1" </dev/null 2>&1 | tee "$out" | indent
	rc=${PIPESTATUS[0]}
	echo "# mvsock-suite: end $2 exit=$rc time=$((SECONDS - start))s"
	return "$rc"
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
	run_suite "$s" "$name"
	rc=$?
	# An inner guest that died of a known emulator fault (run-inner.sh's
	# note, selftests/vm/emu-crash.sh) takes the rest of its suite's cases
	# with it: the suite runs again from its start, once per check
	# (SUITE_EMU_RETRIES); the new run's results replace the first's.
	if [ "$rc" != 0 ] && [ "$emu_retries" -gt 0 ] && grep -q "$EMU_NOTE" "$out"; then
		emu_retries=$((emu_retries - 1))
		echo "# RETRY: $name: an inner guest died of a known emulator fault (its note is above); the suite runs again"
		run_suite "$s" "$name"
		rc=$?
	fi
	if [ "$rc" = 0 ]; then
		echo "ok $n - $name"
	else
		[ "$rc" = 124 ] && echo "# $name: timed out after ${suite_timeout}s"
		echo "not ok $n - $name # exit status $rc"
		bad=$((bad + 1))
		[[ $name == 00-* ]] && abort=$name
	fi
done
[ "$bad" = 0 ]
