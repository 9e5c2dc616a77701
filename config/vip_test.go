package config

import (
	"strings"
	"testing"
)

// TestVIPOutsideDHCP: a virtual IP inside a pool or reserved for a client
// is refused, the error naming both keys: the box would lease its own
// address.
func TestVIPOutsideDHCP(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"vip inside a pool", strings.Replace(fo("  role: primary\n"), "virtual_ips: [192.0.2.1/24]", "virtual_ips: [192.0.2.150/24]", 1), "vrrp.instances[0].virtual_ips[0]", "inside the pool dhcp.subnets[0].pools[0].range"},
		{"vip at a pool's end", strings.Replace(fo("  role: primary\n"), "virtual_ips: [192.0.2.1/24]", "virtual_ips: [192.0.2.254/24, 192.0.2.200/24]", 1), "vrrp.instances[0].virtual_ips[1]", "dhcp.subnets[0].pools[0].range"},
		{"vip reserved", strings.Replace(fo("  role: primary\n"), "pools: [{range: 192.0.2.100-192.0.2.200}]}", "pools: [{range: 192.0.2.100-192.0.2.200}], reservations: [{hw_address: '00:11:22:33:44:55', ip: 192.0.2.1}]}", 1), "vrrp.instances[0].virtual_ips[0]", "reserved for a client by dhcp.subnets[0].reservations[0].ip"},
		{"vip of a vrrp-only instance inside a pool", sub("vrrp:\n  instances: [{name: wan, interface: eth1, vrid: 9, priority: 100, virtual_ips: [192.0.2.100/24]}]\n"), "vrrp.instances[0].virtual_ips[0]", "inside the pool dhcp.subnets[0].pools[0].range"},
	})
}
