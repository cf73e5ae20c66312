# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# run-inner.sh arguments of the multi-device suites (sourced): MD_NDEV
# vhost-vsock-pci devices from guest CID 3, our guest modules and the test
# programs packed into the inner initramfs (at their paths here), the TCP
# control ports of vsock_test carried both ways. VSOCKCTL: another
# vsockctl binary (as cases.sh: the same path in both machines).
# The "autoload" case is opt-in (MD_ONLY=autoload,...): only then are our
# modules also installed in the initramfs as the package installs them
# (--installed), and MD_CASE_ARGS, what the suites' run of cases.sh adds,
# has --autoload (the inner init loads the drivers by alias at boot). Its
# inner guests hit the emulator's bad-EFLAGS fault in 3 of 5 boots, the
# others in none (docs/testing.md).

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
if [[ ",${MD_ONLY:-}," == *,autoload,* ]]; then
	MD_RUN_ARGS+=(--installed)
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
