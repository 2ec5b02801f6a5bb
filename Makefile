# hakmem: a NUMA- and hugepage-aware malloc for Linux.
#
#   make                 libhakmem.so and libhakmem.a (plus tests and tools)
#   make check           build and run the whole test suite
#   make bench           the side-by-side benchmark (BENCH_ARGS=--quick)
#   make V=1             show full commands
#   make O=dir           build out of tree
#   make CONFIG_STATS=n  compile the statistics counters out
#   make CONFIG_PCPU_RSEQ=n  the generic (locked) per-CPU front end only
#   make clean

VERSION := 0.1.0

srctree := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ifneq ($(O),)
  objtree := $(abspath $(O))
else
  objtree := $(srctree)
endif
export srctree objtree

include $(srctree)/scripts/Kbuild.include

ARCH ?= x86_64
CONFIG_STATS ?= y
CONFIG_PCPU_RSEQ ?= y

CC ?= cc
AR ?= ar
ifeq ($(origin CC),default)
  CC := gcc
endif

# Per-directory object lists.
obj-y :=
os-y :=
api-y :=
include $(srctree)/mm/Makefile
mm-core := $(addprefix mm/,$(obj-y))
mm-os := $(addprefix mm/,$(os-y))
mm-api := $(addprefix mm/,$(api-y))
arch-obj-y :=
include $(srctree)/arch/$(ARCH)/Makefile
arch-objs := $(addprefix arch/$(ARCH)/,$(arch-obj-y))

lib-objs := $(addprefix $(objtree)/,$(mm-core) $(mm-os) $(mm-api) $(arch-objs))
core-objs := $(addprefix $(objtree)/,$(mm-core) $(arch-objs))

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wpointer-arith -Wvla
HM_CPPFLAGS := -I$(srctree)/include -I$(srctree)/arch/$(ARCH)/include \
	-D_GNU_SOURCE -DHAKMEM_VERSION='"$(VERSION)"'
ifeq ($(CONFIG_STATS),y)
  HM_CPPFLAGS += -DCONFIG_STATS
endif
ifeq ($(CONFIG_PCPU_RSEQ),y)
  HM_CPPFLAGS += -DCONFIG_PCPU_RSEQ
endif
HM_CFLAGS := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -fno-plt \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
	-fno-builtin-free -fno-stack-protector -fno-semantic-interposition \
	$(WARN) $(EXTRA_CFLAGS)
HM_LDFLAGS := -shared -Wl,-z,now -Wl,-z,relro -Wl,--no-undefined

# Everything below is rebuilt when these change.
flags-stamp := $(objtree)/.build-flags
$(call flags-file,$(flags-stamp),$(CC) $(HM_CPPFLAGS) $(HM_CFLAGS) $(HM_LDFLAGS))

quiet_cmd_cc = CC      $(patsubst $(objtree)/%,%,$@)
      cmd_cc = $(CC) $(HM_CPPFLAGS) $(HM_CFLAGS) -MMD -MP -c -o $@ $<
quiet_cmd_as = AS      $(patsubst $(objtree)/%,%,$@)
      cmd_as = $(CC) $(HM_CPPFLAGS) -D__ASSEMBLER__ -g -c -MMD -MP -o $@ $<
quiet_cmd_so = LD      $(patsubst $(objtree)/%,%,$@)
      cmd_so = $(CC) $(HM_LDFLAGS) -o $@ $(lib-objs) -lpthread
quiet_cmd_ar = AR      $(patsubst $(objtree)/%,%,$@)
      cmd_ar = rm -f $@ && $(AR) rcs $@ $(lib-objs)

.PHONY: all lib tests check bench clean install tools
all: lib tests tools

lib: $(objtree)/libhakmem.so $(objtree)/libhakmem.a

$(objtree)/%.o: $(srctree)/%.c $(flags-stamp)
	@mkdir -p $(dir $@)
	$(call cmd,cc)

$(objtree)/%.o: $(srctree)/%.S $(flags-stamp)
	@mkdir -p $(dir $@)
	$(call cmd,as)

$(objtree)/libhakmem.so: $(lib-objs) $(flags-stamp)
	$(call cmd,so)

$(objtree)/libhakmem.a: $(lib-objs) $(flags-stamp)
	$(call cmd,ar)

-include $(lib-objs:.o=.d)

include $(srctree)/tools/Makefile.tools

clean:
	$(Q)rm -f $(lib-objs) $(lib-objs:.o=.d) $(objtree)/libhakmem.so $(objtree)/libhakmem.a \
		$(flags-stamp) $(clean-files)
	$(Q)rm -rf $(clean-dirs)
