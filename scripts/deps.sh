#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian 12 packages that mvsock needs to build and test.
# Idempotent: when every package is already installed, apt is not run at all.
#
# Usage: scripts/deps.sh [--check]
#   --check   only report; exit 0 when everything is installed, 1 otherwise.

set -eu

PACKAGES="linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-source-6.12
qemu-system-x86 busybox-static dwarves libelf-dev zlib1g-dev clang llvm
iproute2 socat xz-utils python3 linux-perf libncurses-dev pkg-config tmux
prometheus dkms debhelper dh-dkms lintian man-db"

# linux-perf is Debian 12's perf (6.1): make perf-demo and suite 72-perf-tool.
# dkms, debhelper, dh-dkms, lintian: make deb and suite 80-packages (whose
# VM installs the packages offline: dkms must be on the machine already).

missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	[ "${1:-}" = "--check" ] || echo "deps: all packages installed"
	exit 0
fi

if [ "${1:-}" = "--check" ]; then
	echo "deps: missing packages:$missing" >&2
	exit 1
fi

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: must run as root to install packages (missing:$missing)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# Upgrade-By-Source-Package=false keeps apt from dragging upgrades of other
# binaries built from the same source (linux-perf, bpftool, linux-libc-dev).
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends \
	-o APT::Get::Upgrade-By-Source-Package=false $PACKAGES

# Re-check, so that a partial install is reported here and not later.
exec "$0" --check
