#!/usr/bin/env bash
# Hub-and-spoke cost (make bench-hub): one hub H, the secondary of three
# spokes S1-S3 (failover.relationships: each spoke the primary of its
# segment, the hub one listener for the three), against one hot-standby
# pair (P1 primary, P2 secondary: the single failover: section), in one run:
#   1. memory at idle: RSS of every box once every relationship is NORMAL
#      and the standbys own their BACKUP addresses; the hub's extra RSS per
#      relationship is (hub - pair's secondary) / 2 (the hub runs three
#      relationships and three subnets, the standby one of each, every
#      pool the same size);
#   2. the hub under the replication of three spokes at once: perfdhcp
#      against each spoke's VIP at RATE new clients/s for RUN_SECS, the
#      three together: each spoke's DORA/s, and the hub's CPU per
#      replicated lease (every ACKed lease is durable on the hub before
#      its ACK: invariant 2);
#   3. the pair alone at the same RATE: the primary's DORA/s and the
#      secondary's CPU per replicated lease.
# Figures, not a pass/fail: the hub's CPU per lease should be about the
# standby's (one stream per relationship, one group commit for all).
#
# Lab (namespaces hmu2b<pid>-*, addresses from 198.18.0.0/15, 198.51.100.0/24
# and 203.0.113.0/24): a switch namespace with a bridge per segment (seg1-3,
# segp) and one per sync network (sync: the hub and the spokes; syncp: the
# pair). Segment i (198.18.64*(i-1).0/18): VIP .1, its spoke .2, the hub .3,
# its perfdhcp .4 (a relay: giaddr = its address); the pair's
# segment 198.18.192.0/18 likewise (P1 .2, P2 .3). Every process started
# here is stopped by PID; a trap removes the namespaces. Needs root and
# perfdhcp. RATE (default 1000), RUN_SECS (default 10), READY_SECS (90).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bench-hub: $*" >&2; }
if [ "$(id -u)" != 0 ]; then say "needs root (network namespaces); skipped"; exit 0; fi
for c in perfdhcp ip python3; do
	command -v "$c" >/dev/null || { say "$c not installed (make deps); skipped"; exit 0; }
done
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

RATE=${RATE:-1000}
RUN_SECS=${RUN_SECS:-10}
READY_SECS=${READY_SECS:-90}
BENCH_NICE=${BENCH_NICE:--10}
ID=hmu2b$$
SW=$ID-sw
WORK=$(mktemp -d /tmp/hmu2b-bench.XXXXXX)
PIDS=()
declare -A PID_OF

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for ns in $(ip netns list | awk -v p="$ID-" 'index($1, p) == 1 {print $1}'); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -trimpath -o "$WORK/hadhcpd" ./cmd/hadhcpd
head -c 48 /dev/urandom >"$WORK/peer.key"
chmod 600 "$WORK/peer.key"

ip netns add "$SW"
ip -n "$SW" link set lo up
for br in seg1 seg2 seg3 segp sync syncp; do
	ip -n "$SW" link add "$br" type bridge forward_delay 0 stp_state 0
	ip -n "$SW" link set "$br" up
done
NL=0
# attach HOST BRIDGE IFNAME ADDR/LEN: a veth from HOST's namespace to BRIDGE.
attach() {
	local ns=$ID-$1
	ip netns list | grep -q "^$ns\b" || { ip netns add "$ns"; ip -n "$ns" link set lo up; }
	NL=$((NL + 1))
	ip link add "${ID}a$NL" netns "$ns" type veth peer name "${ID}b$NL" netns "$SW"
	ip -n "$ns" link set "${ID}a$NL" name "$3"
	ip -n "$ns" addr add "$4" dev "$3"
	ip -n "$ns" link set "$3" up
	ip -n "$SW" link set "${ID}b$NL" master "$2" up
}
net() { echo "198.18.$((64 * ($1 - 1)))"; } # segment i's /18 as its first three octets (i = 4: the pair's)
for i in 1 2 3; do
	n=$(net $i)
	attach s$i seg$i eth0 "$n.2/18"
	attach h seg$i eth$i "$n.3/18"
	attach c$i seg$i eth0 "$n.4/18"
	attach s$i sync sync0 "198.51.100.$i/24"
done
attach h sync sync0 198.51.100.10/24
n=$(net 4)
attach p1 segp eth0 "$n.2/18"
attach p2 segp eth0 "$n.3/18"
attach cp segp eth0 "$n.4/18"
attach p1 syncp sync0 203.0.113.1/24
attach p2 syncp sync0 203.0.113.2/24

# subnet I: segment I's dhcp subnet line (pool .1.0-.63.254, ~16k addresses).
subnet() {
	local n
	n=$(net "$1")
	echo "    - {subnet: $n.0/18, pools: [{range: $(echo "$n" | awk -F. '{print $1"."$2"."$3+1}').0-$(echo "$n" | awk -F. '{print $1"."$2"."$3+63}').254}], options: {routers: [$n.1]}}"
}
node() { echo "node: {name: $1, state_dir: $WORK/$1/state, control_socket: $WORK/$1/ctl.sock, metrics_listen: \"\", log_level: warn}"; }
dhcp_head() {
	cat <<-EOF
	dhcp:
	  interfaces: [$1]
	  default_lease_time: 1h
	  subnets:
	EOF
}
# The spokes and the hub: failover.relationships (as e2e's hub and spoke).
for i in 1 2 3; do
	mkdir -p "$WORK/s$i/state"
	{
		node s$i
		echo "vrrp:"
		echo "  instances:"
		echo "    - {name: seg$i, interface: eth0, vrid: $((50 + i)), priority: 200, advert_interval: 100ms, virtual_ips: [$(net $i).1/18]}"
		dhcp_head eth0
		subnet $i
		echo "failover:"
		echo "  listen: '198.51.100.$i:647'"
		echo "  max_response_delay: 3s"
		echo "  auth: {psk_file: $WORK/peer.key}"
		echo "  relationships:"
		echo "    - {name: seg$i, role: primary, peer: '198.51.100.10:647', vrrp_instance: seg$i, subnets: [$(net $i).0/18]}"
	} >"$WORK/s$i/hadhcpd.yaml"
done
mkdir -p "$WORK/h/state"
{
	node h
	echo "vrrp:"
	echo "  instances:"
	for i in 1 2 3; do
		echo "    - {name: seg$i, interface: eth$i, vrid: $((50 + i)), priority: 100, advert_interval: 100ms, virtual_ips: [$(net $i).1/18]}"
	done
	dhcp_head "eth1, eth2, eth3"
	for i in 1 2 3; do subnet $i; done
	echo "failover:"
	echo "  listen: '198.51.100.10:647'"
	echo "  max_response_delay: 3s"
	echo "  auth: {psk_file: $WORK/peer.key}"
	echo "  relationships:"
	for i in 1 2 3; do
		echo "    - {name: seg$i, role: secondary, peer: '198.51.100.$i:647', vrrp_instance: seg$i, subnets: [$(net $i).0/18]}"
	done
} >"$WORK/h/hadhcpd.yaml"
# The pair: the single failover: section.
for b in p1:primary:200:1:2 p2:secondary:100:2:1; do
	IFS=: read -r name role prio me peer <<<"$b"
	mkdir -p "$WORK/$name/state"
	{
		node "$name"
		echo "vrrp:"
		echo "  instances:"
		echo "    - {name: lan, interface: eth0, vrid: 60, priority: $prio, advert_interval: 100ms, virtual_ips: [$(net 4).1/18]}"
		dhcp_head eth0
		subnet 4
		echo "failover:"
		echo "  role: $role"
		echo "  listen: '203.0.113.$me:647'"
		echo "  peer: '203.0.113.$peer:647'"
		echo "  vrrp_instance: lan"
		echo "  max_response_delay: 3s"
		echo "  auth: {psk_file: $WORK/peer.key}"
	} >"$WORK/$name/hadhcpd.yaml"
done
BOXES="h s1 s2 s3 p1 p2"
for b in $BOXES; do
	"$WORK/hadhcpd" check-config -c "$WORK/$b/hadhcpd.yaml" >/dev/null || { say "$b: check-config failed"; exit 1; }
done
for b in $BOXES; do
	ip netns exec "$ID-$b" nice -n "$BENCH_NICE" "$WORK/hadhcpd" run -c "$WORK/$b/hadhcpd.yaml" >"$WORK/$b/log" 2>&1 &
	PIDS+=($!)
	PID_OF[$b]=$!
done

# ready BOX: every relationship (or the failover section) NORMAL with the
# link up; a secondary owns BACKUP addresses in each.
ready() {
	timeout 5 "$WORK/hadhcpd" status --json -c "$WORK/$1/hadhcpd.yaml" 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
rels = s.get("relationships") or ([s["failover"]] if s.get("failover") else [])
ok = bool(rels) and all(r.get("state") == "NORMAL" and r.get("link_up") for r in rels)
backup = {}
for p in s.get("pools") or []:
    backup[p.get("relationship", "")] = backup.get(p.get("relationship", ""), 0) + p.get("backup", 0)
if any(r.get("role") == "secondary" for r in rels):
    ok = ok and all(v > 0 for v in backup.values())
sys.exit(0 if ok else 1)' 2>/dev/null
}
until=$(($(date +%s) + READY_SECS))
for b in $BOXES; do
	until ready "$b"; do
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { say "a hadhcpd exited during startup"; tail -n 20 "$WORK"/*/log >&2; exit 1; }; done
		[ "$(date +%s)" -lt $until ] || { say "$b not ready within ${READY_SECS}s"; tail -n 20 "$WORK"/*/log >&2; exit 1; }
		sleep 0.2
	done
done
sleep 3 # the balancer's first batches done; idle
# Lines logged before this (a spoke dialing the hub before it listened)
# are the start's; those after it are worth a look.
declare -A MARK
for b in $BOXES; do MARK[$b]=$(wc -l <"$WORK/$b/log"); done
rss() { awk '/^VmRSS/ {print $2}' /proc/"${PID_OF[$1]}"/status; }
cpu_ticks() { awk '{print $14 + $15}' /proc/"${PID_OF[$1]}"/stat; }
HZ=$(getconf CLK_TCK)
echo "== memory at idle (RSS, KiB; every relationship NORMAL)"
declare -A RSS
for b in $BOXES; do RSS[$b]=$(rss "$b"); done
echo "   hub (3 relationships) ${RSS[h]}; spokes (1 each) ${RSS[s1]} ${RSS[s2]} ${RSS[s3]}; pair: primary ${RSS[p1]}, secondary ${RSS[p2]}"
echo "   hub over the pair's secondary, per extra relationship: $(((RSS[h] - RSS[p2]) / 2)) KiB"

# perf NS TARGET LOCAL OUT: perfdhcp at RATE for RUN_SECS (a relay at LOCAL).
perf() {
	ip netns exec "$ID-$1" nice -n "$BENCH_NICE" timeout $((RUN_SECS + 20)) perfdhcp -4 -g single -W 1000000 -r "$RATE" -p "$RUN_SECS" -R 10000000 -l "$3" "$2" >"$4" 2>&1 || true
}
acks() { python3 -c 'import re, sys; r = re.findall(r"received packets: ([0-9]+)", open(sys.argv[1]).read()); print(r[1] if len(r) > 1 else 0)' "$1"; }

echo "== the hub under three spokes at once: perfdhcp at ${RATE}/s against each spoke's VIP, ${RUN_SECS} s"
declare -A T0 T1
for b in $BOXES; do T0[$b]=$(cpu_ticks "$b"); done
w0=$EPOCHREALTIME
PERF_PIDS=()
for i in 1 2 3; do
	perf c$i "$(net $i).1" "$(net $i).4" "$WORK/perf$i.out" &
	PERF_PIDS+=($!)
done
for p in "${PERF_PIDS[@]}"; do wait "$p" || true; done
w1=$EPOCHREALTIME
for b in $BOXES; do T1[$b]=$(cpu_ticks "$b"); done
TOTAL=0
for i in 1 2 3; do
	a=$(acks "$WORK/perf$i.out")
	TOTAL=$((TOTAL + a))
	printf "   spoke s%d: %6.0f DORA/s (%d ACKs), CPU %5.1f %%\n" "$i" "$(echo "$a / $RUN_SECS" | bc -l)" "$a" \
		"$(echo "100 * (${T1[s$i]} - ${T0[s$i]}) / $HZ / ($w1 - $w0)" | bc -l)"
done
HUB_CPU=$(echo "(${T1[h]} - ${T0[h]}) / $HZ" | bc -l)
printf "   hub: CPU %.2f s over %.1f s (%.1f %%); %d leases replicated: %.1f µs of hub CPU per replicated lease\n" \
	"$HUB_CPU" "$(echo "$w1 - $w0" | bc -l)" "$(echo "100 * $HUB_CPU / ($w1 - $w0)" | bc -l)" "$TOTAL" "$(echo "1000000 * $HUB_CPU / ($TOTAL + ($TOTAL == 0))" | bc -l)"
H_ACTIVE=$(timeout 60 "$WORK/hadhcpd" leases --json --state active -c "$WORK/h/hadhcpd.yaml" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "   the hub holds $H_ACTIVE active leases (perfdhcp got $TOTAL ACKs)"

echo "== one hot-standby pair, the same: perfdhcp at ${RATE}/s against its VIP, ${RUN_SECS} s"
for b in p1 p2; do T0[$b]=$(cpu_ticks "$b"); done
w0=$EPOCHREALTIME
perf cp "$(net 4).1" "$(net 4).4" "$WORK/perfp.out"
w1=$EPOCHREALTIME
for b in p1 p2; do T1[$b]=$(cpu_ticks "$b"); done
a=$(acks "$WORK/perfp.out")
SEC_CPU=$(echo "(${T1[p2]} - ${T0[p2]}) / $HZ" | bc -l)
printf "   primary: %6.0f DORA/s (%d ACKs), CPU %5.1f %%\n" "$(echo "$a / $RUN_SECS" | bc -l)" "$a" \
	"$(echo "100 * (${T1[p1]} - ${T0[p1]}) / $HZ / ($w1 - $w0)" | bc -l)"
printf "   secondary: CPU %.2f s (%.1f %%): %.1f µs per replicated lease\n" "$SEC_CPU" \
	"$(echo "100 * $SEC_CPU / ($w1 - $w0)" | bc -l)" "$(echo "1000000 * $SEC_CPU / ($a + ($a == 0))" | bc -l)"
printf "== hub / pair's secondary, CPU per replicated lease: %.2fx\n" \
	"$(echo "($HUB_CPU / ($TOTAL + ($TOTAL == 0))) / ($SEC_CPU / ($a + ($a == 0)) + ($SEC_CPU == 0))" | bc -l)"
for b in $BOXES; do
	n=$(($(wc -l <"$WORK/$b/log") - MARK[$b]))
	[ "$n" -le 0 ] || { echo "   $b logged $n lines (warn level) during the runs, the first:"; tail -n +$((MARK[$b] + 1)) "$WORK/$b/log" | head -n 3 | cut -c1-200 | sed 's/^/     /'; }
done
