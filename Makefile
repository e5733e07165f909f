# SPDX-License-Identifier: LGPL-2.1-or-later
# Entry points for newcomers and CI. Run as root on Debian 12:
#   make run     install what is needed, build, print this host's record over a 1 s window
#   make check   install what is needed, build, run the whole test suite
#   make deps    install the Debian packages (idempotent, quick when present)
#   make         build into build/ (programs in build/bin/)
#   make asan    the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench   the benchmarks under bench/ (figures as ratios against the floor and peers)
#   make golden  regenerate tests/golden/ from tests/fixtures/ (review the diff!)

DEBS := meson ninja-build pkg-config gcc binutils libc6-dev libcmocka-dev python3 \
	libjson-c-dev libuv1-dev libvirt-dev libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu \
	qemu-system-x86 libncurses-dev tmux
BUILD ?= build
MESON_OPTS ?= -Dwerror=true

.PHONY: all build deps check run asan bench golden clean

all: build

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps
	$(MAKE) build
	tests/run-suite $(BUILD)

run: deps
	$(MAKE) build
	$(BUILD)/bin/unish nodestats --window 1000

build-asan/build.ninja:
	meson setup build-asan $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps build-asan/build.ninja
	ninja -C build-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 tests/run-suite build-asan

bench: deps
	$(MAKE) build
	$(BUILD)/bench/bench-nodestats
	$(BUILD)/bench/bench-vms

golden: build
	tests/regen-golden $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
