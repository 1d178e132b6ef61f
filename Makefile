# operando — `make demo` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
# SwiftPM through tools/swift: builds keep the compiler's temporary files in .build/tmp, and what SwiftPM
# leaves in /tmp (empty folders, this checkout's lock files) is removed.
SWIFT ?= $(CURDIR)/tools/swift
# Debian packages the build, the tests and the reports need (C libraries through systemLibrary shims).
DEB_PACKAGES := libsuitesparse-dev libgpiod-dev gpiod libcairo2-dev libpango1.0-dev libtiff-dev libdeflate-dev \
                poppler-utils rt-tests pkg-config libaravis-dev libusb-1.0-0-dev aravis-tools chromium \
                python3-tifffile
RELEASE := -c release
# libgpiod v2 (2.1.3, bookworm-backports) for the v2 GPIO backend's tests, unpacked beside the system's
# v1 and never installed (docs/hardware-gpio.md). The v2 backend dlopens it through OPERANDO_LIBGPIOD_V2.
LIBGPIOD2_VERSION := 2.1.3-1~bpo12+1
LIBGPIOD2_DIR := $(CURDIR)/.deps/libgpiod2
LIBGPIOD2_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo $$(uname -m)-linux-gnu)
export OPERANDO_LIBGPIOD_V2 ?= $(LIBGPIOD2_DIR)/usr/lib/$(LIBGPIOD2_MULTIARCH)/libgpiod.so.3
# The libgpiod the build compiles against (Package.swift picks the v1 or v2 backend from it).
export OPERANDO_LIBGPIOD_VERSION ?= $(shell pkg-config --modversion libgpiod 2>/dev/null)
TESTFLAGS := -c release -Xswiftc -enable-testing

.PHONY: deps deps-libgpiod2 build test test-fast bench bench-solver bench-reference bench-reference-env bench-coverage profile-solver demo clean fuzz fuzz-libfuzzer

## deps: install the Debian packages that are missing (idempotent; quiet when nothing is missing)
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q --no-install-recommends $$missing >/dev/null \
	    || { echo "make deps: apt-get failed to install:$$missing" >&2; exit 1; }; \
	fi
	@$(MAKE) -s deps-libgpiod2

## deps-libgpiod2: download libgpiod v2's .debs from bookworm-backports with a private apt configuration
## (its own sources list, lists and cache under .deps/apt, on the same mirror as the system's bookworm
## source; /etc/apt is not touched) and unpack them
## into .deps/libgpiod2 (dpkg-deb -x, not installed). Skipped where the system's libgpiod is already 2.x.
deps-libgpiod2:
	@if [ -e "$(OPERANDO_LIBGPIOD_V2)" ]; then exit 0; fi; \
	case "$$(pkg-config --modversion libgpiod 2>/dev/null)" in 2.*) exit 0;; esac; \
	set -e; apt=$(CURDIR)/.deps/apt; rm -rf "$$apt" "$(LIBGPIOD2_DIR)"; \
	mkdir -p "$$apt/lists/partial" "$$apt/cache/archives/partial" "$$apt/debs" "$(LIBGPIOD2_DIR)"; \
	uri=$$(apt-get indextargets --format '$$(REPO_URI) $$(RELEASE)' 2>/dev/null | awk '$$2 == "bookworm" { print $$1; exit }'); \
	[ -n "$$uri" ] || { echo "make deps: no Debian bookworm source in /etc/apt to take bookworm-backports from (run apt-get update?)" >&2; exit 1; }; \
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $$uri bookworm-backports main" > "$$apt/sources.list"; \
	opts="-o Dir::Etc::SourceList=$$apt/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$$apt/lists -o Dir::Cache=$$apt/cache -o APT::Sandbox::User=root"; \
	echo "make deps: fetching libgpiod $(LIBGPIOD2_VERSION) (bookworm-backports) into .deps/libgpiod2"; \
	apt-get $$opts -q update >/dev/null || { echo "make deps: apt-get update of bookworm-backports failed" >&2; exit 1; }; \
	( cd "$$apt/debs" && apt-get $$opts -q download libgpiod3=$(LIBGPIOD2_VERSION) libgpiod-dev=$(LIBGPIOD2_VERSION) >/dev/null ) \
	  || { echo "make deps: apt-get download of libgpiod $(LIBGPIOD2_VERSION) failed" >&2; exit 1; }; \
	for f in "$$apt"/debs/*.deb; do dpkg-deb -x "$$f" "$(LIBGPIOD2_DIR)"; done; \
	test -e "$(OPERANDO_LIBGPIOD_V2)" || { echo "make deps: $(OPERANDO_LIBGPIOD_V2) missing after unpacking" >&2; exit 1; }

## build: release build of the operando tool
build: deps
	$(SWIFT) build $(RELEASE)

## test: build optimised with testing enabled and run every test (physics tests are slow in debug)
# The live view's server tests run on their own, one at a time: an async server needs the cooperative pool
# (two threads on a 2-core machine), which the long synchronous simulation tests would hold.
test: deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build --skip 'LiveViewTests\.'
	$(SWIFT) test $(TESTFLAGS) --skip-build --no-parallel --filter 'LiveViewTests\.'

## test-fast: the unit tier only (no whole simulated runs, calibrations, child processes, real-time or
## browser tests); same optimised build as `make test`
FAST_SKIP := --skip 'CalibrationTests\.' --skip 'EndToEndTests\.' --skip 'CameraDriverTests\.' --skip 'RigDriversTests\.' \
             --skip 'ProcessSafetyTests' --skip 'TwinRunTests' --skip 'Example' --skip 'WallClock|wallClock|realClock|RealClock' \
             --skip 'sigterm|killNine|Browser|browser|Fuzz|fuzz|LiveView'
test-fast: deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build $(FAST_SKIP)

## bench: release-build benchmarks; prints figures. With OPERANDO_BENCH_REFERENCE=1 (or `make bench-reference`)
## the solver rows run the scikit-fem reference beside operando (its venv is made first, if missing).
bench: deps
	@if [ "$$OPERANDO_BENCH_REFERENCE" = 1 ]; then $(MAKE) -s bench-reference-env; fi
	$(SWIFT) build $(RELEASE) --product Benchmarks
	OPERANDO_PYREF=$(PYREF) $$($(SWIFT) build $(RELEASE) --show-bin-path)/Benchmarks

## bench-solver: issue 17's solver rows only (small build: ParticleModel and its benchmark)
bench-solver: deps
	@if [ "$$OPERANDO_BENCH_REFERENCE" = 1 ]; then $(MAKE) -s bench-reference-env; fi
	$(SWIFT) build $(RELEASE) --product SolverBench
	OPERANDO_PYREF=$(PYREF) $$($(SWIFT) build $(RELEASE) --show-bin-path)/SolverBench

## bench-reference: `make bench` with the independent scikit-fem P1 solver beside operando's solver rows
bench-reference: bench-reference-env
	OPERANDO_BENCH_REFERENCE=1 $(MAKE) bench

## bench-reference-env: the reference's Python venv under .deps/pyref (python3 -m venv; pip install
## scikit-fem numpy scipy from the package index). Only when asked: scikit-fem is not a test dependency.
PYREF := $(CURDIR)/.deps/pyref
bench-reference-env:
	@if ! $(PYREF)/bin/python -c "import skfem, numpy, scipy" 2>/dev/null; then \
	  echo "make bench: creating the scikit-fem reference's venv in .deps/pyref"; \
	  python3 -m venv $(PYREF) && $(PYREF)/bin/pip install -q scikit-fem numpy scipy \
	    || { echo "make bench: could not install scikit-fem into .deps/pyref (the rows will say: reference not available)" >&2; exit 0; }; \
	fi

## bench-coverage: issue 16's coverage of the calibration's 68 % interval over 10 firmware-sim noise seeds (release; long)
bench-coverage: deps
	$(SWIFT) build $(RELEASE) --product Benchmarks
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/Benchmarks calibration-coverage 10

## profile-solver: callgrind instruction counts of the C/3 60 min solver case (repeatable on a loaded machine)
profile-solver: deps
	@command -v valgrind >/dev/null || { echo "make profile-solver: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
	$(SWIFT) build $(RELEASE) --product SolverBench
	valgrind --tool=callgrind --callgrind-out-file=.build/callgrind.solver.out $$($(SWIFT) build $(RELEASE) --show-bin-path)/SolverBench profile-c3
	callgrind_annotate .build/callgrind.solver.out | head -30

## demo: a simulated run end to end, report under reports/
demo: build
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/operando demo --out reports/demo

clean:
	rm -rf .build reports/demo .deps

## fuzz: deterministic mutation campaign on every reader of user input (FUZZ_SECONDS per target, FUZZ_SEED)
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
fuzz:
	$(SWIFT) build $(RELEASE) --product Fuzz
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/Fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) --corpus fuzz/corpus

## fuzz-libfuzzer: coverage-guided libFuzzer (with AddressSanitizer) on FUZZ_TARGET (protocol, toml, step, params, sim)
FUZZ_TARGET ?= protocol
LIBFUZZER_FLAGS := -Xswiftc -DLIBFUZZER -Xswiftc -sanitize=address \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
  -Xlinker $$(dirname $$(dirname $$(readlink -f $$(command -v swiftc))))/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a -Xlinker -lstdc++
fuzz-libfuzzer:
	$(SWIFT) build -c debug --scratch-path .build-libfuzzer --product Fuzz $(LIBFUZZER_FLAGS)
	mkdir -p .build-libfuzzer/corpus-$(FUZZ_TARGET) && cp -n fuzz/corpus/$(FUZZ_TARGET)/* .build-libfuzzer/corpus-$(FUZZ_TARGET)/ || true
	FUZZ_TARGET=$(FUZZ_TARGET) .build-libfuzzer/debug/Fuzz .build-libfuzzer/corpus-$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=.build-libfuzzer/
