#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run an upstream tools/testing/vsock program (vsock_test, vsock_diag_test)
# as server and client in this machine over vsock loopback (peer CID 1),
# with the TCP control connection on 127.0.0.1, and print TAP.
#
# The upstream programs stop at the first failing test; this script then
# starts a new server/client pair that skips every test already done, so one
# failure does not hide the results of the tests after it.
#
# Usage: selftests/upstream/run-pair.sh [--port N] [--stall SECS]
#            [--known-fail 'NAME=REASON']... PROGRAM [EXTRA ARGS FOR BOTH SIDES]
#   --port        TCP control port (default 1234)
#   --stall       kill the pair when neither side printed anything for SECS
#                 (default 300); the current test is then reported failed
#   --known-fail  a failure of the test called NAME is reported as
#                 "ok N - NAME # SKIP REASON" (a pass is reported as a pass)
# Exit status: 0 when no test failed, 1 otherwise.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PORT=1234
STALL=300
declare -A KNOWN=()

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--port) PORT=$2; shift 2 ;;
	--stall) STALL=$2; shift 2 ;;
	--known-fail)
		[[ $2 == *=* ]] || usage
		KNOWN[${2%%=*}]=${2#*=}
		shift 2 ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
PROG=$1
shift
EXTRA=("$@")
NAME=$(basename "$PROG")

echo "TAP version 13"
if [ ! -x "$PROG" ]; then
	echo "1..1"
	echo "not ok 1 - $NAME # $PROG not found or not executable (build it first)"
	exit 1
fi

# "ID<TAB>name" lines after a header.
declare -a IDS=() NAMES=()
while IFS=$'\t' read -r id name; do
	[[ $id =~ ^[0-9]+$ ]] || continue
	IDS+=("$id")
	NAMES[id]=$name
done < <("$PROG" --list 2>/dev/null)
if [ ${#IDS[@]} -eq 0 ]; then
	echo "1..1"
	echo "not ok 1 - $NAME --list printed no tests"
	exit 1
fi
echo "1..${#IDS[@]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/run-pair.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkfifo "$WORK/nap"
exec 9<>"$WORK/nap"
# A one-second sleep without forking: nothing is ever written to the fifo.
nap() { read -r -t 1 -u 9 _; }

declare -A RESULT=()   # id -> ok|skip|fail
failed=0

report() { # id verdict-line diagnostics-file
	local id=$1 line=$2 diag=$3 name=${NAMES[$1]}
	if [[ $line == "not ok"* ]] && [ -n "${KNOWN[$name]:-}" ]; then
		line="ok $((id + 1)) - $name # SKIP ${KNOWN[$name]}"
	fi
	echo "$line"
	[ -s "$diag" ] && cat "$diag"
	[[ $line == "not ok"* ]] && failed=$((failed + 1))
	return 0
}

# Status of test ID in a to-tap output: ok, skip, fail or none.
status_of() { # tapfile id
	local n=$(($2 + 1)) l
	l=$(grep -E "^(not )?ok $n - " "$1" | head -n 1)
	case "$l" in
	"") echo none ;;
	"not ok"*) echo fail ;;
	*"# SKIP"*) echo skip ;;
	*) echo ok ;;
	esac
}

# The "# " lines that follow test ID's result in a to-tap output.
diag_of() { # tapfile id prefix
	awk -v n="$(($2 + 1))" -v p="$3" '
		$0 ~ "^(not )?ok " n " - " { on = 1; next }
		/^(not )?ok [0-9]+ - / { on = 0 }
		on && /^# / { sub(/^# /, ""); print "# " p $0 }
	' "$1"
}

wait_listen() { # server-pid: wait until the control port is listening
	local hex i l
	hex=$(printf '%04X' "$PORT")
	for ((i = 0; i < 600; i++)); do
		while read -r l; do
			[[ $l == *":$hex 00000000:0000 0A"* ]] && return 0
		done </proc/net/tcp
		kill -0 "$1" 2>/dev/null || return 1
		read -r -t 0.1 -u 9 _
	done
	return 1
}

round=0
while :; do
	todo=()
	for id in "${IDS[@]}"; do
		[ -n "${RESULT[$id]:-}" ] || todo+=("$id")
	done
	[ ${#todo[@]} -eq 0 ] && break
	round=$((round + 1))

	skip=()
	for id in "${IDS[@]}"; do
		[ -n "${RESULT[$id]:-}" ] && skip+=("--skip=$id")
	done
	[ $round -gt 1 ] && echo "# $NAME: restarting the pair, skipping ${#skip[@]} tests already done"

	: >"$WORK/srv.log"
	"$PROG" --mode=server --control-port="$PORT" --peer-cid=1 \
		"${EXTRA[@]}" "${skip[@]}" >"$WORK/srv.log" 2>&1 &
	spid=$!
	if ! wait_listen "$spid"; then
		echo "# $NAME: the server did not start listening on port $PORT"
		sed 's/^/# server: /' "$WORK/srv.log"
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		for id in "${todo[@]}"; do
			echo "# $NAME: server failed to start" >"$WORK/diag"
			report "$id" "not ok $((id + 1)) - ${NAMES[id]}" "$WORK/diag"
			RESULT[$id]=fail
		done
		break
	fi
	: >"$WORK/cli.log"
	# The client's output is shown live as diagnostics.
	{
		"$PROG" --mode=client --control-host=127.0.0.1 \
			--control-port="$PORT" --peer-cid=1 \
			"${EXTRA[@]}" "${skip[@]}" 2>&1 | tee "$WORK/cli.log" |
			while IFS= read -r l || [ -n "$l" ]; do printf '# %s\n' "$l"; done
	} &
	cpid=$!

	# Stall watchdog: both logs stopped growing for $STALL seconds.
	# (Forks are slow under TCG: poll with builtins, stat every 5 s.)
	stalled=0
	last=-1
	idle=0
	tick=0
	while kill -0 "$cpid" 2>/dev/null || kill -0 "$spid" 2>/dev/null; do
		nap
		tick=$((tick + 1))
		[ $((tick % 5)) = 0 ] || continue
		size=$(( $(stat -c %s "$WORK/cli.log") + $(stat -c %s "$WORK/srv.log") ))
		if [ "$size" = "$last" ]; then
			idle=$((idle + 5))
		else
			idle=0
			last=$size
		fi
		if [ "$idle" -ge "$STALL" ]; then
			stalled=1
			echo "# $NAME: no output for ${STALL}s: killing server and client"
			kill "$spid" 2>/dev/null
			pkill -P "$cpid" 2>/dev/null
			kill "$cpid" 2>/dev/null
			break
		fi
	done
	wait "$cpid" 2>/dev/null
	wait "$spid" 2>/dev/null

	"$HERE/to-tap.sh" <"$WORK/cli.log" >"$WORK/cli.tap"
	"$HERE/to-tap.sh" <"$WORK/srv.log" >"$WORK/srv.tap"

	progress=0
	for id in "${todo[@]}"; do
		c=$(status_of "$WORK/cli.tap" "$id")
		s=$(status_of "$WORK/srv.tap" "$id")
		name=${NAMES[id]}
		: >"$WORK/diag"
		if [ "$c" = ok ] && [ "$s" = ok ]; then
			report "$id" "ok $((id + 1)) - $name" "$WORK/diag"
			RESULT[$id]=ok
		elif [ "$c" = skip ] || [ "$s" = skip ]; then
			report "$id" "ok $((id + 1)) - $name # SKIP" "$WORK/diag"
			RESULT[$id]=skip
		elif [ "$c" = none ] && [ "$s" = none ]; then
			break
		else
			diag_of "$WORK/cli.tap" "$id" "client: " >"$WORK/diag"
			diag_of "$WORK/srv.tap" "$id" "server: " >>"$WORK/diag"
			[ "$stalled" = 1 ] && echo "# stalled: no output for ${STALL}s" >>"$WORK/diag"
			report "$id" "not ok $((id + 1)) - $name" "$WORK/diag"
			RESULT[$id]=fail
			progress=1
			break
		fi
		progress=1
	done

	if [ "$progress" = 0 ]; then
		# Neither side got to the next test: report the rest as failed.
		sed 's/^/# server: /' "$WORK/srv.log"
		for id in "${todo[@]}"; do
			[ -n "${RESULT[$id]:-}" ] && continue
			echo "# did not run: the pair stopped before this test" >"$WORK/diag"
			report "$id" "not ok $((id + 1)) - ${NAMES[id]}" "$WORK/diag"
			RESULT[$id]=fail
		done
		break
	fi
done

[ "$failed" -eq 0 ]
