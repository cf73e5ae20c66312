#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the selftests/vm initramfs (busybox sh). Mounts the host root
# (9p tag "root", read-only) under a tmpfs overlay, mounts the run's writable
# share (9p tag "vmout") at the same path as on the host, then switch_root's
# into $vminit (selftests/vm/guest-init.sh). Parameters come from the kernel
# command line, which the kernel turns into environment variables:
#   vminit=PATH  vmout=PATH  vm9p=EXTRA_9P_MOUNT_OPTIONS  vmkeep=PATH:PATH
#   vmverbose=1

PATH=/bin
export PATH
: "${vminit:=}" "${vmout:=}" "${vm9p:=}" "${vmkeep:=}" "${vmverbose:=0}"

stamp() { # what: print the guest's uptime when vmverbose=1
	[ "$vmverbose" = 1 ] || return 0
	read -r up _ </proc/uptime
	echo "MVSOCK-VM: initramfs: $1 at ${up}s"
}

fail() {
	echo "MVSOCK-VM: initramfs: $*"
	echo "MVSOCK-VM-INIT-FAILED"
	poweroff -f
	sleep 10
}

mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
# Our output goes to ttyS0 (the runner's stdout); /dev/console is ttyS1,
# where the kernel log goes.
exec </dev/null >/dev/ttyS0 2>&1
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
stamp "start"

while read -r m; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done </lib/modules/load-order
stamp "modules loaded"

[ -n "$vminit" ] || fail "no vminit= on the kernel command line"

opts="trans=virtio,version=9p2000.L${vm9p:+,$vm9p}"
mount -t 9p -o "ro,$opts" root /lower || fail "mount 9p root"
mount -t tmpfs -o mode=0755 rw /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	overlay /newroot || fail "mount overlay"
stamp "root mounted"

# Everything that can be mounted here is, with busybox: it is much cheaper
# than running the host's tools from 9p under TCG.
mount --move /dev /newroot/dev || fail "move /dev"
mount --move /proc /newroot/proc || fail "move /proc"
mount --move /sys /newroot/sys || fail "move /sys"

# Directories of the host (the work tree, the current directory) that lie
# under /tmp or /run, which get a fresh tmpfs below, are carried over.
keep() { # bind|restore
	i=0
	IFS=:
	for p in $vmkeep; do
		case "$p" in
		/tmp/*|/run/*)
			i=$((i + 1))
			if [ "$1" = bind ]; then
				mkdir -p "/keep$i"
				mount --bind "/newroot$p" "/keep$i" || fail "bind $p"
			else
				mkdir -p "/newroot$p"
				mount --move "/keep$i" "/newroot$p" || fail "restore $p"
			fi
			;;
		esac
	done
	unset IFS
}
keep bind

mnt() { # type source target [options]
	mkdir -p "/newroot$3"
	mount -t "$1" ${4:+-o "$4"} "$2" "/newroot$3" ||
		echo "MVSOCK-VM: warning: cannot mount $1 on $3"
}
mnt devpts devpts /dev/pts mode=0620,ptmxmode=0666
mnt tmpfs tmpfs /dev/shm mode=1777
mnt tmpfs tmpfs /tmp mode=1777
mnt tmpfs tmpfs /run mode=0755
mnt debugfs debugfs /sys/kernel/debug
mnt tracefs tracefs /sys/kernel/tracing
mnt bpf bpf /sys/fs/bpf mode=0700
mnt cgroup2 cgroup2 /sys/fs/cgroup

keep restore

# The run's directory shared read-write with the host, at its host path.
if [ -n "$vmout" ]; then
	mkdir -p "/newroot$vmout" || fail "mkdir $vmout"
	mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144" vmout \
		"/newroot$vmout" || fail "mount 9p vmout"
fi

ln -sfn /proc/self/fd /newroot/dev/fd
ln -sfn /proc/self/fd/0 /newroot/dev/stdin
ln -sfn /proc/self/fd/1 /newroot/dev/stdout
ln -sfn /proc/self/fd/2 /newroot/dev/stderr
ip link set lo up || echo "MVSOCK-VM: warning: cannot bring lo up"
hostname mvsock-vm

stamp "switch_root"
# shellcheck disable=SC2093 # exec only returns on failure
exec switch_root /newroot "$vminit"
fail "switch_root $vminit"
