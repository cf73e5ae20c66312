# SPDX-License-Identifier: GPL-2.0
#
# The build of one tool of tools/, included by tools/NAME/Makefile once it
# has set TOOL (NAME), SRCS (its .c files) and TOOL_LIBS (libraries beyond
# libbpf's). The top-level `make` runs it after the BPF toolchain of
# bpf/toolchain.mk. Builds
#   NAME.bpf.c -> build/tools/obj/NAME/NAME.{bpf.o,skel.h}
#   $(SRCS)    -> build/tools/NAME, linked statically (libbpf, libelf,
#                 zlib, $(TOOL_LIBS)) so that it runs on any machine with
#                 the modules, including the nested test guests
#                 (TOOLS_LINK=dynamic: see bpf/toolchain.mk).

include $(dir $(abspath $(lastword $(MAKEFILE_LIST))))../../bpf/toolchain.mk
.DEFAULT_GOAL := all

SRC := $(MVSOCK_ROOT)/tools/$(TOOL)
OUT := $(MVSOCK_ROOT)/build/tools
OBJ := $(OUT)/obj/$(TOOL)
OBJS := $(addprefix $(OBJ)/,$(SRCS:.c=.o))
LDLIBS := $(LIBBPF_A) -lelf -lz $(TOOL_LIBS)

.PHONY: all clean
all: bpf-toolchain $(OUT)/$(TOOL)

$(OBJ) $(OUT):
	$(Q)mkdir -p $@

$(eval $(call BPF_PROG_RULES,$(SRC),$(OBJ)))

$(OBJ)/%.o: $(SRC)/%.c $(OBJ)/$(TOOL).skel.h $(LIBBPF_A) | $(OBJ)
	$(call bpf_msg,CC,$@)
	$(Q)$(CC) $(BPF_APP_CFLAGS) -I$(OBJ) -MMD -MP -c $< -o $@

-include $(wildcard $(OBJ)/*.d)

$(OUT)/$(TOOL): $(OBJS) $(LIBBPF_A) | $(OUT)
	$(call bpf_msg,LINK,$@)
	$(Q)$(CC) $(TOOLS_LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

clean:
	rm -rf $(OUT)/$(TOOL) $(OBJ)
