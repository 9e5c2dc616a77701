package dhcpd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

type offer struct {
	addr  netip.Addr
	key   string
	until time.Time
	held  bool // taken with Allocate: Unhold when the offer lapses

	// charged: an offer to a client without a binding, counted against
	// its source and pool (limits.go) until it goes.
	charged bool
	pool    *poolOffers
	src     source

	// probing: the address is being probed (probe.go); probed: it was,
	// and nothing answered.
	probing, probed bool
}

type offerRef struct {
	addr  netip.Addr
	until time.Time
}

// discover chooses an address for an OFFER (RFC 2131 §4.3.1): the client's
// reservation, its current or last lease, the address it asked for, any
// free address.
func (e *Engine) discover(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) (Reply, error) {
	addr, res, err := e.offerAddr(req, c, sub, now)
	if err != nil {
		return Reply{}, err
	}
	prev, _ := e.db.Get(addr)
	if p, err := e.needProbe(req, c, sub, sid, addr, res, prev, now); p != nil || err != nil {
		return Reply{probe: p}, err // answered once the probe is done (probe.go)
	}
	sub = holderOr(sub, addr) // its mask, routers and times (shared networks)
	times := c.cls.leaseTimes(sub.Times)
	lt, _ := e.grant(req, c, sub, times, addr, prev, now) // an offer commits nothing
	resp := e.newReply(req, dhcpv4.MessageTypeOffer, sid)
	resp.YourIPAddr = net.IP(addr.AsSlice())
	setLeaseTime(resp, lt, times)
	e.addOptions(resp, req, sub, &c.cls, addr)
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("offer", "ip", addr, "mac", c.hw.String(), "client", clientLabel(c), "lease", lt)
	}
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

func (e *Engine) offerAddr(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, now time.Time) (netip.Addr, *scope.Reservation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ra, ok := c.cls.reserved(sub); ok {
		if l, ok := e.db.Get(ra); ok && l.State == lease.StateActive && now.Before(l.Expiry) && l.Key() != c.key {
			e.log.Warn("reserved address is leased to another client", "ip", ra, "mac", c.hw.String(), "holder", l.HWAddr.String())
			return netip.Addr{}, nil, ErrNoAddress
		}
		e.setOfferLocked(c.key, ra, false, now)
		return ra, c.cls.res, nil
	}
	// A client's offer, lease or requested address in a pool whose
	// allow/deny rules its classes no longer pass is not given again.
	if o := e.byKey[c.key]; o != nil {
		if _, p := poolOf(sub, o.addr); p != nil && c.cls.admits(sub, o.addr) {
			e.setOfferLocked(c.key, o.addr, o.held, now)
			return o.addr, nil, nil
		}
		e.dropOfferLocked(o)
	}
	// The client keeps its address in whichever subnet of the shared
	// network holds it (claimLocked checks the pool admits it).
	if l, ok := e.db.ByClient(c.key); ok && reservationOf(sub, l.Addr) == nil {
		if hs, p := poolOf(sub, l.Addr); p != nil {
			if held, ok := e.claimLocked(hs, c, l.Addr, now); ok {
				e.setOfferLocked(c.key, l.Addr, held, now)
				return l.Addr, nil, nil
			}
		}
	}
	// From here on the client has no binding here: what it gets comes
	// from the free set and counts against its share (Limits).
	var limited error
	if ra := addr4(req.RequestedIPAddress()); ra.IsValid() && reservationOf(sub, ra) == nil {
		if hs, p := poolOf(sub, ra); p != nil && c.cls.admits(sub, ra) {
			po, err := e.newcomerLocked(c, p.Name, now)
			if err != nil {
				limited = err
			} else if held, ok := e.claimLocked(hs, c, ra, now); ok {
				o := e.setOfferLocked(c.key, ra, held, now)
				if held {
					e.chargeLocked(o, po, c.src)
				}
				return ra, nil, nil
			}
		}
	}
	var buf [1]lease.State
	states := e.allocStates(sub, &buf)
	if len(states) == 0 {
		return netip.Addr{}, nil, ErrNoAddress
	}
	// Every pool of every subnet of the shared network, in order
	// (scope.Subnet.Candidates: the client's own subnet first).
	for _, from := range states {
		for _, s := range sub.Candidates() {
			for i := range s.Pools {
				if !s.Rule(i).Admits(&c.cls.set) {
					continue
				}
				po, err := e.newcomerLocked(c, s.Pools[i].Name, now)
				if err != nil {
					limited = err
					continue
				}
				a, err := e.db.Allocate(s.Pools[i].Name, netip.Addr{}, from)
				if err != nil {
					if !errors.Is(err, lease.ErrPoolExhausted) {
						e.log.Error("allocate", "pool", s.Pools[i].Name, "err", err)
					}
					continue
				}
				e.chargeLocked(e.setOfferLocked(c.key, a, true, now), po, c.src)
				return a, nil, nil
			}
		}
	}
	if limited != nil {
		return netip.Addr{}, nil, limited
	}
	e.log.Warn("no free address", "subnet", sub.Prefix, "mac", c.hw.String())
	return netip.Addr{}, nil, ErrNoAddress
}

// takenByOtherLocked reports whether addr is offered to, being committed
// for, or bound to a client other than c: the cases where a NAK tells the
// client something true.
func (e *Engine) takenByOtherLocked(c client, addr netip.Addr, now time.Time) bool {
	if k, busy := e.busy[addr]; busy && k != c.key {
		return true
	}
	if o := e.offers[addr]; o != nil && o.key != c.key {
		return true
	}
	l, known := e.db.Get(addr)
	return known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry)
}

// claimLocked tries to take addr (in a pool of sub) for client c. It
// reports whether the address may be used, and whether it is now held
// (taken with Allocate, to be committed or Unheld).
func (e *Engine) claimLocked(sub *scope.Subnet, c client, addr netip.Addr, now time.Time) (held, ok bool) {
	if !c.cls.admits(sub, addr) {
		return false, false
	}
	if k, busy := e.busy[addr]; busy && k != c.key {
		return false, false
	}
	if o := e.offers[addr]; o != nil {
		if o.key != c.key {
			return false, false
		}
		return o.held, true
	}
	l, known := e.db.Get(addr)
	mine := known && l.Key() == c.key
	if known && !mine && l.State == lease.StateActive && now.Before(l.Expiry) {
		return false, false
	}
	var buf [1]lease.State
	states := e.allocStates(sub, &buf)
	if known && (l.State == lease.StateAbandoned || l.State == lease.StateBackup && !mine && !slices.Contains(states, lease.StateBackup)) {
		return false, false
	}
	if mine && l.State == lease.StateActive {
		return false, true // already bound to this client: nothing to take
	}
	pool := sub.PoolOf(addr)
	if pool == nil {
		return false, false
	}
	if len(states) == 0 {
		return false, false // renewals only
	}
	for _, from := range states {
		got, err := e.db.Allocate(pool.Name, addr, from)
		if err == nil && got == addr {
			return true, true
		}
		if err == nil {
			e.db.Unhold(got)
		}
	}
	// Not in the free set, and nobody in this engine holds it (offers and
	// busy were checked under mu): the client's own expired or released
	// binding that the database keeps out of the free set is safe to reuse.
	if mine {
		return false, true
	}
	return false, false
}

// allocStates is sub's gate's list of pools to allocate from, in order
// (MultiPoolGate), else AllocateFrom's one, in buf; empty: renew only.
// sub nil: the engine's gate (what spans every subnet).
func (e *Engine) allocStates(sub *scope.Subnet, buf *[1]lease.State) []lease.State {
	g := e.gateFor(sub)
	if m, ok := g.(MultiPoolGate); ok {
		return m.AllocateFromAll()
	}
	if s, ok := g.AllocateFrom(); ok {
		buf[0] = s
		return buf[:]
	}
	return nil
}

func (e *Engine) setOfferLocked(key string, addr netip.Addr, held bool, now time.Time) *offer {
	if o := e.byKey[key]; o != nil && o.addr != addr {
		e.dropOfferLocked(o)
	}
	until := now.Add(e.cfg.Load().OfferHold)
	o := e.offers[addr]
	if o == nil {
		o = &offer{addr: addr, key: key}
		e.offers[addr] = o
		e.byKey[key] = o
	}
	o.held = o.held || held
	o.until = until
	e.offerQ = append(e.offerQ, offerRef{addr, until})
	return o
}

// dropOfferLocked forgets an offer and gives back its address.
func (e *Engine) dropOfferLocked(o *offer) {
	e.unchargeLocked(o)
	delete(e.offers, o.addr)
	if e.byKey[o.key] == o {
		delete(e.byKey, o.key)
	}
	if o.held {
		e.db.Unhold(o.addr)
	}
}

// takeOfferLocked removes an offer without giving back its address (it is
// about to be committed) and reports whether it was held.
func (e *Engine) takeOfferLocked(addr netip.Addr) bool {
	o := e.offers[addr]
	if o == nil {
		return false
	}
	e.unchargeLocked(o)
	delete(e.offers, addr)
	if e.byKey[o.key] == o {
		delete(e.byKey, o.key)
	}
	return o.held
}

// gateFor is the gate for requests served from sub (SubnetGate); the
// engine's own for nil.
func (e *Engine) gateFor(sub *scope.Subnet) Gate {
	if sg, ok := e.gate.(SubnetGate); ok && sub != nil {
		return sg.For(sub.Prefix)
	}
	return e.gate
}
