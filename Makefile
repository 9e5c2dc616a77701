# hadhcpd — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/hadhcpd/hadhcpd/agent.Version=$(VERSION)
BIN       := bin/hadhcpd
FUZZTIME  ?= 5s

# Debian packages the tests and benchmarks drive as real peers (and
# chromium for the status page's browser test, prometheus for promtool's
# check of the shipped alerting rules). Installed
# only when missing (apt-get is slow and needs the network), with a
# temporary policy-rc.d so Kea, ISC dhcpd and keepalived are not started as
# services on the machine: the tests run their own copies in namespaces.
TEST_PKGS := iproute2 iputils-ping nftables isc-dhcp-client isc-dhcp-relay isc-dhcp-server udhcpc busybox keepalived kea-dhcp4-server kea-admin tcpdump arping chromium prometheus

.PHONY: help
help: ## show this list
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the tests need (Debian packages only when missing, Go modules)
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "apt-get install$$missing"; \
			prc=""; if [ ! -e /usr/sbin/policy-rc.d ]; then prc=/usr/sbin/policy-rc.d; \
				printf '#!/bin/sh\n# hadhcpd make deps: the test peers are installed, never started as services\nexit 101\n' >$$prc; chmod 755 $$prc; fi; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; rc=$$?; \
			[ -z "$$prc" ] || rm -f $$prc; [ $$rc = 0 ] || exit $$rc; \
		else echo "not root: cannot install$$missing (root tests will skip)"; fi; \
	fi
	$(GO) mod download

.PHONY: build
build: ## build bin/hadhcpd
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hadhcpd

.PHONY: check
check: ## gofmt and go mod tidy checks
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

.PHONY: vet
vet: ## go vet and staticcheck (pinned as a go tool)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each
	@scripts/fuzz.sh $(FUZZTIME)

.PHONY: test
test: deps check vet ## everything CI runs: checks, vet, staticcheck, race tests (root tests need root), short fuzzing, package checks, systemd-test (root)
	$(GO) test -race -count=1 -timeout 15m ./...
	@scripts/fuzz.sh $(FUZZTIME)
	@scripts/package-test.sh --quick
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory systemd-test; else echo "systemd-test: skipped (needs root)"; fi

.PHONY: bench
bench: deps ## benchmarks (lease database; perfdhcp against hadhcpd and Kea: unpinned, then one core each)
	@scripts/bench-lease.sh
	@scripts/bench-dhcp.sh
	@PIN=1 scripts/bench-dhcp.sh

.PHONY: demo
demo: deps build ## the two-box lab in namespaces: leases, a box crash, the takeover, the return (root, < 60 s)
	@scripts/demo.sh

.PHONY: bench-classes
bench-classes: deps ## perfdhcp against one box: 20 classes and 10,000 reservations vs the plain config, DORA/s and ratio (target >= 0.9; root, a few minutes)
	@scripts/bench-classes.sh

.PHONY: bench-vrrp
bench-vrrp: deps ## VRRP takeover vs keepalived (table and ratio) and the no-flap run under CPU load; root
	@scripts/bench-vrrp.sh

.PHONY: bench-ha
bench-ha: deps build ## HA throughput: hadhcpd pair vs Kea 2.2 HA hot-standby vs one hadhcpd box (perfdhcp; unpinned, then the servers on one core and perfdhcp on the other; root; ~15 min)
	@scripts/bench-ha.sh
	@PIN=1 scripts/bench-ha.sh

.PHONY: bench-hub
bench-hub: deps build ## a hub backing three spokes (failover.relationships) under their replication at once vs one hot-standby pair: spokes' DORA/s, hub CPU per replicated lease, RSS per relationship at idle (perfdhcp; root; ~1 min; RATE, RUN_SECS)
	@scripts/bench-hub.sh

.PHONY: bench-lb
bench-lb: deps build ## load-balance throughput: hadhcpd pair in load-balance vs Kea 2.2 HA load-balancing vs the hadhcpd pair in hot-standby (perfdhcp broadcasting as a relay; unpinned, then pinned; root; ~15 min)
	@scripts/bench-lb.sh
	@PIN=1 scripts/bench-lb.sh

.PHONY: bench-failover
bench-failover: deps build ## failover vs Kea HA and ISC failover (+keepalived): first OFFER/ACK, lost exchanges, missing leases, renewals (root, ~5 min)
	@scripts/bench-failover.sh

.PHONY: rejoin
rejoin: deps ## the standby gives out 100,000 leases alone, the primary returns and catches up: catch-up time, DORA/s during it (root, ~2 min)
	HADHCPD_REJOIN_LEASES=100000 $(GO) test -count=1 -timeout 30m -run TestIntegrationFailoverRejoin -v ./e2e/

# make crashloop-lb LB_ROUNDS=10 LB_SEED=123: box loss of each box of a
# load-balancing pair in turn under load (LB_SEED replays the loss moments).
LB_ROUNDS ?= 10
LB_SEED   ?=
.PHONY: crashloop-lb
crashloop-lb: deps ## load-balance crash loop: box loss of the primary, then the secondary, LB_ROUNDS times each (default 10) under 200 new clients/s and renewals; service after the loss vs Master_Down_Interval + 100 ms, 0 lost, 0 duplicates, PARTNER-DOWN by itself; prints a table (root, ~3 min)
	HADHCPD_LB_ROUNDS=$(LB_ROUNDS) HADHCPD_LB_SEED=$(LB_SEED) $(GO) test -count=1 -timeout 30m -run 'TestLoadBalanceCrashLoop$$' -v ./e2e/

# make chaos N=100 SEED=123 MODE=load-balance: randomized faults under load
# against a pair (MODE: hot-standby, the default, or load-balance), then N
# disk faults (a full state_dir, a damaged journal) against another;
# make test runs a short version of the first (4 faults).
# make chaos RING=3: the same over a ring of three boxes (three
# relationships, a load client per segment; faults on a random box).
N    ?= 30
SEED ?=
RING ?=
MODE ?=
.PHONY: chaos
chaos: deps ## randomized faults under load against a pair (root): N faults (default 30), SEED=... replays a schedule, MODE=load-balance, RING=3 over a ring of three; prints a summary
ifeq ($(RING),)
	HADHCPD_CHAOS_N=$(N) HADHCPD_CHAOS_SEED=$(SEED) HADHCPD_CHAOS_MODE=$(MODE) $(GO) test -count=1 -timeout 120m -run TestIntegrationChaos -v ./e2e/
else ifeq ($(RING),3)
	HADHCPD_CHAOS_RING=3 HADHCPD_CHAOS_N=$(N) HADHCPD_CHAOS_SEED=$(SEED) $(GO) test -count=1 -timeout 180m -run 'TestIntegrationChaosRing$$' -v ./e2e/
else
	@echo "make chaos: RING=$(RING): only RING=3 (a ring of three) is built" >&2; exit 2
endif

# make ring ROUNDS=10 SEED=123: the ring of three's box losses under load
# (TestIntegrationRingOfThree; make test runs 3 rounds); prints a table.
ROUNDS ?= 10
.PHONY: ring
ring: deps ## ring of three: ROUNDS box losses (default 10: B, C, A in turn) at random moments under 200 new clients/s per segment, SEED=... replays; per-round table (root, ~1 min per 10 rounds)
	HADHCPD_RING_ROUNDS=$(ROUNDS) HADHCPD_RING_SEED=$(SEED) $(GO) test -count=1 -timeout 30m -run 'TestIntegrationRingOfThree$$' -v ./e2e/

# ---- packaging (packaging/, systemd/, scripts/package-*.sh) ----

.PHONY: deb
deb: ## build dist/hadhcpd_<version>-1_amd64.deb (nfpm, pinned as a go tool)
	@VERSION=$(VERSION) scripts/package-build.sh deb

.PHONY: rpm
rpm: ## build dist/hadhcpd-<version>-1.x86_64.rpm
	@VERSION=$(VERSION) scripts/package-build.sh rpm

.PHONY: package-test
package-test: ## packages: static checks, then install/upgrade/remove/purge the .deb in a debootstrapped Debian 12 (root, ~3-5 min)
	@scripts/package-test.sh

# What systemd-test needs on the host, installed only for it.
SYSTEMD_TEST_PKGS := systemd-container debootstrap

.PHONY: systemd-test
systemd-test: ## the .deb under a real systemd: Debian 12 booted in systemd-nspawn; start after READY, reload, watchdog restart, stop cleans up, journal fields (root; ~20 s, ~1 min the first time: debootstrap, cached in /var/cache/hadhcpd-systemd-test)
	@missing=""; for p in $(SYSTEMD_TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "apt-get install$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		else echo "systemd-test: not root: cannot install$$missing"; exit 1; fi; \
	fi
	@VERSION=$(VERSION) scripts/systemd-test.sh

.PHONY: package-test-quick
package-test-quick: ## packages: static checks only (unit, config, man page, .deb/.rpm contents; < 1 min)
	@scripts/package-test.sh --quick

# ---- appliance image (packaging/image/, scripts/image-*.sh) ----

.PHONY: image
image: ## build dist/image/{vmlinuz,initrd.img,lab.cpio.gz}: Debian's kernel + busybox + static hadhcpd (apt-get download only); prints the size
	@VERSION=$(VERSION) scripts/image-build.sh

.PHONY: image-test
image-test: ## boot the image as a failover pair in two qemu guests: leases, power cut, reboot and resync, ACPI power-off (root, ~90 s with TCG)
	@VERSION=$(VERSION) scripts/image-test.sh
