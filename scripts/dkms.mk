# SPDX-License-Identifier: GPL-2.0
#
# DKMS's build command (dkms.conf: MAKE[0], run in DKMS's copy of the
# sources): the modules for KVER against KDIR (DKMS's kernel_source_dir),
# the host driver too when scripts/ksrc.sh finds the series' linux-source
# tarball for the vhost core's header.
KSRC := $(shell KVER=$(KVER) scripts/ksrc.sh 2>/dev/null)

all:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel MVSOCK_KSRC=$(KSRC) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel clean

.PHONY: all clean
