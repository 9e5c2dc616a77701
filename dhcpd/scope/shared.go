package scope

import "net/netip"

// SharedNetwork is several subnets on one link, or behind one relay
// (ISC dhcpd's shared-network, Kea's shared-networks): a client of the
// link may get an address of any of them, so the engine tries their pools
// in turn and a client keeps whichever address it has.
type SharedNetwork struct {
	Name    string    // "": a subnet alone on its link (Config.Link)
	Subnets []*Subnet // in config order
	// Relays are giaddrs outside every subnet of the network whose
	// clients belong to it (also in each subnet's Relays).
	Relays []netip.Addr
	// order[i] is Subnets with Subnets[i] first, the others after it in
	// config order: the candidates of a request found in Subnets[i].
	order [][]*Subnet
}

// Link precomputes every subnet's candidates (Candidates), so that a
// request allocates nothing to find them; a subnet without a shared
// network gets an unnamed one of its own. The engine calls it before it
// publishes a config; it is idempotent.
func (c *Config) Link() {
	for _, s := range c.Subnets {
		if s.Network == nil {
			s.Network = &SharedNetwork{Subnets: []*Subnet{s}}
		}
		if s.Network.order == nil {
			s.Network.link()
		}
	}
}

func (n *SharedNetwork) link() {
	n.order = make([][]*Subnet, len(n.Subnets))
	for i, s := range n.Subnets {
		s.Network = n
		o := make([]*Subnet, 0, len(n.Subnets))
		o = append(o, s)
		for j, t := range n.Subnets {
			if j != i {
				o = append(o, t)
			}
		}
		n.order[i] = o
	}
}

// Candidates returns the subnets a client found in s may get an address
// of: s first, then the other subnets of its shared network in config
// order. A subnet alone on its link is its own only candidate. It does
// not allocate.
func (s *Subnet) Candidates() []*Subnet {
	if n := s.Network; n != nil {
		for i, t := range n.Subnets {
			if t == s && i < len(n.order) {
				return n.order[i]
			}
		}
	}
	return []*Subnet{s} // not linked (Config.Link): only outside the engine
}

// Holder returns the candidate of s (s itself or a subnet of its shared
// network) whose prefix contains a, or nil: the subnet whose mask,
// routers and lease times go with a.
func (s *Subnet) Holder(a netip.Addr) *Subnet {
	for _, t := range s.Candidates() {
		if t.Prefix.Contains(a) {
			return t
		}
	}
	return nil
}
