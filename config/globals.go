package config

import (
	"fmt"
	"strings"
	"unicode"
)

// Global defaults (failover.defaults_from): on a box in several
// relationships, each relationship's primary is the source of the
// subnets it covers (RelationshipPart); the keys of the dhcp: section
// that are not a subnet's are every box's, and come from the one node the
// operator names. GlobalKeys are those keys; the others are the box's
// own: interfaces and trusted_relays name this box's links and the
// relays that reach them, subnets and shared_networks are the
// relationships' (or served by this box alone).

// GlobalKeys are the dhcp: keys failover.defaults_from's node gives
// every box, in the section's order.
var GlobalKeys = []string{
	"authoritative", "default_lease_time", "max_lease_time", "min_lease_time",
	"decline_probation", "offer_hold", "ping_check", "ping_timeout",
	"options", "option_definitions", "renew_time", "rebind_time",
	"next_server", "server_name", "boot_file", "bootp",
	"reservation_identifiers", "client_classes",
}

// LocalKeys are the dhcp: keys that never come from the defaults' source.
var LocalKeys = []string{"interfaces", "trusted_relays", "subnets", "shared_networks"}

// GlobalsOf is d's global keys alone (the rest zero): what the source
// sends, and what its hash covers.
func GlobalsOf(d *DHCPConfig) *DHCPConfig {
	var g DHCPConfig
	copyGlobals(&g, d)
	return &g
}

// WithGlobals is d with its global keys replaced by g's; d's local keys
// (LocalKeys) stay. The result is built as a whole by the caller
// (Config.WithSection): a subnet of d naming a class g lacks is an error
// there.
func WithGlobals(d, g *DHCPConfig) *DHCPConfig {
	out := *d
	copyGlobals(&out, g)
	return &out
}

// copyGlobals sets dst's GlobalKeys to src's. TestGlobalKeysCoverSection
// fails when a key of DHCPConfig is in neither list.
func copyGlobals(dst, src *DHCPConfig) {
	dst.Authoritative = src.Authoritative
	dst.DefaultLeaseTime, dst.MaxLeaseTime, dst.MinLeaseTime = src.DefaultLeaseTime, src.MaxLeaseTime, src.MinLeaseTime
	dst.DeclineProbation, dst.OfferHold = src.DeclineProbation, src.OfferHold
	dst.PingCheck, dst.PingTimeout = src.PingCheck, src.PingTimeout
	dst.Options, dst.OptionDefinitions = src.Options, src.OptionDefinitions
	dst.RenewTime, dst.RebindTime = src.RenewTime, src.RebindTime
	dst.NextServer, dst.ServerName, dst.BootFile, dst.BOOTP = src.NextServer, src.ServerName, src.BootFile, src.BOOTP
	dst.ReservationIdentifiers, dst.ClientClasses = src.ReservationIdentifiers, src.ClientClasses
}

// GlobalsBytes is the wire and state_dir form of d's global keys
// (SectionBytes of GlobalsOf: equal keys give equal bytes on every box).
func GlobalsBytes(d *DHCPConfig) ([]byte, error) { return SectionBytes(GlobalsOf(d)) }

// ParseGlobals decodes GlobalsBytes; a local key in it is an error (a
// source may set the global keys only).
func ParseGlobals(b []byte) (*DHCPConfig, error) {
	d, err := ParseSection(b)
	if err != nil {
		return nil, err
	}
	if len(d.Interfaces)+len(d.TrustedRelays)+len(d.Subnets)+len(d.SharedNetworks) != 0 {
		return nil, fmt.Errorf("global defaults: carry %s, which are each box's own", strings.Join(LocalKeys, ", "))
	}
	return d, nil
}

// DefaultsFile is where a box keeps the global defaults it last adopted
// from failover.defaults_from's node (and the source its own serial), in
// node.state_dir: a restart while the source is away keeps them.
const DefaultsFile = "defaults.json"

// checkDefaultsFrom checks failover.defaults_from (the relationships
// form's key; the single form syncs the whole section from the primary).
func (c *Config) checkDefaultsFrom(v *validator) {
	f := c.Failover
	if f == nil || f.DefaultsFrom == "" {
		return
	}
	const k = "failover.defaults_from"
	name := f.DefaultsFrom
	switch {
	case len(f.Relationships) == 0:
		v.add(k, "only with failover.relationships: a lone pair's secondary takes the primary's whole dhcp section, global keys included")
		return
	case c.DHCP == nil:
		v.add(k, "this box has no dhcp: section to take global defaults into")
		return
	case name == c.Node.Name:
		return // this box is the source
	case len(name) > 255 || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		v.add(k, "%q is not a node name (node.name of the box whose global dhcp keys every box serves)", name)
		return
	}
	for i, r := range f.Relationships {
		if r.Name == name {
			v.add(k, "%q is failover.relationships[%d].name, a relationship: name a node (its node.name), this box (%q) or another box of the relationships", name, i, c.Node.Name)
		}
	}
}
