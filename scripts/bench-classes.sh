#!/usr/bin/env bash
# Classification benchmark: perfdhcp (a relay: it binds port 67 on its own
# address and sets giaddr) against one hadhcpd serving the plain config of
# bench-dhcp.sh, and against the same box with 20 client classes (tests on
# options 60, 77, 93, the relay's circuit id, member() of earlier classes,
# known/unknown, and a lookup table of MAC prefixes), pool allow/deny
# rules, 10,000 reservations (inside the pools: each is an address a pool
# skips) and the lab's /15 cut into a shared network of 4 subnets, as
# bench/sharednet.sh lays it out (SHARED=0: one subnet), in one run and by
# one procedure (scripts/bench-lib.sh):
#   1. the highest offered rate with <= 1 % drops for each (3 s probes, a
#      fresh server and an empty lease store each);
#   2. RUN_SECS at that rate: DORA/s, CPU, RSS;
#   3. the ratio classes / plain (target >= 0.9).
# perfdhcp's clients send no option 60 and no option 82, so every test is
# evaluated in full and none matches: the cost of classifying a client that
# is in no class, the common case.
# Needs root and perfdhcp. Namespaces: hcb-*; addresses: 198.18.0.0/15
# only. Bounded: a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_needs bench-classes perfdhcp ip python3
one_box_lab hcb
PROBE_SECS=${PROBE_SECS:-3}
RUN_SECS=${RUN_SECS:-10}

POOL_BIG="198.18.1.0-198.19.255.254"

# classes_section FIRST LAST ROUTER: dhcp_section's addresses with the
# classes, pool rules and reservations, in a shared network of 4 subnets
# (bench/sharednet.sh's layout) unless SHARED=0.
classes_section() {
	SHARED=${SHARED:-1} python3 - "$1" "$2" "$3" <<-'EOF'
	import ipaddress, os, sys
	first, last, router = sys.argv[1:]
	print("dhcp:")
	print("  interfaces: [eth0]")
	print("  default_lease_time: 1h")
	print("  client_classes:")
	tests = [
	    "substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0000",
	    "substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0007",
	    "substring(option[60].hex,0,8) == 'Polycom-'",
	    "option[60].text == 'MSFT 5.0'",
	    "option[77].text == 'iPXE'",
	    "relay4[1].hex == 'port7'",
	    "relay4[2].exists and not known",
	    "member('c00') or member('c01')",
	    "lcase(option[12].text) == 'printer'",
	    "substring(pkt4.mac,0,3) == 0x001122",
	    "option[61].exists and unknown",
	    "pkt4.htype == 6",
	    "hexstring(pkt4.mac, ':') == '02:00:00:00:00:01'",
	    "vendor-class[4491].exists",
	    "option[55].exists and option[60].text == 'android-dhcp-13'",
	    "member('c02') and known",
	    "substring(option[60].hex,0,4) == 'HP J'",
	    "option[82].option[6].exists",
	    "concat(option[60].hex, 'x') == 'aruba-apx'",
	]
	for i, t in enumerate(tests):
	    print(f"    - {{name: c{i:02d}, test: \"{t}\", options: {{tftp_server_name: tftp{i}.example.com}}, boot_file: f{i}.efi}}")
	print("    - {name: c19, match: \"substring(pkt4.mac,0,3)\", members: ['00:04:f2', '00:0b:82', '00:1a:e8', '64:16:7f'], options: {domain_name: phones.example.com}}")
	lo, hi = int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))
	if os.environ["SHARED"] == "1":
	    # bench/sharednet.sh's 4 subnets and pools.
	    nets = list(ipaddress.IPv4Network("198.18.0.0/15").subnets(new_prefix=17))
	    subnets, left = [], hi - lo + 1
	    for i, net in enumerate(nets):
	        base = int(net.network_address)
	        a = max(lo, base + 1) if i == 0 else base + 2
	        b = min(int(net.broadcast_address) - 1, a + -(-left // (len(nets) - i)) - 1)
	        left -= max(0, b - a + 1)
	        subnets.append((net, a, b, router if i == 0 else str(net.network_address + 1)))
	    print("  shared_networks:")
	    print("    - name: bench4")
	    print(f"      options: {{domain_name_servers: [{router}]}}")
	    print("      subnets:")
	    ind = "        "
	else:
	    subnets = [(ipaddress.IPv4Network("198.18.0.0/15"), lo, hi, router)]
	    print("  subnets:")
	    ind = "    "
	# 10,000 reservations at the top of the pools, spread over the subnets
	# (perfdhcp's clients are never among them: made-up 02:… addresses).
	per = 10000 // len(subnets)
	for k, (net, a, b, gw) in enumerate(subnets):
	    print(f"{ind}- subnet: {net}")
	    print(f"{ind}  pools: [{{range: {ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)}, deny: [c02, c19]}}]")
	    print(f"{ind}  options: {{routers: [{gw}], domain_name_servers: [{router}]}}")
	    print(f"{ind}  reservations:")
	    for j in range(per):
	        i = k * per + j
	        mac = ":".join(f"{x:02x}" for x in (2, 0xbe, 0, 0, i >> 8, i & 0xff))
	        print(f"{ind}    - {{hw_address: \"{mac}\", ip: {ipaddress.IPv4Address(b - j)}, client_classes: [c{i % 19:02d}]}}")
	EOF
}

# start_server plain|classes POOLRANGE: a fresh hadhcpd, serving on return.
start_server() {
	local kind=$1 range=$2 first last
	first=${range%-*} last=${range#*-}
	stop_server
	rm -rf "$WORK/state"; mkdir -p "$WORK/state"
	{
		echo "node: {name: bench, state_dir: $WORK/state, control_socket: $WORK/ctl.sock, metrics_listen: \"\", log_level: warn}"
		if [ "$kind" = classes ]; then classes_section "$first" "$last" 198.18.0.1; else dhcp_section "$first" "$last" 198.18.0.1; fi
	} >"$WORK/hadhcpd.yaml"
	"$WORK/hadhcpd" check-config -c "$WORK/hadhcpd.yaml" >/dev/null
	ip netns exec $SRV $SRV_RUN "$WORK/hadhcpd" run -c "$WORK/hadhcpd.yaml" >"$WORK/server.log" 2>&1 &
	SRV_PID=$!
	wait_serving bench-classes "$kind"
}

echo "== plain: bench-dhcp.sh's config; classes: 20 classes, pool allow/deny, 10,000 reservations inside the pools$([ "${SHARED:-1}" = 1 ] && echo ', a shared network of 4 subnets')"
echo "== finding the highest rate with <= 1 % drops (${PROBE_SECS} s probes)"
if [ -z "${RATE_P:-}" ]; then find_rate plain; RATE_P=$FOUND; fi
if [ -z "${RATE_C:-}" ]; then find_rate classes; RATE_C=$FOUND; fi
echo "== ${RUN_SECS} s at that rate"
run_secs "$RATE_P" plain; measure plain "$RATE_P" "$SECS"; OUT_P=$(cat "$WORK/measure.out"); echo "$OUT_P" | grep -v RESULT
run_secs "$RATE_C" classes; measure classes "$RATE_C" "$SECS"; OUT_C=$(cat "$WORK/measure.out"); echo "$OUT_C" | grep -v RESULT
DP=$(echo "$OUT_P" | awk '/^RESULT/ {print $3}')
DC=$(echo "$OUT_C" | awk '/^RESULT/ {print $3}')
CP=$(echo "$OUT_P" | awk '/^RESULT/ {print $4}')
CC=$(echo "$OUT_C" | awk '/^RESULT/ {print $4}')
python3 -c "print(f'plain {float($DP):.0f} DORA/s, classes {float($DC):.0f} DORA/s: ratio {float($DC)/max(float($DP),1):.2f} (target >= 0.9); CPU per DORA {10000*float($CP)/max(float($DP),1):.1f} vs {10000*float($CC)/max(float($DC),1):.1f} us')"
