# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# run-inner.sh arguments of the multi-device suites (sourced): MD_NDEV
# vhost-vsock-pci devices from guest CID 3, our guest modules and the test
# programs packed into the inner initramfs (at their paths here), the TCP
# control ports of vsock_test carried both ways. VSOCKCTL: another
# vsockctl binary (as cases.sh: the same path in both machines).
# MD_CASE_ARGS, what the suites' run of cases.sh adds: with our host
# driver, --autoload (the inner initramfs also has our modules installed
# as the package installs them, and the inner init loads the drivers by
# alias at boot, which case "autoload" checks).

MD_NDEV=${MD_NDEV:-3}
_b=${MVSOCK_BUILD:-$ROOT/build}
MD_RUN_ARGS=(
	--vsock "$MD_NDEV" --cid 3
	--add "$ROOT/kernel/mvsock.ko" --add "$ROOT/kernel/mvsock_virtio.ko"
	--add "$_b/multidev/mdtool" --add "$_b/multidev/bindshim.so"
	--add "$_b/bench/vsock_pingpong" --add "$_b/tools/vsocktop"
	--add "${VSOCKCTL:-$_b/tools/vsockctl}"
	--listen-inner 1240 --listen-outer 1241
)
MD_CASE_ARGS=()
# hot-plug, migration and autoload cases (our host driver only: time)
if [ "${MD_HOST:-ours}" = ours ]; then
	MD_RUN_ARGS+=(--hotplug)
	MD_CASE_ARGS+=(--autoload)
fi
export NESTED_NDEV=$MD_NDEV

# Build the initramfs of these run-inner.sh arguments (default: both of
# the suites', with and without --installed) now: selftests/run-check.sh
# and scripts/demo-nested.sh do, on the build machine, much faster than
# in the test VM.
md_prebuild_initramfs() {
	local a add=() prev=
	if [ $# = 0 ]; then
		md_prebuild_initramfs "${MD_RUN_ARGS[@]}" &&
			md_prebuild_initramfs "${MD_RUN_ARGS[@]}" --installed
		return
	fi
	for a in "$@"; do
		case $prev,$a in
		--add,*) add+=(--add "$a") ;;
		*,--installed) add+=(--installed) ;;
		esac
		prev=$a
	done
	"$ROOT/selftests/nested/mkinitramfs.sh" "${add[@]}" >/dev/null
}
