package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// RelationshipConfig is one of failover.relationships[]: a failover
// relationship with one partner over some of this box's subnets (a ring
// of three boxes, a hub backing several spokes). Its keys are those of
// the single failover: section, which gives the defaults of every key
// left out here (listen and auth are usually set once there), plus name
// and subnets.
type RelationshipConfig struct {
	Name string `mapstructure:"name"`
	// Subnets are prefixes: every dhcp subnet inside one belongs to this
	// relationship; a subnet in no relationship is served by this box
	// alone.
	Subnets               []string       `mapstructure:"subnets"`
	Role                  string         `mapstructure:"role"`
	Mode                  string         `mapstructure:"mode"`
	Listen                string         `mapstructure:"listen"`
	Peer                  string         `mapstructure:"peer"`
	VRRPInstance          string         `mapstructure:"vrrp_instance"`
	MCLT                  time.Duration  `mapstructure:"mclt"`
	MaxResponseDelay      time.Duration  `mapstructure:"max_response_delay"`
	MaxUnackedUpdates     int            `mapstructure:"max_unacked_updates"`
	Split                 *int           `mapstructure:"split"`
	LoadBalanceMaxSeconds int            `mapstructure:"load_balance_max_seconds"`
	StandbyShare          string         `mapstructure:"standby_share"`
	AutoPartnerDown       *time.Duration `mapstructure:"auto_partner_down"`
	Auth                  AuthConfig     `mapstructure:"auth"`
	Notify                string         `mapstructure:"notify"`
	NotifyTimeout         time.Duration  `mapstructure:"notify_timeout"`
}

// maxRelationshipName bounds a relationship's name: it is a log field
// and a metrics label value.
const maxRelationshipName = 64

// merged is r over the section's keys d (the defaults): a key left out
// of r takes d's value.
func (r *RelationshipConfig) merged(d *FailoverConfig) *FailoverConfig {
	f := *d
	f.Relationships = nil
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&f.Role, r.Role)
	set(&f.Mode, r.Mode)
	set(&f.Listen, r.Listen)
	set(&f.Peer, r.Peer)
	set(&f.VRRPInstance, r.VRRPInstance)
	set(&f.StandbyShare, r.StandbyShare)
	if r.MCLT != 0 {
		f.MCLT = r.MCLT
	}
	if r.MaxResponseDelay != 0 {
		f.MaxResponseDelay = r.MaxResponseDelay
	}
	if r.MaxUnackedUpdates != 0 {
		f.MaxUnackedUpdates = r.MaxUnackedUpdates
	}
	if r.Split != nil {
		f.Split = r.Split
	}
	if r.LoadBalanceMaxSeconds != 0 {
		f.LoadBalanceMaxSeconds = r.LoadBalanceMaxSeconds
	}
	if r.AutoPartnerDown != nil {
		f.AutoPartnerDown = r.AutoPartnerDown
	}
	if r.Auth.PSKFile != "" || r.Auth.TLS != nil {
		f.Auth = r.Auth
	}
	return &f
}

// dhcpSubnet is one subnet of the dhcp: section for the coverage checks.
type dhcpSubnet struct {
	key    string
	prefix netip.Prefix
	net    int // index in dhcp.shared_networks; -1: none
	cfg    *SubnetConfig
}

func (c *Config) dhcpSubnets() []dhcpSubnet {
	var out []dhcpSubnet
	if c.DHCP == nil {
		return nil
	}
	add := func(key string, net int, sc *SubnetConfig) {
		p, err := netip.ParsePrefix(sc.Subnet)
		if err != nil || !p.Addr().Is4() {
			return // dhcp's own checks name it
		}
		out = append(out, dhcpSubnet{key: key, prefix: p.Masked(), net: net, cfg: sc})
	}
	for i := range c.DHCP.SharedNetworks {
		for j := range c.DHCP.SharedNetworks[i].Subnets {
			add(fmt.Sprintf("dhcp.shared_networks[%d].subnets[%d]", i, j), i, &c.DHCP.SharedNetworks[i].Subnets[j])
		}
	}
	for i := range c.DHCP.Subnets {
		add(fmt.Sprintf("dhcp.subnets[%d]", i), -1, &c.DHCP.Subnets[i])
	}
	return out
}

// relationshipSpecs checks failover.relationships and builds one spec
// per relationship. A subnet belongs to at most one relationship, so
// each lease (by its address) has one relationship: its state,
// replication stream and pool ownership are that relationship's.
func (c *Config) relationshipSpecs(v *validator) []*FailoverSpec {
	d := c.Failover
	for _, x := range []struct{ key, val string }{{"role", d.Role}, {"peer", d.Peer}, {"vrrp_instance", d.VRRPInstance}} {
		if x.val != "" {
			v.add("failover."+x.key, "set it in each of failover.relationships (it differs per relationship), not for all of them")
		}
	}
	failoverNotifyDefaults(v, d)
	subnets := c.dhcpSubnets()
	owner := make([]int, len(subnets)) // relationship index+1 of each subnet; 0: none
	names := map[string]int{}
	insts := map[string]int{}
	var specs []*FailoverSpec
	for i := range d.Relationships {
		r := &d.Relationships[i]
		k := fmt.Sprintf("failover.relationships[%d]", i)
		s := c.failoverSpecAt(v, k, r.merged(d))
		s.Name = r.Name
		s.Notify = failoverNotify(v, k, &FailoverConfig{Notify: r.Notify, NotifyTimeout: r.NotifyTimeout}, d)
		switch j, dup := names[r.Name]; {
		case r.Name == "":
			v.add(k+".name", "a relationship needs a name")
		case !validRelName(r.Name):
			v.add(k+".name", "%q: use 1..%d letters, digits, '-', '_' or '.'", r.Name, maxRelationshipName)
		case dup:
			v.add(k+".name", "%q is also failover.relationships[%d].name", r.Name, j)
		}
		names[r.Name] = i
		if r.VRRPInstance != "" {
			if j, dup := insts[r.VRRPInstance]; dup {
				v.add(k+".vrrp_instance", "%q is also failover.relationships[%d]'s: an instance's priority follows one relationship's fitness (invariant 3)", r.VRRPInstance, j)
			}
			insts[r.VRRPInstance] = i
		}
		if len(r.Subnets) == 0 {
			v.add(k+".subnets", "a relationship needs at least one subnet prefix")
		}
		for j, ps := range r.Subnets {
			kj := fmt.Sprintf("%s.subnets[%d]", k, j)
			p, err := netip.ParsePrefix(ps)
			if err != nil || !p.Addr().Is4() {
				v.add(kj, "%q is not an IPv4 prefix (192.0.2.0/24)", ps)
				continue
			}
			p = p.Masked()
			covered := 0
			for n, sn := range subnets {
				switch {
				case !p.Overlaps(sn.prefix):
					continue
				case sn.prefix.Bits() < p.Bits():
					v.add(kj, "%s cuts %s (%s) in part: a subnet belongs to one relationship whole", p, sn.prefix, sn.key)
					continue
				case owner[n] != 0 && owner[n] != i+1:
					v.add(kj, "%s (%s) is already in failover.relationships[%d]: a subnet belongs to at most one relationship", sn.prefix, sn.key, owner[n]-1)
					continue
				}
				owner[n] = i + 1
				covered++
			}
			if covered == 0 && c.DHCP != nil {
				v.add(kj, "%s holds no subnet of the dhcp section", p)
			}
			s.Subnets = append(s.Subnets, p)
		}
		specs = append(specs, s)
	}
	// A shared network is one link: its subnets' clients move between
	// them (the engine allocates from any), so they are served under one
	// relationship's rules or none.
	for i := range subnets {
		for j := range i {
			a, b := subnets[i], subnets[j]
			if a.net >= 0 && a.net == b.net && owner[i] != owner[j] {
				v.add(fmt.Sprintf("dhcp.shared_networks[%d]", a.net), "its subnets %s and %s are in different failover relationships (or one in none): a shared network belongs to one relationship whole", b.prefix, a.prefix)
			}
		}
	}
	c.checkListeners(v, specs)
	if c.DHCP != nil {
		for i, s := range specs {
			h, err := c.relationshipHash(subnets, owner, i+1)
			if err != nil {
				v.add(fmt.Sprintf("failover.relationships[%d]", i), "%v", err)
			}
			s.SectionHash = h
		}
	}
	return specs
}

// checkListeners: where this box accepts (it is the secondary), one
// listener serves every relationship of its address, and a connection
// goes to the relationship of its source address, the partner's own
// (failover.peer's host; the partner dials from it). Two such
// relationships with one partner host on one listener could not be told
// apart. A managed firewall opens one peer port.
func (c *Config) checkListeners(v *validator, specs []*FailoverSpec) {
	type key struct {
		listen netip.AddrPort
		peer   netip.Addr
	}
	seen := map[key]int{}
	for i, s := range specs {
		if s.Machine.Role != failover.Secondary || !s.Listen.IsValid() || !s.Peer.IsValid() {
			continue
		}
		kk := key{s.Listen, s.Peer.Addr()}
		if j, dup := seen[kk]; dup {
			v.add(fmt.Sprintf("failover.relationships[%d].peer", i), "%s is also failover.relationships[%d]'s partner on listener %s: its connections could not be told apart (give one of them its own listen port)", s.Peer.Addr(), j, s.Listen)
		}
		seen[kk] = i
	}
	if c.Firewall.Manage {
		for i, s := range specs {
			if s.Listen.IsValid() && specs[0].Listen.IsValid() && s.Listen.Port() != specs[0].Listen.Port() {
				v.add(fmt.Sprintf("failover.relationships[%d].listen", i), "port %d differs from failover.relationships[0]'s %d: firewall.manage opens one peer port", s.Listen.Port(), specs[0].Listen.Port())
			}
		}
	}
}

// relationshipHash is the hash of what both boxes of relationship rel
// (1-based, as owner holds it) must serve alike: its part of the dhcp
// section (RelationshipPart), as its primary sends it.
func (c *Config) relationshipHash(subnets []dhcpSubnet, owner []int, rel int) ([]byte, error) {
	var prefixes []netip.Prefix
	for n, sn := range subnets {
		if owner[n] == rel {
			prefixes = append(prefixes, sn.prefix)
		}
	}
	b, err := SectionBytes(RelationshipPart(c.DHCP, prefixes))
	if err != nil {
		return nil, err
	}
	return SectionHash(b), nil
}

// RelationshipPart is a relationship's part of the dhcp section d: the
// section without its interfaces, with only the subnets (and shared
// networks) inside the relationship's prefixes. Its primary sends it to
// the secondary (config sync), which takes its subnets; its hash
// (SectionBytes, SectionHash) is the relationship's config hash.
func RelationshipPart(d *DHCPConfig, prefixes []netip.Prefix) *DHCPConfig {
	sec := *d
	sec.Interfaces, sec.Subnets, sec.SharedNetworks = nil, nil, nil
	for _, sc := range d.Subnets {
		if subnetInside(sc.Subnet, prefixes) {
			sec.Subnets = append(sec.Subnets, sc)
		}
	}
	for _, sn := range d.SharedNetworks {
		if len(sn.Subnets) > 0 && subnetInside(sn.Subnets[0].Subnet, prefixes) {
			sec.SharedNetworks = append(sec.SharedNetworks, sn)
		}
	}
	return &sec
}

// WithRelationshipPart is d with the subnets and shared networks inside
// prefixes (a relationship's) replaced by those of part (what its primary
// sent): this box's own keys and other subnets stay. A subnet of part
// outside the prefixes is an error naming it (the primary may set the
// relationship's subnets only); the result is then built as a whole
// (Config.WithSection) by the caller.
func WithRelationshipPart(d *DHCPConfig, prefixes []netip.Prefix, part *DHCPConfig) (*DHCPConfig, error) {
	for i, sc := range part.Subnets {
		if !subnetInside(sc.Subnet, prefixes) {
			return nil, fmt.Errorf("dhcp.subnets[%d]: %s is not in the relationship's subnets %v", i, sc.Subnet, prefixes)
		}
	}
	for i, sn := range part.SharedNetworks {
		for j, sc := range sn.Subnets {
			if !subnetInside(sc.Subnet, prefixes) {
				return nil, fmt.Errorf("dhcp.shared_networks[%d].subnets[%d]: %s is not in the relationship's subnets %v", i, j, sc.Subnet, prefixes)
			}
		}
	}
	out := *d
	out.Subnets, out.SharedNetworks = nil, nil
	for _, sc := range d.Subnets {
		if !subnetInside(sc.Subnet, prefixes) {
			out.Subnets = append(out.Subnets, sc)
		}
	}
	out.Subnets = append(out.Subnets, part.Subnets...)
	for _, sn := range d.SharedNetworks {
		if len(sn.Subnets) == 0 || !subnetInside(sn.Subnets[0].Subnet, prefixes) {
			out.SharedNetworks = append(out.SharedNetworks, sn)
		}
	}
	out.SharedNetworks = append(out.SharedNetworks, part.SharedNetworks...)
	return &out, nil
}

// subnetInside reports whether the subnet s (a prefix string) lies inside
// one of prefixes.
func subnetInside(s string, prefixes []netip.Prefix) bool {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return false
	}
	for _, q := range prefixes {
		if q.Bits() <= p.Bits() && q.Contains(p.Masked().Addr()) {
			return true
		}
	}
	return false
}

func validRelName(s string) bool {
	if len(s) == 0 || len(s) > maxRelationshipName {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
