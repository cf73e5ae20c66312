#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tells whether a kernel log's first oops or WARNING is one of the two
# known faults of the emulator (QEMU TCG) rather than of the kernel or of
# the code under test (docs/testing.md, "Crashes of the emulator"):
#
#   stale int3  "Oops: int3" whose code dump shows no int3 byte (0xcc) in
#               front of the faulting address any more: the kernel patched
#               a jump label through a temporary int3, finished, and a
#               second vCPU still ran its old translation of the int3.
#   bad EFLAGS  a register dump with EFLAGS bits 22-31 set, which are
#               reserved and always 0 on x86: the emulated CPU state was
#               corrupt (TCG inside TCG, right after the inner kernel's
#               cmpxchg16b: run-inner.sh now hides CX16 from inner guests).
#
# Neither counts when the faulting address is in one of our modules.
#
# Usage: selftests/vm/emu-crash.sh KERNEL-LOG
# Exit status: 0 and one line naming the signature when the log matches,
# 1 when it does not (or has no oops or WARNING), 2 on a usage error.

set -uo pipefail

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
	echo "usage: $0 KERNEL-LOG" >&2
	exit 2
fi

# The first oops report: from its first line up to the next "---[ end" or
# 80 lines, whichever comes first.
report=$(tr -d '\r' <"$1" | awk '
	!on && /Oops: |general protection fault|BUG: unable to handle|invalid opcode|double fault|WARNING: CPU: / { on = 1 }
	on { print; if (/---\[ end/ || ++n >= 80) exit }')
[ -n "$report" ] || exit 1

rip=$(grep -m 1 -E 'RIP: 0010:' <<<"$report")
if [ -z "$rip" ] || [[ $rip == *"[mvsock"* ]]; then
	exit 1
fi

if grep -q 'Oops: int3' <<<"$report"; then
	code=$(grep -m 1 -E 'Code: .*<[0-9a-f]{2}>' <<<"$report")
	before=$(sed -n 's/.* \([0-9a-f][0-9a-f]\) <[0-9a-f][0-9a-f]>.*/\1/p' <<<"$code")
	if [ -n "$before" ] && [ "$before" != cc ]; then
		echo "stale int3: the code at ${rip#*RIP: 0010:} no longer holds an int3 (byte $before)"
		exit 0
	fi
fi

while read -r v; do
	if (( 16#$v >> 22 )); then
		echo "bad EFLAGS: $v has reserved bits 22-31 set (at ${rip#*RIP: 0010:})"
		exit 0
	fi
done < <(grep -oE 'EFLAGS: [0-9a-f]{8}' <<<"$report" | cut -d' ' -f2)
exit 1
