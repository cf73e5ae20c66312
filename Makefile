# SPDX-License-Identifier: GPL-2.0
#
# mvsock: AF_VSOCK over virtio as out-of-tree modules.
#
#   make            kernel modules (kernel/), user-space programs, and the
#                   BPF toolchain, programs and tests (bpf/, build/bpf/)
#   make modules-nohooks  mvsock.ko and mvsock_loopback.ko without
#                   tracepoints and BPF hooks, in build/nohooks/kernel/
#   make check      build, then run every test suite in one QEMU VM
#   make deps       install the Debian packages needed (done automatically)
#   make install    modules, tools, man pages, modprobe.d, the policy unit
#                   (DESTDIR, PREFIX=/usr/local; scripts/install.sh);
#                   make uninstall removes exactly those files
#   make deb        Debian packages mvsock-dkms, mvsock-tools in build/deb/
#   make demo       the whole system (scripts/demo-nested.sh): a host VM
#                   with mvsock_vhost, a nested guest with three devices;
#                   vsockctl, vsocktop, a policy, perf (build/demo/)
#   make demo-local scripts/demo.sh: one VM, the loopback transport
#   make bench      scripts/bench.sh
#   make perf-demo  scripts/perf-demo.sh: perf on the mvsock tracepoints
#                   and a data-path profile, in a VM (build/perf-demo/)
#   make clean
#
# KVER selects the kernel (default: newest installed 6.12 with headers, see
# scripts/kver.sh). Build outputs stay in the work tree: kernel/, build/.

KVER ?= $(shell $(CURDIR)/scripts/kver.sh --quiet)
KDIR ?= /lib/modules/$(KVER)/build

HAVE_KBUILD := $(wildcard kernel/Kbuild kernel/Makefile)
HAVE_KMOD := $(wildcard selftests/kmod/Kbuild)
HAVE_USER := $(wildcard selftests/Makefile)
HAVE_BPF := $(wildcard bpf/Makefile)

.PHONY: all modules modules-nohooks kmod user bpf deps ensure-deps check demo demo-local bench perf-demo clean help
.PHONY: install uninstall deb

all: modules kmod user bpf tools
	$(MAKE) -C tools/bench

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# Cheap check first (dpkg-query); apt only runs when something is missing.
ensure-deps:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh

deps:
	scripts/deps.sh

# Fails clearly when no kernel could be found (KVER is evaluated lazily, so
# it sees what ensure-deps installed).
check-kver: ensure-deps
	@test -n "$(KVER)" || { scripts/kver.sh; exit 1; }
	@test -d "$(KDIR)" || { echo "error: $(KDIR) not found (KVER=$(KVER))" >&2; exit 1; }
.PHONY: check-kver

modules: check-kver
ifneq ($(HAVE_KBUILD),)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel \
		MVSOCK_KSRC=$$(KVER=$(KVER) scripts/ksrc.sh) modules
else
	@echo "warning: kernel/Kbuild not found: no kernel modules built" >&2
endif

# The reference build of scripts/bench-hooks.sh: the same sources,
# compiled with MVSOCK_NOHOOKS=1 (see kernel/Kbuild) into
# build/nohooks/kernel/ (copies: kbuild of 6.12 writes its output next to
# the sources; include/ and dkms.conf are links, for "../include/uapi/..."
# and the modules' version). Only
# mvsock.ko and mvsock_loopback.ko are used; kernel/ is left alone.
NOHOOKS_DIR := $(CURDIR)/build/nohooks/kernel

modules-nohooks: check-kver
ifneq ($(HAVE_KBUILD),)
	@mkdir -p $(NOHOOKS_DIR) && ln -sfn ../../include $(NOHOOKS_DIR)/../include && \
		ln -sfn ../../dkms.conf $(NOHOOKS_DIR)/../dkms.conf
	@for f in kernel/Kbuild $(filter-out %.mod.c,$(wildcard kernel/*.[ch])); do \
		cmp -s $$f $(NOHOOKS_DIR)/$${f#kernel/} || cp -p $$f $(NOHOOKS_DIR)/ || exit 1; \
	done
	$(MAKE) -C $(KDIR) M=$(NOHOOKS_DIR) MVSOCK_NOHOOKS=1 modules
endif

# Test-only kernel module(s) of the selftests, linked against kernel/.
kmod: modules
ifneq ($(HAVE_KMOD),)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/selftests/kmod \
		KBUILD_EXTRA_SYMBOLS=$(CURDIR)/kernel/Module.symvers modules
endif

user: ensure-deps
ifneq ($(HAVE_USER),)
	$(MAKE) -C selftests
endif

# BPF toolchain (static libbpf and bpftool from linux-source, vmlinux.h
# with kernel/mvsock.ko's BTF: bpf/toolchain.mk), bpf/ programs and the
# BPF selftests (selftests/bpf/). vmlinux.h needs the module: after modules.
bpf: modules
ifneq ($(HAVE_BPF),)
	$(MAKE) -C bpf KVER=$(KVER)
	$(MAKE) -C selftests/bpf KVER=$(KVER)
endif

# vsocktop and vsockctl (tools/*/Makefile: the BPF toolchain of bpf/, static)
tools: bpf
	$(MAKE) -C tools/vsocktop KVER=$(KVER)
	$(MAKE) -C tools/vsockctl KVER=$(KVER)
.PHONY: tools

install: modules tools
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KVER=$(KVER) scripts/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KVER=$(KVER) scripts/install.sh uninstall

deb: ensure-deps
	scripts/mkdeb.sh

check: all
	KVER=$(KVER) selftests/run-check.sh

# the whole system: host VM with our vhost driver, nested guest with three
# virtio-vsock devices; demo-local: one VM with the loopback transport
demo: all
	KVER=$(KVER) scripts/demo-nested.sh

demo-local: all
	KVER=$(KVER) scripts/demo.sh

bench: all
	KVER=$(KVER) scripts/bench.sh

perf-demo: all
	KVER=$(KVER) scripts/perf-demo.sh

clean:
ifneq ($(HAVE_KBUILD),)
	-@test ! -d "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR)/kernel clean
endif
ifneq ($(HAVE_KMOD),)
	-@test ! -d "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR)/selftests/kmod clean
endif
ifneq ($(HAVE_USER),)
	-$(MAKE) -C selftests clean
endif
	-$(MAKE) -C tools/vsocktop clean
	-$(MAKE) -C tools/vsockctl clean
	rm -rf build
