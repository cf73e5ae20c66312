# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# run-inner.sh arguments of the multi-device suites (sourced): MD_NDEV
# vhost-vsock-pci devices from guest CID 3, our guest modules and the test
# programs packed into the inner initramfs (at their paths here), our
# modules also installed there as the package installs them (--installed),
# the TCP control ports of vsock_test carried both ways. VSOCKCTL: another
# vsockctl binary (as cases.sh: the same path in both machines).
# MD_CASE_ARGS: what the suites' run of cases.sh adds: --autoload (the
# inner init loads the drivers by alias at boot) for its "autoload" case,
# unless MD_ONLY leaves that case out.

MD_NDEV=${MD_NDEV:-3}
_b=${MVSOCK_BUILD:-$ROOT/build}
MD_RUN_ARGS=(
	--vsock "$MD_NDEV" --cid 3
	--add "$ROOT/kernel/mvsock.ko" --add "$ROOT/kernel/mvsock_virtio.ko"
	--add "$_b/multidev/mdtool" --add "$_b/multidev/bindshim.so"
	--add "$_b/bench/vsock_pingpong" --add "$_b/tools/vsocktop"
	--add "${VSOCKCTL:-$_b/tools/vsockctl}"
	--installed
	--listen-inner 1240 --listen-outer 1241
)
MD_CASE_ARGS=()
if [ -z "${MD_ONLY:-}" ] || [[ ",$MD_ONLY," == *,autoload,* ]]; then
	MD_CASE_ARGS+=(--autoload)
fi
# hot-plug and migration cases (our host driver only: time)
[ "${MD_HOST:-ours}" = ours ] && MD_RUN_ARGS+=(--hotplug)
export NESTED_NDEV=$MD_NDEV

# Build that initramfs now (selftests/run-check.sh does, on the build
# machine: much faster than in the test VM).
md_prebuild_initramfs() {
	local i add=()
	for ((i = 0; i < ${#MD_RUN_ARGS[@]}; i++)); do
		case ${MD_RUN_ARGS[i]} in
		--add) add+=(--add "${MD_RUN_ARGS[i + 1]}") ;;
		--installed) add+=(--installed) ;;
		esac
	done
	"$ROOT/selftests/nested/mkinitramfs.sh" "${add[@]}" >/dev/null
}
