# swctr — make build | install | demo | test | test-vm | bench | lint | clean
# `make demo` and `make test` prepare the host themselves (scripts/setup-test-host.sh): as root they
# install packages, create the unprivileged user swctr-test and start the loopback registries; as
# an ordinary user they do what they can and say what needs root.
SHELL := /bin/bash
PREFIX ?= /usr/local
SWIFT ?= swift
BINARY := .build/release/swctr

.PHONY: build install demo test test-vm unit-test integration-test setup bench lint clean

# swift-argument-parser too gets generic metadata through accessors rather than by demangling
# names at run time (Package.swift sets this for our own targets; see there).
METADATA_ACCESSORS := -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors

# --disable-local-rpath: the binary needs no library beside it, and with $ORIGIN in its run path
# the loader looked for each of its shared libraries there first (26 failed calls at each start).
build:
	$(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath --product swctr $(METADATA_ACCESSORS)
	@ls -l $(BINARY)

install: build
	install -D -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/swctr

# The env file setup-test-host.sh writes (its path is its last line of output).
setup:
	@bash scripts/setup-test-host.sh | tail -n 1 > .build/test-env-path

# Copies the binary where the unprivileged test user can run it; prints the env for tests.
define test_env
	env_file=$$(cat .build/test-env-path) && set -a && source "$$env_file" && set +a && \
	state=$$(dirname "$$env_file") && mkdir -p "$$state/bin" && install -m 0755 $(BINARY) "$$state/bin/swctr" && \
	export SWCTR_BIN="$$state/bin/swctr"
endef

demo: .build-dir build setup
	@$(test_env) && R=$$SWCTR_TEST_REGISTRY && \
	as_user() { if [ "$$(id -u)" = 0 ]; then runuser -u "$$SWCTR_TEST_USER" -- env -i HOME="$$(getent passwd "$$SWCTR_TEST_USER" | cut -d: -f6)" PATH=/usr/bin:/bin "$$@"; else "$$@"; fi; } && \
	echo "+ swctr pull $$R/test/busybox   (as $$SWCTR_TEST_USER)" && as_user "$$SWCTR_BIN" pull "$$R/test/busybox" && \
	echo "+ swctr images" && as_user "$$SWCTR_BIN" images && \
	echo "+ swctr run --rm $$R/test/busybox sh -c 'echo hello from a rootless container; id; cat /proc/self/uid_map'" && \
	as_user "$$SWCTR_BIN" run --rm "$$R/test/busybox" sh -c 'echo hello from a rootless container; id; cat /proc/self/uid_map'

test: .build-dir build setup
	@$(test_env) && $(SWIFT) build --build-tests && $(SWIFT) test --skip-build --disable-swift-testing

# cgroup v2 limits, OOM, freezer, stats in a User-mode Linux guest (this kind of host has hybrid
# cgroups); builds the guest image once as root. Bounded by VM_TIMEOUT (default 900 s).
test-vm: build
	bash scripts/test-vm.sh $(BINARY)

unit-test:
	$(SWIFT) test --skip IntegrationTests --disable-swift-testing

bench: .build-dir build
	@mkdir -p /var/tmp/swctr-bench-bin && install -m 0755 $(BINARY) /var/tmp/swctr-bench-bin/swctr
	bash scripts/bench-start.sh /var/tmp/swctr-bench-bin/swctr
	bash scripts/bench-lifecycle.sh /var/tmp/swctr-bench-bin/swctr
	bash scripts/bench-net.sh /var/tmp/swctr-bench-bin/swctr
	bash scripts/bench-pull.sh /var/tmp/swctr-bench-bin/swctr
	bash scripts/bench-storage.sh /var/tmp/swctr-bench-bin/swctr

lint:
	$(SWIFT) format lint --recursive --configuration .swift-format Sources Tests Package.swift

.build-dir:
	@mkdir -p .build

clean:
	rm -rf .build
