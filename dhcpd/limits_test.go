package dhcpd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A storm of DISCOVERs from random hardware addresses (DHCP starvation)
// against a 100-address pool, on the fake clock, while the pool's known
// clients renew, reboot and come back: every known client is served with
// its own address, the storm holds no more than the new clients' share and
// its drops are counted by reason, and once offer_hold has passed after the
// storm nothing of the pool is held.
func TestStormKeepsKnownClientsServed(t *testing.T) {
	pool := lease.Pool{Name: "192.0.2.100-192.0.2.199", First: ip("192.0.2.100"), Last: ip("192.0.2.199")}
	r := newRig(t, func(c *scope.Config) { c.Subnets[0].Pools = []lease.Pool{pool} })
	r.e.spacing = -1
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))

	// 40 known clients: 30 hold their lease, 10 released theirs and come
	// back for the same address (RFC 2131 §4.3.1: the client's previous
	// address first).
	const known, holding = 40, 30
	hws := make([]net.HardwareAddr, known)
	addrs := make([]netip.Addr, known)
	for i := range hws {
		hws[i] = net.HardwareAddr{0x02, 8, 0, 0, 0, byte(i)}
		addrs[i] = addr4(r.dora(t, hws[i]).YourIPAddr)
	}
	for i := holding; i < known; i++ {
		if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeRelease, hws[i], sid, dhcpv4.WithClientIP(net.IP(addrs[i].AsSlice())))); err != nil {
			t.Fatal(err)
		}
	}
	r.e.Tick(r.clk.Now())
	// New clients may hold half of the 60 never-used and 10 released addresses.
	const share = 35

	ack := func(t *testing.T, rep Reply, err error, want netip.Addr, what string) {
		t.Helper()
		if err != nil || rep.Resp == nil || rep.Resp.MessageType() != dhcpv4.MessageTypeAck || addr4(rep.Resp.YourIPAddr) != want {
			t.Fatalf("%s during the storm: %v %v, want an ACK of %s", what, rep.Resp, err, want)
		}
	}
	knownTurn := func(t *testing.T, k int) {
		t.Helper()
		hw, a := hws[k], addrs[k]
		switch {
		case k >= holding || k%3 == 2: // DISCOVER of a known client, then SELECTING
			off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw))
			if err != nil || addr4(off.Resp.YourIPAddr) != a {
				t.Fatalf("known client %d's DISCOVER during the storm: %v %v, want an OFFER of its %s", k, off.Resp, err, a)
			}
			rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, hw, sid, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a.AsSlice())))))
			ack(t, rep, err, a, fmt.Sprintf("known client %d's SELECTING", k))
		case k%3 == 0: // RENEWING, unicast from its address
			in := lanIn
			in.Src, in.Unicast = netip.AddrPortFrom(a, 68), true
			rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithClientIP(net.IP(a.AsSlice()))), in)
			ack(t, rep, err, a, fmt.Sprintf("known client %d's RENEWING", k))
		default: // INIT-REBOOT
			rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, hw, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a.AsSlice())))))
			ack(t, rep, err, a, fmt.Sprintf("known client %d's INIT-REBOOT", k))
		}
	}

	// 2,000 DISCOVERs 5 ms apart (10 s, offer_hold), the engine ticked
	// each second as the agent does, a known client's turn every 50.
	const storm = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	drops := map[string]int{}
	offered, most := 0, 0
	for i := range storm {
		hw := net.HardwareAddr{0x02, 0x5a, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
		if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw)); err != nil {
			drops[Reason(err)]++
		} else {
			offered++
		}
		r.e.mu.Lock()
		most = max(most, r.e.lim.pools[pool.Name].offers)
		r.e.mu.Unlock()
		r.clk.Advance(5 * time.Millisecond)
		if i%200 == 199 {
			r.e.Tick(r.clk.Now())
		}
		if i%50 == 49 {
			knownTurn(t, (i/50)%known)
		}
	}
	t.Logf("storm: %d offered (at most %d held at once), drops %v", offered, most, drops)
	if most > share {
		t.Errorf("the storm held %d offers at once, want at most the new clients' share %d", most, share)
	}
	// At the bound an offer gives way only after evictAge unrequested:
	// the storm churns at most a share per evictAge.
	if perAge := share * int(time.Duration(storm)*5*time.Millisecond/evictAge+1); offered > perAge {
		t.Errorf("the storm got %d offers, want at most %d (a share per %s)", offered, perAge, evictAge)
	}

	// A new client right after the storm is not locked out while the
	// storm's offers wait out offer_hold: the oldest gives way.
	late := net.HardwareAddr{0x02, 0x1a, 0x7e, 0, 0, 1}
	if off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, late)); err != nil || off.Resp == nil {
		t.Fatalf("a new client right after the storm: %v %v, want an OFFER", off.Resp, err)
	}
	if drops[string(ErrPoolOffers)] == 0 || offered+drops[string(ErrPoolOffers)] != storm {
		t.Errorf("drops %v with %d offered, want the rest of the %d counted as %s", drops, offered, storm, ErrPoolOffers)
	}

	// offer_hold after the storm: nothing of it is left.
	r.clk.Advance(r.cfg.OfferHold + time.Second)
	r.e.Tick(r.clk.Now())
	r.e.mu.Lock()
	left, charged := len(r.e.offers), r.e.lim.pools[pool.Name].offers
	r.e.mu.Unlock()
	if left != 0 || charged != 0 || len(r.db.held) != 0 {
		t.Fatalf("after the storm: %d offers, %d counted against the pool, %d addresses held; want none", left, charged, len(r.db.held))
	}
	st := r.db.Stats()[0]
	if st.Active != known || st.Free != 100-known {
		t.Fatalf("pool after the storm: %+v, want %d active and the rest free", st, known)
	}
}

// One client in a loop is slowed to its rate, alone: a burst, then one
// request per interval, and nobody else notices.
func TestClientRate(t *testing.T) {
	r := newRig(t)
	var ok, limited int
	for range 40 {
		_, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrClientRate):
			limited++
		default:
			t.Fatal(err)
		}
	}
	if ok != DefaultLimits().ClientBurst || limited != 40-ok {
		t.Fatalf("40 DISCOVERs at once: %d answered, %d limited; want the burst of %d answered", ok, limited, DefaultLimits().ClientBurst)
	}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); err != nil {
		t.Fatalf("another client while the first is limited: %v", err)
	}
	r.clk.Advance(time.Second)
	for i := range 3 {
		_, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
		if want := i < int(DefaultLimits().ClientRate); (err == nil) != want {
			t.Fatalf("request %d a second later: %v, want answered %v", i, err, want)
		}
	}
}

// What one source may hold in offers: per chaddr whatever its client
// identifiers, per relay circuit whatever its hardware addresses; and how
// fast one circuit may ask. Other circuits keep being served.
func TestSourceOfferBounds(t *testing.T) {
	big := lease.Pool{Name: "198.51.100.10-198.51.100.250", First: ip("198.51.100.10"), Last: ip("198.51.100.250")}
	r := newRig(t, func(c *scope.Config) { c.Subnets[1].Pools = []lease.Pool{big} })

	count := func(r *rig, reqs func(i int) (*dhcpv4.DHCPv4, Inbound), n int) map[string]int {
		got := map[string]int{}
		for i := range n {
			req, in := reqs(i)
			if _, err := r.e.Handle(req, in); err != nil {
				got[Reason(err)]++
			} else {
				got["offer"]++
			}
		}
		return got
	}
	hw := net.HardwareAddr{0x02, 9, 9, 9, 9, 9}
	ids := func(from int) func(i int) (*dhcpv4.DHCPv4, Inbound) {
		return func(i int) (*dhcpv4.DHCPv4, Inbound) {
			return msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, byte(from + i)}))), lanIn
		}
	}
	hr := newRig(t)
	got := count(hr, ids(0), 10)
	if got["offer"] != DefaultLimits().HWOffers || got[string(ErrHWOffers)] != 10-DefaultLimits().HWOffers {
		t.Errorf("one chaddr, 10 client ids: %v, want %d offers and the rest %s", got, DefaultLimits().HWOffers, ErrHWOffers)
	}
	// Lapsed offers no longer count against the chaddr.
	hr.clk.Advance(time.Minute)
	hr.e.Tick(hr.clk.Now())
	if got = count(hr, ids(10), DefaultLimits().HWOffers); got["offer"] != DefaultLimits().HWOffers {
		t.Errorf("one chaddr once its offers lapsed: %v, want %d offers", got, DefaultLimits().HWOffers)
	}

	gi := netip.MustParseAddr("198.51.100.1")
	circuit := func(id string, n int) map[string]int {
		rai := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte(id))))
		return count(r, func(i int) (*dhcpv4.DHCPv4, Inbound) {
			hw := net.HardwareAddr{0x02, 0xc1, id[len(id)-1], 0, byte(i >> 8), byte(i)}
			return msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithGatewayIP(net.IP(gi.AsSlice())), rai), relayIn
		}, n)
	}
	// The tables are hashed with a random seed: pick a second circuit
	// that does not share the first one's slot.
	other := "port-2"
	for c := '3'; r.e.lim.circuitHash(gi, []byte(other))&(circuitSlots-1) == r.e.lim.circuitHash(gi, []byte("port-1"))&(circuitSlots-1); c++ {
		other = "port-" + string(c)
	}
	lim := DefaultLimits()
	got = circuit("port-1", 70)
	if got["offer"] != lim.CircuitOffers || got[string(ErrCircuitOffers)] != lim.CircuitBurst-lim.CircuitOffers || got[string(ErrCircuitRate)] != 70-lim.CircuitBurst {
		t.Errorf("70 new clients on one circuit at once: %v, want %d offers, then %s to the burst of %d, then %s",
			got, lim.CircuitOffers, ErrCircuitOffers, lim.CircuitBurst, ErrCircuitRate)
	}
	if got = circuit(other, 3); got["offer"] != 3 {
		t.Errorf("another circuit of the same relay: %v, want 3 offers", got)
	}
	// Lapsed offers no longer count against the circuit.
	r.clk.Advance(time.Minute)
	r.e.Tick(r.clk.Now())
	if got = circuit("port-1", lim.CircuitOffers); got["offer"] != lim.CircuitOffers {
		t.Errorf("the circuit once its offers lapsed: %v, want %d offers", got, lim.CircuitOffers)
	}
}

// stepClock is a clock the test moves back, as clock.Offset's skew or a
// fake clock may (Add moves the monotonic reading with the wall time).
type stepClock struct{ step atomic.Int64 }

func (c *stepClock) Now() time.Time { return time.Now().Add(time.Duration(c.step.Load())) }

// A step of the clock back does not hold the rate slots of every client
// seen before it for the size of the step.
func TestClientRateSurvivesClockStep(t *testing.T) {
	clk := &stepClock{}
	r := newRig(t)
	e, err := NewEngine(EngineOptions{Config: r.cfg, DB: r.db, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA), lanIn); err != nil {
			t.Fatalf("DISCOVER %d: %v", i, err)
		}
	}
	clk.step.Store(int64(-time.Hour))
	if _, err := e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA), lanIn); err != nil {
		t.Fatalf("DISCOVER after the wall clock stepped back an hour: %v", err)
	}
}
