#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vsocktop (build/tools/vsocktop) in the local topology: known loopback
# traffic (build/vsocktop-tests/vt_traffic) with exact byte and packet
# sums against the mvsock_pkt_* tracepoints (build/bpf/tp_count), the
# true queue and credit state of a connection that existed before
# vsocktop started, a credit stall, a device hot-plugged and unplugged
# while it runs (the raw test device), the TUI driven in tmux, the
# Prometheus endpoint (promtool, and a real Prometheus server scraping
# it), bad input, the modules unloaded under it, and last the stock
# modules (vsock_loopback, vsock_diag: reduced view, exact sums too). The checks of the JSON are in
# selftests/vsocktop/check.py. mvsock.ko and mvsock_loopback.ko are
# loaded again at the end for the suites after this one.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"
V=$ROOT/build/tools/vsocktop
T=$ROOT/build/vsocktop-tests/vt_traffic
CHK=$ROOT/selftests/vsocktop/check.py
TPC=$ROOT/build/bpf/tp_count
RAWDEV_KO=$ROOT/selftests/kmod/mvsock_rawdev.ko
W=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	tmux kill-server 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# check.py's PASS/FAIL lines as results
check() {
	local l
	python3 "$CHK" "$@" >"$W/check.out" 2>&1
	while IFS= read -r l; do
		case $l in
		PASS\ *) result 0 "${l#PASS }" ;;
		FAIL\ *) result 1 "${l#FAIL }" ;;
		*) echo "# $l" ;;
		esac
	done <"$W/check.out"
}

# vsocktop in the background, JSON into $1; returns once it printed
start_vsocktop() {
	local out=$1
	shift
	"$V" -o json -i 0.5 "$@" >"$out" 2>"$out.err" &
	vt_pid=$!
	pids+=("$vt_pid")
	wait_for "$out" '^\{' 60
}

stop() { # pid
	kill -INT "$1" 2>/dev/null
	wait "$1"
}

echo "TAP version 13"
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock suite (MVSOCK_STOCK=1)"
	exit 0
fi
for f in "$V" "$T" "$TPC"; do
	if [ ! -x "$f" ]; then
		echo "1..1"
		echo "not ok 1 - $f built (run make)"
		exit 1
	fi
done

# ---- known traffic: exact sums --------------------------------------------
"$TPC" mvsock_pkt_tx mvsock_pkt_rx >"$W/tpc" 2>&1 &
tpc=$!
pids+=("$tpc")
wait_for "$W/tpc" '^attached' 60
start_vsocktop "$W/j1"
result $? "vsocktop -o json started" "$W/j1.err"
ok=0
"$T" xfer 5100 100000 7777 300 >/dev/null || ok=1
"$T" xfer 5101 1 300000 300 >/dev/null || ok=1
"$T" xfer 5102 65536 65536 300 seqpacket >/dev/null || ok=1
result $ok "traffic: 3 connections, known payloads"
sleep 1.6		# three intervals after the last close
stop "$vt_pid"
result $? "vsocktop exits 0 on SIGINT" "$W/j1.err"
stop "$tpc"
txp=$(awk '$1 == "count" && $2 == "mvsock_pkt_tx" { print $3 }' "$W/tpc")
rxp=$(awk '$1 == "count" && $2 == "mvsock_pkt_rx" { print $3 }' "$W/tpc")
echo "# tracepoints: mvsock_pkt_tx $txp, mvsock_pkt_rx $rxp"
check sums "$W/j1" mvsock 0 5100:100000:7777,5101:1:300000,5102:65536:65536 "$txp" "$rxp"
check schema "$W/j1"

# ---- mid-stream: a connection older than vsocktop ----------------------------
"$T" queue 5200 12345 6000 >"$W/q" &
qpid=$!
pids+=("$qpid")
wait_for "$W/q" '^done' 30
"$V" -o json -i 0.5 -n 1 >"$W/j2" 2>"$W/j2.err"
result $? "vsocktop -n 1 exits 0" "$W/j2.err"
check midstream "$W/j2" 5200 12345 262144 "$qpid"

# ---- the text output of the same ----------------------------------------------
"$V" -b -n 1 -i 0.3 -p 5200 >"$W/b" 2>&1
rc=$?
grep -q '^vsocktop: mvsock, interval' "$W/b" && grep -Eq '^0 +loopback +local +1 ' "$W/b" &&
	grep -Eq '^1:5200 +1:[0-9]+ +0 +stream +ESTAB +0 +0 +12K ' "$W/b" && [ $rc = 0 ]
result $? "-b: header, device row, connection row with RXQ 12K" "$W/b"
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null

# ---- credit stall ---------------------------------------------------------------
start_vsocktop "$W/j3"
"$T" stall 5300 2500 >/dev/null
result $? "a sender waits 2.5 s for credit, then completes"
sleep 1.1
stop "$vt_pid"
check stall "$W/j3" 5300 0 1500

# ---- hot-plug: a device comes and goes while vsocktop runs --------------------------
insmod "$RAWDEV_KO" 2>"$W/ins"
result $? "insmod mvsock_rawdev.ko" "$W/ins"
start_vsocktop "$W/j4"
python3 - >"$W/hp" 2>&1 <<'EOF'
import fcntl, os, struct, time
fd = os.open("/dev/mvsock-rawdev", os.O_RDWR)
# MVSOCK_RAWDEV_START: _IOW('M', 1, struct mvsock_rawdev_cfg), 24 bytes
fcntl.ioctl(fd, (1 << 30) | (24 << 16) | (ord("M") << 8) | 1,
            struct.pack("6I", 1, 77, 0, 0, 0, 0))
time.sleep(1.5)
os.close(fd)
print("unplugged")
EOF
result $? "raw guest device CID 77 up for 1.5 s" "$W/hp"
sleep 1.6
kill -0 "$vt_pid" 2>/dev/null
result $? "vsocktop still runs after the unplug" "$W/j4.err"
stop "$vt_pid"
rmmod mvsock_rawdev
check hotplug "$W/j4" 77

# ---- TUI in tmux -----------------------------------------------------------------------
"$T" queue 5400 4096 20000 >"$W/q2" &
qpid=$!
pids+=("$qpid")
wait_for "$W/q2" '^done' 30
export TERM=xterm-256color
tmux -f /dev/null new-session -d -s vt -x 200 -y 50 \
	"$V -i 0.5; echo EXIT=\$? >$W/tui.rc; sleep 30"
pane() { tmux capture-pane -p -t vt >"$W/pane" 2>&1; }
wait_pane() { # regex seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		pane
		grep -qE "$1" "$W/pane" && return 0
		sleep 0.1
	done
	return 1
}
wait_pane '1:5400' 60
result $? "TUI: a connection row with 1:5400" "$W/pane"
grep -q 'mode: mvsock' "$W/pane" && grep -Eq '^ *0 +loopback +local +1 ' "$W/pane"
result $? "TUI: header (mode: mvsock) and the loopback device row (CID 1)" "$W/pane"
tmux send-keys -t vt s
wait_pane 'sort: tx' 10
result $? "TUI: s sorts by the next column (tx)" "$W/pane"
tmux send-keys -t vt p
wait_pane 'PAUSED' 10
result $? "TUI: p pauses" "$W/pane"
tmux send-keys -t vt p h
wait_pane 'this help' 10
result $? "TUI: h shows the help screen" "$W/pane"
tmux send-keys -t vt x q
wait_for "$W/tui.rc" 'EXIT=' 10
grep -q 'EXIT=0' "$W/tui.rc"
result $? "TUI: q quits with status 0" "$W/tui.rc"
tmux kill-server 2>/dev/null
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null

# ---- Prometheus ------------------------------------------------------------------------
PORT=9469
start_vsocktop "$W/j5" --listen 127.0.0.1:$PORT
"$T" xfer 5500 200000 3000 200 >/dev/null
result $? "traffic for the metrics"
sleep 1.2
curl -sf http://127.0.0.1:$PORT/metrics >"$W/m" 2>&1
result $? "GET /metrics" "$W/m"
promtool check metrics <"$W/m" >"$W/pt" 2>&1
result $? "promtool check metrics: no problem" "$W/pt"
check prom "$W/m" "$W/j5"
code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/other)
[ "$code" = 404 ]
result $? "GET /other: 404 (got $code)"
"$V" -q --listen 127.0.0.1:$PORT -n 1 >"$W/busy" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$W/busy")" = 1 ] && grep -q 'in use' "$W/busy"
result $? "--listen on a busy port: exit 1, one line (exit $rc)" "$W/busy"
mkdir -p "$W/prom"
cat >"$W/prom.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vsocktop
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
prometheus --config.file="$W/prom.yml" --storage.tsdb.path="$W/prom" \
	--web.listen-address=127.0.0.1:9470 >"$W/prom.log" 2>&1 &
ppid=$!
pids+=("$ppid")
q=http://127.0.0.1:9470/api/v1/query?query=vsock_transmit_bytes_total
for ((i = 0; i < 120; i++)); do
	curl -sf "$q" >"$W/pq" 2>/dev/null &&
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["result"]; sys.exit(0 if r else 1)' "$W/pq" &&
		break
	sleep 0.5
done
python3 - "$W/pq" "$W/j5" >"$W/pq.out" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["data"]["result"]
last = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][-1]
want = sorted(str(d["id"]) for d in last["devices"])
got = sorted(r["metric"].get("dev") for r in res)
print("prometheus series dev=%s, devices %s" % (got, want))
sys.exit(0 if got == want and want else 1)
EOF
result $? "a Prometheus server scrapes vsock_transmit_bytes_total of every device" "$W/pq.out"
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null
stop "$vt_pid"

# ---- bad input ---------------------------------------------------------------------------
bad() { # want-status description args...
	local want=$1 what=$2 rc lines
	shift 2
	timeout 60 "$V" "$@" >/dev/null 2>"$W/bad"
	rc=$?
	lines=$(grep -vc '^Try ' "$W/bad")
	[ "$rc" = "$want" ] && [ "$lines" = 1 ]
	result $? "$what: exit $want and one line (exit $rc, $lines lines)" "$W/bad"
}
bad 2 "-i 0" -i 0
bad 2 "-i abc" -i abc
bad 2 "-n 0" -n 0
bad 2 "-n x" -n x
bad 2 "-s nosuchkey" -s nosuchkey
bad 2 "-r -1" -r -1
bad 2 "-c notanumber" -c notanumber
bad 2 "-p 99999999999" -p 99999999999
bad 2 "-d x" -d x
bad 2 "-o xml" -o xml
bad 2 "a third positional argument" 1 1 1
bad 2 "--no-such-option" --no-such-option
bad 1 "--listen nonsense" --listen nonsense -n 1
bad 1 "--listen 127.0.0.1:0" --listen 127.0.0.1:0 -n 1
bad 1 "--textfile in a missing directory" --textfile /nonexistent/dir/vsock.prom -n 1
setpriv --reuid=65534 --regid=65534 --clear-groups "$V" -n 1 -b >/dev/null 2>"$W/bad"
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$W/bad")" = 1 ] && grep -q 'root' "$W/bad"
result $? "not root: exit 1, one line (exit $rc)" "$W/bad"

# ---- modules unloaded under vsocktop ------------------------------------------------------
# The loopback device leaves (its row goes, vsocktop goes on); mvsock.ko
# itself cannot go while vsocktop's programs hold its tracepoints.
start_vsocktop "$W/j7"
rmmod mvsock_loopback 2>"$W/rm"
result $? "rmmod mvsock_loopback while vsocktop runs" "$W/rm"
sleep 1.2
rmmod mvsock 2>"$W/rm"
rc=$?
sleep 0.6
[ $rc != 0 ] && kill -0 "$vt_pid" 2>/dev/null
result $? "rmmod mvsock fails while vsocktop runs, vsocktop goes on (rmmod status $rc)" "$W/rm"
stop "$vt_pid"
result $? "vsocktop exits 0" "$W/j7.err"
python3 - "$W/j7" >"$W/j7.chk" 2>&1 <<'EOF2'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = [[d["id"] for d in o["devices"]] for o in objs]
print("device ids per object: %s" % ids)
sys.exit(0 if ids and ids[0] == [0] and ids[-1] == [] else 1)
EOF2
result $? "the loopback row is there first, gone after the rmmod" "$W/j7.chk"
insmod "$ROOT/kernel/mvsock_loopback.ko" 2>"$W/ins"
result $? "insmod mvsock_loopback.ko again" "$W/ins"

# ---- stock modules: reduced view -------------------------------------------------------------
# (nothing of ours may hold a socket now: every vt_traffic has ended)
if rmmod mvsock_loopback mvsock 2>"$W/rm"; then
	result 0 "rmmod mvsock_loopback mvsock"
	bad 1 "no vsock modules loaded" -n 1
	modprobe vsock_loopback 2>"$W/mp" && modprobe vsock_diag 2>>"$W/mp"
	result $? "modprobe vsock_loopback vsock_diag (stock)" "$W/mp"
	start_vsocktop "$W/j6"
	result $? "vsocktop on the stock modules" "$W/j6.err"
	ok=0
	"$T" xfer 5600 70000 5000 300 >/dev/null || ok=1
	"$T" xfer 5601 4096 123457 300 >/dev/null || ok=1
	result $ok "stock traffic: 2 connections, known payloads"
	sleep 1.6
	stop "$vt_pid"
	check sums "$W/j6" stock 0 5600:70000:5000,5601:4096:123457
	"$V" -b -n 1 -i 0.2 >"$W/b6" 2>&1
	grep -q 'stock vsock: reduced view' "$W/b6"
	result $? "stock: the header says 'stock vsock: reduced view'" "$W/b6"
	rmmod vsock_diag vsock_loopback vmw_vsock_virtio_transport_common vsock 2>"$W/rm"
	result $? "rmmod the stock modules" "$W/rm"
else
	result 1 "rmmod mvsock_loopback mvsock (the stock cases need it)" "$W/rm"
fi

# back to ours for the suites that follow
if [ ! -e /sys/module/mvsock ]; then
	insmod "$ROOT/kernel/mvsock.ko" 2>"$W/ins" && insmod "$ROOT/kernel/mvsock_loopback.ko" 2>>"$W/ins"
	result $? "mvsock.ko and mvsock_loopback.ko loaded again" "$W/ins"
fi

echo "1..$n"
exit $fail
