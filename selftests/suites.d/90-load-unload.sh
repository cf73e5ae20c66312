#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unload and reload mvsock_loopback + mvsock LOAD_CYCLES times (default
# 50) with loopback traffic (build/proto/lotraffic) after every load, and
# compare kernel object counts before and after: sk_buffs, the slab total
# and the page-level memory in use must not grow with the cycles. The
# runner separately fails the run on any oops/WARN/refcount line.
# Leaves the modules loaded.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
CYCLES=${LOAD_CYCLES:-50}
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only"
	exit 0
fi
echo "1..4"
fail=0

unload() {
	rmmod mvsock_loopback 2>/dev/null
	for _ in $(seq 100); do
		rmmod mvsock 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

load() {
	insmod "$ROOT/kernel/mvsock.ko" && insmod "$ROOT/kernel/mvsock_loopback.ko"
}

skbs() { awk '$1 == "skbuff_head_cache" { print $2 }' /proc/slabinfo; }
slab_kb() { awk '$1 == "Slab:" { print $2 }' /proc/meminfo; }

cycle() {
	unload || { echo "# rmmod mvsock failed (module busy?)"; return 1; }
	load || { echo "# insmod failed"; return 1; }
	"$ROOT/build/proto/lotraffic" || { echo "# traffic failed"; return 1; }
}

# warm up caches so first-use allocations do not count as growth
for _ in 1 2 3; do cycle || break; done
sync; echo 3 > /proc/sys/vm/drop_caches
skb0=$(skbs); slab0=$(slab_kb)

ok=0
for i in $(seq "$CYCLES"); do
	if ! cycle; then
		echo "# cycle $i failed"
		ok=1
		break
	fi
done
if [ $ok = 0 ]; then
	echo "ok 1 - $CYCLES unload/load cycles with traffic"
else
	echo "not ok 1 - $CYCLES unload/load cycles with traffic"
	fail=1
fi

unload
sleep 1
sync; echo 3 > /proc/sys/vm/drop_caches
skb1=$(skbs); slab1=$(slab_kb)
echo "# skbuff_head_cache active objects: $skb0 -> $skb1"
echo "# Slab: ${slab0} kB -> ${slab1} kB"
if [ $((skb1 - skb0)) -lt "$CYCLES" ]; then
	echo "ok 2 - no sk_buff growth over $CYCLES cycles"
else
	echo "not ok 2 - no sk_buff growth over $CYCLES cycles"
	fail=1
fi
# a leak of one 2 KiB object per cycle shows as 100 kB; allow noise below
if [ $((slab1 - slab0)) -lt 512 ]; then
	echo "ok 3 - slab stable over $CYCLES cycles (grew $((slab1 - slab0)) kB)"
else
	echo "not ok 3 - slab stable over $CYCLES cycles (grew $((slab1 - slab0)) kB)"
	fail=1
fi
if ! grep -q '^mvsock' /proc/modules && ! grep -q AF_VSOCK /proc/net/protocols; then
	echo "ok 4 - nothing left registered after unload"
else
	echo "not ok 4 - nothing left registered after unload"
	fail=1
fi
load || fail=1
exit $fail
