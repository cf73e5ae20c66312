# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the nested suites (selftests/suites.d/4x-nested-*.sh) share; they
# source this file. Each suite: loads a host driver in this VM (the outer
# VM, the host), boots the inner guest with selftests/nested/run-inner.sh
# and a --host command that prints TAP lines numbered from 3, then checks
# the inner guest ended clean and unloads the host driver.
#
#   nested_begin PLAN_OF_THE_HOST_COMMAND      prints the TAP header and plan
#   nested_host_load ours|stock                result 1: the host driver
#   nested_run "DESCRIPTION OF LINE 2" RUN-INNER-ARGS... -- HOST-COMMAND
#       line 2 ("inner guest up"), the host command's lines, then "inner
#       guest clean"; lines the host command did not print fail
#   nested_host_unload                         last result: rmmod
#   nested_end                                 exit with the suite's status
#
# Result lines: 1 host driver, 2 inner guest up, 3.. the host command's,
# then inner guest clean, rmmod.

NESTED=${NESTED:-$ROOT/selftests/nested}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"
_plan=0
_hostmod=
_log=$(mktemp)
_out=$(mktemp)
trap 'rm -f "$_log" "$_out"' EXIT


nested_begin() { # lines the host command prints
	_plan=$(( 2 + $1 + 2 ))
	_start=$SECONDS
	echo "TAP version 13"
	echo "1..$_plan"
}

nested_bail() { # reason: fail every remaining line
	while [ $n -lt "$_plan" ]; do
		n=$((n + 1))
		echo "not ok $n - not run: $1"
	done
	exit 1
}

nested_host_load() { # ours|stock
	local what rc=0
	: >"$_log"
	# An earlier nested suite killed by its timeout may have left its
	# inner QEMU (which holds /dev/vhost-vsock) behind: end it first.
	if pgrep -f 'socket,id=nested-ctl,' >/dev/null; then
		echo "ending an inner QEMU left behind by an earlier suite:" >>"$_log"
		pgrep -a -f 'socket,id=nested-ctl,' >>"$_log"
		pkill -f 'socket,id=nested-ctl,'
		for _ in $(seq 50); do
			pgrep -f 'socket,id=nested-ctl,' >/dev/null || break
			sleep 0.2
		done
		pkill -9 -f 'socket,id=nested-ctl,'
		sleep 1
	fi
	if [ "$1" = stock ]; then
		what="modprobe vhost_vsock (stock host driver)"
		# Ours owns AF_VSOCK: the stock socket layer needs it back.
		# (closing host sockets may hold ours for their close timeout)
		for m in mvsock_vhost mvsock_loopback mvsock; do
			grep -q "^$m " /proc/modules || continue
			for _ in $(seq 30); do
				rmmod "$m" 2>/dev/null && break
				sleep 0.5
			done
			if grep -q "^$m " /proc/modules; then
				rmmod "$m" >>"$_log" 2>&1
				rc=1
			fi
		done
		[ $rc = 0 ] && { modprobe vhost_vsock >>"$_log" 2>&1 || rc=1; }
		_hostmod=vhost_vsock
	else
		what="insmod kernel/mvsock_vhost.ko"
		if ! grep -q '^mvsock ' /proc/modules; then
			echo "kernel/mvsock.ko was not loaded: loading it" >>"$_log"
			insmod "$ROOT/kernel/mvsock.ko" >>"$_log" 2>&1 || rc=1
		fi
		[ $rc = 0 ] && { modprobe vhost >>"$_log" 2>&1 || rc=1; }
		[ $rc = 0 ] && { insmod "$ROOT/kernel/mvsock_vhost.ko" >>"$_log" 2>&1 || rc=1; }
		_hostmod=mvsock_vhost
	fi
	for _ in $(seq 20); do
		[ -c /dev/vhost-vsock ] && break
		sleep 0.1
	done
	if [ $rc = 0 ] && [ ! -c /dev/vhost-vsock ]; then
		echo "no /dev/vhost-vsock after loading the host driver" >>"$_log"
		rc=1
	fi
	result $rc "$what; /dev/vhost-vsock present" "$_log"
	[ $rc = 0 ] || nested_bail "the host driver did not load"
}

nested_run() { # "line 2 description" RUN-INNER-ARGS... -- HOST-COMMAND
	local desc=$1 args=() max bad rc
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	# TAP lines pass, the rest (timings, relay, QEMU messages) become
	# diagnostics.
	"$NESTED/run-inner.sh" --timeout "${NESTED_TIMEOUT:-1500}" "${args[@]}" \
		--host "echo \"ok 2 - $desc (CID \$NESTED_CID, boot \$NESTED_BOOT_MS ms)\"
			NESTED_TAP_FIRST=3 $*" 2>&1 |
		"$ROOT/selftests/lib/ktap-merge.sh" --summary "$_out"
	rc=${PIPESTATUS[0]}
	max=0 bad=1
	read -r _ max bad <"$_out"
	n=${max:-0}
	[ "$bad" = 1 ] && fail=1
	if [ "$n" -lt 2 ]; then
		n=2
		echo "not ok 2 - $desc (run-inner.sh exit status $rc)"
		fail=1
	fi
	while [ "$n" -lt $((_plan - 2)) ]; do
		n=$((n + 1))
		echo "not ok $n - not run (run-inner.sh exit status $rc)"
		fail=1
	done
	case $rc in
	0|1) result 0 "inner guest clean (kernel log, no crash)" ;;
	120) result 1 "inner guest clean: its kernel log had an oops/WARNING/BUG line" ;;
	121) result 1 "inner guest clean: it crashed or QEMU died" ;;
	124) result 1 "inner guest clean: timed out" ;;
	*) result 1 "inner guest clean: run-inner.sh exit status $rc" ;;
	esac
}

nested_host_unload() {
	local ok=1
	: >"$_log"
	if pgrep -f 'socket,id=nested-ctl,' >/dev/null; then
		echo "an inner QEMU is still running:" >>"$_log"
		pgrep -a -f 'socket,id=nested-ctl,' >>"$_log"
	fi
	# Orphaned host sockets may hold the driver for up to their close
	# timeout (8 s): retry for a while.
	for _ in $(seq 30); do
		if rmmod "$_hostmod" 2>"$_log.rmmod"; then ok=0; break; fi
		sleep 0.5
	done
	[ $ok = 0 ] || cat "$_log.rmmod" >>"$_log"
	rm -f "$_log.rmmod"
	result $ok "rmmod $_hostmod" "$_log"
}

nested_end() {
	echo "# whole nested run: $((SECONDS - _start)) s"
	exit $fail
}
