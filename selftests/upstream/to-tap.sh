#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Convert the output of an upstream tools/testing/vsock program (vsock_test,
# vsock_diag_test: "ID - name...ok", "ID - name...skipped", or the test's
# error text and an early exit) into TAP result lines on stdout:
#   ok ID+1 - name
#   ok ID+1 - name # SKIP
#   not ok ID+1 - name        (followed by "# " lines with the error text)
# Every other line becomes a "# " diagnostic. No plan line is printed.
#
# Usage: selftests/upstream/to-tap.sh < vsock_test.log

exec awk '
function flush_test(   verdict, i, t) {
	if (cur_id == "")
		return
	t = body
	sub(/[ \t\r\n]+$/, "", t)
	if (t ~ /(^|\n)ok$/ || t == "ok") {
		verdict = "ok " (cur_id + 1) " - " cur_name
		t = substr(t, 1, length(t) - 2)
	} else if (t ~ /(^|\n)skipped$/ || t == "skipped") {
		verdict = "ok " (cur_id + 1) " - " cur_name " # SKIP"
		t = substr(t, 1, length(t) - 7)
	} else {
		verdict = "not ok " (cur_id + 1) " - " cur_name
		if (t == "")
			t = "(no result: the program stopped during this test)"
	}
	print verdict
	n = split(t, lines, "\n")
	for (i = 1; i <= n; i++)
		if (lines[i] != "")
			print "# " lines[i]
	cur_id = ""
	body = ""
}
{
	sub(/\r$/, "")
}
/^[0-9]+ - .*\.\.\./ {
	flush_test()
	cur_id = $1
	rest = $0
	sub(/^[0-9]+ - /, "", rest)
	p = index(rest, "...")
	cur_name = substr(rest, 1, p - 1)
	body = substr(rest, p + 3)
	next
}
/^All tests have been executed/ {
	flush_test()
	print "# " $0
	next
}
{
	if (cur_id != "")
		body = body "\n" $0
	else
		print "# " $0
}
END {
	flush_test()
}
'
