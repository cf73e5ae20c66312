# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# busy_run CMD...: run CMD (a benchmark's VM) while one busy loop per CPU
# at nice 19 keeps the build machine's CPUs from going idle.
#
# Why: the build machine is itself a VM whose CPUs are slow to come back
# from idle. A ping-pong in a TCG guest idles the host CPUs between
# packets, and how long they take to wake up varied so much that the
# round trips of one configuration differed by 2x from round to round.
# With the CPUs kept busy the rounds agree within a few percent (and the
# round trips get shorter). At nice 19 the loops take about 1.5% of a
# CPU from the QEMU threads (nice 0) when those want it: the same for
# every configuration a benchmark compares. The load average rises by one
# per CPU. BENCH_BUSY_HOST=0 turns it off.

busy_run() (
	n=0
	pids=()
	if [ "${BENCH_BUSY_HOST:-1}" = 1 ]; then
		n=$(nproc)
		for ((i = 0; i < n; i++)); do
			nice -n 19 sh -c 'while :; do :; done' &
			pids+=($!)
		done
		trap 'kill "${pids[@]}" 2>/dev/null' EXIT
		trap 'exit 130' INT TERM
		echo "busy-host: $n busy loops at nice 19 keep the build machine's CPUs out of idle (BENCH_BUSY_HOST=0: off)"
	fi
	"$@"
)
