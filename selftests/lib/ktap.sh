# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034 # n and fail are the suite's
#
# KTAP output for the shell suites (the C tests use ktap.h): source it,
# then call result for each case. The suite prints its plan "1..N" itself
# and exits with $fail at the end.
#
#   result STATUS DESCRIPTION [FILE]  "ok N" when STATUS is 0, else
#                                     "not ok N" and fail=1; FILE's first
#                                     100 lines follow as diagnostics
#   diag TEXT...                      a "# " diagnostic line
#   wait_for FILE REGEX SECONDS       0 once FILE has a line matching the
#                                     extended REGEX, 1 after SECONDS

n=0
fail=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
	[ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/# /' "$3" | head -n 100
	return 0
}

diag() { echo "# $*"; }

wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
