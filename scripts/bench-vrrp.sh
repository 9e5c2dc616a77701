#!/usr/bin/env bash
# VRRP takeover benchmark (make bench-vrrp): hadhcpd against keepalived 2.2 in the
# same run, same lab (two boxes and an observer in network namespaces), same
# priorities (200/100) and advert intervals (1s, 100ms). Prints a table with
# the time from the failure to the observer's first ARP reply for the VIP
# carrying the new master's MAC, and the ratio; then the no-flapping run
# (100ms adverts, two CPU burners, HADHCPD_FLAP_SECONDS, default 60).
# Needs root and keepalived. HADHCPD_BENCH_RUNS (default 3) runs per row.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench-vrrp: needs root (network namespaces)" >&2; exit 1; fi
command -v keepalived >/dev/null || { echo "bench-vrrp: keepalived not installed (make deps)" >&2; exit 1; }
bin=$(mktemp -d)/hadhcpd
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/hadhcpd
export HADHCPD_BENCH=1 HADHCPD_BIN="$bin"
# Not -race: the figures are for the binary users run; -v shows per-run samples.
go test -count=1 -timeout 30m -v -run '^(TestBenchVRRPTakeover|TestBenchVRRPNoFlap)$' ./vrrp/ |
	grep -vE '^(=== RUN|=== PAUSE|=== CONT)'
