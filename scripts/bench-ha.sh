#!/usr/bin/env bash
# HA benchmark (make bench-ha): new-client DORA/s of
#   pair     two hadhcpd boxes in hot-standby (failover: section, VRRP VIP, the
#            sync link): every lease is fsync'd on both boxes before its ACK;
#   kea-ha   two kea-dhcp4 2.2 with libdhcp_ha.so in hot-standby, Kea's
#            defaults (the standby's ack of the lease update before the
#            client's ACK) but a 1 s heartbeat (a quick start), multi-threaded
#            with the dedicated HTTP listener (no kea-ctrl-agent), memfile
#            (no fsync);
#   single   one hadhcpd box, no failover (fsync before the ACK);
# on one topology, in one run, with bench-dhcp.sh's procedure (bench-lib.sh):
#   1. the highest offered rate with at most 1 % drops (PROBE_SECS probes,
#      each on fresh servers with empty lease stores);
#   2. a RUN_SECS run at that rate: DORA/s and CPU (a pair: both boxes, summed),
#      shorter when it would hand out more than 80 % of the pool;
#   3. p50/p99 REQUEST-ACK from a LAT_SECS (5 s) perfdhcp -x t run of each at one lower
#      rate (the lowest found): -x t keeps every timestamp and starves
#      perfdhcp of CPU at high rates on a 2-core machine.
# Then the ratios against the targets: pair >= 3x kea-ha, pair >= 0.8x single.
#
# Lab (namespaces hbh<pid>-*, addresses from 198.18.0.0/15 and 198.51.100.0/24):
#   pri eth0 198.18.0.2/15 ─┐                 VIP 198.18.0.1 (hadhcpd pair)
#   sec eth0 198.18.0.3/15 ─┼── hub bridge ── cli eth0 198.18.0.4/15 (perfdhcp)
#   pri sync0 198.51.100.1/24 ── cable ── sec sync0 198.51.100.2/24
# perfdhcp is a relay (giaddr = its address, replies to its port 67): it sends
# to the VIP for the hadhcpd pair, to the primary's address for Kea HA and
# the single box (which runs in pri). Every server is stopped by PID before
# the next one starts; a trap removes everything. Needs root, perfdhcp
# (kea-admin), kea-dhcp4 and Kea's HA hooks. Takes 3-6 minutes (each pair
# start waits for its serving state, READY_SECS at most). Preset RATE_PAIR,
# RATE_KEA_HA, RATE_SINGLE to skip the search.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_needs bench-ha perfdhcp kea-dhcp4 ip ss python3
pair_lab bench-ha hbh kea-ha-hooks.json.tmpl
PERF_NS=$CLI PERF_LOCAL=198.18.0.4

# hadhcpd_config NAME POOLRANGE [ROLE PRIORITY LISTEN PEER]: NAME's config
# (a single box without ROLE); the pair's is e2e's loadPairConfig
# with the bench's subnet, pool and log level.
hadhcpd_config() {
	local d=$WORK/$1 first=${2%-*} last=${2#*-}
	mkdir -p "$d/state"
	{
		echo "node: {name: $1, state_dir: $d/state, control_socket: $d/ctl.sock, metrics_listen: \"\", log_level: warn}"
		if [ -n "${3:-}" ]; then
			cat <<-EOF
			vrrp:
			  instances:
			    - {name: lan, interface: eth0, vrid: 52, priority: $4, advert_interval: 100ms, virtual_ips: [$VIP/15]}
			EOF
		fi
		dhcp_section "$first" "$last" $VIP
		if [ -n "${3:-}" ]; then
			cat <<-EOF
			failover:
			  role: $3
			  listen: $5
			  peer: $6
			  vrrp_instance: lan
			  max_response_delay: 3s
			  auth: {psk_file: $WORK/peer.key}
			EOF
		fi
	} >"$d/hadhcpd.yaml"
	"$WORK/hadhcpd" check-config -c "$d/hadhcpd.yaml" >/dev/null
}

kea_ready() {
	local p s
	p=$(kea_ha_state kpri) s=$(kea_ha_state ksec)
	LAST="primary: $p; standby: $s"
	[ "$p" = hot-standby ] && [ "$s" = hot-standby ]
}

# start_server KIND POOLRANGE: KIND fresh (empty lease stores), serving on
# return. Kea HA always uses POOL_BIG (its config is rendered once).
start_server() {
	local kind=$1 range=$2 d
	stop_server
	for d in pri sec single kpri ksec; do
		[ -d "$WORK/$d" ] || continue
		rm -rf "$WORK/$d/state" "$WORK/$d"/kea.*.pid
		mkdir -p "$WORK/$d/state"
	done
	case $kind in
	pair)
		PERF_TARGET=$VIP PAIR_P=pri PAIR_S=sec
		[ "$range" = "$POOL_BIG" ] || { say "pair: only POOL_BIG is configured"; exit 1; }
		start_hadhcpd $SEC sec
		start_hadhcpd $PRI pri
		SRV_PIDS=("${SRV_PIDS[1]}" "${SRV_PIDS[0]}") # primary first in "CPU per box"
		wait_ready "hadhcpd pair" pair_ready
		;;
	kea-ha)
		PERF_TARGET=198.18.0.2
		start_kea $SEC ksec
		start_kea $PRI kpri
		SRV_PIDS=("${SRV_PIDS[1]}" "${SRV_PIDS[0]}")
		wait_ready "Kea HA" kea_ready
		;;
	single)
		PERF_TARGET=198.18.0.2
		hadhcpd_config single "$range"
		start_hadhcpd $PRI single
		# Serving once its raw socket is open (it opens after the UDP one).
		for _ in $(seq 100); do
			if ip netns exec $PRI ss -0 -a 2>/dev/null | grep -q .; then break; fi
			sleep 0.05
		done
		sleep 0.5
		kill -0 "${SRV_PIDS[0]}" 2>/dev/null || { say "single hadhcpd did not start"; dump_logs; exit 1; }
		;;
	*) say "unknown server kind $kind"; exit 1 ;;
	esac
	for d in pri sec single; do
		LOG_MARK[$d]=0
		[ ! -f "$WORK/$d/log" ] || LOG_MARK[$d]=$(wc -l <"$WORK/$d/log")
	done
}

# after_measure KIND FLAGS (bench-lib's hook, before the servers stop): after
# a hadhcpd throughput run, what hadhcpd logged; after a pair's (hadhcpd or
# Kea), whether the standby holds a lease for every ACK perfdhcp received
# (hadhcpd: both boxes durable before each ACK; Kea:
# the partner's update acknowledged before the ACK, so the comparison is
# fair). Printed, not fatal: the figures stand, the lines say what to look at.
after_measure() {
	[ -z "$2" ] || return 0
	local acks p s f n boxes=""
	case $1 in pair) boxes="pri sec" ;; single) boxes=single ;; esac
	# hadhcpd runs at log_level warn: any line logged since it was ready
	# (start_server's mark; a partner not yet listening at start is normal)
	# is worth a look.
	for f in $boxes; do
		n=$(($(wc -l <"$WORK/$f/log") - ${LOG_MARK[$f]:-0}))
		[ "$n" -le 0 ] || {
			echo "       hadhcpd $f logged $n lines (warn level) during the run, the first ones:"
			tail -n +$((${LOG_MARK[$f]:-0} + 1)) "$WORK/$f/log" | head -n 5 | cut -c1-300 | sed 's/^/         /'
		}
	done
	acks=$(sed -n '/Statistics for: REQUEST-ACK/,/received packets/s/received packets: //p' "$WORK/perf.out")
	case $1 in
	pair) p=$(active_leases pri) s=$(active_leases sec) ;;
	kea-ha) # memfile appends every lease it stores (the standby: each update) to its CSV
		p=$(kea_leases kpri) s=$(kea_leases ksec) ;;
	*) return 0 ;;
	esac
	if [ "${s:-0}" -ge "${acks:-0}" ] 2>/dev/null; then
		echo "       perfdhcp got ${acks:-?} ACKs; leases held: primary $p, standby $s"
	else
		echo "       WARNING: perfdhcp got ${acks:-?} ACKs but the standby holds only $s leases (primary $p)"
	fi
}

# Configs that do not change between runs, checked once (kea-dhcp4 -t in the
# namespace: it checks that the interface exists).
hadhcpd_config pri "$POOL_BIG" primary 200 198.51.100.1:647 198.51.100.2:647
hadhcpd_config sec "$POOL_BIG" secondary 100 198.51.100.2:647 198.51.100.1:647
kea_config kpri 198.18.0.2 s1
kea_config ksec 198.18.0.3 s2
ip netns exec $PRI kea-dhcp4 -t "$WORK/kpri/kea.json" >"$WORK/kpri/check" 2>&1 || { say "kea-dhcp4 -t:"; cat "$WORK/kpri/check" >&2; exit 1; }
ip netns exec $SEC kea-dhcp4 -t "$WORK/ksec/kea.json" >"$WORK/ksec/check" 2>&1 || { say "kea-dhcp4 -t:"; cat "$WORK/ksec/check" >&2; exit 1; }

if [ -n "$SRV_PIN" ]; then
	say "PIN=1: every server process (both boxes of a pair) on CPU 1, perfdhcp alone on CPU 0"
fi
KINDS=(pair kea-ha single)
# Preset RATE_PAIR, RATE_KEA_HA, RATE_SINGLE to skip the search.
# A run must not empty the pool (exhaustion would show as drops): at most
# 80 % of it, leaving the standby share (10 %) out of the pair's reach. The
# same cap for every kind; on a quiet machine it shortens runs above ~7000/s.
bench_kinds

echo "== summary (DORA/s and CPU at each one's rate; REQUEST-ACK at ${LAT}/s)"
python3 - "${DORA[pair]}" "${DORA[kea-ha]}" "${DORA[single]}" "${CPU[pair]}" "${CPU[kea-ha]}" "${CPU[single]}" \
	"${P50[pair]}" "${P50[kea-ha]}" "${P50[single]}" "${P99[pair]}" "${P99[kea-ha]}" "${P99[single]}" <<-'EOF'
import sys
v = [float(x) for x in sys.argv[1:]]
names = ["hadhcpd pair", "Kea HA", "hadhcpd single"]
print(f"{'':16s} {'DORA/s':>8s} {'REQUEST-ACK p50/p99 ms':>24s} {'CPU %':>7s}")
for i, n in enumerate(names):
    print(f"{n:16s} {v[i]:8.0f} {v[6+i]:11.3f}/{v[9+i]:<12.3f} {v[3+i]:7.1f}")
pair, kea, single = v[0], v[1], v[2]
print(f"hadhcpd pair / Kea HA DORA/s:         {pair/max(kea,1):.2f}x  (target >= 3x)")
print(f"hadhcpd pair / hadhcpd single DORA/s: {pair/max(single,1):.2f}x  (target >= 0.8x)")
EOF
