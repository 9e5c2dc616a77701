package config

import (
	"strings"
	"testing"
)

// TestDurationUnits: a duration key given a number without a unit is
// refused, naming the key and the spelling meant; the decoder would read
// 3600 as 3.6µs.
func TestDurationUnits(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"bare lease time", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0]\n  default_lease_time: 3600", 1), "dhcp.default_lease_time", `write "3600s"`},
		{"bare subnet lease time", sub("      max_lease_time: 7200\n"), "dhcp.subnets[0].max_lease_time", `write "7200s"`},
		{"bare quoted lease time", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0]\n  default_lease_time: '3600'", 1), "dhcp.default_lease_time", `write "3600s"`},
		{"bare fraction", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0]\n  offer_hold: 1.5", 1), "dhcp.offer_hold", `write "1.5s"`},
		{"bare probation", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0]\n  decline_probation: 3600", 1), "dhcp.decline_probation", `write "3600s"`},
		{"bare mclt", fo("  role: primary\n  mclt: 3600\n"), "failover.mclt", `write "3600s"`},
		{"bare max response delay", fo("  role: primary\n  max_response_delay: 3\n"), "failover.max_response_delay", `write "3s"`},
		{"bare auto partner down", fo("  role: primary\n  auto_partner_down: 60\n"), "failover.auto_partner_down", `write "60s"`},
		{"bare advert interval", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, advert_interval: 1,", 1), "vrrp.instances[0].advert_interval", `write "1s"`},
		{"bare preempt delay", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, preempt_delay: 30,", 1), "vrrp.instances[0].preempt_delay", `write "30s"`},
		{"bare garp times", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, garp: {interval: 1, refresh: 60},", 1), "vrrp.instances[0].garp.refresh", `write "60s"`},
		{"bool as duration", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0]\n  offer_hold: true", 1), "dhcp.offer_hold", "not a duration"},
	})
}
