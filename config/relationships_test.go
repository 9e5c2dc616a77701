package config

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// ringA is box A of a ring of three: primary of seg1 (with B), secondary
// of seg3 (with C); 203.0.113.0/24 is served by A alone.
const ringA = `
node: {name: a, state_dir: /var/lib/hadhcpd}
vrrp:
  instances:
    - {name: seg1, interface: eth1, vrid: 1, priority: 200, virtual_ips: [192.0.2.1/26]}
    - {name: seg3, interface: eth3, vrid: 3, priority: 100, virtual_ips: [192.0.2.129/26]}
dhcp:
  interfaces: [eth1, eth3, eth9]
  subnets:
    - {subnet: 192.0.2.0/26, pools: [{range: 192.0.2.10-192.0.2.60}]}
    - {subnet: 192.0.2.128/26, pools: [{range: 192.0.2.140-192.0.2.190}]}
    - {subnet: 203.0.113.0/24, pools: [{range: 203.0.113.10-203.0.113.20}]}
failover:
  listen: 198.51.100.1:647
  mclt: 10m
  auth: {psk_file: /etc/hadhcpd/peer.key}
  relationships:
    - name: seg1
      role: primary
      peer: 198.51.100.2:647
      vrrp_instance: seg1
      subnets: [192.0.2.0/26]
    - name: seg3
      role: secondary
      peer: 198.51.100.3:647
      vrrp_instance: seg3
      mode: load-balance
      mclt: 5m
      subnets: [192.0.2.128/26]
`

func TestRelationshipsBuild(t *testing.T) {
	cfg, err := Load(writeConfig(t, ringA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.Failover != nil || len(b.Relationships) != 2 {
		t.Fatalf("failover %v, %d relationships", b.Failover, len(b.Relationships))
	}
	r1, r3 := b.Relationships[0], b.Relationships[1]
	if r1.Name != "seg1" || r1.Machine.Role != failover.Primary || r1.Machine.MCLT.String() != "10m0s" || r1.Machine.Mode != failover.HotStandby {
		t.Errorf("seg1: %+v", r1)
	}
	if r3.Name != "seg3" || r3.Machine.Role != failover.Secondary || r3.Machine.MCLT.String() != "5m0s" || r3.Machine.Mode != failover.LoadBalance {
		t.Errorf("seg3: %+v", r3)
	}
	// The section's keys are every relationship's defaults.
	if r3.Listen.String() != "198.51.100.1:647" || r3.Auth.PSKFile != "/etc/hadhcpd/peer.key" || r3.Peer.String() != "198.51.100.3:647" {
		t.Errorf("seg3 link: %+v", r3)
	}
	for _, c := range []struct {
		rel  *FailoverSpec
		addr string
		want bool
	}{{r1, "192.0.2.20", true}, {r1, "192.0.2.150", false}, {r3, "192.0.2.150", true}, {r1, "203.0.113.10", false}, {r3, "203.0.113.10", false}} {
		if got := c.rel.Covers(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%s covers %s: %v", c.rel.Name, c.addr, got)
		}
	}
	if len(r1.SectionHash) == 0 || bytes.Equal(r1.SectionHash, r3.SectionHash) {
		t.Errorf("hashes %x %x", r1.SectionHash, r3.SectionHash)
	}
	// The hash covers the relationship's subnets only: a change to
	// another subnet leaves it alone.
	other := strings.Replace(ringA, "203.0.113.10-203.0.113.20", "203.0.113.10-203.0.113.30", 1)
	cfg2, err := Load(writeConfig(t, other))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := Build(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b2.Relationships[0].SectionHash, r1.SectionHash) {
		t.Error("seg1's hash changed with a subnet outside it")
	}
	mine := strings.Replace(ringA, "192.0.2.10-192.0.2.60", "192.0.2.10-192.0.2.61", 1)
	cfg3, _ := Load(writeConfig(t, mine))
	b3, err := Build(cfg3)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b3.Relationships[0].SectionHash, r1.SectionHash) || !bytes.Equal(b3.Relationships[1].SectionHash, r3.SectionHash) {
		t.Error("a change to seg1's pool must change seg1's hash and only it")
	}
}

// The single failover: section still builds as before: Failover set, no
// relationships, covering every address.
func TestSingleFailoverStillOneRelationship(t *testing.T) {
	cfg, err := Load(writeConfig(t, failoverConfig("  role: primary\n")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.Failover == nil || b.Relationships != nil || !b.Failover.Covers(netip.MustParseAddr("203.0.113.1")) {
		t.Fatalf("%+v %v", b.Failover, b.Relationships)
	}
}

func TestBadRelationships(t *testing.T) {
	r := func(old, new string) string {
		if !strings.Contains(ringA, old) {
			t.Fatalf("%q not in ringA", old)
		}
		return strings.Replace(ringA, old, new, 1)
	}
	refused(t, []badConfig{
		{"duplicate name", r("    - name: seg3", "    - name: seg1"), "failover.relationships[1].name", "also failover.relationships[0].name"},
		{"no name", r("    - name: seg3\n", "    - name: ''\n"), "failover.relationships[1].name", "needs a name"},
		{"bad name", r("    - name: seg3\n", "    - name: 'seg 3'\n"), "failover.relationships[1].name", "letters, digits"},
		{"subnet in two", r("      subnets: [192.0.2.128/26]", "      subnets: [192.0.2.128/26, 192.0.2.0/26]"), "failover.relationships[1].subnets[1]", "already in failover.relationships[0]"},
		{"prefix matching no subnet", r("      subnets: [192.0.2.128/26]", "      subnets: [198.18.0.0/24]"), "failover.relationships[1].subnets[0]", "holds no subnet"},
		{"prefix cutting a subnet", r("      subnets: [192.0.2.128/26]", "      subnets: [192.0.2.128/27]"), "failover.relationships[1].subnets[0]", "in part"},
		{"bad prefix", r("      subnets: [192.0.2.128/26]", "      subnets: [seg3]"), "failover.relationships[1].subnets[0]", "not an IPv4 prefix"},
		{"no subnets", r("      subnets: [192.0.2.128/26]\n", ""), "failover.relationships[1].subnets", "at least one"},
		{"unknown vrrp instance", r("      vrrp_instance: seg3", "      vrrp_instance: seg9"), "failover.relationships[1].vrrp_instance", "not a vrrp instance"},
		{"shared vrrp instance", r("      vrrp_instance: seg3", "      vrrp_instance: seg1"), "failover.relationships[1].vrrp_instance", "also failover.relationships[0]'s"},
		{"bad role", r("      role: secondary", "      role: backup"), "failover.relationships[1].role", "primary or secondary"},
		{"bad mclt", r("      mclt: 5m", "      mclt: 5s"), "failover.relationships[1].mclt", "outside"},
		{"role for all", r("  mclt: 10m\n", "  mclt: 10m\n  role: primary\n"), "failover.role", "in each of failover.relationships"},
		{"peer for all", r("  mclt: 10m\n", "  mclt: 10m\n  peer: 198.51.100.9:647\n"), "failover.peer", "in each of failover.relationships"},
		{"unknown key", r("      mclt: 5m", "      mclt: 5m\n      partner: x"), "failover.relationships[1].partner", "unknown key"},
		{"one partner twice on a listener", r("      subnets: [192.0.2.128/26]", "      subnets: [192.0.2.128/26]\n    - {name: seg4, role: secondary, peer: '198.51.100.3:647', vrrp_instance: seg1, subnets: [203.0.113.0/24]}"),
			"failover.relationships[2].peer", "could not be told apart"},
		{"two listen ports under firewall.manage", r("      subnets: [192.0.2.128/26]", "      subnets: [192.0.2.128/26]\n      listen: 198.51.100.1:648\nfirewall: {manage: true}"),
			"failover.relationships[1].listen", "firewall.manage opens one peer port"},
	})
}

// Subnets of one shared network belong to one relationship.
func TestRelationshipSplitsSharedNetwork(t *testing.T) {
	c := strings.Replace(ringA, "  subnets:\n    - {subnet: 192.0.2.0/26", "  shared_networks:\n    - name: lan\n      subnets:\n        - {subnet: 192.0.2.64/26, pools: [{range: 192.0.2.70-192.0.2.80}]}\n        - {subnet: 192.0.2.0/26, pools: [{range: 192.0.2.10-192.0.2.60}]}\n  subnets:\n    - {subnet: 192.0.2.192/26", 1)
	c = strings.Replace(c, "192.0.2.192/26, pools: [{range: 192.0.2.10-192.0.2.60}]", "192.0.2.192/26, pools: [{range: 192.0.2.200-192.0.2.210}]", 1)
	refused(t, []badConfig{{"shared network split", c, "dhcp.shared_networks[0]", "belongs to one relationship whole"}})
}

// A relationship's part goes from its primary to its secondary: the
// secondary takes its subnets, keeps its own keys and other subnets, and
// refuses a subnet outside the relationship.
func TestRelationshipPartRoundTrip(t *testing.T) {
	cfg, err := Load(writeConfig(t, ringA))
	if err != nil {
		t.Fatal(err)
	}
	seg1 := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/26")}
	part := RelationshipPart(cfg.DHCP, seg1)
	if len(part.Subnets) != 1 || part.Subnets[0].Subnet != "192.0.2.0/26" || part.Interfaces != nil {
		t.Fatalf("seg1's part: %+v", part)
	}
	b, _ := Build(cfg)
	pb, _ := SectionBytes(part)
	if !bytes.Equal(SectionHash(pb), b.Relationships[0].SectionHash) {
		t.Error("the part's hash is not the relationship's config hash")
	}
	changed := *part
	changed.Subnets = []SubnetConfig{{Subnet: "192.0.2.0/26", Pools: []PoolConfig{{Range: "192.0.2.20-192.0.2.30"}}}}
	merged, err := WithRelationshipPart(cfg.DHCP, seg1, &changed)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Subnets) != 3 || len(merged.Interfaces) != 3 {
		t.Fatalf("merged: %+v", merged)
	}
	var got []string
	for _, sc := range merged.Subnets {
		got = append(got, sc.Subnet+"="+sc.Pools[0].Range)
	}
	if strings.Join(got, " ") != "192.0.2.128/26=192.0.2.140-192.0.2.190 203.0.113.0/24=203.0.113.10-203.0.113.20 192.0.2.0/26=192.0.2.20-192.0.2.30" {
		t.Errorf("merged subnets %v", got)
	}
	if _, err := cfg.WithSection(merged); err != nil {
		t.Errorf("the merged section does not build: %v", err)
	}
	outside := changed
	outside.Subnets = append(outside.Subnets, SubnetConfig{Subnet: "192.0.2.128/26"})
	if _, err := WithRelationshipPart(cfg.DHCP, seg1, &outside); err == nil || !strings.Contains(err.Error(), "dhcp.subnets[1]") {
		t.Errorf("a subnet outside the relationship: %v", err)
	}
}

// TestRelationshipKeysOverrideDefaults: each key of the section is every
// relationship's default, and each a relationship sets is its own.
func TestRelationshipKeysOverrideDefaults(t *testing.T) {
	text := strings.Replace(ringA, "  relationships:\n", `  max_response_delay: 5s
  max_unacked_updates: 20
  split: 100
  load_balance_max_seconds: 5
  standby_share: 20%
  auto_partner_down: 2m
  relationships:
`, 1)
	text = strings.Replace(text, "      subnets: [192.0.2.128/26]\n", `      subnets: [192.0.2.128/26]
      listen: 198.51.100.1:648
      max_response_delay: 7s
      max_unacked_updates: 30
      split: 200
      load_balance_max_seconds: 9
      standby_share: 30%
      auto_partner_down: 3m
      auth: {psk_file: /etc/hadhcpd/seg3.key}
`, 1)
	b := buildText(t, text)
	type keys struct {
		listen  string
		delay   time.Duration
		unacked int
		split   int
		lbMax   int
		share   float64
		autoPD  time.Duration
		psk     string
	}
	got := func(s *FailoverSpec) keys {
		return keys{s.Listen.String(), s.MaxResponseDelay, s.MaxUnacked, s.Machine.Split, s.Machine.LoadBalanceMaxSeconds, s.Machine.StandbyShare, s.Machine.AutoPartnerDown, s.Auth.PSKFile}
	}
	if g, want := got(b.Relationships[0]), (keys{"198.51.100.1:647", 5 * time.Second, 20, 100, 5, 0.2, 2 * time.Minute, "/etc/hadhcpd/peer.key"}); g != want {
		t.Errorf("seg1 (the section's): %+v, want %+v", g, want)
	}
	if g, want := got(b.Relationships[1]), (keys{"198.51.100.1:648", 7 * time.Second, 30, 200, 9, 0.3, 3 * time.Minute, "/etc/hadhcpd/seg3.key"}); g != want {
		t.Errorf("seg3 (its own): %+v, want %+v", g, want)
	}
}
