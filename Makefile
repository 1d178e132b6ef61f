# operando — `make demo` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
SWIFT ?= swift
# Debian packages the build, the tests and the reports need (C libraries through systemLibrary shims).
DEB_PACKAGES := libsuitesparse-dev libgpiod-dev gpiod libcairo2-dev libpango1.0-dev libtiff-dev \
                poppler-utils rt-tests pkg-config chromium
RELEASE := -c release
TESTFLAGS := -c release -Xswiftc -enable-testing

.PHONY: deps build test bench demo clean

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
