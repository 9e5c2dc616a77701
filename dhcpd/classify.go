package dhcpd

import (
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// classified is what the engine learns of a client once per request: its
// reservation in the chosen subnet and the classes it is in. It is a value
// inside client, so classifying allocates nothing.
type classified struct {
	cfg *scope.Config      // the config the classes were evaluated against
	res *scope.Reservation // the client's reservation in the subnet, or nil
	set class.Set
}

// classify finds the client's reservation (dhcp.reservation_identifiers
// order; circuit and remote ids only from a relay agent, rai non-nil)
// and evaluates the classes in config order: KNOWN or UNKNOWN and the
// reservation's client_classes first, so that a test may use them and
// member() of every class before it.
func classify(cfg *scope.Config, req *dhcpv4.DHCPv4, sub *scope.Subnet, c *client, rai *dhcpv4.RelayOptions) {
	cl := &c.cls
	cl.cfg = cfg
	id := scope.ClientIdentity{ClientID: c.id, HWAddr: c.hw}
	if rai != nil {
		id.Circuit = rai.Get(dhcpv4.AgentCircuitIDSubOption)
		id.Remote = rai.Get(dhcpv4.AgentRemoteIDSubOption)
	}
	cl.res = sub.ReservationBy(&id, cfg.Identifiers)
	if cl.res != nil {
		cl.set = cl.res.Classes
		cl.set.Add(class.Known)
	} else {
		cl.set.Add(class.Unknown)
	}
	var buf [64]byte
	for _, k := range cfg.Classes {
		switch {
		case k.Test != nil:
			if k.Test.Match(req, &cl.set) {
				cl.set.Add(k.Index)
			}
		case k.Match != nil && len(k.Members) > 0:
			if v, ok := k.Match.Append(buf[:0], req); ok {
				if _, in := k.Members[string(v)]; in {
					cl.set.Add(k.Index)
				}
			}
		}
	}
}

// reserved returns the address reserved for the client in sub, if any.
func (cl *classified) reserved(sub *scope.Subnet) (netip.Addr, bool) {
	if cl.res == nil || !cl.res.Addr.IsValid() || !sub.Prefix.Contains(cl.res.Addr) {
		return netip.Addr{}, false
	}
	return cl.res.Addr, true
}

// admits reports whether the client may hold a in sub: true outside every
// pool (a reservation) and in a pool whose allow/deny rules the client's
// classes pass.
func (cl *classified) admits(sub *scope.Subnet, a netip.Addr) bool {
	i := sub.PoolIndex(a)
	return i < 0 || sub.Rule(i).Admits(&cl.set)
}

// classes calls f for each of the client's configured classes in config
// order until f returns true.
func (cl *classified) classes(f func(*scope.Class) bool) {
	if cl.cfg == nil {
		return
	}
	for _, k := range cl.cfg.Classes {
		if cl.set.Has(k.Index) && f(k) {
			return
		}
	}
}

// leaseTimes are the subnet's lease times with each one the client's
// first class (in config order) that sets it replacing the subnet's.
func (cl *classified) leaseTimes(t scope.LeaseTimes) scope.LeaseTimes {
	var got scope.ClassTimes
	cl.classes(func(k *scope.Class) bool {
		if got.Default == 0 {
			got.Default = k.Times.Default
		}
		if got.Min == 0 {
			got.Min = k.Times.Min
		}
		if got.Max == 0 {
			got.Max = k.Times.Max
		}
		return got.Default != 0 && got.Min != 0 && got.Max != 0
	})
	if got.Default > 0 {
		t.Default = got.Default
	}
	if got.Min > 0 {
		t.Min = got.Min
	}
	if got.Max > 0 {
		t.Max = got.Max
	}
	// A class's bound may cross the subnet's others: keep Min <= Default <= Max.
	if t.Max > 0 && t.Default > t.Max {
		t.Default = t.Max
	}
	if t.Min > t.Default {
		t.Min = t.Default
	}
	return t
}

// timers are the T1 and T2 of the client's first classes that set them
// (0: not set by a class).
func (cl *classified) timers() (renew, rebind time.Duration) {
	cl.classes(func(k *scope.Class) bool {
		if renew == 0 {
			renew = k.Times.Renew
		}
		if rebind == 0 {
			rebind = k.Times.Rebind
		}
		return renew != 0 && rebind != 0
	})
	return renew, rebind
}
