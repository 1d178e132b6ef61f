# operando — `make demo` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
SWIFT ?= swift
# Debian packages the build, the tests and the reports need (C libraries through systemLibrary shims).
DEB_PACKAGES := libsuitesparse-dev libgpiod-dev gpiod libcairo2-dev libpango1.0-dev libtiff-dev \
                poppler-utils rt-tests pkg-config
RELEASE := -c release
TESTFLAGS := -c release -Xswiftc -enable-testing

.PHONY: deps build test bench demo clean fuzz fuzz-libfuzzer

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

## build: release build of the operando tool
build: deps
	$(SWIFT) build $(RELEASE)

## test: build optimised with testing enabled and run every test (physics tests are slow in debug)
test: deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build

## bench: release-build benchmarks; prints figures
bench: deps
	$(SWIFT) build $(RELEASE) --product Benchmarks
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/Benchmarks

## demo: a simulated run end to end, report under reports/
demo: build
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/operando demo --out reports/demo

clean:
	rm -rf .build reports/demo

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
