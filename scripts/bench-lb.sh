#!/usr/bin/env bash
# Load-balance benchmark (make bench-lb): new-client DORA/s of
#   pair-lb  two hadhcpd boxes in load-balance mode (split 128: each box
#            answers the RFC 3074 buckets of its half, from its own half of
#            the pool): every lease is fsync'd on both boxes before its ACK;
#   kea-lb   two kea-dhcp4 2.2 with libdhcp_ha.so in load-balancing mode,
#            the pool split in two by the classes HA_s1 / HA_s2 (HA_<name>)
#            (Kea's documented setup), otherwise bench-ha's Kea settings
#            (lease updates acknowledged before the client's ACK,
#            multi-threaded, dedicated HTTP listener, memfile);
#   pair-hs  the hadhcpd pair in hot-standby (bench-ha's "pair");
# on one topology, in one run, with bench-ha.sh's procedure (bench-lib.sh):
# the highest rate with <= 1 % drops, a RUN_SECS run at it (DORA/s, CPU per
# box), then p50/p99 REQUEST-ACK at the lowest of the rates found.
# Then the ratios against the targets: pair-lb >= 3x kea-lb, and pair-lb
# no slower than pair-hs.
#
# perfdhcp is a relay that broadcasts on its link (-l eth0, no server:
# giaddr = its address, replies to its port 67), so both boxes of every
# pair get every DISCOVER and REQUEST, as from a relay forwarding to both
# boxes' own addresses: each answers the clients the pair assigns it.
#
# Lab (namespaces hbl<pid>-*, addresses from 198.18.0.0/15 and 198.51.100.0/24):
#   pri eth0 198.18.0.2/15 ─┐                 VIP 198.18.0.1 (hadhcpd pairs)
#   sec eth0 198.18.0.3/15 ─┼── hub bridge ── cli eth0 198.18.0.4/15 (perfdhcp)
#   pri sync0 198.51.100.1/24 ── cable ── sec sync0 198.51.100.2/24
# Every server is stopped by PID before the next one starts; a trap removes
# everything. Needs root, perfdhcp (kea-admin), kea-dhcp4 and Kea's HA
# hooks. Preset RATE_PAIR_LB, RATE_KEA_LB, RATE_PAIR_HS to skip the search.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_needs bench-lb perfdhcp kea-dhcp4 ip ss python3
pair_lab bench-lb hbl kea-ha-lb-hooks.json.tmpl
POOL_SIZE=$(pool_size "$POOL_BIG")
# perfdhcp broadcasts on eth0 (PERF_TARGET empty: its default, every
# server on the link).
PERF_NS=$CLI PERF_LOCAL=eth0 PERF_TARGET=

# hadhcpd_config NAME POOLRANGE ROLE PRIORITY LISTEN PEER MODE: a pair
# box's config (e2e's loadPairConfig with the bench's subnet, pool and log
# level) in failover mode MODE (load-balance: split 128).
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
			  mode: $7
			  split: 128
			  auth: {psk_file: $WORK/peer.key}
			EOF
		fi
	} >"$d/hadhcpd.yaml"
	"$WORK/hadhcpd" check-config -c "$d/hadhcpd.yaml" >/dev/null
}

# kea_split_pools NAME: NAME's Kea config (kea_config's) made a load-balancing
# box's: the pool is split in two halves restricted to the classes HA_s1 and
# HA_s2 (HA_<server name>), which the HA hook assigns by the RFC 3074 hash
# (Kea ARM, "Load-Balancing Configuration").
kea_split_pools() {
	python3 - "$WORK/$1/kea.json" "${POOL_BIG%-*}" "${POOL_BIG#*-}" <<-'EOF'
	import ipaddress, sys
	path, first, last = sys.argv[1:]
	cfg = open(path).read()
	a, b = int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))
	mid = str(ipaddress.ip_address((a + b) // 2))
	nxt = str(ipaddress.ip_address((a + b) // 2 + 1))
	one = f'"pools": [ {{ "pool": "{first} - {last}" }} ]'
	two = (f'"pools": [ {{ "pool": "{first} - {mid}", "client-class": "HA_s1" }}, '
	       f'{{ "pool": "{nxt} - {last}", "client-class": "HA_s2" }} ]')
	if one not in cfg:
	    raise SystemExit("bench-lb: kea-dhcp4.json.tmpl: the one-pool line to split is not there")
	open(path, "w").write(cfg.replace(one, two))
	EOF
}

kea_ready() {
	local p s
	p=$(kea_ha_state kpri) s=$(kea_ha_state ksec)
	LAST="primary: $p; standby: $s"
	[ "$p" = load-balancing ] && [ "$s" = load-balancing ]
}

# start_server KIND POOLRANGE: KIND fresh (empty lease stores), serving on
# return. Kea HA always uses POOL_BIG (its config is rendered once).
start_server() {
	local kind=$1 range=$2 d
	stop_server
	for d in pri sec hpri hsec kpri ksec; do
		[ -d "$WORK/$d" ] || continue
		rm -rf "$WORK/$d/state" "$WORK/$d"/kea.*.pid
		mkdir -p "$WORK/$d/state"
	done
	case $kind in
	pair-lb | pair-hs)
		[ "$range" = "$POOL_BIG" ] || { say "$kind: only POOL_BIG is configured"; exit 1; }
		PAIR_P=pri PAIR_S=sec
		[ "$kind" = pair-lb ] || PAIR_P=hpri PAIR_S=hsec
		# Measured once the pool balance is done: the secondary owns
		# its share (split 128's half, standby_share's 10 %) to within
		# the balancer's 2 % threshold (failover.DefaultThreshold), so
		# no balancing round (up to failover.BalanceMax = 4096 records,
		# one group commit on both boxes) lands in a short probe. At
		# 90 % of the half (45 %) the load-balancing pair still had
		# one such round to go, and it moved ~4,000 addresses during
		# the 3 s probe that followed: a latency spike on both boxes
		# whose burst of ACKs overflows perfdhcp's socket.
		MIN_BACKUP=$(((POOL_SIZE + 1) / 2 - POOL_SIZE / 50)) # round(share x pool) - threshold
		[ "$kind" = pair-lb ] || MIN_BACKUP=$(((POOL_SIZE + 5) / 10 - POOL_SIZE / 50))
		start_hadhcpd $SEC $PAIR_S
		start_hadhcpd $PRI $PAIR_P
		SRV_PIDS=("${SRV_PIDS[1]}" "${SRV_PIDS[0]}") # primary first in "CPU per box"
		wait_ready "hadhcpd $kind" pair_ready
		;;
	kea-lb)
		start_kea $SEC ksec
		start_kea $PRI kpri
		SRV_PIDS=("${SRV_PIDS[1]}" "${SRV_PIDS[0]}")
		wait_ready "Kea HA load-balancing" kea_ready
		;;
	*) say "unknown server kind $kind"; exit 1 ;;
	esac
	for d in pri sec hpri hsec; do
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
	case $1 in pair-lb) boxes="pri sec" ;; pair-hs) boxes="hpri hsec" ;; esac
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
	pair-lb) p=$(active_leases pri) s=$(active_leases sec) ;;
	pair-hs) p=$(active_leases hpri) s=$(active_leases hsec) ;;
	kea-lb) # memfile appends every lease it stores (the standby: each update) to its CSV
		p=$(kea_leases kpri) s=$(kea_leases ksec) ;;
	*) return 0 ;;
	esac
	if [ "${s:-0}" -ge "${acks:-0}" ] 2>/dev/null; then
		echo "       perfdhcp got ${acks:-?} ACKs; leases held: primary $p, secondary $s"
	else
		echo "       WARNING: perfdhcp got ${acks:-?} ACKs but the secondary holds only $s leases (primary $p)"
	fi
}

# Configs that do not change between runs, checked once (kea-dhcp4 -t in the
# namespace: it checks that the interface exists).
hadhcpd_config pri "$POOL_BIG" primary 200 198.51.100.1:647 198.51.100.2:647 load-balance
hadhcpd_config sec "$POOL_BIG" secondary 100 198.51.100.2:647 198.51.100.1:647 load-balance
hadhcpd_config hpri "$POOL_BIG" primary 200 198.51.100.1:647 198.51.100.2:647 hot-standby
hadhcpd_config hsec "$POOL_BIG" secondary 100 198.51.100.2:647 198.51.100.1:647 hot-standby
kea_config kpri 198.18.0.2 s1; kea_split_pools kpri
kea_config ksec 198.18.0.3 s2; kea_split_pools ksec
ip netns exec $PRI kea-dhcp4 -t "$WORK/kpri/kea.json" >"$WORK/kpri/check" 2>&1 || { say "kea-dhcp4 -t:"; cat "$WORK/kpri/check" >&2; exit 1; }
ip netns exec $SEC kea-dhcp4 -t "$WORK/ksec/kea.json" >"$WORK/ksec/check" 2>&1 || { say "kea-dhcp4 -t:"; cat "$WORK/ksec/check" >&2; exit 1; }

if [ -n "$SRV_PIN" ]; then
	say "PIN=1: every server process (both boxes of a pair) on CPU 1, perfdhcp alone on CPU 0"
fi
KINDS=(pair-lb kea-lb pair-hs)
# Preset RATE_PAIR_LB, RATE_KEA_LB, RATE_PAIR_HS to skip the search.
# A run must not empty the pool (exhaustion would show as drops): at most
# 80 % of it. The same cap for every kind; in load-balance each box has
# only its half, which perfdhcp's random MACs fill evenly.
bench_kinds

echo "== summary (DORA/s and CPU at each one's rate; REQUEST-ACK at ${LAT}/s)"
python3 - "${DORA[pair-lb]}" "${DORA[kea-lb]}" "${DORA[pair-hs]}" "${CPU[pair-lb]}" "${CPU[kea-lb]}" "${CPU[pair-hs]}" \
	"${P50[pair-lb]}" "${P50[kea-lb]}" "${P50[pair-hs]}" "${P99[pair-lb]}" "${P99[kea-lb]}" "${P99[pair-hs]}" <<-'EOF'
import sys
v = [float(x) for x in sys.argv[1:]]
names = ["hadhcpd LB pair", "Kea HA LB", "hadhcpd HS pair"]
print(f"{'':16s} {'DORA/s':>8s} {'REQUEST-ACK p50/p99 ms':>24s} {'CPU %':>7s} {'CPU ms/1000 DORA':>17s}")
for i, n in enumerate(names):
    per = 1000 * 10 * v[3+i] / max(v[i], 1)  # CPU % of one core -> ms of CPU per 1000 DORA
    print(f"{n:16s} {v[i]:8.0f} {v[6+i]:11.3f}/{v[9+i]:<12.3f} {v[3+i]:7.1f} {per:17.1f}")
lb, kea, hs = v[0], v[1], v[2]
print(f"hadhcpd LB pair / Kea HA LB DORA/s:       {lb/max(kea,1):.2f}x  (target >= 3x)")
print(f"hadhcpd LB pair / hadhcpd HS pair DORA/s: {lb/max(hs,1):.2f}x  (target >= 1x)")
EOF
