#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The perf tool (Debian's linux-perf, `make deps`) on the mvsock
# tracepoints, with the modules loaded by 00-load:
#   - `perf list 'mvsock:*'` lists exactly the events tracefs has under
#     events/mvsock/ (read at run time: the set grows with the code);
#   - `perf record -e mvsock:mvsock_pkt_tx -e mvsock:mvsock_pkt_rx -a`
#     around one known loopback connection (selftests/lib/vsock_exchange.py:
#     4 writes) records exactly its packets, read back with `perf script`:
#     REQUEST, RESPONSE, one RW per write with its length, SHUTDOWN (flags
#     3), RST, each once as pkt_tx and once as pkt_rx, all on the loopback
#     device;
#   - `perf stat -e 'mvsock:*' -a` counts every tracefs event, pkt_tx and
#     pkt_rx at least the connection's packets;
#   - `perf record --filter` on the ports of one of two connections keeps
#     that connection's packets only;
#   - `perf trace -e mvsock:mvsock_pkt_tx` prints the connection's packets.
# perf record runs with --no-buildid: nothing here needs symbols, and the
# build-id pass costs tens of seconds under TCG. Each perf start takes
# 20-80 s on a loaded 2-CPU build machine, so the suite takes minutes.
# See docs/perf.md.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"
T=/sys/kernel/tracing
EXCHANGE=$ROOT/selftests/lib/vsock_exchange.py
WRITES=(1000 2000 3000 4000)
NPKT=$((4 + ${#WRITES[@]}))	# REQUEST RESPONSE RW... SHUTDOWN RST
PORT=${PERF_TOOL_PORT:-7200}	# the client uses PORT + 1; PORT + 10, + 20, ...

if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only (the mvsock:* tracepoints)"
	exit 0
fi

echo "TAP version 13"
echo "1..6"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v perf >/dev/null || ! perf --version >/dev/null 2>&1; then
	for c in "perf list" "perf record (exact packets)" "perf record (pkt_rx)" \
		"perf stat" "perf record --filter" "perf trace"; do
		echo "perf is not installed (Debian: linux-perf; make deps)" >"$tmp/d"
		result 1 "$c" "$tmp/d"
	done
	exit 1
fi
diag "$(perf --version), kernel $(uname -r)"
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null

# The loopback device's registry id (dev_id of its packets).
LO=$(sed -n 's/^id=\([0-9]*\) name=loopback .*/\1/p' /sys/module/mvsock/parameters/devices)
diag "loopback device id: ${LO:-none}"

# The expected packets of one vsock_exchange.py connection on PORT, one
# line per packet "src_port>dst_port op=OP len=N flags=F", in wire order
# (the events print op by name).
expected() { # port
	local p=$1 c=$(($1 + 1)) w
	echo "$c>$p op=REQUEST len=0 flags=0"
	echo "$p>$c op=RESPONSE len=0 flags=0"
	for w in "${WRITES[@]}"; do
		echo "$c>$p op=RW len=$w flags=0"
	done
	echo "$c>$p op=SHUTDOWN len=0 flags=0x3"
	echo "$p>$c op=RST len=0 flags=0"
}

# `perf script -F event,trace` lines of EVENT (pkt_tx/pkt_rx) of the
# connection on PORT in the same shape as expected(); the device ids seen
# go to $tmp/devs. Other ops (credit updates and requests) are left out.
packets() { # script-output event port
	awk -v ev="mvsock:mvsock_$2:" -v p="$3" -v c="$(($3 + 1))" -v devs="$tmp/devs" '
	$1 != ev { next }
	{
		split($3, s, ":"); split($5, d, ":")
		if (!((s[2] == c && d[2] == p) || (s[2] == p && d[2] == c))) next
		op = ""; len = ""; fl = ""
		for (i = 6; i <= NF; i++) {
			if ($i ~ /^op=/) op = $i
			else if ($i ~ /^len=/) len = $i
			else if ($i ~ /^flags=/) fl = $i
		}
		print $2 >> devs
		if (op == "op=CREDIT_UPDATE" || op == "op=CREDIT_REQUEST") next
		print s[2] ">" d[2] " " op " " len " " fl
	}' "$1"
}

# Compare a packet list with the expected one; diagnostics into $tmp/d.
same_packets() { # got-file want-file label
	if cmp -s "$1" "$2"; then
		return 0
	fi
	{
		echo "$3: got $(wc -l <"$1") packets, want $(wc -l <"$2"); diff want got:"
		diff "$2" "$1" | head -n 30
	} >>"$tmp/d"
	return 1
}

###########################################################################
# 1. perf list against tracefs

: >"$tmp/d"
find "$T/events/mvsock" -mindepth 1 -maxdepth 1 -type d -printf 'mvsock:%f\n' 2>/dev/null |
	sort >"$tmp/tracefs"
perf --no-pager list 'mvsock:*' 2>"$tmp/list.err" >"$tmp/list.out"
awk '$1 ~ /^mvsock:/ && /Tracepoint event/ { print $1 }' "$tmp/list.out" | sort >"$tmp/perf"
st=0
if [ ! -s "$tmp/tracefs" ]; then
	echo "no events under $T/events/mvsock" >>"$tmp/d"
	st=1
fi
if ! cmp -s "$tmp/tracefs" "$tmp/perf"; then
	{
		echo "only in tracefs: $(comm -23 "$tmp/tracefs" "$tmp/perf" | tr '\n' ' ')"
		echo "only in perf list: $(comm -13 "$tmp/tracefs" "$tmp/perf" | tr '\n' ' ')"
		head -n 5 "$tmp/list.err"
	} >>"$tmp/d"
	st=1
fi
result "$st" "perf list 'mvsock:*' lists every tracefs event ($(wc -l <"$tmp/tracefs") events)" "$tmp/d"
diag "events: $(sed 's/^mvsock://' "$tmp/tracefs" | tr '\n' ' ')"

###########################################################################
# 2, 3. perf record + perf script around one known connection

: >"$tmp/d"
: >"$tmp/devs"
p=$PORT
expected "$p" >"$tmp/want"
st=0
if ! perf record -q -a --no-buildid -o "$tmp/rec.data" -e mvsock:mvsock_pkt_tx -e mvsock:mvsock_pkt_rx \
	-- python3 "$EXCHANGE" "$p" "${WRITES[@]}" >"$tmp/rec.log" 2>&1; then
	cat "$tmp/rec.log" >>"$tmp/d"
	st=1
fi
perf script -i "$tmp/rec.data" -F event,trace >"$tmp/script" 2>"$tmp/script.err" || {
	head -n 5 "$tmp/script.err" >>"$tmp/d"
	st=1
}
diag "perf script: $(wc -l <"$tmp/script") events; first two:"
head -n 2 "$tmp/script" | sed 's/^ */#   /'
packets "$tmp/script" pkt_tx "$p" >"$tmp/tx"
packets "$tmp/script" pkt_rx "$p" >"$tmp/rx"
same_packets "$tmp/tx" "$tmp/want" "pkt_tx" || st=1
devs=$(sort -u "$tmp/devs" | tr '\n' ' ')
if [ -z "$LO" ] || [ "$devs" != "dev=$LO " ]; then
	echo "device ids seen: '$devs', want dev=$LO only" >>"$tmp/d"
	st=1
fi
result "$st" "perf record/script: pkt_tx of one connection with ${#WRITES[@]} writes are exactly REQUEST RESPONSE ${#WRITES[@]}xRW SHUTDOWN RST on the loopback device" "$tmp/d"
: >"$tmp/d"
st=0
same_packets "$tmp/rx" "$tmp/want" "pkt_rx" || st=1
[ -s "$tmp/script" ] || st=1
result "$st" "perf record/script: pkt_rx of the same connection are the same $NPKT packets" "$tmp/d"
diag "credit packets of the connection (not compared): $(grep -c 'op=CREDIT_' "$tmp/script")"

###########################################################################
# 4. perf stat

: >"$tmp/d"
st=0
p=$((PORT + 10))
if ! perf stat -x, -a -e 'mvsock:*' -o "$tmp/stat" \
	-- python3 "$EXCHANGE" "$p" "${WRITES[@]}" >"$tmp/stat.log" 2>&1; then
	cat "$tmp/stat.log" >>"$tmp/d"
	st=1
fi
# CSV: count,unit,event,...
awk -F, '$3 ~ /^mvsock:/ { print $3 }' "$tmp/stat" | sort >"$tmp/stat.events"
if ! cmp -s "$tmp/tracefs" "$tmp/stat.events"; then
	echo "perf stat counted: $(tr '\n' ' ' <"$tmp/stat.events")" >>"$tmp/d"
	st=1
fi
for ev in pkt_tx pkt_rx; do
	cnt=$(awk -F, -v e="mvsock:mvsock_$ev" '$3 == e { print $1 }' "$tmp/stat")
	diag "perf stat: mvsock_$ev $cnt"
	case "$cnt" in
	'' | *[!0-9]*) echo "mvsock_$ev: no count ('$cnt')" >>"$tmp/d"; st=1 ;;
	*) [ "$cnt" -ge "$NPKT" ] || { echo "mvsock_$ev: $cnt < $NPKT" >>"$tmp/d"; st=1; } ;;
	esac
done
[ "$st" = 0 ] || grep -v '^#' "$tmp/stat" | head -n 20 >>"$tmp/d"
result "$st" "perf stat -e 'mvsock:*' counts every event, pkt_tx and pkt_rx >= $NPKT" "$tmp/d"

###########################################################################
# 5. perf record --filter: two connections, keep one

: >"$tmp/d"
: >"$tmp/devs"
st=0
p1=$((PORT + 20))
p2=$((PORT + 30))
f="dev_id == $LO && (src_port == $p2 || dst_port == $p2)"
if ! perf record -q -a --no-buildid -o "$tmp/filt.data" \
	-e mvsock:mvsock_pkt_tx --filter "$f" -e mvsock:mvsock_pkt_rx --filter "$f" \
	-- sh -c "python3 '$EXCHANGE' $p1 ${WRITES[*]} && python3 '$EXCHANGE' $p2 ${WRITES[*]}" \
	>"$tmp/filt.log" 2>&1; then
	cat "$tmp/filt.log" >>"$tmp/d"
	st=1
fi
perf script -i "$tmp/filt.data" -F event,trace >"$tmp/fscript" 2>>"$tmp/d" || st=1
expected "$p2" >"$tmp/want2"
packets "$tmp/fscript" pkt_tx "$p2" >"$tmp/tx2"
packets "$tmp/fscript" pkt_rx "$p2" >"$tmp/rx2"
same_packets "$tmp/tx2" "$tmp/want2" "pkt_tx, port $p2" || st=1
same_packets "$tmp/rx2" "$tmp/want2" "pkt_rx, port $p2" || st=1
mine=" [0-9]+:($p2|$((p2 + 1))) -> [0-9]+:($p2|$((p2 + 1))) "
other=$(grep -c -v -E "$mine" "$tmp/fscript")
if [ "$other" != 0 ]; then
	echo "$other events of other connections passed the filter:" >>"$tmp/d"
	grep -v -E "$mine" "$tmp/fscript" | head -n 5 >>"$tmp/d"
	st=1
fi
result "$st" "perf record --filter '$f' keeps only that connection ($(wc -l <"$tmp/fscript") events)" "$tmp/d"

###########################################################################
# 6. perf trace

: >"$tmp/d"
st=0
p=$((PORT + 40))
timeout 120 perf trace -o "$tmp/trace" -e mvsock:mvsock_pkt_tx \
	-- python3 "$EXCHANGE" "$p" "${WRITES[@]}" >"$tmp/trace.log" 2>&1 || {
	cat "$tmp/trace.log" >>"$tmp/d"
	st=1
}
# perf trace leaves out fields that are 0 (len, flags, dev_id 0, ...).
got=$(grep -c -E "mvsock:mvsock_pkt_tx\(.*(src_port: $p,|dst_port: $p,)" "$tmp/trace")
if [ "$got" != "$NPKT" ]; then
	{
		echo "perf trace: $got pkt_tx lines of port $p, want $NPKT"
		head -n 12 "$tmp/trace"
	} >>"$tmp/d"
	st=1
fi
diag "perf trace, first line: $(grep -m1 mvsock "$tmp/trace" | sed 's/^ *//')"
result "$st" "perf trace -e mvsock:mvsock_pkt_tx shows the connection's $NPKT packets" "$tmp/d"

exit "$fail"
