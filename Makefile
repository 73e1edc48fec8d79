# netimg: build, publish and run versioned OS images.
#
#   make run     install what is missing, build, build the example recipe
#   make check   install what is missing, build, run every test (TAP, prove)
#
# Development builds treat warnings as errors; `make RELEASE=1` does not.

CC ?= cc
PKGS := libarchive libsquashfs1 openssl jansson inih zlib libcurl libmicrohttpd fuse3
BUILD := build
ASAN_BUILD := build-asan

# Debian packages the build, the tests and the example need.
DEB_BUILD := gcc make pkg-config libarchive-dev libsquashfs-dev libssl-dev \
	libjansson-dev libinih-dev zlib1g-dev libcurl4-openssl-dev \
	libmicrohttpd-dev libfuse3-dev libzstd-dev liblzma-dev liblz4-dev \
	libbrotli-dev
DEB_TEST := perl squashfs-tools squashfs-tools-ng squashfuse debootstrap \
	busybox-static zstd xz-utils dpkg-dev fakeroot util-linux kmod \
	ca-certificates attr fuse3 libarchive-tools curl nginx-light \
	tinyproxy-bin qemu-system-x86 ipxe-qemu strace
DEB_BENCH := hyperfine time wrk casync

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(RELEASE),)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
# Sections per function: the static netimg-init keeps only what it calls.
CFLAGS += -std=gnu11 $(WARN) -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
	-ffunction-sections -fdata-sections
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS += $(PKG_LIBS) -pthread

SRCS := $(wildcard common/*.c builder/*.c images/*.c cache/*.c fusefs/*.c netboot/*.c)
CLI_SRCS := $(wildcard cli/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)

OBJS := $(SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
ASAN_OBJS := $(SRCS:%.c=$(ASAN_BUILD)/%.o) $(CLI_SRCS:%.c=$(ASAN_BUILD)/%.o)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -O1

.PHONY: all deps deps-test deps-fuzz fuzz run check check-only clean asan example unit

all: $(BUILD)/netimg $(BUILD)/netimg-init

# The netboot initramfs's init (netboot/init/), linked statically and
# stripped: the initramfs is downloaded by iPXE and unpacked by the kernel
# at every boot. Debian's dynamic libcurl needs 19 MB of libraries (gnutls,
# krb5, ldap, rtmp, ssh2...); the static one links what the init uses
# (http and https over OpenSSL, zstd, brotli, zlib) and
# netboot/init/unlinked.c stands in for the rest. Built without
# sanitizers, also for asan.
INIT_SRCS := $(wildcard netboot/init/*.c)
INIT_OBJS := $(INIT_SRCS:%.c=$(BUILD)/%.o)
INIT_LIBS := -lcurl -lssl -lcrypto -ljansson -lsquashfs -lzstd -llzma -llz4 -lz \
	-lbrotlidec -lbrotlicommon -pthread
$(BUILD)/netimg-init: $(INIT_OBJS) $(BUILD)/libnetimg.a
	$(CC) $(CFLAGS) -static -s -Wl,--gc-sections -o $@ $(INIT_OBJS) $(BUILD)/libnetimg.a $(INIT_LIBS)
$(ASAN_BUILD)/netimg-init: $(BUILD)/netimg-init
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(ASAN_BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libnetimg.a: $(OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/netimg: $(CLI_OBJS) $(BUILD)/libnetimg.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libnetimg.a $(LDLIBS)

$(ASAN_BUILD)/netimg: $(ASAN_OBJS)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit: $(UNIT_SRCS) $(BUILD)/libnetimg.a
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(PKG_CFLAGS) -o $@ $(UNIT_SRCS) $(SRCS) $(LDLIBS)

asan: $(ASAN_BUILD)/netimg $(ASAN_BUILD)/netimg-init
unit: $(BUILD)/unit

# Installs missing Debian packages (CI and fresh machines start clean).
deps:
	@scripts/apt-ensure $(DEB_BUILD)

deps-test: deps
	@scripts/apt-ensure $(DEB_TEST) $(DEB_BENCH)

# The example: a debootstrap minbase (cached) and newer Debian packages of
# packages in it as patches, then the build.
example: deps-test
	@$(MAKE) --no-print-directory all
	scripts/prepare-example

run: deps-test
	@$(MAKE) --no-print-directory all
	scripts/prepare-example
	$(BUILD)/netimg build recipes/baseline/recipe.ini

check: deps-test
	@$(MAKE) --no-print-directory all asan unit fuzz
	@$(MAKE) --no-print-directory check-only

# The whole suite runs against the ASan/UBSan build of the binary.
check-only:
	scripts/prepare-fixtures
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	NETIMG=$(CURDIR)/$(ASAN_BUILD)/netimg NETIMG_UNIT=$(CURDIR)/$(BUILD)/unit \
		prove -f tests/t/

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# libFuzzer targets for the parsers of untrusted input (tests/fuzz/).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -g -O1 -std=gnu11 -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
FUZZ_OBJS := $(SRCS:%.c=$(FUZZ_BUILD)/%.o)

# The library is compiled once, instrumented; each target only links.
$(FUZZ_BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
		-o $@ $< $(FUZZ_OBJS) $(LDLIBS)

fuzz: deps-fuzz $(FUZZ_BINS)

# Kept between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJS)

deps-fuzz:
	@scripts/apt-ensure clang libclang-rt-14-dev
