# SPDX-License-Identifier: LGPL-2.1-or-later
# Entry points for newcomers and CI. Run as root on Debian 12:
#   make run     install what is needed, build, start uniserverd in the foreground on this host
#                (RUNTIME_DIR=DIR for the sockets; default /run/uniserver as root, else build/run)
#   make check   install what is needed, build, run the whole test suite
#   make deps    install the Debian packages building and running need (idempotent, quick when present)
#   make deps-test  and those the tests, benchmarks and fuzzers use (make check installs them)
#   make         build into build/ (programs in build/bin/)
#   make asan    the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench   the benchmarks under bench/ (figures as ratios against the floor and peers)
#   make golden  regenerate tests/golden/ from tests/fixtures/ (review the diff!)
#   make deb     the Debian packages from this tree into build-deb/ (dpkg-buildpackage -b; lintian)
#   make deb-test  make deb, then install, upgrade and purge the packages in a debootstrap chroot (~5 min)
#   make format  format the C sources with the tree's .clang-format (the 'format' test checks it)
#   make mutate  apply each mutation of tests/mutations.txt to a copy of the tree; its tests must catch it
#   make fuzz    fuzz uniserverd's RPC decoder and dispatcher, its HTTP request parser and the QMP reader with libFuzzer (FUZZ_SECONDS, default 30)
#   make demo    the control loop on the simulated X-Gene2 board (uni-simboard; root, /dev/fuse)

# What building and running need (make deps; make run installs only these). libgnutls28-dev for
# GnuTLS' headers only (the library is loaded when TLS is used); libcmocka-dev because meson
# configures the unit tests with the build; curl for the README's tour of /metrics.
DEBS := meson ninja-build pkg-config gcc binutils libc6-dev libcmocka-dev python3 python3-dev libtirpc-dev \
        libgnutls28-dev libuv1-dev zlib1g-dev libfuse3-dev fuse3 libjson-c-dev libvirt-dev libncurses-dev \
        libsqlite3-dev libcrypt-dev curl
# What the tests, the benchmarks and the fuzzers start or check with (make deps-test; make check,
# asan, bench and fuzz install these too): real peers and components, never mocks. stress-ng is
# uni-stresslog's workload on real hosts, gnuplot draws its report, whois has mkpasswd (the
# /metrics password hashes).
DEBS_TEST := gnutls-bin clang libclang-rt-14-dev clang-format bash-completion tmux prometheus \
        prometheus-node-exporter python3-prometheus-client collectd-core python3-pytest python3-ceilometer \
        python3-gnocchi gnocchi-common uwsgi-core uwsgi-plugin-python3 postgresql libvirt-clients libvirt-daemon \
        libvirt-daemon-driver-qemu qemu-system-x86 stress-ng gnuplot-nox whois python3-placement python3-nova python3-keystoneauth1
BUILD ?= build
MESON_OPTS ?= -Dwerror=true

FUZZ_SECONDS ?= 30

.PHONY: all build deps deps-test check run asan bench golden format deb deb-test fuzz demo mutate clean evaluate

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

deps-test: deps
	@$(MAKE) --no-print-directory deps DEBS="$(DEBS_TEST)"

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps-test
	$(MAKE) build
	tests/run-suite $(BUILD)

run: deps
	$(MAKE) build
	@rt="$(RUNTIME_DIR)"; [ -n "$$rt" ] || { [ "$$(id -u)" = 0 ] && rt=/run/uniserver || rt="$(CURDIR)/$(BUILD)/run"; }; \
	if [ "$$rt" = /run/uniserver ]; then u=uniserver+unix:///system; uro=uniserver+unix:///ro; \
	else u="uniserver+unix:///system?socket=$$rt/uniserver-sock"; uro="uniserver+unix:///ro?socket=$$rt/uniserver-sock-ro"; fi; \
	echo "This host's record over a 1 s window:"; $(BUILD)/bin/unish nodestats --window 1000 --select cpu,mem,contention,freq,temp,power; \
	mkdir -p "$$rt"; if [ "$$rt" = /run/uniserver ]; then db=/var/lib/uniserver/healthlog.db; mkdir -p /var/lib/uniserver; \
	else db="$$rt/healthlog.db"; fi; \
	echo; echo "Starting uni-healthd (HealthLog $$db) and uniserverd in the foreground (Ctrl-C stops both). From another terminal:"; \
	echo "  $(BUILD)/bin/unish -c '$$u' nodestats          # read-write socket"; \
	echo "  $(BUILD)/bin/unish -c '$$uro' hostcpustats     # read-only socket"; \
	echo "  $(BUILD)/bin/unish -c '$$uro' healthlog --summary   # uni-healthd's HealthLog"; echo; \
	$(BUILD)/bin/uni-healthd -f --db "$$db" & hd=$$!; trap 'kill $$hd 2>/dev/null; wait $$hd' EXIT INT TERM; \
	$(BUILD)/bin/uniserverd -f --runtime-dir "$$rt" --uri "uniserver:///system?healthlog=$$db"

build-asan/build.ninja:
	meson setup build-asan $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps-test build-asan/build.ninja
	ninja -C build-asan
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 tests/run-suite build-asan

bench: deps-test
	$(MAKE) build
	bench/run $(CURDIR)/$(BUILD)
	$(BUILD)/bench/bench-vms

# uni-allocd against all-nominal, reliability-blind and an oracle on the simulated board, a day per
# seed (a few minutes; docs/allocator-evaluation.md). Not part of the suite: it is a measurement.
evaluate: build
	bench/allocd-evaluate --build $(CURDIR)/$(BUILD) --out $(CURDIR)/docs

golden: build
	tests/regen-golden $(BUILD)

# The packages' build tools (debhelper, dh-python) and lintian, only for make deb.
DEB_TOOLS := debhelper dh-python lintian dpkg-dev

deb: deps
	@$(MAKE) --no-print-directory deps DEBS="$(DEB_TOOLS)"
	rm -rf build-deb && mkdir -p build-deb/uniserver-0.1.0
	tar --exclude-vcs --exclude='./build*' --exclude='./fuzz/crash-*' -cf - . | tar -xf - -C build-deb/uniserver-0.1.0
	cd build-deb/uniserver-0.1.0 && dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning --suppress-tags-from-file debian/lintian-explained build-deb/*.changes
	@ls -1 build-deb/*.deb

deb-test: deb
	@$(MAKE) --no-print-directory deps DEBS="debootstrap"
	tests/deb-install-test build-deb

format:
	git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/' | xargs clang-format -i

mutate: deps-test
	tests/mutate

fuzz: deps-test
	fuzz/run $(FUZZ_SECONDS)

demo: deps
	$(MAKE) build
	demo/simboard-demo $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb
