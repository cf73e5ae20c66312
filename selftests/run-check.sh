#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The driver of "make check": builds the upstream vsock tests, boots ONE VM
# (selftests/vm/run.sh) that runs selftests/guest-check.sh, i.e. every suite
# in selftests/suites.d/, then counts the suites' TAP results and ends with
# the line "N passed, N failed" (", N skipped" when some were skipped). A VM
# killed by a known emulator fault is replaced once (see below).
# Exits non-zero on any failed test, a suite that failed without a failing
# test line, a VM failure (timeout, crash, kernel log check), or when no
# test ran at all.
#
# Usage: selftests/run-check.sh
# Environment (forwarded into the VM): MVSOCK_STOCK=1 tests Debian's stock
# vsock modules instead of ours (a harness self-test), CHECK_SUITES="50-*
# 6*" (globs, separated by spaces or commas), SUITE_TIMEOUT,
# SUITE_EMU_RETRIES (selftests/guest-check.sh). CHECK_TIMEOUT
# (seconds, default 5000: the whole set takes about 3500 s on the 2-CPU
# build machine) bounds each VM; CHECK_VM_RETRIES (default 1).
# The full console output is kept in build/check/console.log.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
LOGDIR=$ROOT/build/check
LOG=$LOGDIR/console.log
mkdir -p "$LOGDIR"

echo "KTAP version 1"
echo "# mvsock make check${MVSOCK_STOCK:+ (MVSOCK_STOCK=$MVSOCK_STOCK)}"

# The nested suites' inner initramfs files are built here too (much
# faster than inside the VM), and the Debian packages suite 80 installs.
# shellcheck source=selftests/multidev/suite-args.sh
. selftests/multidev/suite-args.sh
if ! selftests/upstream/build.sh || ! selftests/nested/mkinitramfs.sh >/dev/null ||
	! md_prebuild_initramfs; then
	echo "# building the upstream vsock tests or the nested guests' initramfs failed"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! scripts/mkdeb.sh >"$LOGDIR/mkdeb.log" 2>&1; then
	sed 's/^/# /' "$LOGDIR/mkdeb.log" | tail -n 30
	echo "# make deb failed (build/check/mkdeb.log); suite 80-packages will fail"
fi

vm_env=${VM_ENV:-}
for v in MVSOCK_STOCK SUITE_TIMEOUT SUITE_EMU_RETRIES; do
	if [ -n "${!v:-}" ]; then
		case "${!v}" in
		*[[:space:]]*)
			# VM_ENV splits on white space.
			echo "# $v must not contain spaces" >&2
			echo "0 passed, 1 failed"
			exit 1 ;;
		esac
		vm_env+=" $v=${!v}"
	fi
done

# One VM runs the suites. When it dies of one of the emulator's known
# faults (selftests/vm/emu-crash.sh: a stale int3 after jump label
# patching, or an impossible EFLAGS value; never a fault in our modules),
# a new VM runs the suites that did not finish, the interrupted one from
# its start, once (CHECK_VM_RETRIES). The crash is printed as a "# RETRY"
# note and its kernel log kept as build/check/emu-crash-N.txt.
rm -rf "$LOGDIR/vm-out" "$LOGDIR"/emu-crash-*.txt
: >"$LOG"
run_vm() { # CHECK_SUITES value for this VM (comma list), or empty
	VM_KEEP_OUT=$LOGDIR/vm-out VM_ENV="$vm_env${1:+ CHECK_SUITES=$1}" \
		selftests/vm/run.sh --timeout "${CHECK_TIMEOUT:-5000}" \
		-- selftests/guest-check.sh 2>&1 | tee -a "$LOG"
	return "${PIPESTATUS[0]}"
}

# The suites the last VM planned (its "# mvsock-suites:" line) that
# printed no result line, as a comma list; when no VM got as far as that
# line (a crash at boot), what was asked for: $1, or "*" for every suite.
unfinished() { # requested
	tr -d '\r' <"$LOG" | awk -v req="${1:-*}" '
		/^# mvsock-suites: / { n = 0; seen = 1; delete done
			for (i = 3; i <= NF; i++) want[++n] = $i; next }
		/^(not )?ok [0-9]+ - / { s = $0; sub(/^(not )?ok [0-9]+ - /, "", s)
			sub(/ .*/, "", s); done[s] = 1 }
		END { if (!seen) { print req; exit }
			for (i = 1; i <= n; i++) if (!(want[i] in done)) out = out (out ? "," : "") want[i]
			print out }'
}

suites=${CHECK_SUITES:-}
suites=${suites//[[:space:]]/,}
run_vm "$suites"
vmrc=$?
retries=${CHECK_VM_RETRIES:-1}
while [ "$vmrc" = 121 ] && [ "$retries" -gt 0 ] &&
	why=$(selftests/vm/emu-crash.sh "$ROOT/build/vm/last-dmesg.txt") &&
	left=$(unfinished "$suites") && [ -n "$left" ]; do
	retries=$((retries - 1))
	n=$(find "$LOGDIR" -maxdepth 1 -name 'emu-crash-*.txt' | wc -l)
	cp "$ROOT/build/vm/last-dmesg.txt" "$LOGDIR/emu-crash-$((n + 1)).txt"
	echo "# RETRY: the VM died of a known emulator fault ($why;" \
		"build/check/emu-crash-$((n + 1)).txt); a new VM runs what did not finish: $left" |
		tee -a "$LOG"
	run_vm "$left"
	vmrc=$?
done

# Parse: suites' results are indented by two spaces (their "top level");
# deeper indentation is a suite's own subtests and is ignored. A suite that
# begins again (in a VM after a RETRY) replaces its earlier partial run.
tr -d '\r' <"$LOG" | awk -v vmrc="$vmrc" '
function reset(name) {
	pass[name] = fail[name] = skip[name] = count[name] = 0
	plan[name] = ""; bail[name] = 0; ftext[name] = ""
	delete result[name]
}
/^KTAP version/ && !inner { next }
/^1\.\.[0-9]+/ && !inner { if (nsuites == "") nsuites = substr($1, 4) + 0; next }
/^# mvsock-suite: begin / {
	cur = $4; inner = 1
	if (!(cur in began)) order[++norder] = cur
	began[cur] = 1; reset(cur); next
}
/^# mvsock-suite: end / { inner = 0; next }
/^(not )?ok [0-9]+ - / {
	# A suite result from guest-check.sh.
	name = $0
	sub(/^(not )?ok [0-9]+ - /, "", name)
	sub(/ .*/, "", name)
	if (!(name in began) && !(name in result)) order[++norder] = name
	result[name] = $0
	next
}
inner && /^  1\.\.[0-9]+/ {
	if (plan[cur] == "") { p = $1; sub(/^1\.\./, "", p); plan[cur] = p + 0 }
	next
}
inner && /^  Bail out!/ { bail[cur] = 1; next }
inner && /^  (not )?ok [0-9]+/ {
	count[cur]++
	line = substr($0, 3)
	directive = ""
	if (match(line, /#[ \t]*[A-Za-z]+/)) {
		directive = toupper(substr(line, RSTART, RLENGTH))
		gsub(/[# \t]/, "", directive)
	}
	if (directive == "SKIP" || (directive == "TODO" && line ~ /^not ok/))
		skip[cur]++
	else if (line ~ /^not ok/) {
		fail[cur]++
		ftext[cur] = ftext[cur] "\n" cur ": " line
	} else
		pass[cur]++
	next
}
function failure(text) { failed++; fails[++nf] = text }
END {
	for (i = 1; i <= norder; i++) {
		name = order[i]
		passed += pass[name]; skipped += skip[name]; failed += fail[name]
		nl = split(substr(ftext[name], 2), lines, "\n")
		for (j = 1; j <= nl; j++)
			fails[++nf] = lines[j]
		if (!(name in result))
			continue
		seen_suites++
		if (!(name in began))
			failure(name ": not run")
		else if (plan[name] != "" && plan[name] != count[name])
			failure(name ": planned " plan[name] " tests, " count[name] " reported")
		else if (result[name] ~ /^not ok/ && fail[name] == 0)
			failure(name ": suite failed: " result[name])
		else if (bail[name])
			failure(name ": bailed out")
	}
	if (vmrc != 0 && vmrc != 1) {
		if (vmrc == 124)
			failure("vm: timeout")
		else if (vmrc == 120)
			failure("vm: kernel log check failed (oops/WARNING/BUG...; see build/vm/last-dmesg.txt)")
		else if (vmrc == 121)
			failure("vm: the guest crashed or did not report (see build/vm/last-dmesg.txt)")
		else
			failure("vm: runner exit status " vmrc)
	}
	if (nsuites > seen_suites) {
		failed += nsuites - seen_suites
		fails[++nf] = "vm: " (nsuites - seen_suites) " suite(s) did not finish"
	}
	if (vmrc == 1 && failed == 0)
		failure("guest-check.sh failed without a failing test")
	if (passed + failed + skipped == 0)
		failure("no test ran")
	print "# ----"
	for (i = 1; i <= nf; i++)
		print "# FAIL " fails[i]
	if (skipped > 0)
		printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	else
		printf "%d passed, %d failed\n", passed, failed
	exit (failed > 0 ? 1 : 0)
}'
