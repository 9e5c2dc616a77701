# shellcheck shell=bash
# The benchmarks' shared-network configuration; sourced, never run.
#
#   shared_network_section FIRST LAST ROUTER [IFACE]
#
# prints a dhcp: section like scripts/bench-lib.sh's dhcp_section (same
# arguments, same addresses), but with the lab's 198.18.0.0/15 cut into a
# shared network of 4 subnets (/17s) whose pools together hold as many
# addresses as FIRST-LAST, spread evenly (the first pool starts at FIRST),
# on the same topology as the plain configuration (the server's 198.18.0.1
# and perfdhcp's giaddr 198.18.0.2 are in the first subnet), so that one
# run can compare the two. New clients fill the first subnet's pool, then
# go on to the next: the path of a full first pool is measured too. Each subnet has its own routers (its first address; the first
# subnet's is ROUTER) and the shared network carries the common options.
shared_network_section() {
	local first=$1 last=$2 router=$3 iface=${4:-eth0}
	cat <<-EOF
	dhcp:
	  interfaces: [$iface]
	  default_lease_time: 1h
	  shared_networks:
	    - name: bench4
	      options: {domain_name_servers: [$router]}
	      subnets:
	EOF
	/usr/bin/env python3 - "$first" "$last" "$router" <<-'EOF'
	import ipaddress, sys
	first, last = (int(ipaddress.IPv4Address(a)) for a in sys.argv[1:3])
	router = sys.argv[3]
	nets = list(ipaddress.IPv4Network("198.18.0.0/15").subnets(new_prefix=17))
	left = last - first + 1
	for i, net in enumerate(nets):
	    base = int(net.network_address)
	    lo = max(first, base + 1) if i == 0 else base + 2  # .1: the subnet's router
	    hi = min(int(net.broadcast_address) - 1, lo + -(-left // (len(nets) - i)) - 1)
	    left -= max(0, hi - lo + 1)
	    gw = router if i == 0 else str(net.network_address + 1)
	    print(f"        - subnet: {net}")
	    print(f"          pools: [{{range: {ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}}}]")
	    print(f"          options: {{routers: [{gw}]}}")
	EOF
}
