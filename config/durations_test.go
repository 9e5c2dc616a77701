package config

import (
	"strings"
	"testing"
	"time"
)

// TestDurationUnits: a duration key given a number without a unit is
// refused, naming the key and the spelling meant; the decoder would read
// 3600 as 3.6µs.
func TestDurationUnits(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"bare lease time", dhcpKeys("default_lease_time: 3600"), "dhcp.default_lease_time", `write "3600s"`},
		{"bare subnet lease time", sub("      max_lease_time: 7200\n"), "dhcp.subnets[0].max_lease_time", `write "7200s"`},
		{"bare quoted lease time", dhcpKeys("default_lease_time: '3600'"), "dhcp.default_lease_time", `write "3600s"`},
		{"bare fraction", dhcpKeys("offer_hold: 1.5"), "dhcp.offer_hold", `write "1.5s"`},
		{"bare probation", dhcpKeys("decline_probation: 3600"), "dhcp.decline_probation", `write "3600s"`},
		{"bare mclt", fo("  role: primary\n  mclt: 3600\n"), "failover.mclt", `write "3600s"`},
		{"bare max response delay", fo("  role: primary\n  max_response_delay: 3\n"), "failover.max_response_delay", `write "3s"`},
		{"bare auto partner down", fo("  role: primary\n  auto_partner_down: 60\n"), "failover.auto_partner_down", `write "60s"`},
		{"bare advert interval", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, advert_interval: 1,", 1), "vrrp.instances[0].advert_interval", `write "1s"`},
		{"bare preempt delay", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, preempt_delay: 30,", 1), "vrrp.instances[0].preempt_delay", `write "30s"`},
		{"bare garp times", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, garp: {interval: 1, refresh: 60},", 1), "vrrp.instances[0].garp.refresh", `write "60s"`},
		{"bool as duration", dhcpKeys("offer_hold: true"), "dhcp.offer_hold", "not a duration"},
	})
}

// TestDurationBounds: every duration is bounded by what the lease
// database can store (lease times, probation) or by where its key still
// means what it says.
func TestDurationBounds(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"lease time past the journal's range", dhcpKeys("default_lease_time: 876000h"), "dhcp.default_lease_time", "outside 4s..8760h"},
		{"max lease time too long", dhcpKeys("max_lease_time: 8761h"), "dhcp.max_lease_time", "outside 4s..8760h"},
		{"subnet lease time too long", sub("      default_lease_time: 9000h\n"), "dhcp.subnets[0].default_lease_time", "outside 4s..8760h"},
		{"lease time too short", dhcpKeys("min_lease_time: 3s"), "dhcp.min_lease_time", "outside 4s..8760h"},
		{"probation too long", dhcpKeys("decline_probation: 9000h"), "dhcp.decline_probation", "outside 0s..8760h"},
		{"ping timeout too long", dhcpKeys("ping_timeout: 5s"), "dhcp.ping_timeout", "outside 10ms..2s"},
		{"ping timeout too short", dhcpKeys("ping_timeout: 1ms"), "dhcp.ping_timeout", "outside 10ms..2s"},
		{"offer hold too long", dhcpKeys("offer_hold: 1h"), "dhcp.offer_hold", "outside 0s..5m"},
		{"mclt too long", fo("  role: primary\n  mclt: 48h\n"), "failover.mclt", "outside 1m..24h"},
		{"mclt too short", fo("  role: primary\n  mclt: 30s\n"), "failover.mclt", "outside 1m..24h"},
		{"max response delay too long", fo("  role: primary\n  max_response_delay: 10m\n"), "failover.max_response_delay", "outside 1s..2m"},
		{"max response delay too short", fo("  role: primary\n  max_response_delay: 100ms\n"), "failover.max_response_delay", "outside 1s..2m"},
		{"auto partner down too long", fo("  role: primary\n  auto_partner_down: 48h\n"), "failover.auto_partner_down", "outside 0s..24h"},
		{"auto partner down negative", fo("  role: primary\n  auto_partner_down: -1s\n"), "failover.auto_partner_down", "negative"},
		{"mclt negative", fo("  role: primary\n  mclt: -1h\n"), "failover.mclt", "negative"},
		{"preempt delay too long", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, preempt_delay: 2h,", 1), "vrrp.instances[0].preempt_delay", "outside 0s..1h"},
		{"garp interval too long", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, garp: {interval: 2m},", 1), "vrrp.instances[0].garp.interval", "outside 0s..1m"},
		{"garp refresh too often", strings.Replace(fo("  role: primary\n"), "priority: 200,", "priority: 200, garp: {refresh: 10ms},", 1), "vrrp.instances[0].garp.refresh", "outside 1s..24h"},
	})
}

// TestDurationsAtTheirBounds: each bound is inclusive, 0 needs no unit,
// and units are kept.
func TestDurationsAtTheirBounds(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  instances:
    - name: lan
      interface: eth0
      vrid: 51
      priority: 200
      virtual_ips: [192.0.2.1/24]
      preempt_delay: 1h
      garp: {interval: 1m, refresh: 24h}
dhcp:
  interfaces: [eth0]
  default_lease_time: 8760h
  max_lease_time: 8760h
  min_lease_time: 10s
  decline_probation: 0
  offer_hold: 5m
  subnets:
    - {subnet: 192.0.2.0/24, pools: [{range: 192.0.2.100-192.0.2.200}], max_lease_time: 8760h}
failover:
  role: primary
  listen: 198.51.100.1:647
  peer: 198.51.100.2:647
  vrrp_instance: lan
  mclt: 24h
  max_response_delay: 2m
  auto_partner_down: 0
  auth: {psk_file: /etc/hadhcpd/peer.key}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DHCP.DefaultLeaseTime != 8760*time.Hour || *cfg.Failover.AutoPartnerDown != 0 || cfg.Failover.MCLT != 24*time.Hour || cfg.DHCP.DeclineProbation != 0 {
		t.Errorf("decoded %+v %+v", cfg.DHCP, cfg.Failover)
	}
}
