# SPDX-License-Identifier: LGPL-2.1-or-later
# Entry points for newcomers and CI. Run as root on Debian 12:
#   make run     install what is needed, build, start uniserverd in the foreground on this host
#                (RUNTIME_DIR=DIR for the sockets; default /run/uniserver as root, else build/run)
#   make check   install what is needed, build, run the whole test suite
#   make deps    install the Debian packages (idempotent, quick when present)
#   make         build into build/ (programs in build/bin/)
#   make asan    the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench   the benchmarks under bench/ (figures as ratios against the floor and peers)
#   make golden  regenerate tests/golden/ from tests/fixtures/ (review the diff!)
#   make format  format the C sources with the tree's .clang-format (the 'format' test checks it)
#   make mutate  apply each mutation of tests/mutations.txt to a copy of the tree; its tests must catch it
#   make fuzz    fuzz uniserverd's RPC decoder and dispatcher, its HTTP request parser and the QMP reader with libFuzzer (FUZZ_SECONDS, default 30)
#   make demo    the control loop on the simulated X-Gene2 board (uni-simboard; root, /dev/fuse)

# libgnutls28-dev for GnuTLS' headers only (the library is loaded when TLS is used); /metrics has
# its own HTTP server, so libmicrohttpd-dev is no longer needed.
DEBS := meson ninja-build pkg-config gcc binutils libc6-dev libcmocka-dev python3 libtirpc-dev libgnutls28-dev \
        gnutls-bin libuv1-dev clang libclang-rt-14-dev zlib1g-dev prometheus \
        prometheus-node-exporter python3-prometheus-client collectd-core python3-dev python3-pytest \
        python3-ceilometer python3-gnocchi gnocchi-common uwsgi-core uwsgi-plugin-python3 postgresql \
        libfuse3-dev fuse3 libjson-c-dev libvirt-dev libvirt-clients libvirt-daemon \
        libvirt-daemon-driver-qemu qemu-system-x86 libncurses-dev tmux libsqlite3-dev clang-format
BUILD ?= build
MESON_OPTS ?= -Dwerror=true

FUZZ_SECONDS ?= 30

.PHONY: all build deps check run asan bench golden format fuzz demo mutate clean

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
	@rt="$(RUNTIME_DIR)"; [ -n "$$rt" ] || { [ "$$(id -u)" = 0 ] && rt=/run/uniserver || rt="$(CURDIR)/$(BUILD)/run"; }; \
	if [ "$$rt" = /run/uniserver ]; then u=uniserver+unix:///system; uro=uniserver+unix:///ro; \
	else u="uniserver+unix:///system?socket=$$rt/uniserver-sock"; uro="uniserver+unix:///ro?socket=$$rt/uniserver-sock-ro"; fi; \
	echo "This host's record over a 1 s window:"; $(BUILD)/bin/unish nodestats --window 1000 --select cpu,mem,contention,freq,temp,power; \
	echo; echo "Starting uniserverd in the foreground (Ctrl-C stops it). From another terminal:"; \
	echo "  $(BUILD)/bin/unish -c '$$u' nodestats          # read-write socket"; \
	echo "  $(BUILD)/bin/unish -c '$$uro' hostcpustats     # read-only socket"; echo; \
	exec $(BUILD)/bin/uniserverd -f --runtime-dir "$$rt"

build-asan/build.ninja:
	meson setup build-asan $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps build-asan/build.ninja
	ninja -C build-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 tests/run-suite build-asan

bench: deps
	$(MAKE) build
	bench/run $(CURDIR)/$(BUILD)
	$(BUILD)/bench/bench-vms

golden: build
	tests/regen-golden $(BUILD)

format:
	git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/' | xargs clang-format -i

mutate: deps
	tests/mutate

fuzz: deps
	fuzz/run $(FUZZ_SECONDS)

demo: deps
	$(MAKE) build
	demo/simboard-demo $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
