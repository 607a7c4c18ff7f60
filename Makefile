# pmcfs: one non-recursive Makefile (btrfs-progs style).
#   make            build the library and the four tools into $(BUILD)/
#   make check      install missing packages, build, run every test
#   make demo       format, dump and check a default image file
#   make install    DESTDIR=... PREFIX=... (binaries in sbin, pages in man)
#   V=1             show full commands; SAN=1 build with ASan+UBSan

PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1)

ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     ?= -O1
else
BUILD   ?= build
OPT     ?= -O2
endif

# libndctl, libdaxctl and libpmem are dlopen'ed when a device needs them
# (lib/pmemlibs_priv.h): their headers are used, they are not linked.
PKGS    := blkid uuid libxxhash
PKGS_DLOPEN := libndctl libdaxctl libpmem
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_DLOPEN) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
CFLAGS  ?= $(OPT) -g
include Makefile.extrawarn
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Werror $(EXTRA_WARNINGS) -D_GNU_SOURCE \
	-DPMCFS_VERSION='"$(VERSION)"' -Ilib $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
LIBS    = $(PKG_LIBS) -lpthread -lm

ifneq ($(V),1)
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

lib_objects      := $(patsubst %.c,$(BUILD)/%.o,$(wildcard lib/*.c))
mkfs_objects     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard mkfs/*.c))
fsck_objects     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard fsck/*.c))
dump_objects     := $(patsubst %.c,$(BUILD)/%.o,$(wildcard dump/*.c))
reflink_objects  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard reflink-tool/*.c))
testlib_objects  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/lib/*.c))
unit_sources     := $(wildcard tests/unit/test_*.c)
unit_tests       := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(unit_sources))
tool_sources     := $(wildcard tests/tools/*.c)
tool_progs       := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(tool_sources))

LIBPMCFS := $(BUILD)/libpmcfs.a
TOOLS    := $(if $(mkfs_objects),$(BUILD)/mkfs.pmcfs) \
	    $(if $(fsck_objects),$(BUILD)/fsck.pmcfs) \
	    $(if $(dump_objects),$(BUILD)/pmcfs-dump) \
	    $(if $(reflink_objects),$(BUILD)/pmcfs-reflink)
MANPAGES := $(wildcard man/*.[58])

all: $(LIBPMCFS) $(TOOLS) $(unit_tests) $(tool_progs)

$(BUILD)/%.o: %.c $(wildcard lib/*.h) Makefile Makefile.extrawarn
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBPMCFS): $(lib_objects)
	$(call msg,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/mkfs.pmcfs: $(mkfs_objects) $(LIBPMCFS)
	$(call msg,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/fsck.pmcfs: $(fsck_objects) $(LIBPMCFS)
	$(call msg,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/pmcfs-dump: $(dump_objects) $(LIBPMCFS)
	$(call msg,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/pmcfs-reflink: $(reflink_objects) $(LIBPMCFS)
	$(call msg,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(testlib_objects) $(LIBPMCFS)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) -Itests/lib $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/tests/%: tests/tools/%.c $(testlib_objects) $(LIBPMCFS)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)$(CC) $(ALL_CFLAGS) -Itests/lib $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@scripts/install-deps.sh

# Every test, once in a normal build and once under ASan+UBSan.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=1 all
	@scripts/run-tests.sh $(BUILD) $(if $(filter 1,$(SAN)),,build-san)

check-quick: deps all
	@scripts/run-tests.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

install: $(TOOLS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(TOOLS) $(DESTDIR)$(SBINDIR)/
	for p in $(MANPAGES); do \
		s=$${p##*.}; \
		sed 's/@VERSION@/$(VERSION)/g' $$p > $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$p); \
	done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all deps check check-quick demo install clean
# Keep objects that only feed test programs (make would delete them as intermediates).
.SECONDARY:

# Real pmem namespaces in a QEMU guest with an emulated NVDIMM (tests/vm/).
check-pmem: deps
	@$(MAKE) --no-print-directory all
	@tests/vm/run-pmem-tests.sh $(BUILD)
.PHONY: check-pmem

# Long crash-consistency run (tests/README.md): every <=3-op workload on a
# larger op set plus random 1,000-op workloads; prints the counts.
crash-long: deps
	@$(MAKE) --no-print-directory all
	@scripts/crash-long.sh $(BUILD)
.PHONY: crash-long

# Coverage-guided fuzzing with AFL++ (tests/README.md): every target for
# FUZZ_SECONDS, then the counts (executions, crashes, hangs).
FUZZ_SECONDS ?= 60
# AFL++ only for this target: make check does not need it.
fuzz:
	@PMCFS_EXTRA_PKGS=afl++ scripts/install-deps.sh
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh
.PHONY: fuzz
