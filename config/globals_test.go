package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every key of the dhcp: section is either a global default (from
// failover.defaults_from's node) or the box's own: a key added to
// DHCPConfig without a decision fails here, and copyGlobals copies
// exactly GlobalKeys.
func TestGlobalKeysCoverSection(t *testing.T) {
	typ := reflect.TypeFor[DHCPConfig]()
	var keys []string
	for i := range typ.NumField() {
		keys = append(keys, typ.Field(i).Tag.Get("mapstructure"))
	}
	for _, k := range keys {
		g, l := slices.Contains(GlobalKeys, k), slices.Contains(LocalKeys, k)
		if g == l {
			t.Errorf("dhcp.%s: global %v, local %v: exactly one", k, g, l)
		}
	}
	if len(GlobalKeys)+len(LocalKeys) != len(keys) {
		t.Errorf("%d global + %d local keys, the section has %d", len(GlobalKeys), len(LocalKeys), len(keys))
	}
	// A source with every key set: WithGlobals takes exactly the global
	// ones into a box's section.
	yes := true
	src := &DHCPConfig{
		Interfaces: []string{"src0"}, Authoritative: &yes, DefaultLeaseTime: time.Hour, MaxLeaseTime: 2 * time.Hour,
		MinLeaseTime: time.Minute, DeclineProbation: time.Minute, OfferHold: time.Second, PingCheck: true,
		PingTimeout: time.Second, TrustedRelays: []string{"192.0.2.9"}, Options: map[string]any{"domain_name": "x"},
		OptionDefinitions: nil, Subnets: []SubnetConfig{{Subnet: "192.0.2.0/24"}}, RenewTime: time.Minute,
		RebindTime: 2 * time.Minute, SharedNetworks: []SharedNetworkConfig{{Name: "n"}}, NextServer: "192.0.2.5",
		ServerName: "s", BootFile: "f", BOOTP: "off", ReservationIdentifiers: []string{"hw_address"},
		ClientClasses: []ClientClassConfig{{Name: "c"}},
	}
	box := &DHCPConfig{Interfaces: []string{"eth1"}, TrustedRelays: []string{"198.51.100.7"}, Subnets: []SubnetConfig{{Subnet: "203.0.113.0/24"}}}
	got := WithGlobals(box, src)
	gv, sv, bv := reflect.ValueOf(*got), reflect.ValueOf(*src), reflect.ValueOf(*box)
	for i, k := range keys {
		want := bv.Field(i)
		if slices.Contains(GlobalKeys, k) {
			want = sv.Field(i)
		}
		if !reflect.DeepEqual(gv.Field(i).Interface(), want.Interface()) {
			t.Errorf("dhcp.%s after WithGlobals: %v, want %v", k, gv.Field(i), want)
		}
	}
}

func TestGlobalsBytesRoundTrip(t *testing.T) {
	d := &DHCPConfig{Interfaces: []string{"eth1"}, DefaultLeaseTime: 40 * time.Minute, Options: map[string]any{"domain_name": "ring.example"},
		Subnets: []SubnetConfig{{Subnet: "192.0.2.0/26"}}, TrustedRelays: []string{"192.0.2.9"}}
	b, err := GlobalsBytes(d)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGlobals(b)
	if err != nil {
		t.Fatal(err)
	}
	if g.DefaultLeaseTime != 40*time.Minute || g.Options["domain_name"] != "ring.example" || g.Subnets != nil || g.TrustedRelays != nil {
		t.Errorf("%+v", g)
	}
	// A set carrying a box's own keys is refused.
	sb, _ := SectionBytes(d)
	if _, err := ParseGlobals(sb); err == nil || !strings.Contains(err.Error(), "each box's own") {
		t.Errorf("a whole section as defaults: %v", err)
	}
}

func TestDefaultsFrom(t *testing.T) {
	cfg, err := Load(writeConfig(t, strings.Replace(ringA, "  mclt: 10m\n", "  mclt: 10m\n  defaults_from: b\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfg); err != nil || cfg.Failover.DefaultsFrom != "b" {
		t.Fatalf("%v %q", err, cfg.Failover.DefaultsFrom)
	}
	r := func(old, new string) string {
		if !strings.Contains(ringA, old) {
			t.Fatalf("%q not in ringA", old)
		}
		return strings.Replace(ringA, old, new, 1)
	}
	refused(t, []badConfig{
		{"a relationship's name", r("  mclt: 10m\n", "  mclt: 10m\n  defaults_from: seg3\n"), "failover.defaults_from", "a relationship: name a node"},
		{"not a name", r("  mclt: 10m\n", "  mclt: 10m\n  defaults_from: 'gw 1'\n"), "failover.defaults_from", "not a node name"},
		{"per relationship", r("      mclt: 5m\n", "      mclt: 5m\n      defaults_from: b\n"), "failover.relationships[1].defaults_from", "unknown key"},
		{"single form", failoverConfig("  role: primary\n  defaults_from: gw2\n"), "failover.defaults_from", "only with failover.relationships"},
	})
}
