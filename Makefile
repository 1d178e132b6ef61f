# operando — `make demo` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
SWIFT ?= swift
# Debian packages the build, the tests and the reports need (C libraries through systemLibrary shims).
DEB_PACKAGES := libsuitesparse-dev libgpiod-dev gpiod libcairo2-dev libpango1.0-dev libtiff-dev \
                poppler-utils rt-tests pkg-config
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

.PHONY: deps deps-libgpiod2 build test bench demo clean

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
	rm -rf .build reports/demo .deps
