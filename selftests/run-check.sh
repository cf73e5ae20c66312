#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The driver of "make check": builds the upstream vsock tests, boots ONE VM
# (selftests/vm/run.sh) that runs selftests/guest-check.sh, i.e. every suite
# in selftests/suites.d/, then counts the suites' TAP results and ends with
# the line "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero on any failed test, a suite that failed without a failing
# test line, a VM failure (timeout, crash, kernel log check), or when no
# test ran at all.
#
# Usage: selftests/run-check.sh
# Environment (forwarded into the VM): MVSOCK_STOCK=1 tests Debian's stock
# vsock modules instead of ours (a harness self-test), CHECK_SUITES="50-*",
# SUITE_TIMEOUT. CHECK_TIMEOUT (seconds, default 3600) bounds the VM.
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
# faster than inside the VM).
# shellcheck source=selftests/multidev/suite-args.sh
. selftests/multidev/suite-args.sh
if ! selftests/upstream/build.sh || ! selftests/nested/mkinitramfs.sh >/dev/null ||
	! md_prebuild_initramfs; then
	echo "# building the upstream vsock tests or the nested guests' initramfs failed"
	echo "0 passed, 1 failed"
	exit 1
fi

vm_env=${VM_ENV:-}
for v in MVSOCK_STOCK CHECK_SUITES SUITE_TIMEOUT; do
	if [ -n "${!v:-}" ]; then
		case "${!v}" in
		*[[:space:]]*)
			# VM_ENV splits on white space: pass globs one per variable.
			echo "# $v must not contain spaces here; use one glob" >&2
			echo "0 passed, 1 failed"
			exit 1 ;;
		esac
		vm_env+=" $v=${!v}"
	fi
done

# What the suites leave in the VM's output directory (the nested suites'
# inner console logs: run-inner.sh --log-dir) comes back here.
rm -rf "$LOGDIR/vm-out"
VM_KEEP_OUT=$LOGDIR/vm-out VM_ENV=$vm_env selftests/vm/run.sh --timeout "${CHECK_TIMEOUT:-3600}" \
	-- selftests/guest-check.sh 2>&1 | tee "$LOG"
vmrc=${PIPESTATUS[0]}

# Parse: suites' results are indented by two spaces (their "top level");
# deeper indentation is a suite's own subtests and is ignored.
tr -d '\r' <"$LOG" | awk -v vmrc="$vmrc" '
function suite_done(name, line,   problem) {
	problem = ""
	if (!(name in began))
		problem = "not run"
	else if (plan[name] != "" && plan[name] != count[name])
		problem = "planned " plan[name] " tests, " count[name] " reported"
	else if (line ~ /^not ok/ && sfail[name] == 0)
		problem = "suite failed: " line
	else if (bail[name])
		problem = "bailed out"
	if (problem != "") {
		failed++
		fails[++nf] = name ": " problem
	}
}
/^KTAP version/ && !inner { next }
/^1\.\.[0-9]+/ && !inner { nsuites = substr($1, 4) + 0; next }
/^# mvsock-suite: begin / { cur = $4; began[cur] = 1; inner = 1; next }
/^# mvsock-suite: end / { inner = 0; next }
/^(not )?ok [0-9]+ - / {
	# A suite result from guest-check.sh.
	name = $0
	sub(/^(not )?ok [0-9]+ - /, "", name)
	sub(/ .*/, "", name)
	seen_suites++
	suite_done(name, $0)
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
	if (directive == "SKIP" || (directive == "TODO" && line ~ /^not ok/)) {
		skipped++
	} else if (line ~ /^not ok/) {
		failed++
		sfail[cur]++
		fails[++nf] = cur ": " line
	} else {
		passed++
	}
	next
}
END {
	if (vmrc != 0 && vmrc != 1) {
		failed++
		if (vmrc == 124)
			fails[++nf] = "vm: timeout"
		else if (vmrc == 120)
			fails[++nf] = "vm: kernel log check failed (oops/WARNING/BUG...; see build/vm/last-dmesg.txt)"
		else if (vmrc == 121)
			fails[++nf] = "vm: the guest crashed or did not report (see build/vm/last-dmesg.txt)"
		else
			fails[++nf] = "vm: runner exit status " vmrc
	}
	if (nsuites > seen_suites) {
		failed += nsuites - seen_suites
		fails[++nf] = "vm: " (nsuites - seen_suites) " suite(s) did not finish"
	}
	if (vmrc == 1 && failed == 0) {
		failed++
		fails[++nf] = "guest-check.sh failed without a failing test"
	}
	if (passed + failed + skipped == 0) {
		failed++
		fails[++nf] = "no test ran"
	}
	print "# ----"
	for (i = 1; i <= nf; i++)
		print "# FAIL " fails[i]
	if (skipped > 0)
		printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	else
		printf "%d passed, %d failed\n", passed, failed
	exit (failed > 0 ? 1 : 0)
}'
