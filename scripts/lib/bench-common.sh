# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Small pieces the benchmark scripts share, in the guest and on the host:
# sourced by scripts/bench.sh, scripts/bench-hooks.sh, scripts/perf-demo.sh
# and scripts/lib/nested-bench.sh. The caller defines say() (for
# bench_kernel_log).

# Value of key=value in a "tool: k=v k=v" line.
kv() { # line key
	sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"
}

# Wait until a vsock listener on PORT shows in ss (sock_diag), 5 s at
# most; 1 if it never did (no sock_diag, or not up yet).
wait_listen() { # port
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hln --vsock 2>/dev/null | grep -Eq "[:]$1([[:space:]]|$)" && return 0
		sleep 0.05
	done
	return 1
}

# Unload stock vsock_loopback and what it pulled in (vsock_diag too, when
# loaded); stops at the first module that stays.
unload_stock_loopback() {
	local m
	for m in vsock_diag vsock_loopback vmw_vsock_virtio_transport_common vsock; do
		rmmod_retry "$m" || return 1
	done
}

# Append a per-round value to V[label,key] (the caller declares V).
add() { V[$1,$2]="${V[$1,$2]:-}${V[$1,$2]:+ }$3"; } # label key value

# The median of the arguments (the lower one of an even count).
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# rmmod, retried (closing sockets may hold the module for a while): TRIES
# times [50], INTERVAL seconds apart [0.2], then once more with the error.
rmmod_retry() { # module [tries] [interval]
	local i
	grep -q "^$1 " /proc/modules || return 0
	for ((i = 0; i < ${2:-50}; i++)); do
		rmmod "$1" 2>/dev/null && return 0
		sleep "${3:-0.2}"
	done
	rmmod "$1"
}

# This kernel's warnings and errors since the line MARK was written to
# /dev/kmsg (module signature notes left out): HEADING, then each line,
# through say().
bench_kernel_log() { # mark heading
	local line l
	line=$(dmesg -l emerg,alert,crit,err,warn 2>/dev/null |
		sed -n "/$1/,\$p" |
		grep -Ev "$1|out-of-tree module|module verification failed")
	[ -n "$line" ] || return 0
	say "$2"
	while IFS= read -r l; do say "  $l"; done <<<"$line"
}
