#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract the few kernel-internal headers mvsock builds against (the vhost
# core's drivers/vhost/vhost.h, for kernel/vhost.c) from the installed
# linux-source tarball into build/ksrc/. Nothing of it is copied into the
# repository. Prints the directory on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=$ROOT/build/ksrc
KVER=${KVER:-$("$ROOT/scripts/kver.sh" --quiet)}
# shellcheck source=scripts/lib/linux-source.sh
. "$ROOT/scripts/lib/linux-source.sh"
lsrc_extract --files "$OUT" drivers/vhost/vhost.h
