# SPDX-License-Identifier: GPL-2.0
#
# The BPF toolchain of mvsock, in the manner of libbpf-bootstrap: included
# by every Makefile that builds BPF programs (bpf/Makefile,
# selftests/bpf/Makefile, later tools/vsocktop). Everything lands in
# build/bpf/:
#
#   src/              libbpf and bpftool sources, extracted from the
#                     installed linux-source tarball (scripts/bpf-src.sh)
#   libbpf/libbpf.a   static libbpf; headers in libbpf/include/bpf/
#   bpftool/bpftool   statically linked bpftool (skeletons, vmlinux.h)
#   vmlinux.h         the kernel's types plus mvsock.ko's (module BTF on top
#                     of the installed kernel's vmlinux BTF)
#
# and two rule templates for programs:
#
#   $(eval $(call BPF_PROG_RULES,SRCDIR,OBJDIR))
#       SRCDIR/NAME.bpf.c -> OBJDIR/NAME.bpf.o -> OBJDIR/NAME.skel.h
#   $(eval $(call BPF_APP_RULES,SRCDIR,OBJDIR))
#       SRCDIR/NAME.c -> OBJDIR/NAME.o (with OBJDIR/NAME.skel.h)
#
# Link an app with $(BPF_APP_LDLIBS). Header dependencies are tracked
# (-MMD), so only what changed is rebuilt. Variables: KVER (see
# scripts/kver.sh), MVSOCK_KO (the module whose BTF goes into vmlinux.h,
# default kernel/mvsock.ko), BASE_BTF, CLANG, V=1 for full commands.

ifndef MVSOCK_BPF_TOOLCHAIN
MVSOCK_BPF_TOOLCHAIN := 1

MVSOCK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
KVER ?= $(shell $(MVSOCK_ROOT)/scripts/kver.sh --quiet)
KDIR ?= /lib/modules/$(KVER)/build
BPF_BUILD ?= $(MVSOCK_ROOT)/build/bpf

BPF_SRC := $(BPF_BUILD)/src
BPF_SRC_STAMP := $(BPF_SRC)/.stamp
LIBBPF_OUT := $(BPF_BUILD)/libbpf
LIBBPF_A := $(LIBBPF_OUT)/libbpf.a
LIBBPF_INCLUDE := $(LIBBPF_OUT)/include
BPFTOOL_OUT := $(BPF_BUILD)/bpftool
BPFTOOL := $(BPFTOOL_OUT)/bpftool
VMLINUX_H := $(BPF_BUILD)/vmlinux.h
VMLINUX_STAMP := $(BPF_BUILD)/.vmlinux.h.stamp
MVSOCK_KO ?= $(MVSOCK_ROOT)/kernel/mvsock.ko
# Debian's linux-headers package ships the kernel's BTF as build/vmlinux.
BASE_BTF ?= $(KDIR)/vmlinux
KSERIES := $(shell echo '$(KVER)' | cut -d. -f1,2)
KTARBALL := /usr/src/linux-source-$(KSERIES).tar.xz

CLANG ?= clang
CC ?= gcc
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')

BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) \
	-I$(BPF_BUILD) -isystem $(LIBBPF_INCLUDE) -I$(MVSOCK_ROOT)/bpf
# the project's version (scripts/version.sh), for every program's --version
# (tools/lib/mvsock_cli.h)
MVSOCK_VERSION := $(shell $(MVSOCK_ROOT)/scripts/version.sh 2>/dev/null || echo unknown)
BPF_APP_CFLAGS := -g -O2 -std=gnu11 -Wall -Wextra -Werror \
	-isystem $(LIBBPF_INCLUDE) -I$(MVSOCK_ROOT)/bpf -I$(MVSOCK_ROOT)/include/uapi \
	-DMVSOCK_VERSION='"$(MVSOCK_VERSION)"'
BPF_APP_LDLIBS := $(LIBBPF_A) -lelf -lz

# The tools (tools/*/Makefile): static by default, one binary that runs on
# any machine with the modules (the test guests' initramfs included).
# TOOLS_LINK=dynamic takes libc, libelf, zlib and ncurses from the system
# (the Debian package); libbpf is static either way.
ifeq ($(TOOLS_LINK),dynamic)
TOOLS_LDFLAGS :=
TOOLS_PKG_LIBS = $(shell pkg-config --libs $(1) 2>/dev/null)
else
TOOLS_LDFLAGS := -static
TOOLS_PKG_LIBS = $(shell pkg-config --static --libs $(1) 2>/dev/null)
endif

ifeq ($(V),1)
  Q :=
  bpf_msg =
else
  Q := @
  bpf_msg = @printf '  %-8s %s\n' '$(1)' '$(patsubst $(MVSOCK_ROOT)/%,%,$(2))';
endif

# Plain `make` (no jobserver): the toolchain's sub-makes use every CPU.
# Expanded in recipes, where MAKEFLAGS shows -j.
bpf_jobs = $(if $(findstring jobserver,$(MAKEFLAGS))$(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))

# Fail early and clearly when the toolchain is not there (make deps).
BPF_TOOLS_MISSING := $(strip \
	$(if $(KVER),,KVER(scripts/kver.sh)) \
	$(if $(shell command -v $(CLANG)),,$(CLANG)) \
	$(if $(shell command -v python3),,python3) \
	$(if $(wildcard /usr/include/libelf.h),,libelf-dev) \
	$(if $(wildcard /usr/include/zlib.h),,zlib1g-dev) \
	$(if $(wildcard $(KTARBALL)),,$(KTARBALL)) \
	$(if $(wildcard $(BASE_BTF)),,$(BASE_BTF)))

.PHONY: bpf-toolchain bpf-check-tools
bpf-toolchain: $(LIBBPF_A) $(BPFTOOL) $(VMLINUX_H)

bpf-check-tools:
ifneq ($(BPF_TOOLS_MISSING),)
	@echo "error: the BPF toolchain needs: $(BPF_TOOLS_MISSING) (run 'make deps')" >&2
	@exit 1
endif

$(BPF_BUILD) $(LIBBPF_OUT) $(BPFTOOL_OUT):
	$(Q)mkdir -p $@

# Sources: re-extracted only when the tarball changes.
$(BPF_SRC_STAMP): $(wildcard $(KTARBALL)) | bpf-check-tools
	$(Q)KVER=$(KVER) $(MVSOCK_ROOT)/scripts/bpf-src.sh $(BPF_SRC) >/dev/null

# Static libbpf and its public headers.
$(LIBBPF_A): $(BPF_SRC_STAMP) | $(LIBBPF_OUT)
	$(call bpf_msg,LIBBPF,$@)
	$(Q)$(MAKE) -s $(bpf_jobs) -C $(BPF_SRC)/tools/lib/bpf OUTPUT=$(LIBBPF_OUT)/ \
		DESTDIR=$(LIBBPF_OUT) prefix= $(LIBBPF_A) install_headers >/dev/null

# bpftool, on the same libbpf, statically linked, without the optional
# JIT disassembler and libcap (so the result is the same on every
# machine); its own skeletons are built against the target kernel's BTF.
$(BPFTOOL): $(LIBBPF_A) | $(BPFTOOL_OUT)
	$(call bpf_msg,BPFTOOL,$@)
	$(Q)$(MAKE) -s $(bpf_jobs) -C $(BPF_SRC)/tools/bpf/bpftool OUTPUT=$(BPFTOOL_OUT)/ \
		LIBBPF_OUTPUT=$(LIBBPF_OUT)/ EXTRA_LDFLAGS=-static \
		FEATURE_TESTS=clang-bpf-co-re FEATURE_DISPLAY=clang-bpf-co-re \
		VMLINUX_BTF=$(BASE_BTF) CLANG=$(CLANG) >/dev/null
	$(Q)touch $@

# vmlinux.h: rewritten only when the types changed, so rebuilding the
# module without a type change does not rebuild every BPF program.
bpf_gen_vmlinux_h = $(BPFTOOL) btf dump file $(MVSOCK_KO) --base-btf $(BASE_BTF) \
	format c >$(VMLINUX_H).tmp && { cmp -s $(VMLINUX_H).tmp $(VMLINUX_H) && \
	rm -f $(VMLINUX_H).tmp || mv -f $(VMLINUX_H).tmp $(VMLINUX_H); }

$(VMLINUX_STAMP): $(MVSOCK_KO) $(BASE_BTF) $(BPFTOOL) | $(BPF_BUILD)
	$(call bpf_msg,GEN,$(VMLINUX_H))
	$(Q)$(bpf_gen_vmlinux_h)
	$(Q)touch $@

$(VMLINUX_H): $(VMLINUX_STAMP)
	$(Q)test -f $@ || { $(bpf_gen_vmlinux_h); }

$(MVSOCK_KO):
	@echo "error: $@ not built: run 'make' (or 'make modules') first" >&2
	@exit 1

# SRCDIR/NAME.bpf.c -> OBJDIR/NAME.bpf.o (BTF kept, DWARF dropped by
# bpftool gen object) -> OBJDIR/NAME.skel.h
define BPF_PROG_RULES
$(2)/%.bpf.o: $(1)/%.bpf.c $(VMLINUX_H) $(LIBBPF_A) | $(2)
	$$(call bpf_msg,CLANG,$$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $$(@:.o=.d) -MT $$@ \
		-c $$< -o $$(@:.bpf.o=.tmp.bpf.o)
	$(Q)$(BPFTOOL) gen object $$@ $$(@:.bpf.o=.tmp.bpf.o)
	$(Q)rm -f $$(@:.bpf.o=.tmp.bpf.o)

$(2)/%.skel.h: $(2)/%.bpf.o $(BPFTOOL)
	$$(call bpf_msg,GEN-SKEL,$$@)
	$(Q)$(BPFTOOL) gen skeleton $$< >$$@.tmp && mv -f $$@.tmp $$@

.PRECIOUS: $(2)/%.bpf.o $(2)/%.skel.h
-include $$(wildcard $(2)/*.d)
endef

# SRCDIR/NAME.c -> OBJDIR/NAME.o, after OBJDIR/NAME.skel.h
define BPF_APP_RULES
$(2)/%.o: $(1)/%.c $(2)/%.skel.h $(LIBBPF_A) | $(2)
	$$(call bpf_msg,CC,$$@)
	$(Q)$(CC) $(BPF_APP_CFLAGS) -I$(2) -MMD -MP -c $$< -o $$@

.PRECIOUS: $(2)/%.o
endef

endif # MVSOCK_BPF_TOOLCHAIN
