#!/usr/bin/env bash
# make demo: two hadhcpd boxes in network namespaces, real clients, a crash
# of the active box, the takeover, and the box's return.
#
# Lab (all inside namespaces this script creates, prefix hddemo-):
#   gw1 eth0 192.0.2.2/24 ─┐                 ┌─ c1 (dhclient)
#   gw2 eth0 192.0.2.3/24 ─┼── LAN bridge ───┼─ c2 (udhcpc)
#          VIP 192.0.2.1   │                 └─ c3 (dhclient, after the crash)
#   gw1 sync0 198.51.100.1 ── sync cable ── gw2 sync0 198.51.100.2
#
# Safe to interrupt: a trap removes everything, and a new run first removes
# what an interrupted one may have left. Clients run with harmless scripts
# (dhclient -sf /bin/true, udhcpc -s /bin/true): nothing touches the host.
set -euo pipefail
cd "$(dirname "$0")/.."

P=hddemo
WORK=/tmp/hadhcpd-demo
BIN=${HADHCPD_BIN:-bin/hadhcpd}
T0=$(date +%s%N)

tenths() { local d=$(( ($(date +%s%N) - $1) / 100000000 )); echo "$((d / 10)).$((d % 10))"; }
say() { printf '\033[1m[%5ss] %s\033[0m\n' "$(tenths "$T0")" "$*"; }
die() { printf '\033[31mdemo: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces); run: sudo make demo"
for c in ip dhclient udhcpc; do command -v $c >/dev/null || die "$c is missing (make deps installs it)"; done
[ -x "$BIN" ] || die "$BIN not built (make build)"

cleanup() {
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; say "interrupted: cleaning up"; exit 130' INT TERM
cleanup # whatever an interrupted run left behind
mkdir -p "$WORK"

ns() { ip netns exec "$P-$1" "${@:2}"; }
mkns() { ip netns add "$P-$1"; ip -n "$P-$1" link set lo up; }
plug() { # host ifname addr: a veth from the host's namespace to the LAN bridge
	local peer="$P$((++VETH))"
	ip link add "$peer"x netns "$P-$1" type veth peer name "$peer" netns "$P-hub"
	ip -n "$P-$1" link set "$peer"x name "$2"
	[ -z "${3:-}" ] || ip -n "$P-$1" addr add "$3" dev "$2"
	ip -n "$P-$1" link set "$2" up
	ip -n "$P-hub" link set "$peer" master br-lan up
}
VETH=0

say "building the lab: two boxes, a LAN bridge, a sync cable, three client namespaces"
mkns hub
ip -n $P-hub link add br-lan type bridge forward_delay 0 stp_state 0
ip -n $P-hub link set br-lan up
for h in gw1 gw2 c1 c2 c3; do mkns $h; done
plug gw1 eth0 192.0.2.2/24
plug gw2 eth0 192.0.2.3/24
for c in c1 c2 c3; do plug $c eth0; done
ip link add $P-s1 netns $P-gw1 type veth peer name $P-s2 netns $P-gw2
ip -n $P-gw1 link set $P-s1 name sync0; ip -n $P-gw2 link set $P-s2 name sync0
ip -n $P-gw1 addr add 198.51.100.1/24 dev sync0; ip -n $P-gw2 addr add 198.51.100.2/24 dev sync0
ip -n $P-gw1 link set sync0 up; ip -n $P-gw2 link set sync0 up

head -c 48 /dev/urandom >"$WORK/peer.key"; chmod 600 "$WORK/peer.key"
config() { # name role prio listen peer
	mkdir -p "$WORK/$1"
	cat >"$WORK/$1/hadhcpd.yaml" <<-EOF
	node: {name: $1, state_dir: $WORK/$1/state, control_socket: $WORK/$1/ctl.sock, metrics_listen: ""}
	vrrp:
	  instances:
	    - {name: lan, interface: eth0, vrid: 51, priority: $3, advert_interval: 100ms, virtual_ips: [192.0.2.1/24]}
	dhcp:
	  interfaces: [eth0]
	  default_lease_time: 1h
	  options: {domain_name_servers: [192.0.2.53], domain_name: demo.example}
	  subnets:
	    - subnet: 192.0.2.0/24
	      pools: [{range: 192.0.2.100-192.0.2.199}]
	      options: {routers: [192.0.2.1]}
	failover:
	  role: $2
	  listen: $4
	  peer: $5
	  vrrp_instance: lan
	  mclt: 1h
	  max_response_delay: 3s
	  auth: {psk_file: $WORK/peer.key}
	EOF
	"$BIN" check-config -c "$WORK/$1/hadhcpd.yaml" >/dev/null
}
config gw1 primary 200 198.51.100.1:647 198.51.100.2:647
config gw2 secondary 100 198.51.100.2:647 198.51.100.1:647

declare -A PID
start() { ns "$1" "$BIN" run -c "$WORK/$1/hadhcpd.yaml" >>"$WORK/$1/log" 2>&1 & PID[$1]=$!; }
status() { "$BIN" status -c "$WORK/$1/hadhcpd.yaml" "${@:2}"; }
has_vip() { ip -n "$P-$1" -4 -o addr show dev eth0 | grep -q ' 192.0.2.1/'; }
normal() { status "$1" --json 2>/dev/null | grep -q '"state": "NORMAL"'; }
wait_for() { # seconds description command...
	local until=$(($(date +%s) + $1)) what=$2; shift 2
	until "$@"; do
		[ "$(date +%s)" -lt $until ] || { tail -n 20 "$WORK"/gw*/log >&2; die "timed out waiting for $what"; }
		sleep 0.05
	done
}
dhc() { # client extra-args...: one dhclient run; prints "address from server-id"
	local c=$1; shift
	ns "$c" timeout 20 dhclient -1 -v -sf /bin/true -lf "$WORK/$c.leases" -pf "$WORK/$c.pid" "$@" eth0 2>&1 |
		sed -nE 's/.*DHCPACK of ([0-9.]+) from ([0-9.]+).*/\1 from \2/p' | tail -n 1
}

say "starting both boxes: gw1 primary (VRRP priority 200), gw2 secondary (100), 100 ms adverts"
start gw2; start gw1
wait_for 20 "both boxes in NORMAL" eval 'normal gw1 && normal gw2'
wait_for 10 "the VIP on gw1" has_vip gw1
backup() { status gw2 --json 2>/dev/null | grep -qE '"backup": [1-9]'; }
wait_for 20 "gw1 to hand gw2 its BACKUP share of the pool" backup
say "pair is NORMAL; gw1 is VRRP master with the VIP 192.0.2.1; gw2 owns a BACKUP share of the pool"

A1=$(dhc c1)
[ -n "$A1" ] || die "dhclient got no lease"
say "c1 (dhclient) got ${A1% from *} from ${A1#* from } (the VIP is the server identifier)"
A2=$(ns c2 timeout 20 udhcpc -i eth0 -s /bin/true -q -n -t 5 -T 1 2>&1 | sed -nE 's/.*lease of ([0-9.]+) obtained.*/\1/p')
[ -n "$A2" ] || die "udhcpc got no lease"
say "c2 (udhcpc) got $A2"

say "hadhcpd status on gw1:"; status gw1 | sed 's/^/    /'
say "hadhcpd status on gw2 (the standby already holds c1's and c2's leases):"; status gw2 | sed 's/^/    /'

say "crashing gw1: its LAN and sync links go down, then SIGKILL (a box loss, not just a dead process)"
ip -n $P-gw1 link set eth0 down; ip -n $P-gw1 link set sync0 down
kill -9 "${PID[gw1]}"; wait "${PID[gw1]}" 2>/dev/null || true
T1=$(date +%s%N)
wait_for 10 "gw2 to take the VIP" has_vip gw2
say "gw2 took the VIP after $(( ($(date +%s%N) - T1) / 1000000 )) ms"

R1=$(dhc c1)
[ "${R1% from *}" = "${A1% from *}" ] || die "c1 got '${R1:-nothing}' after the takeover, want ${A1% from *}"
say "c1 rebooted (INIT-REBOOT) and kept ${R1% from *}, ACKed by gw2 through the VIP"
A3=$(dhc c3)
[ -n "$A3" ] || die "c3 got no lease from gw2"
say "new client c3 got ${A3% from *} from gw2"
say "hadhcpd status on gw2:"; status gw2 | sed 's/^/    /'

say "gw1 comes back: links up, hadhcpd restarts with its journal; it resyncs before it may take the VIP"
ip -n $P-gw1 link set eth0 up; ip -n $P-gw1 link set sync0 up
start gw1
wait_for 30 "gw1 back in NORMAL with the VIP" eval 'normal gw1 && normal gw2 && has_vip gw1 && ! has_vip gw2'
say "gw1 is in sync and took the VIP back (preempt); its database holds every active lease, c3's from gw2 included:"
"$BIN" leases --state active -c "$WORK/gw1/hadhcpd.yaml" | sed 's/^/    /'

say "done in $(tenths "$T0") s; cleaning up"
