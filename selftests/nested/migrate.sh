#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live-migrate the inner guest of the nested topology to a new QEMU in this
# (outer) VM, from a command of selftests/nested/run-inner.sh --monitor:
#   "$NESTED_MIGRATE" [CID_OFFSET]
# The destination QEMU has the same machine and the same vhost-vsock-pci
# devices as the running one (ids, buses and slots read from its `info
# qtree`, so hot-plugged devices come along) with guest-cid = the old one +
# CID_OFFSET (default 100; may be negative; the source holds its CIDs until
# the migration is over, so the new ones must differ). After loading the
# state QEMU sends each device VIRTIO_VSOCK_EVENT_TRANSPORT_RESET; the
# guest driver then re-reads its CID.
#
# Steps: start the destination (-incoming unix:...) with its own link,
# monitor and pid file; connect a new outer relay to its link (before the
# guest runs there, so the guest never sees the link's host end closed);
# migrate (max-bandwidth 1G, downtime-limit 1 s); once the destination
# runs, the source QEMU quits (its relay ends with it; the new one takes
# over the --listen-outer ports), the new monitor and command sockets
# replace NESTED_MONITOR's and NESTED_SOCK's, and run-inner.sh's checks,
# log copies and shutdown follow the new QEMU ($NESTED_DIR/qemu.current);
# then wait until the inner relay has answered the new one's hello (it
# drops whatever it carried then: no "$NESTED_EXEC" command or carried TCP
# connection may be in use across a migration).
#
# Prints "ID NEWCID" for each device on stdout; progress and timings
# ("migrate: ...") on stderr and in $NESTED_DIR/migrate.log (kept in
# run-inner.sh's --log-dir). The new QEMU's output: qemu-N.log there.
# Exit status: 0 migrated; 1 failed (the source QEMU keeps running the
# guest whenever it still can); 2 usage.
# Environment: NESTED_DIR, NESTED_MONITOR (set by run-inner.sh),
# MIGRATE_TIMEOUT (seconds for the migration itself, default 180),
# MIGRATE_BANDWIDTH (migrate_set_parameter max-bandwidth, default 1G).

set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
QMON=$HERE/qmon.sh
W=${NESTED_DIR:-}
T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
log() {
	echo "migrate: $*" >&2
	[ -n "$W" ] && echo "$(date +%T) +$(ms)ms $*" >>"$W/migrate.log"
}
usage() {
	sed -n '/^#   "\$NESTED_MIGRATE"/,/^# Steps:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

[ $# -le 1 ] || usage
OFF=${1:-100}
[[ $OFF =~ ^-?[0-9]+$ ]] || usage
if [ -z "$W" ] || [ ! -r "$W/run.state" ] || [ -z "${NESTED_MONITOR:-}" ]; then
	echo "migrate: run from a command of selftests/nested/run-inner.sh --monitor" >&2
	exit 2
fi
# QEMU_BASE QEMU_TAIL VHOSTFD VHOST_DEV STRACE TRACE_VHOST VRELAY L_OUTER
# RELAY_QUIET
# shellcheck source=/dev/null
. "$W/run.state"

SRC_MON=$NESTED_MONITOR
if [ -s "$W/qemu.current" ]; then
	read -r SRC_PID <"$W/qemu.current"
else
	read -r SRC_PID <"$W/qemu.pid"
fi
N=$(( $(cat "$W/migrate.gen" 2>/dev/null || echo 0) + 1 ))
echo "$N" >"$W/migrate.gen"
DST_MON=$W/monitor-$N.sock
DST_LINK=$W/link-$N.sock
MIG=$W/mig-$N.sock
DST_EXEC=$W/exec-$N.sock
READY=$W/ready-$N
DPID=
RELAY=

# The source's vhost-vsock-pci devices: "ID BUS ADDR CID" (ID - when it
# has none). guest-cid is the property of the virtio device under the PCI
# proxy (deeper in the tree), addr the proxy's slot.function.
qtree=$("$QMON" -s "$SRC_MON" 'info qtree') || { log "info qtree failed on the source"; exit 1; }
mapfile -t DEVS < <(awk '
	function emit() { if (in_dev) print (id == "" ? "-" : id), bus, addr, cid; in_dev = 0 }
	{
		line = $0; sub(/\r$/, "", line)
		match(line, /^ */); ind = RLENGTH; line = substr(line, ind + 1)
		if (in_dev && ind <= dind) emit()
		if (line ~ /^bus: /) { b[ind] = substr(line, 6); next }
		if (line ~ /^dev: vhost-vsock-pci, id "/) {
			in_dev = 1; dind = ind; bus = b[ind - 2]; addr = ""; cid = ""
			id = line; sub(/^dev: vhost-vsock-pci, id "/, "", id); sub(/"$/, "", id)
			next
		}
		if (in_dev && ind == dind + 2 && line ~ /^addr = /) { addr = substr(line, 8); next }
		if (in_dev && cid == "" && line ~ /^guest-cid = /) { split(line, f, " "); cid = f[3] }
	}
	END { emit() }' <<<"$qtree")
for d in "${DEVS[@]}"; do
	read -r id bus addr cid <<<"$d"
	if [ -z "$bus" ] || [ -z "$addr" ] || ! [[ $cid =~ ^[0-9]+$ ]]; then
		log "cannot read device '$d' from the source's info qtree"
		exit 1
	fi
	if [ $((cid + OFF)) -lt 3 ]; then
		log "$id: guest-cid $cid + $OFF is not a guest CID"
		exit 1
	fi
done
log "#$N: ${#DEVS[@]} vhost-vsock-pci device(s): $(printf '%s; ' "${DEVS[@]}")CID offset $OFF"

# --- the destination QEMU ---
wrap=()
if [ -n "$TRACE_VHOST" ]; then
	wrap=(env "LD_PRELOAD=$(dirname "$VRELAY")/vhost-trace.so" "VHOST_TRACE_FILE=$TRACE_VHOST.$N")
fi
if [ -n "$STRACE" ]; then
	wrap=(strace -f --seccomp-bpf -tt -o "$STRACE.$N" -e "trace=openat,ioctl,close,eventfd2" "${wrap[@]}")
fi
cmd=(
	"${wrap[@]}" "${QEMU_BASE[@]}"
	-pidfile "$W/qemu-$N.pid"
	-chardev "file,id=nested-console,path=$W/console.log,append=on"
	-serial chardev:nested-console
	-chardev "socket,id=nested-ctl,path=$DST_LINK,server=on,wait=off"
	-chardev "socket,id=nested-mon,path=$DST_MON,server=on,wait=off"
	-mon "chardev=nested-mon,mode=readline"
)
VFDS=()
for d in "${DEVS[@]}"; do
	read -r id bus addr cid <<<"$d"
	dev=vhost-vsock-pci
	[ "$id" != - ] && dev+=",id=$id"
	dev+=",guest-cid=$((cid + OFF)),bus=$bus,addr=$addr"
	if [ "$VHOSTFD" = 1 ]; then
		exec {fd}<>"$VHOST_DEV" || { log "cannot open $VHOST_DEV"; exit 1; }
		VFDS+=("$fd")
		dev+=",vhostfd=$fd"
	fi
	cmd+=(-device "$dev")
done
cmd+=("${QEMU_TAIL[@]}" -incoming "unix:$MIG")

# Undo a failed attempt: the destination and its relay go; the source goes
# on (QEMU resumes it when a migration fails).
fail() {
	local p
	log "FAILED: $*"
	for p in $(cat "$W/qemu-$N.pid" 2>/dev/null) $DPID $RELAY; do
		kill "$p" 2>/dev/null
	done
	sleep 0.5
	for p in $(cat "$W/qemu-$N.pid" 2>/dev/null) $DPID $RELAY; do
		kill -9 "$p" 2>/dev/null
	done
	rm -f "$W/qemu-$N.pid" "$W/relay-$N.pid" "$DST_MON" "$DST_LINK" "$MIG" "$DST_EXEC" "$READY"
	if "$QMON" -s "$SRC_MON" 'info status' 2>/dev/null | grep -q 'postmigrate\|paused'; then
		log "resuming the source"
		"$QMON" -s "$SRC_MON" cont >/dev/null 2>&1
	fi
	exit 1
}
trap 'fail "interrupted"' INT TERM

"${cmd[@]}" </dev/null >"$W/qemu-$N.log" 2>&1 &
DPID=$!
for fd in "${VFDS[@]}"; do
	exec {fd}>&-
done
for ((i = 0; ; i++)); do
	[ -S "$DST_MON" ] && [ -S "$MIG" ] && [ -s "$W/qemu-$N.pid" ] && break
	kill -0 "$DPID" 2>/dev/null || fail "the destination QEMU exited: $(tail -n 5 "$W/qemu-$N.log")"
	[ $i -lt 1200 ] || fail "the destination QEMU did not come up in 60 s"
	sleep 0.05
done
read -r DST_PID <"$W/qemu-$N.pid"
log "destination QEMU $DST_PID listening after $(ms) ms"

# --- its relay, connected before the guest runs there ---
rargs=(-e "$DST_EXEC" -r "$READY" -w 60 -b 60)
for p in "${L_OUTER[@]}"; do rargs+=(-L "$p"); done
[ "$RELAY_QUIET" = 1 ] && rargs+=(-q)
# (not on our stdout: a caller reading it, as in o=$(migrate.sh), would
# wait for the relay to end)
"$VRELAY" "${rargs[@]}" "$DST_LINK" </dev/null >>"$W/relay.log" 2>&1 &
RELAY=$!
echo "$RELAY" >"$W/relay-$N.pid"
for ((i = 0; ; i++)); do
	chr=$("$QMON" -s "$DST_MON" 'info chardev' 2>/dev/null | grep '^nested-ctl:')
	[ -n "$chr" ] && [[ $chr != *disconnected* ]] && break
	kill -0 "$RELAY" 2>/dev/null || fail "the new relay exited"
	[ $i -lt 100 ] || fail "the new relay did not connect: $chr"
	sleep 0.1
done

# --- migrate ---
"$QMON" -s "$SRC_MON" "migrate_set_parameter max-bandwidth ${MIGRATE_BANDWIDTH:-1G}" \
	'migrate_set_parameter downtime-limit 1000' >&2 || log "(could not set the migration parameters)"
m0=$(ms)
out=$("$QMON" -s "$SRC_MON" "migrate -d unix:$MIG") || fail "migrate: $out"
[ -n "$out" ] && log "migrate said: $out"
end=$((SECONDS + ${MIGRATE_TIMEOUT:-180}))
while :; do
	info=$("$QMON" -s "$SRC_MON" 'info migrate') || fail "the source's monitor went away"
	st=$(sed -n 's/^Migration status: *//p' <<<"$info")
	case $st in
	completed) break ;;
	failed|cancelled) fail "migration $st: $info" ;;
	esac
	kill -0 "$DST_PID" 2>/dev/null || fail "the destination QEMU died during the migration: $(tail -n 5 "$W/qemu-$N.log")"
	if [ $SECONDS -ge $end ]; then
		"$QMON" -s "$SRC_MON" migrate_cancel >/dev/null 2>&1
		fail "migration not done after ${MIGRATE_TIMEOUT:-180} s (status $st)"
	fi
	sleep 0.2
done
total=$(sed -n 's/^total time: *//p' <<<"$info")
down=$(sed -n 's/^downtime: *//p' <<<"$info")
log "migration completed after $(( $(ms) - m0 )) ms (QEMU: total ${total:-?}, downtime ${down:-?})"

for ((i = 0; ; i++)); do
	st=$("$QMON" -s "$DST_MON" 'info status' 2>/dev/null)
	[[ $st == *running* ]] && break
	[ $i -lt 100 ] || fail "the destination is not running: $st $(tail -n 5 "$W/qemu-$N.log")"
	sleep 0.1
done
echo "$DST_PID" >"$W/qemu.current"
trap - INT TERM
log "destination running $(( $(ms) - m0 )) ms after the migration started"

# --- switch over ---
# The guest runs on the destination now: the source goes whatever happens
# next (its relay ends with it and frees the --listen-outer ports).
"$QMON" -s "$SRC_MON" quit >/dev/null 2>&1
for ((i = 0; i < 100; i++)); do
	kill -0 "$SRC_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SRC_PID" 2>/dev/null; then
	log "the source QEMU $SRC_PID did not quit: killed"
	kill -9 "$SRC_PID" 2>/dev/null
	sleep 0.2
fi
# (only now: the source removes its socket files when it ends)
mv -f "$DST_MON" "$SRC_MON"
rm -f "$MIG"
# Commands go to the new relay; until it has heard from the inner guest it
# refuses them (status 255) at once instead of leaving them hanging.
mv -f "$DST_EXEC" "$W/exec.sock"
for ((i = 0; ; i++)); do
	[ -s "$READY" ] && break
	if [ $i -ge 600 ] || ! kill -0 "$RELAY" 2>/dev/null; then
		log "FAILED: the inner guest's relay did not answer on the new link within 60 s (the guest runs on QEMU $DST_PID)"
		exit 1
	fi
	sleep 0.1
done
read -r _ up <"$READY"
log "link to the inner guest up again $(( $(ms) - m0 )) ms after the migration started (inner uptime ${up}s)"
log "#$N done in $(ms) ms: QEMU $DST_PID runs the inner guest"
for d in "${DEVS[@]}"; do
	read -r id bus addr cid <<<"$d"
	echo "$id $((cid + OFF))"
done
exit 0
