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

// classify finds the client's reservation in the subnet's shared network
// (dhcp.reservation_identifiers order; circuit and remote ids only from a
// relay agent, rai non-nil) and evaluates the classes in config order: KNOWN or UNKNOWN and the
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
	for _, s := range sub.Candidates() {
		if cl.res = s.ReservationBy(&id, cfg.Identifiers); cl.res != nil {
			break
		}
	}
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

// reserved returns the address reserved for the client in sub's shared
// network, if any.
func (cl *classified) reserved(sub *scope.Subnet) (netip.Addr, bool) {
	if cl.res == nil || !cl.res.Addr.IsValid() || sub.Holder(cl.res.Addr) == nil {
		return netip.Addr{}, false
	}
	return cl.res.Addr, true
}

// admits reports whether the client may hold a in sub's shared network:
// true outside every pool (a reservation) and in a pool whose allow/deny
// rules the client's classes pass.
func (cl *classified) admits(sub *scope.Subnet, a netip.Addr) bool {
	h := sub.Holder(a)
	if h == nil {
		return true
	}
	i := h.PoolIndex(a)
	return i < 0 || h.Rule(i).Admits(&cl.set)
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

// leaseTimes are the subnet's lease times and T1/T2 with each one the
// client's first class (in config order) that sets it replacing the
// subnet's.
func (cl *classified) leaseTimes(t scope.LeaseTimes) scope.LeaseTimes {
	var got scope.ClassTimes
	cl.classes(func(k *scope.Class) bool {
		for _, f := range [...]struct{ to, from *time.Duration }{
			{&got.Default, &k.Times.Default}, {&got.Min, &k.Times.Min}, {&got.Max, &k.Times.Max},
			{&got.Renew, &k.Times.Renew}, {&got.Rebind, &k.Times.Rebind},
		} {
			if *f.to == 0 {
				*f.to = *f.from
			}
		}
		return got.Default != 0 && got.Min != 0 && got.Max != 0 && got.Renew != 0 && got.Rebind != 0
	})
	if got.IsZero() {
		return t
	}
	if got.Default > 0 {
		t.Default = got.Default
	}
	if got.Min > 0 {
		t.Min = got.Min
	}
	if got.Max > 0 {
		t.Max = got.Max
	}
	// A class's lease time is granted as written, whatever the bounds of
	// the subnet it does not replace (Kea grants a class's valid-lifetime
	// beyond the subnet's max-valid-lifetime; the subnet's 4h max would
	// silently cut a phones class's day): its max widens to hold it (its
	// min gives way below, with the clamp every class bound needs).
	if got.Default > 0 && got.Max == 0 && t.Max < got.Default {
		t.Max = got.Default
	}
	if got.Renew > 0 {
		t.Renew = got.Renew
	}
	if got.Rebind > 0 {
		t.Rebind = got.Rebind
	}
	// A class's bound may cross the subnet's others: keep Min <= Default
	// <= Max (T1 and T2 are clamped to each lease granted: renewTimes).
	if t.Max > 0 && t.Default > t.Max {
		t.Default = t.Max
	}
	if t.Min > t.Default {
		t.Min = t.Default
	}
	return t
}
