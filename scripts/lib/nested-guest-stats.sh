#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the inner guest of the nested topology (busybox sh; packed into
# its initramfs by scripts/lib/nested-bench.sh): packet counts of the
# guest's stock vsock driver, from its own tracepoints
# (vsock:virtio_transport_recv_pkt and vsock:virtio_transport_alloc_pkt,
# hist triggers keyed by op), and the interrupts of the vsock devices.
#
# Usage: nested-guest-stats.sh start   (re)arm the counters
#        nested-guest-stats.sh read    print one line:
#   recv: OP=packets/bytes ...; sent: OP=packets/bytes ...; irqs=N
#   cpu: busy=P% (irq=P% softirq=P%) PROG: sleeps=N preempted=N
# (recv = packets the guest received from the host, sent = packets it
# built for the host; irqs = vsock device interrupts; busy = the guest's
# CPU time not idle, from /proc/stat; sleeps = times a process named
# PROG (default vsock_perf: $2) blocked (state S or D), preempted = other
# switches out, from sched:sched_switch; all since "start").
#        nested-guest-stats.sh probe   milliseconds (guest clock) that a
#   fixed busybox awk loop takes: how fast the machine runs the guest.

T=/sys/kernel/tracing
EV=$T/events/vsock
TRIG="hist:keys=op:vals=hitcount,len"

vsock_irqs() {
	n=0
	for d in /sys/bus/virtio/devices/virtio*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x0013 ] || continue
		c=$(awk -v v="${d##*/}-" 'index($0, v) {
			for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; else break
		} END { print s + 0 }' /proc/interrupts)
		n=$((n + c))
	done
	echo "$n"
}

hist() { # event
	awk '/^\{ op:/ { gsub(/[{}:]/, " "); print }' "$EV/$1/hist" |
		awk 'BEGIN { split("REQUEST RESPONSE RST SHUTDOWN RW CREDIT_UPDATE CREDIT_REQUEST", o, " ") }
		{
			# op N hitcount N len N
			name = ($2 >= 1 && $2 <= 7) ? o[$2] : "op" $2
			printf " %s=%s/%s", name, $4, $6
		}'
}

PROG=${2:-vsock_perf}
SW=$T/events/sched/sched_switch/trigger
SWTRIG="hist:keys=prev_state:vals=hitcount if prev_comm == \"$PROG\""

cpu_ticks() { # user nice system idle iowait irq softirq
	awk '/^cpu / { print $2, $3, $4, $5, $6, $7, $8; exit }' /proc/stat
}

case "$1" in
start)
	[ -d "$EV" ] || mount -t tracefs nodev "$T" || exit 1
	[ -d "$EV" ] || { echo "no vsock tracepoints (is the guest driver loaded?)" >&2; exit 1; }
	for e in virtio_transport_recv_pkt virtio_transport_alloc_pkt; do
		echo "!$TRIG" >"$EV/$e/trigger" 2>/dev/null
		echo "$TRIG" >"$EV/$e/trigger" || exit 1
	done
	vsock_irqs >/tmp/nested-guest-stats.irq0
	cpu_ticks >/tmp/nested-guest-stats.cpu0
	f=/tmp/nested-guest-stats.sw
	[ -f $f ] && echo "!$(cat $f)" >"$SW" 2>/dev/null
	echo "$SWTRIG" >"$SW" && echo "$SWTRIG" >/tmp/nested-guest-stats.sw
	;;
read)
	echo "recv:$(hist virtio_transport_recv_pkt); sent:$(hist virtio_transport_alloc_pkt);" \
		"irqs=$(($(vsock_irqs) - $(cat /tmp/nested-guest-stats.irq0 2>/dev/null || echo 0)));" \
		"$(echo "$(cat /tmp/nested-guest-stats.cpu0) $(cpu_ticks)" | awk '{
			for (i = 1; i <= 7; i++) { d[i] = $(i + 7) - $i; t += d[i] }
			if (t <= 0) t = 1
			printf "cpu: busy=%d%% (irq=%d%% softirq=%d%%)", 100 * (t - d[4] - d[5]) / t, 100 * d[6] / t, 100 * d[7] / t
		}')" \
		"$PROG: $(awk '/^\{ prev_state:/ { gsub(/[{}:]/, " "); if ($2 == 1 || $2 == 2) s += $4; else p += $4 }
			END { printf "sleeps=%d preempted=%d", s, p }' "$T/events/sched/sched_switch/hist" 2>/dev/null)"
	;;
probe)
	read -r a _ </proc/uptime
	awk 'BEGIN { for (i = 0; i < 20000; i++) s += i }'
	read -r b _ </proc/uptime
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
	;;
*)
	echo "usage: $0 start|read|probe" >&2
	exit 2
	;;
esac
