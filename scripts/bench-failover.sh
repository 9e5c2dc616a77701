#!/usr/bin/env bash
# Failover benchmark (make bench-failover): the hadhcpd pair against Kea 2.2 HA
# hot-standby + keepalived and ISC dhcpd 4.4 failover + keepalived, same lab,
# same load (50 new clients/s), each losing its active server 3 s in by
# SIGKILL of the DHCP process and by box loss. Prints one table (medians)
# and hadhcpd's target lines; see bench/failover/doc.go.
# Knobs: HADHCPD_BENCH_REPEAT (runs per cell, default 3),
# HADHCPD_BENCH_STACKS (hadhcpd,kea-ha,isc-dhcpd), HADHCPD_BENCH_FAILURES
# (kill9,boxloss), HADHCPD_BENCH_CLIENT_DEADLINE (default 5s). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench-failover: needs root (network namespaces)" >&2; exit 1; fi
for c in kea-dhcp4 dhcpd keepalived; do
	command -v "$c" >/dev/null || { echo "bench-failover: $c not installed (make deps)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/hadhcpd" ./cmd/hadhcpd
export HADHCPD_BENCH_FAILOVER=1 HADHCPD_BIN="$tmp/hadhcpd" HADHCPD_BENCH_OUT="$tmp/table.txt"
# Not -race: the figures are for the binaries users run; -v shows per-run lines.
rc=0
go test -count=1 -timeout 40m -run '^TestBenchFailover$' -v ./bench/failover/ |
	grep -vE '^(=== RUN|=== PAUSE|=== CONT)' || rc=$?
if [ -s "$tmp/table.txt" ]; then
	echo; echo "==== failover benchmark ===="; cat "$tmp/table.txt"
fi
exit "$rc"
