#!/usr/bin/env bash
# DHCP benchmark: perfdhcp (Kea 2.2's, a relay: it binds port 67 on its own
# address and sets giaddr) against hadhcpd and against kea-dhcp4 (memfile,
# one thread) on the same two-namespace topology, the same pool and the same
# procedure, in one run:
#   1. find the highest offered rate with at most 1 % drops (3 s probes, each
#      on a fresh server and an empty lease store);
#   2. a 15 s run at that rate: DORA/s, the server's CPU and RSS;
#   2b. p50/p99 of DISCOVER-OFFER and REQUEST-ACK, from a 5 s run of each
#      server at the same rate (the lower of the two found rates): perfdhcp
#      -x t keeps every timestamp and, at high rates, starves itself of CPU
#      on this 2-core machine, so latencies come from a run of their own at
#      a load both servers sustain;
#   3. hadhcpd at a 10k pool and at a 130k pool at the same rate, with only
#      new clients (1 s, fewer clients than the small pool holds).
# hadhcpd fsyncs every lease before its ACK (group commit); Kea's memfile
# does not fsync. Needs root, perfdhcp (kea-admin) and kea-dhcp4.
# Namespaces: hdb-*; addresses: 198.18.0.0/15 only. Bounded: a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_needs bench-dhcp perfdhcp kea-dhcp4 ip python3
one_box_lab hdb
PROBE_SECS=${PROBE_SECS:-3}
RUN_SECS=${RUN_SECS:-15}

# Pools: the 130k one fills the /15 (minus the lab's own addresses); the 10k one.
POOL_BIG="198.18.1.0-198.19.255.254"
POOL_SMALL="198.18.1.0-198.18.40.15"

# start_server hadhcpd|kea POOLRANGE: fresh state, then wait until it listens.
start_server() {
	local kind=$1 range=$2 first last
	first=${range%-*} last=${range#*-}
	stop_server
	rm -rf "$WORK/state" "$WORK"/kea.*.pid; mkdir -p "$WORK/state"
	if [ "$kind" = hadhcpd ]; then
		{
			echo "node: {name: bench, state_dir: $WORK/state, control_socket: $WORK/ctl.sock, metrics_listen: \"\", log_level: warn}"
			dhcp_section "$first" "$last" 198.18.0.1
		} >"$WORK/hadhcpd.yaml"
		ip netns exec $SRV $SRV_RUN "$WORK/hadhcpd" run -c "$WORK/hadhcpd.yaml" >"$WORK/server.log" 2>&1 &
	else
		sed -e "s|@LAN_IF@|eth0|; s|@MY_LAN@|198.18.0.1|; s|@STATE@|$WORK/state|g" \
			-e "s|@KEA_MT@|false|; s|@KEA_THREADS@|1|; s|@LEASE_TIME@|3600|; s|@RENEW_TIME@|1800|; s|@REBIND_TIME@|3150|" \
			-e "s|@LAN_NET@|198.18.0.0|; s|@LAN_PFX@|15|; s|@POOL_START@|$first|; s|@POOL_END@|$last|; s|@VIP@|198.18.0.1|g" \
			-e "s|@HOOKS@||; s|@KEA_LOG_SEVERITY@|WARN|" bench/peers/kea-dhcp4.json.tmpl >"$WORK/kea.json"
		# Kea keeps its PID and lock files in /run/kea unless told otherwise.
		ip netns exec $SRV $SRV_RUN env KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" \
			kea-dhcp4 -c "$WORK/kea.json" >"$WORK/server.log" 2>&1 &
	fi
	SRV_PID=$!
	wait_serving bench-dhcp "$kind"
}

if [ -n "$SRV_PIN" ]; then
	echo "== PIN=1: each server on CPU 1 (a Go server then runs with GOMAXPROCS=1, Kea's one thread has the core to itself), perfdhcp on CPU 0"
else
	echo "== unpinned: the server and perfdhcp share all $(nproc) cores (PIN=1: a core each)"
fi
echo "== finding the highest rate with <= 1 % drops (${PROBE_SECS} s probes, 130k pool)"
# Preset RATE_H/RATE_K to skip the search.
if [ -z "${RATE_H:-}" ]; then find_rate hadhcpd; RATE_H=$FOUND; fi
if [ -z "${RATE_K:-}" ]; then find_rate kea; RATE_K=$FOUND; fi
echo "== ${RUN_SECS} s at that rate (130k pool)"
# New clients only: above ~7000/s a 15 s run would hand out more than 80 %
# of the pool and measure the pool's size, not the server; such a run is
# shortened (the same rule for both servers).
run_secs "$RATE_H" hadhcpd; measure hadhcpd "$RATE_H" "$SECS"; OUT_H=$(cat "$WORK/measure.out"); echo "$OUT_H" | grep -v RESULT
run_secs "$RATE_K" kea; measure kea "$RATE_K" "$SECS"; OUT_K=$(cat "$WORK/measure.out"); echo "$OUT_K" | grep -v RESULT
DH=$(echo "$OUT_H" | awk '/^RESULT/ {print $3}')
DK=$(echo "$OUT_K" | awk '/^RESULT/ {print $3}')
python3 -c "print(f'hadhcpd / kea DORA/s: {float($DH)/max(float($DK),1):.2f}x  (target >= 1.25x)')"

LAT=$((RATE_H < RATE_K ? RATE_H : RATE_K))
echo "== latency per exchange half, 5 s of each at ${LAT}/s (perfdhcp -x t)"
measure hadhcpd "$LAT" 5 "-x t"; grep -v RESULT "$WORK/measure.out"
measure kea "$LAT" 5 "-x t"; grep -v RESULT "$WORK/measure.out"

echo "== pool size: hadhcpd, new clients only, 1 s at min(rate, 9000)/s"
R=$((RATE_H < 9000 ? RATE_H : 9000))
start_server hadhcpd "$POOL_SMALL"; perf $R 1; read -r S _ < <(stats)
start_server hadhcpd "$POOL_BIG"; perf $R 1; read -r B _ < <(stats)
python3 -c "print(f'10k pool {float($S):.0f} DORA/s, 130k pool {float($B):.0f} DORA/s: ratio {float($B)/max(float($S),1):.2f} (target >= 0.9)')"
