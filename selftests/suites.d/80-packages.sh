#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installing mvsock like a distro module (docs/install.md), in the VM's
# throw-away root: make install / make uninstall into a DESTDIR (the
# documented file list, modes, the policy file kept when changed); the
# packages of build/deb/ (scripts/mkdeb.sh, built by run-check.sh before
# the VM) with apt, DKMS building the modules for this kernel, modprobe
# by name, modinfo, the tools from $PATH, the man pages, the unit left
# disabled, then apt remove/purge; DKMS from the sources alone as in a
# guest, without linux-source (install, status, remove). Every install is
# compared with a list of the files before it: removal must leave exactly
# that list. Leaves the work tree's mvsock.ko and mvsock_loopback.ko
# loaded, as it found them.

ROOT=${MVSOCK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=selftests/lib/ktap.sh
. "$ROOT/selftests/lib/ktap.sh"
W=$(mktemp -d)
KVER=$(uname -r)
BASE=$("$ROOT/scripts/version.sh" --base)
trap 'rm -rf "$W"' EXIT

echo "KTAP version 1"
if [ "${MVSOCK_STOCK:-0}" = 1 ]; then
	echo "1..0 # SKIP mvsock-only"
	exit 0
fi
echo "1..25"

# ---- make install / uninstall into a DESTDIR --------------------------------

D=$W/dest
want_files() {
	cat <<EOF
/etc/modprobe.d/mvsock.conf 644
/etc/mvsock/policy.rules 644
/lib/modules/$KVER/updates/mvsock.ko 644
/lib/modules/$KVER/updates/mvsock_loopback.ko 644
/lib/modules/$KVER/updates/mvsock_vhost.ko 644
/lib/modules/$KVER/updates/mvsock_virtio.ko 644
/opt/mv/lib/systemd/system/vsockctl-policy.service 644
/opt/mv/sbin/vsockctl 755
/opt/mv/sbin/vsocktop 755
/opt/mv/share/man/man7/mvsock.7 644
/opt/mv/share/man/man8/vsockctl.8 644
/opt/mv/share/man/man8/vsocktop.8 644
EOF
}
files_in() { # dir
	(cd "$1" 2>/dev/null && find . \( -type f -o -type l \) -printf '/%P %m\n' | sort)
}
(cd "$ROOT" && make -s install DESTDIR="$D" PREFIX=/opt/mv KVER="$KVER") >"$W/log" 2>&1
rc=$?
files_in "$D" >"$W/got"
want_files | sort >"$W/want"
diff "$W/want" "$W/got" >>"$W/log"
[ "$rc" = 0 ] && cmp -s "$W/want" "$W/got"
result $? "make install DESTDIR PREFIX=/opt/mv: exactly the documented files, with their modes" "$W/log"

grep -qx 'ExecStart=/opt/mv/sbin/vsockctl policy load /etc/mvsock/policy.rules' \
	"$D/opt/mv/lib/systemd/system/vsockctl-policy.service" 2>"$W/log"
result $? "the unit runs vsockctl from PREFIX/sbin" "$W/log"

(cd "$ROOT" && DESTDIR=$D PREFIX=/opt/mv KVER=$KVER scripts/install.sh list) >"$W/list" 2>&1
sed "s|^$D||" "$W/list" | sort | cmp -s - <(cut -d' ' -f1 "$W/want")
result $? "scripts/install.sh list names the same files" "$W/list"

# Again with the script make install runs (make would check the build).
inst() { (cd "$ROOT" && DESTDIR=$D PREFIX=/opt/mv KVER=$KVER scripts/install.sh "$@"); }
echo "# edited by the operator" >>"$D/etc/mvsock/policy.rules"
inst install >"$W/log" 2>&1
grep -q 'edited by the operator' "$D/etc/mvsock/policy.rules" &&
	grep -q 'keeping the existing' "$W/log"
result $? "make install again keeps an existing policy.rules" "$W/log"

(cd "$ROOT" && make -s uninstall DESTDIR="$D" PREFIX=/opt/mv KVER="$KVER") >"$W/log" 2>&1
files_in "$D" >"$W/got"
echo "/etc/mvsock/policy.rules 644" | cmp -s - "$W/got"
result $? "make uninstall removes every file but the edited policy.rules" "$W/got"

rm -f "$D/etc/mvsock/policy.rules"
{ inst install && inst uninstall; } >"$W/log" 2>&1
files_in "$D" >"$W/got"
[ ! -s "$W/got" ] && [ ! -e "$D/etc/mvsock" ]
result $? "install then uninstall leaves no file (and no /etc/mvsock)" "$W/got"

# ---- the packages -----------------------------------------------------------

# What packages and DKMS may touch, before any install. Not counted: the
# key pair DKMS makes on its first build to sign every DKMS module
# (/var/lib/dkms/mok.*: DKMS's, kept for the next module), ld.so's cache.
snapshot() { # out
	find /etc /usr/sbin /usr/src /usr/share/man /lib/modules /usr/lib/modules \
		/usr/lib/systemd/system /var/lib/dkms -xdev \
		\( -type f -o -type l \) 2>/dev/null |
		grep -v -e '^/etc/ld.so.cache$' -e '^/etc/systemd/system/' \
			-e '^/var/lib/dkms/mok\.\(key\|pub\)$' | sort >"$1"
}
unload_ours() {
	local m
	for m in mvsock_vhost mvsock_virtio mvsock_loopback mvsock; do
		[ -d "/sys/module/$m" ] || continue
		for _ in $(seq 50); do
			rmmod "$m" 2>/dev/null && break
			sleep 0.1
		done
	done
	[ ! -d /sys/module/mvsock ]
}
from_updates() { # module: loaded, and from DKMS's directory
	[ -d "/sys/module/$1" ] &&
		modinfo -n "$1" | grep -q "^/lib/modules/$KVER/updates/dkms/$1\.ko"
}
snapshot "$W/before"

[ -f "$ROOT/build/deb/lintian.ok" ]
result $? "make deb: lintian passed (build/deb/lintian.txt)" "$ROOT/build/deb/lintian.ok"

shopt -s nullglob
debs=("$ROOT"/build/deb/mvsock-dkms_*.deb "$ROOT"/build/deb/mvsock-tools_*.deb)
shopt -u nullglob
if [ "${#debs[@]}" != 2 ]; then
	echo "build/deb/ has ${#debs[@]} of the 2 packages (scripts/mkdeb.sh)" >"$W/log"
	result 1 "apt install ./mvsock-dkms_*.deb ./mvsock-tools_*.deb" "$W/log"
else
	# (DKMS's build under TCG: about 8 minutes on the 2-CPU build machine)
	t0=$SECONDS
	DEBIAN_FRONTEND=noninteractive timeout 1500 apt-get install -y \
		-o Debug::NoLocking=1 "${debs[@]}" >"$W/apt" 2>&1
	rc=$?
	tail -n 20 "$W/apt" >"$W/log"
	echo "apt install took $((SECONDS - t0)) s" >>"$W/log"
	result "$rc" "apt install ./mvsock-dkms_*.deb ./mvsock-tools_*.deb (DKMS builds for $KVER)" "$W/log"
fi

dkms status -m mvsock -v "$BASE" -k "$KVER" >"$W/log" 2>&1
grep -q "installed" "$W/log"
result $? "dkms status: mvsock/$BASE installed for $KVER" "$W/log"

unload_ours >"$W/log" 2>&1
ok=0
for m in mvsock_loopback mvsock_vhost mvsock_virtio; do
	modprobe "$m" >>"$W/log" 2>&1 && from_updates "$m" || ok=1
done
from_updates mvsock || ok=1
[ -d /sys/module/vhost ] || ok=1
lsmod | grep -E '^(mvsock|vhost)' >>"$W/log"
result "$ok" "modprobe mvsock_loopback, mvsock_vhost, mvsock_virtio by name: the DKMS modules, with mvsock and vhost" "$W/log"

ok=0
: >"$W/log"
for m in mvsock mvsock_loopback mvsock_virtio mvsock_vhost; do
	modinfo "$m" >"$W/mi" 2>&1 || ok=1
	for f in version description author license; do
		grep -q "^$f: *[^ ]" "$W/mi" || { echo "$m: no $f" >>"$W/log"; ok=1; }
	done
	# every parameter has its description (modinfo: "parm: NAME:TEXT")
	grep '^parm:' "$W/mi" | grep -v '^parm: *[a-z_]*:[^ ]' >>"$W/log" && ok=1
done
modinfo -F version mvsock | grep -qx "$BASE" || { echo "mvsock version is not $BASE" >>"$W/log"; ok=1; }
result "$ok" "modinfo: version $BASE, description, author, license, described parameters" "$W/log"

ok=0
: >"$W/log"
modinfo -F alias mvsock_virtio | grep -qx 'virtio:d00000013v\*' || ok=1
modinfo -F alias mvsock_vhost | grep -qx 'devname:vhost-vsock' || ok=1
modinfo -F alias mvsock_vhost | grep -qx 'char-major-10-241' || ok=1
modinfo -F alias mvsock | grep -qx 'net-pf-40' || ok=1
modprobe -c | grep -E '^(blacklist (vsock|vhost_vsock|vmw_vsock_virtio_transport)|softdep mvsock)' >"$W/log"
[ "$(wc -l <"$W/log")" -ge 6 ] || ok=1
result "$ok" "aliases of the device and socket family; modprobe.d blacklists stock vsock, softdeps" "$W/log"

command -v vsocktop vsockctl >"$W/log" 2>&1
printf '/usr/sbin/vsocktop\n/usr/sbin/vsockctl\n' | cmp -s - "$W/log"
result $? "vsocktop and vsockctl on \$PATH from the package" "$W/log"

vsockctl devices >"$W/log" 2>&1 && grep -q 'loopback' "$W/log"
result $? "vsockctl devices (installed)" "$W/log"

vsocktop -o json -n 1 >"$W/out" 2>"$W/log" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d else 1)' "$W/out" 2>>"$W/log"
result $? "vsocktop -o json -n 1 (installed)" "$W/log"

ok=0
: >"$W/log"
for p in 8:vsocktop 8:vsockctl 7:mvsock; do
	MANPAGER=cat MANWIDTH=80 man "${p%%:*}" "${p#*:}" >"$W/man" 2>>"$W/log" || ok=1
	if ! grep -q "^NAME" "$W/man" || ! grep -qi "^ *${p#*:} " "$W/man"; then echo "man ${p%%:*} ${p#*:}: no NAME section" >>"$W/log"; ok=1; fi
done
result "$ok" "man 8 vsocktop, man 8 vsockctl, man 7 mvsock open" "$W/log"

unit=/lib/systemd/system/vsockctl-policy.service
[ -f "$unit" ] && grep -qx 'ExecStart=/usr/sbin/vsockctl policy load /etc/mvsock/policy.rules' "$unit" &&
	[ -z "$(find /etc/systemd/system -name 'vsockctl-policy.service' 2>/dev/null)" ] &&
	vsockctl policy check /etc/mvsock/policy.rules >"$W/log" 2>&1
result $? "vsockctl-policy.service installed, not enabled; the example policy passes check" "$W/log"

unload_ours >"$W/log" 2>&1
DEBIAN_FRONTEND=noninteractive apt-get remove -y -o Debug::NoLocking=1 mvsock-tools mvsock-dkms >>"$W/log" 2>&1
rc=$?
snapshot "$W/after"
comm -13 "$W/before" "$W/after" >"$W/extra"
comm -23 "$W/before" "$W/after" >>"$W/extra"
printf '/etc/modprobe.d/mvsock.conf\n/etc/mvsock/policy.rules\n' | cmp -s - "$W/extra"
same=$?
[ "$rc" = 0 ] && [ "$same" = 0 ]
result $? "apt remove: no module, source or program left, only the two conffiles" "$W/extra"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -o Debug::NoLocking=1 mvsock-tools mvsock-dkms >"$W/log" 2>&1
rc=$?
snapshot "$W/after"
diff "$W/before" "$W/after" >>"$W/log"
[ "$rc" = 0 ] && cmp -s "$W/before" "$W/after"
result $? "apt purge: the files are exactly those before the install" "$W/log"

# ---- DKMS from the sources, as in a guest -----------------------------------
# A guest has no linux-source (docs/install.md): the series' tarball is
# hidden for the build by a bind mount of /dev/null over it (no regular
# file any more), and DKMS builds every module but the host driver. The
# tarball is visible again for status and remove, as in a guest that
# installs linux-source later: DKMS must still see the build it made.

src=/usr/src/mvsock-$BASE
tarball=/usr/src/linux-source-$(cut -d. -f1,2 <<<"$KVER").tar.xz
t0=$SECONDS
: >"$W/log"
hidden=0
if [ ! -f "$tarball" ]; then
	echo "no $tarball to hide" >"$W/log"
elif mount --bind /dev/null "$tarball" >>"$W/log" 2>&1; then
	hidden=1
fi
rc=1
[ $hidden = 1 ] &&
	"$ROOT/scripts/install.sh" dkms-src "$src" >>"$W/log" 2>&1 &&
	timeout 1500 dkms install "mvsock/$BASE" -k "$KVER" >>"$W/log" 2>&1 &&
	rc=0
[ $hidden = 1 ] && { umount "$tarball" >>"$W/log" 2>&1 || rc=1; }
[ -f "$tarball" ] || { echo "$tarball is not back" >>"$W/log"; rc=1; }
tail -n 15 "$W/log" >"$W/log2"
echo "dkms install took $((SECONDS - t0)) s" >>"$W/log2"
result "$rc" "dkms install mvsock/$BASE from the sources (install.sh dkms-src) without linux-source" "$W/log2"

ok=0
: >"$W/log"
for m in mvsock mvsock_loopback mvsock_virtio; do
	[ -e "/lib/modules/$KVER/updates/dkms/$m.ko" ] || [ -e "/lib/modules/$KVER/updates/dkms/$m.ko.xz" ] ||
		{ echo "no $m in updates/dkms" >>"$W/log"; ok=1; }
done
for f in "/lib/modules/$KVER/updates/dkms/mvsock_vhost.ko"*; do
	[ -e "$f" ] && { echo "$f built without linux-source" >>"$W/log"; ok=1; }
done
modprobe mvsock_loopback >>"$W/log" 2>&1 && from_updates mvsock_loopback || ok=1
result "$ok" "every module but mvsock_vhost built, modprobe mvsock_loopback loads the DKMS build" "$W/log"

dkms status -m mvsock -v "$BASE" -k "$KVER" >"$W/log" 2>&1
grep -q ": installed\$" "$W/log"
result $? "dkms status with linux-source back: installed, no module missing" "$W/log"

unload_ours >"$W/log" 2>&1
dkms remove "mvsock/$BASE" --all >>"$W/log" 2>&1
rc=$?
rm -rf "$src"
snapshot "$W/after"
diff "$W/before" "$W/after" >>"$W/log"
[ "$rc" = 0 ] && cmp -s "$W/before" "$W/after"
result $? "dkms remove --all: the files are exactly those before" "$W/log"

# ---- back to the work tree's modules ----------------------------------------

unload_ours >"$W/log" 2>&1 && insmod "$ROOT/kernel/mvsock.ko" >>"$W/log" 2>&1 &&
	insmod "$ROOT/kernel/mvsock_loopback.ko" >>"$W/log" 2>&1
result $? "the work tree's mvsock.ko and mvsock_loopback.ko loaded again" "$W/log"
find "/lib/modules/$KVER" -name 'mvsock*' >"$W/log" 2>&1
[ ! -s "$W/log" ]
result $? "no mvsock module left in /lib/modules/$KVER" "$W/log"
exit "$fail"
