#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The rules-file parser of vsockctl, black box: every case of
# parser-cases.txt (format described at its top) is written to a file and
# run through
#     $VSOCKCTL policy check --print FILE
# which must exit 0 and print exactly the expected normal form, or exit 1
# with stdout empty and exactly the expected "FILE:LINE: message" on
# stderr ("FILE:LINE: warning: ..." lines on stderr are ignored).
#
# Prints one KTAP result line per case ("ok N - parser: NAME", "not ok N
# - ...", "# " diagnostics before it), no header and no plan: the suite
# that runs it counts. Two ways to use it:
#
#   parser_test.sh [FIRST]
#       numbers the cases FIRST, FIRST+1, ... (default 1); the last line
#       is "# parser_test: N cases, F failed, last L"; exit 0 iff F is 0.
#
#   source parser_test.sh; vc_parser_tests FIRST
#       the same lines without the summary; sets VC_PT_CASES (N),
#       VC_PT_FAILED (F) and VC_PT_LAST (L); returns 0 iff F is 0.
#
# Environment:
#   VSOCKCTL        the binary (default $ROOT/build/tools/vsockctl)
#   VC_CASES        the case table (default parser-cases.txt next to this)
#   VC_CGROUP_ROOT  where VSOCKCTL resolves cgroup paths (default
#                   /sys/fs/cgroup); the runner creates the cgroups
#                   vctest and vctest/a there for the cases that say
#                   "--- needs cgroup" and removes them after; without a
#                   cgroup2 mount there (or without root) they are skipped.

VC_PT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
VC_PT_ROOT=${MVSOCK_ROOT:-$(cd "$VC_PT_DIR/../.." && pwd -P)}

# ---- one case ---------------------------------------------------------------

# write body lines $@ to stdout as the case's input mode says
vc_pt_emit() { # mode line...
	local mode=$1 l
	shift
	case $mode in
	literal) if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi ;;
	escaped) for l in "$@"; do printf '%b\n' "$l"; done ;;
	script) (eval "$(printf '%s\n' "$@")") ;;
	esac
}

vc_pt_result() { # ok|fail|skip number name [reason]
	case $1 in
	ok) echo "ok $2 - parser: $3" ;;
	skip) echo "ok $2 - parser: $3 # SKIP $4" ;;
	*) echo "not ok $2 - parser: $3" ;;
	esac
}

vc_pt_diag() { # file...: its lines as diagnostics
	sed 's/^/# /' "$@" | head -n 40
}

# run the case in the vc_pt_* globals; 0 pass, 1 fail
vc_pt_check() {
	local w=$1
	local f=$w/case.rules disp rc tmo=()

	if [ -n "$vc_pt_stdin" ]; then
		disp='<stdin>'
	else
		disp=$f
	fi
	vc_pt_emit "$vc_pt_in_mode" "${vc_pt_in[@]}" > "$f" || {
		echo "# could not write the input"
		return 1
	}
	vc_pt_emit "$vc_pt_exp_mode" "${vc_pt_exp[@]}" > "$w/expect" || {
		echo "# could not write the expectation"
		return 1
	}
	command -v timeout > /dev/null && tmo=(timeout 60)
	if [ -n "$vc_pt_stdin" ]; then
		"${tmo[@]}" "$VSOCKCTL" policy check --print - < "$f" > "$w/out" 2> "$w/err"
	else
		"${tmo[@]}" "$VSOCKCTL" policy check --print "$f" > "$w/out" 2> "$w/err" < /dev/null
	fi
	rc=$?
	# warnings are not the parser's business here
	grep -v -F -e "$disp:" "$w/err" > "$w/err.other"
	grep -F -e "$disp:" "$w/err" | grep -v -E '^[^ ]*:[0-9]+: warning: ' \
		> "$w/err.msg"
	grep -F -e "$disp:" "$w/err" | grep -E '^[^ ]*:[0-9]+: warning: ' \
		| sed "s|^|# (warning) |"
	if [ "$vc_pt_expect" = ok ]; then
		if [ "$rc" = 0 ] && cmp -s "$w/out" "$w/expect" &&
		   ! [ -s "$w/err.msg" ] && ! [ -s "$w/err.other" ]; then
			return 0
		fi
		echo "# expected exit 0 and the normal form, got exit $rc"
		diff -u "$w/expect" "$w/out" | tail -n +3 | vc_pt_diag
		if [ -s "$w/err" ]; then
			echo "# stderr:"
			vc_pt_diag "$w/err"
		fi
	else
		sed "s|^FILE:|$disp:|" "$w/expect" > "$w/expect.err"
		if [ "$rc" = 1 ] && ! [ -s "$w/out" ] &&
		   cmp -s "$w/err.msg" "$w/expect.err" && ! [ -s "$w/err.other" ]; then
			return 0
		fi
		echo "# expected exit 1 and: $(head -c 300 "$w/expect.err")"
		echo "# got exit $rc, stdout $(wc -c < "$w/out") bytes, stderr:"
		vc_pt_diag "$w/err"
	fi
	echo "# input (first lines):"
	head -c 2000 "$f" | cat -A | head -n 10 | vc_pt_diag
	return 1
}

# ---- the table --------------------------------------------------------------

# the test cgroups: 0 made (or there), 1 not available
vc_pt_cgroup_setup() {
	local root=${VC_CGROUP_ROOT:-/sys/fs/cgroup}

	vc_pt_cg_made=()
	[ "$(stat -f -c %T "$root" 2>/dev/null)" = cgroup2fs ] || return 1
	if ! [ -d "$root/vctest" ]; then
		mkdir "$root/vctest" 2>/dev/null || return 1
		vc_pt_cg_made+=("$root/vctest")
	fi
	if ! [ -d "$root/vctest/a" ]; then
		mkdir "$root/vctest/a" 2>/dev/null || { vc_pt_cgroup_cleanup; return 1; }
		vc_pt_cg_made=("$root/vctest/a" "${vc_pt_cg_made[@]}")
	fi
	return 0
}

vc_pt_cgroup_cleanup() {
	local d

	for d in "${vc_pt_cg_made[@]}"; do
		rmdir "$d" 2>/dev/null
	done
	vc_pt_cg_made=()
}

# strip trailing empty lines of array $1
vc_pt_trim() {
	local -n a=$1

	while [ ${#a[@]} -gt 0 ] && [ -z "${a[-1]}" ]; do
		unset 'a[-1]'
	done
}

# finish the case being read: run it
vc_pt_flush() {
	local w=$1 st

	[ -n "$vc_pt_name" ] || return 0
	VC_PT_CASES=$((VC_PT_CASES + 1))
	VC_PT_LAST=$vc_pt_num
	vc_pt_trim vc_pt_in
	vc_pt_trim vc_pt_exp
	if [ -z "$vc_pt_expect" ]; then
		echo "# case has no --- expect section"
		st=fail
	elif [ -n "$vc_pt_needs_cg" ] && [ "$vc_pt_cg_ok" != 1 ]; then
		st=skip
	elif vc_pt_check "$w"; then
		st=ok
	else
		st=fail
	fi
	[ $st = fail ] && VC_PT_FAILED=$((VC_PT_FAILED + 1))
	vc_pt_result $st "$vc_pt_num" "$vc_pt_name" \
		"no cgroup v2 at ${VC_CGROUP_ROOT:-/sys/fs/cgroup} to make vctest in"
	vc_pt_num=$((vc_pt_num + 1))
	vc_pt_name=
}

vc_parser_tests() { # [FIRST]
	local cases=${VC_CASES:-$VC_PT_DIR/parser-cases.txt} w line sect=
	local vc_pt_num=${1:-1} vc_pt_name='' vc_pt_in_mode vc_pt_exp_mode
	local vc_pt_expect vc_pt_stdin vc_pt_needs_cg vc_pt_cg_ok=0
	local -a vc_pt_in vc_pt_exp vc_pt_cg_made

	VSOCKCTL=${VSOCKCTL:-$VC_PT_ROOT/build/tools/vsockctl}
	VC_PT_CASES=0
	VC_PT_FAILED=0
	VC_PT_LAST=$((vc_pt_num - 1))
	if ! [ -r "$cases" ]; then
		echo "# parser_test: no case table $cases"
		return 1
	fi
	w=$(mktemp -d) || return 1
	vc_pt_cgroup_setup && vc_pt_cg_ok=1
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'=== '*)
			vc_pt_flush "$w"
			vc_pt_name=${line#=== }
			vc_pt_in=() vc_pt_exp=() sect=
			vc_pt_in_mode=literal vc_pt_exp_mode=literal
			vc_pt_expect='' vc_pt_stdin='' vc_pt_needs_cg=''
			;;
		'--- input') sect=in vc_pt_in_mode=literal ;;
		'--- input escaped') sect=in vc_pt_in_mode=escaped ;;
		'--- input script') sect=in vc_pt_in_mode=script ;;
		'--- stdin') sect='' vc_pt_stdin=1 ;;
		'--- needs cgroup') sect='' vc_pt_needs_cg=1 ;;
		'--- expect ok') sect=exp vc_pt_expect=ok ;;
		'--- expect ok script') sect=exp vc_pt_expect=ok vc_pt_exp_mode=script ;;
		'--- expect error') sect=exp vc_pt_expect=error ;;
		'---'*)
			[ -n "$vc_pt_name" ] && echo "# $vc_pt_name: unknown directive: $line"
			sect=bad
			vc_pt_expect=
			;;
		*)
			[ -n "$vc_pt_name" ] || continue
			case $sect in
			in) vc_pt_in+=("$line") ;;
			exp) [ "${line:0:1}" = '#' ] || vc_pt_exp+=("$line") ;;
			esac
			;;
		esac
	done < "$cases"
	vc_pt_flush "$w"
	vc_pt_cgroup_cleanup
	rm -rf "$w"
	[ "$VC_PT_FAILED" = 0 ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	vc_parser_tests "${1:-1}"
	rc=$?
	echo "# parser_test: $VC_PT_CASES cases, $VC_PT_FAILED failed, last $VC_PT_LAST"
	exit $rc
fi
