package config

import (
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

const sharedDHCP = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  renew_time: 20m
  options: {domain_name: example.net, domain_name_servers: [192.0.2.53]}
  shared_networks:
    - name: floor1
      relays: [203.0.113.1]
      options: {domain_name: floor1.example.net, ntp_servers: [192.0.2.123]}
      default_lease_time: 1h
      rebind_time: 50m
      subnets:
        - subnet: 192.0.2.0/25
          pools: [{range: 192.0.2.0-192.0.2.127}]
          options: {routers: [192.0.2.1]}
        - subnet: 198.51.100.0/24
          pools: [{range: 198.51.100.10-198.51.100.20}]
          options: {routers: [198.51.100.1], domain_name: second.example.net}
          renew_time: 10m
          default_lease_time: 30m
          rebind_time: 25m
  subnets:
    - subnet: 203.0.113.0/24
      pools: [{range: 203.0.113.100-203.0.113.200}]
`

// TestSharedNetworkBuild: the subnets of a shared network know their
// network and its order, inherit its options and times (subnet over
// network over global), its relays serve them, and a pool written as the
// whole subnet loses the network and broadcast addresses with a warning.
func TestSharedNetworkBuild(t *testing.T) {
	b := loadBuild(t, sharedDHCP)
	dc := b.DHCP
	if len(dc.Subnets) != 3 {
		t.Fatalf("%d subnets", len(dc.Subnets))
	}
	a, s2, lone := dc.Subnets[0], dc.Subnets[1], dc.Subnets[2]
	if a.Network == nil || a.Network != s2.Network || a.Network.Name != "floor1" || lone.Network != nil {
		t.Fatalf("networks: %+v %+v %+v", a.Network, s2.Network, lone.Network)
	}
	dc.Link()
	if c := s2.Candidates(); len(c) != 2 || c[0] != s2 || c[1] != a {
		t.Fatalf("candidates of the second subnet: %v", c)
	}
	if len(a.Relays) != 1 || a.Relays[0].String() != "203.0.113.1" {
		t.Fatalf("network relays not on its subnets: %v", a.Relays)
	}
	if string(a.Options[15]) != "floor1.example.net" || string(s2.Options[15]) != "second.example.net" || len(a.Options[42]) != 4 || len(a.Options[6]) != 4 {
		t.Fatalf("options: subnet over network over global: %q %q", a.Options[15], s2.Options[15])
	}
	want := scope.LeaseTimes{Default: time.Hour, Min: defaultMinLeaseTime, Max: defaultMaxLeaseTime, Renew: 20 * time.Minute, Rebind: 50 * time.Minute}
	if a.Times != want {
		t.Fatalf("first subnet times %+v, want %+v", a.Times, want)
	}
	if s2.Times.Default != 30*time.Minute || s2.Times.Renew != 10*time.Minute || s2.Times.Rebind != 25*time.Minute {
		t.Fatalf("second subnet times %+v", s2.Times)
	}
	if p := a.Pools[0]; p.Name != "192.0.2.1-192.0.2.126" {
		t.Fatalf("whole-subnet pool built as %s", p.Name)
	}
	var keys []string
	for _, w := range b.Warnings {
		keys = append(keys, w.Error())
	}
	got := strings.Join(keys, "\n")
	for _, w := range []string{
		"dhcp.shared_networks[0].subnets[0].pools[0].range: 192.0.2.0 is the network address",
		"dhcp.shared_networks[0].subnets[0].pools[0].range: 192.0.2.127 is the broadcast address",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no warning %q in:\n%s", w, got)
		}
	}
	if len(b.Warnings) != 2 {
		t.Errorf("warnings:\n%s", got)
	}
}

func TestSharedNetworkErrors(t *testing.T) {
	base := func(extra string) string {
		return `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  shared_networks:
    - name: a
      subnets: [{subnet: 192.0.2.0/25, pools: [{range: 192.0.2.10-192.0.2.20}]}]
` + extra
	}
	refused(t, []badConfig{
		{"unnamed", base("    - subnets: [{subnet: 198.51.100.0/24, pools: [{range: 198.51.100.10-198.51.100.20}]}]\n"), "dhcp.shared_networks[1].name", "needs a name"},
		{"duplicate name", base("    - name: a\n      subnets: [{subnet: 198.51.100.0/24, pools: [{range: 198.51.100.10-198.51.100.20}]}]\n"), "dhcp.shared_networks[1].name", `"a" is also dhcp.shared_networks[0].name`},
		{"no subnets", base("    - name: b\n"), "dhcp.shared_networks[1].subnets", "at least one subnet"},
		{"bad relay", base("    - name: b\n      relays: [gw]\n      subnets: [{subnet: 198.51.100.0/24, pools: [{range: 198.51.100.10-198.51.100.20}]}]\n"), "dhcp.shared_networks[1].relays[0]", "not an IPv4 address"},
		{"overlap across", base("  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.200-192.0.2.210}]}]\n"), "dhcp.subnets[0].subnet", "overlaps dhcp.shared_networks[0].subnets[0].subnet"},
		{"pool outside", base("    - name: b\n      subnets: [{subnet: 198.51.100.0/24, pools: [{range: 198.51.101.10-198.51.101.20}]}]\n"), "dhcp.shared_networks[1].subnets[0].pools[0].range", "not inside subnet"},
		{"pool overlap between subnets", base("  subnets: [{subnet: 198.51.100.0/24, pools: [{range: 198.51.100.0-198.51.100.20}, {range: 198.51.100.5-198.51.100.6}]}]\n"), "dhcp.subnets[0].pools[1].range", "overlaps"},
		{"network bad lease", base("      default_lease_time: 2s\n"), "dhcp.shared_networks[0].default_lease_time", "outside 4s..8760h"},
		{"renew after rebind", base("  renew_time: 40m\n  rebind_time: 30m\n"), "dhcp.renew_time", "not shorter than rebind_time 30m"},
		{"subnet renew after network rebind", strings.Replace(base(""), "subnets: [{subnet: 192.0.2.0/25,", "rebind_time: 30m\n      subnets: [{subnet: 192.0.2.0/25, renew_time: 31m,", 1), "dhcp.shared_networks[0].subnets[0].renew_time", "not shorter than rebind_time"},
		{"renew negative", base("  renew_time: -1s\n"), "dhcp.renew_time", "negative"},
		{"rebind fraction", base("  rebind_time: 1500ms\n"), "dhcp.rebind_time", "whole number of seconds"},
		{"pool of the network address alone", strings.Replace(base(""), "192.0.2.10-192.0.2.20", "192.0.2.0-192.0.2.0", 1), "dhcp.shared_networks[0].subnets[0].pools[0].range", "not inside subnet"},
	})
}

// TestRenewLongerThanLease: a T1 or T2 at or past the default lease is
// served clamped, and check-config says so by key.
func TestRenewLongerThanLease(t *testing.T) {
	cfg, err := Load(writeConfig(t, subnetConfig("      default_lease_time: 1h\n      renew_time: 2h\n      rebind_time: 3h\n")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings() {
		got = append(got, w.Error())
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "dhcp.subnets[0].renew_time: 2h is not shorter than the default lease time 1h") || !strings.HasPrefix(got[1], "dhcp.subnets[0].rebind_time:") {
		t.Fatalf("warnings %q", got)
	}
}

// TestShortLeases: lease times real configurations use (60s, 300s, a
// 10s minimum) and the 4s floor load.
func TestShortLeases(t *testing.T) {
	cfg, err := Load(writeConfig(t, subnetConfig("      default_lease_time: 60s\n      max_lease_time: 300s\n      min_lease_time: 4s\n")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(cfg)
	if tm := b.DHCP.Subnets[0].Times; tm.Default != time.Minute || tm.Min != 4*time.Second || tm.Max != 5*time.Minute {
		t.Fatalf("times %+v", tm)
	}
}

// TestSharedNetworkSync: the new keys survive the config sync form (the
// secondary builds the same shared networks and times).
func TestSharedNetworkSync(t *testing.T) {
	cfg, err := Load(writeConfig(t, sharedDHCP))
	if err != nil {
		t.Fatal(err)
	}
	b, err := SectionBytes(cfg.DHCP)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := ParseSection(b)
	if err != nil {
		t.Fatal(err)
	}
	built, err := cfg.WithSection(sec)
	if err != nil {
		t.Fatal(err)
	}
	s := built.DHCP.Subnets[1]
	if s.Network == nil || s.Network.Name != "floor1" || s.Times.Renew != 10*time.Minute || s.Times.Rebind != 25*time.Minute || len(s.Relays) != 1 {
		t.Fatalf("synced subnet %+v", s)
	}
}
