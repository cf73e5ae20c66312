#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The steps of scripts/demo-nested.sh. Runs in the host VM as the --host
# command of selftests/nested/run-inner.sh, with the guest up
# ("$NESTED_EXEC" runs a command there) and its programs packed at their
# paths here (selftests/multidev/suite-args.sh). Each step shows what the
# tools print and checks it; a failed check prints
# "demo: step N FAILED: why", the remaining steps still run when they can,
# and the exit status is 1.
#
# Environment (from scripts/demo-nested.sh --in-vm): DEMO_OUT (full
# outputs), DEMO_TMP (scratch), DEMO_MIB (MiB per stream), DEMO_PERF_PID,
# DEMO_PERF_CTL, DEMO_PERF_ACK
# (perf stat, started with its counters off, and the file descriptors of
# its control and ack FIFOs); NESTED_* from run-inner.sh.

set -uo pipefail
shopt -s extglob

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=scripts/lib/nested-bench.sh
. "$ROOT/scripts/lib/nested-bench.sh"
B=$ROOT/build
MD=$B/multidev/mdtool
VSOCKCTL=$B/tools/vsockctl
VSOCKTOP=$B/tools/vsocktop
O=${DEMO_OUT:?run from scripts/demo-nested.sh}
MIB=${DEMO_MIB:-4}
NDEV=${NESTED_NDEV:-3}
CIDS=()
for ((i = 0; i < NDEV; i++)); do CIDS+=($((NESTED_CID + i))); done
PORT=5400		# the streams
T0=$SECONDS
STEP=0
FAILED=0

step() { # number title explanation
	STEP=$1
	echo
	echo "== $1. $2   [+$((SECONDS - T0)) s]"
	[ -z "${3:-}" ] || fold -s -w 76 <<<"($3)" | sed 's/^/   /'
}

fail() {
	echo "demo: step $STEP FAILED: $*"
	echo "step $STEP: $*" >>"$O/failed.txt"
	FAILED=1
}

# The command line as shown: our programs by their names.
shown() { local s="$*"; echo "${s//$B\/+([a-z])\//}"; }

# on SIDE FILE CMD...: show "SIDE$ CMD", run it on that side (host: here,
# guest: through NESTED_EXEC), its output into $O/FILE and on the screen.
on() {
	local side=$1 f=$O/$2 rc
	shift 2
	local t=$SECONDS
	echo "$side\$ $(shown "$*")"
	nb_on "$side" "$@" >"$f" 2>&1
	rc=$?
	echo "+$((t - T0)) s, $((SECONDS - t)) s: $side: $*" >>"$O/timing.txt"
	sed 's/^/  /' "$f"
	return $rc
}

# devrows FILE ROLE: from `vsockctl devices` text, "CID DEFAULT TX_PKTS
# TX_BYTES RX_PKTS RX_BYTES" per device of ROLE, by CID
devrows() {
	awk -v r="$2" '$1 ~ /^[0-9]+$/ && $3 == r { print $4, $5, $8, $9, $10, $11 }' "$1" | sort -n
}

# the growth of a counter column (3: tx_pkts ... 6: rx_bytes) of CID
# between two devrows outputs
grown() { # before after cid column
	awk -v c="$3" -v k="$4" 'FNR == 1 { f++ } $1 == c { v[f] = $k } END { print v[2] - v[1] }' \
		<(cat <<<"$1") <(cat <<<"$2")
}

# perf stat's counters on and off (perf reads its control FIFO)
perf_ctl() { # enable|disable
	local ack=
	echo "$1" >&"$DEMO_PERF_CTL" && read -r -t 300 -u "$DEMO_PERF_ACK" ack
	[ "$ack" = ack ] || { fail "perf stat did not acknowledge '$1' (build/demo/vm/perf-stat.log)"; return 1; }
}

###########################################################################
step 1 "a host and a guest with three virtio-vsock devices" \
	"host: this VM, our mvsock.ko + mvsock_vhost.ko (/dev/vhost-vsock); guest: QEMU (TCG) inside it, up after $((NESTED_BOOT_MS / 1000)) s, with ${NDEV} vhost-vsock-pci devices, guest CIDs ${CIDS[*]}, driven by our mvsock.ko + mvsock_virtio.ko"
echo "host\$ pgrep -a qemu-system | grep -o 'vhost-vsock-pci,[^ ]*'    (the guest's QEMU)"
pgrep -a qemu-system | grep -o 'vhost-vsock-pci,[^ ]*' >"$O/qemu-devices.txt"
sed 's/^/  /' "$O/qemu-devices.txt"
[ "$(sed -n 's/.*guest-cid=\([0-9]*\).*/\1/p' "$O/qemu-devices.txt" | sort -n | tr '\n' ' ')" = "${CIDS[*]} " ] ||
	fail "the guest's QEMU should have vhost-vsock-pci devices with guest CIDs ${CIDS[*]}"
echo "host\$ lsmod | grep mvsock"
lsmod | grep '^mvsock' | sed 's/^/  /'
# vsocktop -b on both sides, a block a second until step 3 ends them
# (BPF under TCG, inside TCG in the guest: they take a while to start,
# meanwhile step 1 goes on). One guest command for the driver and
# vsocktop: each costs seconds.
"$VSOCKTOP" -b -T -i 1 >"$O/vsocktop-host.txt" 2>&1 &
VT_PID=$!
echo "guest\$ insmod mvsock.ko; insmod mvsock_virtio.ko"
if ! nb_on guest sh -c "insmod '$NB_KO_DIR/mvsock.ko' && insmod '$NB_KO_DIR/mvsock_virtio.ko' &&
	{ '$VSOCKTOP' -b -T -i 1 >/tmp/vsocktop.txt 2>&1 </dev/null & }" >"$O/guest-load.txt" 2>&1; then
	sed 's/^/  /' "$O/guest-load.txt"
	fail "the guest driver did not load"
	exit 1
fi
on host devices-host-1.txt "$VSOCKCTL" devices || fail "host: vsockctl devices failed"
on guest devices-guest-1.txt "$VSOCKCTL" devices || fail "guest: vsockctl devices failed"
H1=$(devrows "$O/devices-host-1.txt" host)
G1=$(devrows "$O/devices-guest-1.txt" guest)
want=$(printf '%s\n' "${CIDS[@]}")
[ "$(cut -d' ' -f1 <<<"$H1")" = "$want" ] ||
	fail "the host should have one host-role device per guest CID (${CIDS[*]}), has: $(cut -d' ' -f1 <<<"$H1" | tr '\n' ' ')"
[ "$(cut -d' ' -f1 <<<"$G1")" = "$want" ] ||
	fail "the guest should have guest devices with CIDs ${CIDS[*]}, has: $(cut -d' ' -f1 <<<"$G1" | tr '\n' ' ')"
[ "$(awk '$2 == "yes" { print $1 }' <<<"$G1")" = "${CIDS[0]}" ] ||
	fail "the guest's default device should be CID ${CIDS[0]} (the first probed)"
[ "$FAILED" = 0 ] && echo "ok: ${NDEV} devices on each side, CIDs ${CIDS[*]}; the guest's default is CID ${CIDS[0]}"

###########################################################################
step 2 "traffic on every device at once" \
	"the guest sends a ${MIB} MiB stream through each device at the same time: mdtool send -b CID binds the socket to that device's CID, then connects to the host (CID 2); the host's sink answers each stream with its byte count and FNV-1a checksum, which the sender compares with its own"
bytes=$((MIB << 20))
ok2=1
# both vsocktops must be running before the traffic
for ((i = 0; i < 120; i++)); do
	grep -q 'vsocktop: mvsock' "$O/vsocktop-host.txt" 2>/dev/null &&
		nb_on guest grep -q 'vsocktop: mvsock' /tmp/vsocktop.txt && break
	sleep 2
done
echo "+$((SECONDS - T0)) s: both vsocktops running" >>"$O/timing.txt"
[ "$i" -lt 120 ] || fail "vsocktop did not start (build/demo/vm/vsocktop-host.txt; guest: see step 3)"
perf_ctl enable || ok2=0
nb_on host "$MD" sink -n "$NDEV" "$PORT" >"$O/sink.txt" 2>&1 &
sink=$!
for ((i = 0; i < 100; i++)); do
	grep -q '^listening' "$O/sink.txt" && break
	sleep 0.1
done
echo "host\$ mdtool sink -n $NDEV $PORT &"
t=$SECONDS
echo "guest\$ for c in ${CIDS[*]}; do mdtool send -b \$c 2 $PORT ${MIB}M \$c & done; wait"
nb_on guest sh -c "for c in ${CIDS[*]}; do '$MD' send -b \$c 2 $PORT ${MIB}M \$c >/tmp/send\$c.txt 2>&1 & done; wait
	cat /tmp/send*.txt" >"$O/send.txt" 2>&1
secs=$((SECONDS - t))
echo "+$((t - T0)) s, $secs s: the streams" >>"$O/timing.txt"
sed 's/^/  /' "$O/send.txt"
wait "$sink" || ok2=0
echo "host (the sink's lines):"
sed 's/^/  /' "$O/sink.txt"
echo "$NDEV x $MIB MiB in $secs s"
on host devices-host-2.txt "$VSOCKCTL" devices >/dev/null
on guest devices-guest-2.txt "$VSOCKCTL" devices >/dev/null
perf_ctl disable || ok2=0
H2=$(devrows "$O/devices-host-2.txt" host)
G2=$(devrows "$O/devices-guest-2.txt" guest)
echo "the devices' counters (vsockctl devices, before -> after; full tables: build/demo/vm/devices-*.txt):"
printf '  %-4s %-28s %-28s\n' CID "guest TX_BYTES" "host RX_BYTES"
for c in "${CIDS[@]}"; do
	gs=$(sed -n "s/^send ok bytes=$bytes sum=\([0-9a-f]*\) local=$c:.*/\1/p" "$O/send.txt")
	hs=$(sed -n "s/^sink local=2:$PORT peer=$c:[0-9]* bytes=$bytes sum=\([0-9a-f]*\).*/\1/p" "$O/sink.txt")
	if [ -z "$gs" ]; then
		fail "the stream through CID $c did not complete: $(grep "local=$c:" "$O/send.txt" || echo 'no output')"
		ok2=0
	elif [ "$gs" != "$hs" ]; then
		fail "the stream through CID $c: the host received sum '${hs:-nothing}', the guest sent $gs"
		ok2=0
	fi
	gt=$(grown "$G1" "$G2" "$c" 4)
	hr=$(grown "$H1" "$H2" "$c" 6)
	printf '  %-4s %-28s %-28s\n' "$c" \
		"$(awk -v c="$c" '$1 == c { print $4 }' <<<"$G1") -> $(awk -v c="$c" '$1 == c { print $4 }' <<<"$G2")" \
		"$(awk -v c="$c" '$1 == c { print $6 }' <<<"$H1") -> $(awk -v c="$c" '$1 == c { print $6 }' <<<"$H2")"
	if [ "${gt:-0}" -lt "$bytes" ] || [ "${hr:-0}" -lt "$bytes" ]; then
		fail "device CID $c: the guest's tx_bytes grew by ${gt:-?}, the host's rx_bytes by ${hr:-?}; want $bytes or more"
		ok2=0
	fi
done
[ $ok2 = 1 ] && echo "ok: each stream arrived whole (same byte count and checksum on both sides) through the device it was bound to; each device's counters grew by $MIB MiB or more on both sides"

###########################################################################
# vt_pick FILE ROLE: the vsocktop -b block during the traffic (the one
# where most devices of ROLE moved bytes, the busiest of those), its
# device table and its established connections; "active=N default=CID"
# first (devices of ROLE that moved bytes, the one flagged default)
vt_pick() {
	awk -v r="$2" '
	function bytes(s,  m) {
		m = 1
		if (s ~ /K$/) m = 1024; else if (s ~ /M$/) m = 1048576; else if (s ~ /G$/) m = 1073741824
		return (s + 0) * m
	}
	/vsocktop: / { b++; conns = 0 }
	b == 0 { next }
	{ line[b] = line[b] $0 "\n" }
	/^LOCAL / { conns = 1 }
	!conns && $3 == r && $1 ~ /^[0-9]+$/ {
		d = ($5 == "*")	# the DEF column is empty or "*"
		t = bytes($(6 + d)) + bytes($(7 + d))
		if (t > 0) { act[b]++; sum[b] += t }
		if (d) def[b] = $4
	}
	END {
		for (i = 1; i <= b; i++)
			if (act[i] > act[best] || (act[i] == act[best] && sum[i] > sum[best])) best = i
		printf "active=%d default=%s\n", act[best], def[best]
		n = split(line[best], l, "\n")
		for (i = 1; i < n; i++)
			if (l[i] ~ /vsocktop: / || (l[i] !~ /^$/ && (l[i] !~ /^[0-9*]+:/ || l[i] ~ / ESTAB /)))
				print l[i]
	}' "$1"
}

vt_show() { # file role side
	local p active
	p=$(vt_pick "$1" "$2")
	active=$(sed -n '1s/^active=\([0-9]*\).*/\1/p' <<<"$p")
	echo "$3\$ vsocktop -b -T -i 1    (the busiest block during the traffic; all blocks: build/demo/vm/${1##*/})"
	sed '1d; s/^/  /' <<<"$p"
	if [ "${active:-0}" != "$NDEV" ]; then
		fail "$3: vsocktop shows ${active:-0} of the $NDEV $2-role devices moving bytes in its busiest block"
		return 1
	fi
	if [ "$2" = guest ] && ! grep -q "^active=$NDEV default=${CIDS[0]}\$" <<<"$p"; then
		fail "guest: vsocktop does not flag CID ${CIDS[0]} as the default device"
		return 1
	fi
	return 0
}

step 3 "vsocktop -b during the traffic, host and guest" \
	"one block a second on each side since before the streams; per device: bytes and packets per second, queue depth now (QUEUE) and its maximum (QMAX), connections, credit stalls, tx completion and rx delivery latency (p50, p99); per connection: rates, queues, CREDIT (bytes the sender may send) and BUFALLOC"
ok3=1
kill -INT "$VT_PID" 2>/dev/null
nb_on guest sh -c 'killall -INT vsocktop; sleep 1; cat /tmp/vsocktop.txt' >"$O/vsocktop-guest.txt" 2>&1
vt_show "$O/vsocktop-host.txt" host host || ok3=0
vt_show "$O/vsocktop-guest.txt" guest guest || ok3=0
[ $ok3 = 1 ] && echo "ok: both sides show all $NDEV devices moving the streams (host: the guest's CIDs, role host; guest: CIDs ${CIDS[*]}, CID ${CIDS[0]} the default)"

###########################################################################
step 4 "a policy on the host: guest CID ${CIDS[1]} may reach one port only" \
	"vsockctl policy load compiles the rules into BPF programs that the host's mvsock.ko runs for every connection request; they stay in force after vsockctl exits. A denied request is answered with RST: the guest's connect() fails with ECONNRESET"
ok4=1
c=${CIDS[1]}
cd "$DEMO_TMP" || exit 1
cat >demo.rules <<EOF
# guest CID $c may reach port 7002 of this host and nothing else;
# the other guests are not affected (no default line: allow)
allow in cid $c port 7002
deny in cid $c
EOF
cp demo.rules "$O/"
la=$(grep -n '^allow' demo.rules | cut -d: -f1)
ld=$(grep -n '^deny' demo.rules | cut -d: -f1)
echo "host\$ cat demo.rules"
sed 's/^/  /' demo.rules
on host policy-load.txt "$VSOCKCTL" policy load demo.rules || ok4=0
grep -q '^policy loaded: 2 rules (in 2, out 0, route 0), default allow$' "$O/policy-load.txt" ||
	{ fail "vsockctl policy load: $(cat "$O/policy-load.txt")"; ok4=0; }
spids=()
for p in 7001 7002; do
	"$MD" serve -n 2 "$p" >"$O/serve$p.txt" 2>&1 &
	spids+=($!)
done
for ((i = 0; i < 100; i++)); do
	grep -q '^listening' "$O/serve7001.txt" && grep -q '^listening' "$O/serve7002.txt" && break
	sleep 0.1
done
echo "host\$ mdtool serve -n 2 7001 &  mdtool serve -n 2 7002 &"
tries=("$c:7001" "$c:7002" "${CIDS[0]}:7001")
# (one guest command for the three: each costs a second or more)
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_on guest sh -c 'md=$1; shift; for t in "$@"; do
		echo "guest\$ mdtool connect -b ${t%:*} 2 ${t#*:}"
		"$md" connect -T 30 -b "${t%:*}" 2 "${t#*:}" 2>&1 | sed "s/^/  /"
	done' sh "$MD" "${tries[@]}" >"$O/connects.txt" 2>&1
cat "$O/connects.txt"
deny=$(sed -n "/^guest\\$ mdtool connect -b $c 2 7001\$/{n;s/^ *//;p}" "$O/connects.txt")
[[ $deny == *"error=ECONNRESET op=connect"* ]] ||
	{ fail "CID $c to port 7001 should fail with ECONNRESET, got: ${deny:-nothing}"; ok4=0; }
grep -q "^  server: accept local=2:7002 peer=$c:" "$O/connects.txt" ||
	{ fail "CID $c to port 7002 should be accepted"; ok4=0; }
grep -q "^  server: accept local=2:7001 peer=${CIDS[0]}:" "$O/connects.txt" ||
	{ fail "CID ${CIDS[0]} to port 7001 should be accepted (the policy names CID $c only)"; ok4=0; }
grep -q "peer=$c:" "$O/serve7001.txt" && { fail "the listener on port 7001 saw CID $c"; ok4=0; }
on host policy-log.txt "$VSOCKCTL" policy log || ok4=0
# TIME DIR LOCAL PEER DEV RULE VERDICT PID COMM: the one denial
got=$(awk 'NR > 1 { print $2, $3, $4, $6, $7 }' "$O/policy-log.txt" | sed 's/:[0-9]* / /2')
[ "$got" = "in 2:7001 $c $ld RST" ] ||
	{ fail "the log should have exactly the denial of CID $c to port 7001 (rule line $ld, RST), has: ${got:-nothing}"; ok4=0; }
on host policy-show.txt "$VSOCKCTL" policy show || ok4=0
if ! grep -Eq "^allow in cid $c port 7002 +# line $la: 1\$" "$O/policy-show.txt" ||
	! grep -Eq "^deny in cid $c +# line $ld: 1\$" "$O/policy-show.txt" ||
	! grep -Eq '^default allow +# in 1, out 0$' "$O/policy-show.txt"; then
	fail "policy show: want one hit on each rule and one on the default (CID ${CIDS[0]})"
	ok4=0
fi
on host policy-clear.txt "$VSOCKCTL" policy clear || ok4=0
kill "${spids[@]}" 2>/dev/null
[ $ok4 = 1 ] && echo "ok: CID $c was refused on port 7001 (ECONNRESET, logged once with its rule), reached port 7002; CID ${CIDS[0]} was not affected"

###########################################################################
step 5 "perf stat -e 'mvsock:*' of the traffic" \
	"perf stat counted every mvsock tracepoint of the host during step 2's streams (system-wide: its counters were on from just before the streams to just after)"
ok5=1
kill -INT "$DEMO_PERF_PID" 2>/dev/null
for ((i = 0; i < 300; i++)); do
	kill -0 "$DEMO_PERF_PID" 2>/dev/null || break
	sleep 0.1
done
echo "host\$ perf stat -a -e 'mvsock:*'    (counts of 0 left out; all: build/demo/vm/perf-stat.txt)"
# (not its "seconds time elapsed": perf ran since before the guest's boot)
grep -v '^#' "$O/perf-stat.txt" | grep -Ev '^ *(0|<not counted>) +mvsock:|time elapsed|^ *$' | sed 's/^/  /'
count() { awk -v e="mvsock:$1" '$2 == e { gsub(/[,.]/, "", $1); print $1 }' "$O/perf-stat.txt"; }
prx=$(count mvsock_pkt_rx)
ptx=$(count mvsock_pkt_tx)
rrx=0 rtx=0
for c in "${CIDS[@]}"; do
	n=$(grown "$H1" "$H2" "$c" 5)
	rrx=$((rrx + ${n:-0}))
	n=$(grown "$H1" "$H2" "$c" 3)
	rtx=$((rtx + ${n:-0}))
done
echo "packets the host's devices counted during the streams (vsockctl devices): rx $rrx, tx $rtx; perf: mvsock_pkt_rx ${prx:-?}, mvsock_pkt_tx ${ptx:-?}"
if [ -z "$prx" ] || [ -z "$ptx" ]; then
	fail "perf stat printed no mvsock_pkt_rx/mvsock_pkt_tx count (build/demo/vm/perf-stat.txt, perf-stat.log)"
	ok5=0
elif [ "$rrx" -le 0 ] || [ "$prx" -lt "$rrx" ] || [ "$ptx" -lt "$rtx" ]; then
	fail "perf counted fewer packets than the devices did"
	ok5=0
fi
[ $ok5 = 1 ] && echo "ok: perf counted every packet the host's devices received and sent during the streams"

: >"$O/steps-done"
echo
if [ "$FAILED" = 0 ]; then
	echo "all checks passed [+$((SECONDS - T0)) s]; the guest shuts down, its kernel log is checked"
	exit 0
fi
echo "some checks failed (above) [+$((SECONDS - T0)) s]"
exit 1
