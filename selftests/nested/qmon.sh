#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Send commands to the HMP monitor of the inner QEMU of the nested topology
# (selftests/nested/run-inner.sh --monitor) and print QEMU's replies:
#   "$NESTED_QMON" 'HMP COMMAND' ['HMP COMMAND']...
#   selftests/nested/qmon.sh [-s SOCKET] [-t SECS] 'HMP COMMAND'...
# Each command is sent once QEMU shows its prompt; its reply is what QEMU
# prints until the next prompt (so a command that holds the monitor, like
# a migrate without -d, is waited for), without the echo of the command,
# carriage returns and terminal escapes.
#   -s SOCKET  the monitor's unix socket (default $NESTED_MONITOR)
#   -t SECS    give up when QEMU has not shown its prompt after SECS
#              seconds (default $QMON_TIMEOUT or 60), per command
# Exit status: 0 replies printed; 1 a reply had a line starting "Error"
# (HMP's way of failing a command); 2 usage; 3 the monitor is unreachable
# (no socket, refused, QEMU gone) or timed out (partial reply printed).
# One client at a time: QEMU accepts the next connection once the previous
# one has closed. Needs socat.

SOCK=${NESTED_MONITOR:-}
TMO=${QMON_TIMEOUT:-60}
usage() {
	sed -n '/^#   "\$NESTED_QMON"/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while getopts s:t:h opt; do
	case $opt in
	s) SOCK=$OPTARG ;;
	t) TMO=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
[[ $TMO =~ ^[0-9]+$ ]] || usage
if [ -z "$SOCK" ]; then
	echo "qmon: no monitor socket (run-inner.sh --monitor sets NESTED_MONITOR, or -s)" >&2
	exit 2
fi
if [ ! -S "$SOCK" ]; then
	echo "qmon: $SOCK: no such socket" >&2
	exit 3
fi
command -v socat >/dev/null || { echo "qmon: socat not found" >&2; exit 3; }

coproc MON { exec socat - "UNIX-CONNECT:$SOCK" 2>/dev/null; }
IN=${MON[0]}
OUT=${MON[1]}
SPID=$MON_PID
finish() {
	exec {OUT}>&- 2>/dev/null
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	exit "$1"
}

# Read until QEMU's prompt ("(qemu) " at the end of what came); the text
# before it is left in $got. 1 on end of file or timeout.
PROMPT='(qemu) '
got=
read_prompt() {
	local chunk end=$((SECONDS + TMO)) left
	got=
	while :; do
		left=$((end - SECONDS))
		[ "$left" -gt 0 ] || return 1
		# Up to the next space: the prompt ends with one.
		if IFS= read -r -d ' ' -t "$left" -u "$IN" chunk; then
			got+="$chunk "
			if [[ $got == *"$PROMPT" ]]; then
				got=${got%"$PROMPT"}
				return 0
			fi
		else
			# timeout (partial input kept) or end of file
			got+=$chunk
			return 1
		fi
	done
}

# Replies: CR LF line ends, escapes of QEMU's line editor (ESC [ ... letter).
clean() {
	local esc=$'\e'
	got=${got//$'\r'/}
	while [[ $got =~ $esc\[[0-9\;]*[A-Za-z] ]]; do
		got=${got//"${BASH_REMATCH[0]}"/}
	done
}

if ! read_prompt; then
	echo "qmon: $SOCK: the monitor is unreachable (no prompt)" >&2
	finish 3
fi
status=0
for cmd in "$@"; do
	if [[ $cmd == *$'\n'* ]]; then
		echo "qmon: one command per argument, no newlines" >&2
		finish 2
	fi
	printf '%s\n' "$cmd" >&"$OUT" 2>/dev/null || {
		echo "qmon: $SOCK: the monitor went away" >&2
		finish 3
	}
	if ! read_prompt; then
		clean
		printf '%s' "${got#*$'\n'}"
		echo "qmon: $SOCK: no prompt after '$cmd' within ${TMO}s (or QEMU went away)" >&2
		finish 3
	fi
	clean
	# The first line is QEMU echoing the command.
	if [[ $got == *$'\n'* ]]; then
		got=${got#*$'\n'}
	else
		got=
	fi
	printf '%s' "$got"
	if [[ $got =~ (^|$'\n')Error ]]; then
		status=1
	fi
done
finish "$status"
