#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Merge the (K)TAP output of a sub-run (a test program, run-pair.sh, a
# nested run) into the numbering of the suite that runs it: reads the
# sub-run's output on stdin, writes the suite's lines on stdout, line by
# line as they come (a shell loop, not awk: mawk reads a pipe in blocks,
# so the lines would only show up in bursts).
#
#   "TAP version", "KTAP version" and plan lines ("1..N")   dropped
#   result lines "ok N NAME", "ok N - NAME", "not ok ..."   with --offset:
#       renumbered OFFSET+1, OFFSET+2, ... in their order, written
#       "[not ]ok M - PREFIX NAME" (NAME keeps its "# SKIP ..." directive);
#       without: passed unchanged
#   "#" lines                                               passed
#   any other line                                          "# LINE"
#
# Usage: selftests/lib/ktap-merge.sh [--offset N] [--prefix STR]
#            [--summary FILE] < sub-run-output
#   --summary  at the end, write "COUNT MAX FAILED" to FILE: the number of
#              result lines, the highest number written, and 1 when one of
#              them was "not ok" (else 0)
# Exit status: 0 (2 on a usage error).

set -uo pipefail

offset=
prefix=
summary=
while [ $# -gt 0 ]; do
	case "$1" in
	--offset) offset=${2:?}; shift 2 ;;
	--prefix) prefix=${2?}; shift 2 ;;
	--summary) summary=${2:?}; shift 2 ;;
	*)
		sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" |
			sed '$d; s/^# \{0,1\}//' >&2
		exit 2 ;;
	esac
done

count=0 max=0 failed=0
re='^(not )?ok ([0-9]+) (- )?(.*)$'
while IFS= read -r l; do
	if [[ $l =~ ^K?TAP\ version ]] || [[ $l =~ ^1\.\.[0-9]+([[:space:]]|$) ]]; then
		continue
	elif [[ $l =~ $re ]]; then
		count=$((count + 1))
		num=${BASH_REMATCH[2]}
		[ -n "${BASH_REMATCH[1]}" ] && failed=1
		if [ -n "$offset" ]; then
			num=$((offset + count))
			l="${BASH_REMATCH[1]}ok $num - $prefix${BASH_REMATCH[4]}"
		fi
		[ "$num" -gt "$max" ] && max=$num
		printf '%s\n' "$l"
	elif [[ $l == \#* ]]; then
		printf '%s\n' "$l"
	else
		printf '# %s\n' "$l"
	fi
done
[ -z "$summary" ] || echo "$count $max $failed" >"$summary"
exit 0
