package scope

import "net/netip"

// resIndex finds a subnet's reservations by identifier and by address in
// one map access each (a subnet may hold tens of thousands).
type resIndex struct {
	built  bool
	by     [IDRemoteID + 1]map[string]int // by Identifier: identifier bytes → index in Reservations
	byAddr map[netip.Addr]int
}

// Index builds the reservation lookups of every subnet; the config
// builder and the engine call it before a config is served, and the
// subnets' reservations must not change afterwards.
func (c *Config) Index() {
	for _, s := range c.Subnets {
		if !s.index.built {
			s.IndexReservations()
		}
	}
}

// IndexReservations builds s's reservation lookups. The first reservation
// of an identifier or address wins (the config refuses duplicates).
func (s *Subnet) IndexReservations() {
	x := resIndex{built: true, byAddr: make(map[netip.Addr]int, len(s.Reservations))}
	for k := range x.by {
		x.by[k] = map[string]int{}
	}
	add := func(k Identifier, key []byte, i int) {
		if len(key) == 0 {
			return
		}
		if _, dup := x.by[k][string(key)]; !dup {
			x.by[k][string(key)] = i
		}
	}
	for i := range s.Reservations {
		r := &s.Reservations[i]
		add(IDClientID, r.ClientID, i)
		add(IDHWAddress, r.HWAddr, i)
		add(IDCircuitID, r.CircuitID, i)
		add(IDRemoteID, r.RemoteID, i)
		if r.Addr.IsValid() {
			if _, dup := x.byAddr[r.Addr]; !dup {
				x.byAddr[r.Addr] = i
			}
		}
	}
	s.index = x
}

// ReservedIn returns the reserved addresses of s inside [first, last]:
// the addresses a pool must never give to another client.
func (s *Subnet) ReservedIn(first, last netip.Addr) []netip.Addr {
	var out []netip.Addr
	for i := range s.Reservations {
		a := s.Reservations[i].Addr
		if a.IsValid() && first.Compare(a) <= 0 && a.Compare(last) <= 0 {
			out = append(out, a)
		}
	}
	return out
}
