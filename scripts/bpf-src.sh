#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract what the BPF toolchain build needs (libbpf: tools/lib/bpf,
# bpftool: tools/bpf/bpftool, and the tools/ headers, build system and
# scripts they use) from the installed linux-source tarball into
# build/bpf/src/. Nothing of it is copied into the repository; bpf/Makefile
# builds libbpf.a and bpftool from there. Prints the directory on stdout.
# Re-extracts only when the tarball changed (stamp: mtime and size).
#
# Usage: scripts/bpf-src.sh [OUTDIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${1:-$ROOT/build/bpf/src}
KVER=${KVER:-$("$ROOT/scripts/kver.sh" --quiet || true)}
if [ -z "$KVER" ]; then
	"$ROOT/scripts/kver.sh" >/dev/null || true
	echo "bpf-src.sh: no kernel version (run 'make deps' or set KVER=)" >&2
	exit 1
fi
# shellcheck source=scripts/lib/linux-source.sh
. "$ROOT/scripts/lib/linux-source.sh"
lsrc_extract "$OUT" "tools/lib/bpf tools/bpf/bpftool tools/include tools/build tools/scripts
tools/arch/x86 kernel/bpf/disasm.c kernel/bpf/disasm.h scripts/bpf_doc.py" \
	"extracting libbpf and bpftool sources"
