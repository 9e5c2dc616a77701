package dhcpd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeProber answers probes from a table; block holds the probe of an
// address until the channel is closed (or the probe's context ends).
type fakeProber struct {
	mu     sync.Mutex
	inUse  map[netip.Addr]bool
	block  map[netip.Addr]chan struct{}
	err    error
	probed []ProbeTarget
}

func newFakeProber() *fakeProber {
	return &fakeProber{inUse: map[netip.Addr]bool{}, block: map[netip.Addr]chan struct{}{}}
}

func (f *fakeProber) InUse(ctx context.Context, t ProbeTarget) (bool, error) {
	f.mu.Lock()
	f.probed = append(f.probed, t)
	b, use, err := f.block[t.Addr], f.inUse[t.Addr], f.err
	f.mu.Unlock()
	if b != nil {
		select {
		case <-b:
		case <-ctx.Done():
			return false, nil
		}
	}
	return use, err
}

func (f *fakeProber) targets() []ProbeTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ProbeTarget(nil), f.probed...)
}

// probeRig is newRig's engine with a Prober.
func probeRig(t *testing.T, pingCheck bool) (*rig, *fakeProber) {
	t.Helper()
	r := newRig(t, func(c *scope.Config) { c.PingCheck = pingCheck })
	fp := newFakeProber()
	e, err := NewEngine(EngineOptions{Config: r.cfg, DB: r.db, Clock: r.clk, Prober: fp})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	return r, fp
}

// offerTo runs a direct DISCOVER for hw and returns the address offered.
func offerTo(t *testing.T, r *rig, hw net.HardwareAddr) netip.Addr {
	t.Helper()
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw))
	return offered(t, rep, err)
}

func offered(t *testing.T, rep Reply, err error) netip.Addr {
	t.Helper()
	if err != nil || rep.Resp == nil || rep.Resp.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("DISCOVER: %v, %v; want an OFFER", rep.Resp, err)
	}
	return addr4(rep.Resp.YourIPAddr)
}

func TestPingCheckOffByDefault(t *testing.T) {
	r, fp := probeRig(t, false)
	offerTo(t, r, macA)
	if got := fp.targets(); len(got) != 0 {
		t.Errorf("probed %v with ping_check off and no recovery window", got)
	}
}

func TestPingCheckProbesBeforeOffer(t *testing.T) {
	r, fp := probeRig(t, true)
	a := offerTo(t, r, macA)
	want := []ProbeTarget{{Addr: a, Direct: true, Iface: "eth0", IfIndex: 2}}
	if got := fp.targets(); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("probes %v, want %v", got, want)
	}
	// The retransmitted DISCOVER gets the probed offer without a second probe.
	if again := offerTo(t, r, macA); again != a {
		t.Errorf("second OFFER %v, want %v", again, a)
	}
	if n := len(fp.targets()); n != 1 {
		t.Errorf("%d probes for one offer, want 1", n)
	}
	// Relayed: ICMP echo, not ARP.
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithGatewayIP(net.IP{198, 51, 100, 1})), relayIn)
	far := offered(t, rep, err)
	if got := fp.targets(); len(got) != 2 || got[1].Addr != far || got[1].Direct {
		t.Errorf("probes %v, want a relayed (not direct) probe of %v", got, far)
	}
	// A client's own binding and a reservation are not probed.
	r.e.probe.always.Store(false)
	r.dora(t, macB)
	r.e.probe.always.Store(true)
	n := len(fp.targets())
	offerTo(t, r, macB)
	offerTo(t, r, macRes)
	if got := fp.targets(); len(got) != n {
		t.Errorf("probed %v: a client's own address or a reservation", got[n:])
	}
}

func TestPingCheckAddressInUseAbandoned(t *testing.T) {
	r, fp := probeRig(t, true)
	first := lanPool.First
	fp.inUse[first] = true
	got := offerTo(t, r, macA)
	if got == first {
		t.Fatalf("offered %v, which answered its probe", got)
	}
	l, ok := r.db.Get(first)
	if !ok || l.State != lease.StateAbandoned || !l.Expiry.Equal(t0.Add(time.Hour)) {
		t.Errorf("%v after answering a probe: %+v, want ABANDONED for the decline probation", first, l)
	}
	if ts := fp.targets(); len(ts) != 2 || ts[0].Addr != first || ts[1].Addr != got {
		t.Errorf("probes %v, want %v then %v", ts, first, got)
	}
	if v := counterValue(t, r.e.m.Events.WithLabelValues("probe-abandon")); v != 1 {
		t.Errorf("probe-abandon events %v, want 1", v)
	}
	if v := counterValue(t, r.e.m.Probes.WithLabelValues("in-use")); v != 1 {
		t.Errorf("probes{in-use} %v, want 1", v)
	}

	// Every address answers: after maxProbeAttempts the DISCOVER is dropped.
	for a := lanPool.First; a.Compare(lanPool.Last) <= 0; a = a.Next() {
		fp.inUse[a] = true
	}
	n := len(fp.targets())
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); !errors.Is(err, ErrProbeInUse) {
		t.Errorf("DISCOVER with every address in use: %v, want %v", err, ErrProbeInUse)
	}
	if got := len(fp.targets()) - n; got != maxProbeAttempts {
		t.Errorf("%d probes for one DISCOVER, want %d", got, maxProbeAttempts)
	}
}

// TestProbeDoesNotBlockOthers: while one client's address is probed, the
// engine answers other clients (the probe runs off the request's
// goroutine).
func TestProbeDoesNotBlockOthers(t *testing.T) {
	r, fp := probeRig(t, true)
	r.e.probe.always.Store(false)
	r.dora(t, macB) // a known client, bound before probing
	r.e.probe.always.Store(true)
	held := make(chan struct{})
	aAddr := lanPool.First.Next() // B holds the first
	fp.block[aAddr] = held
	answered := make(chan Reply, 1)
	r.e.HandleAsync(msg(t, dhcpv4.MessageTypeDiscover, macA), lanIn, func(rep Reply, err error) {
		if err != nil {
			t.Errorf("DISCOVER: %v", err)
		}
		answered <- rep
	})
	select {
	case <-answered:
		t.Fatal("answered before its probe finished")
	default:
	}
	// The retransmission waits for the probe under way.
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA)); !errors.Is(err, ErrProbing) {
		t.Errorf("retransmitted DISCOVER during its probe: %v, want %v", err, ErrProbing)
	}
	// Another client is served meanwhile, renewal and new client alike.
	r.dora(t, macB)
	if a := offerTo(t, r, net.HardwareAddr{2, 0, 0, 0, 0, 0xc}); a == aAddr {
		t.Errorf("offered the address under probe to another client")
	}
	close(held)
	select {
	case rep := <-answered:
		if addr4(rep.Resp.YourIPAddr) != aAddr {
			t.Errorf("OFFER of %v, want the probed %v", rep.Resp.YourIPAddr, aAddr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OFFER 5s after the probe finished")
	}
}

func TestRecoveryProbingWindow(t *testing.T) {
	r, fp := probeRig(t, false)
	until := t0.Add(4 * time.Hour)
	r.e.SetRecoveryProbing(until)
	if v := gaugeValue(t, r.e.m.ProbeWindow); v != 1 {
		t.Errorf("recovery_probing %v, want 1", v)
	}
	if got := r.e.RecoveryProbing(); !got.Equal(until) {
		t.Errorf("RecoveryProbing() = %v, want %v", got, until)
	}
	offerTo(t, r, macA)
	if n := len(fp.targets()); n != 1 {
		t.Errorf("%d probes in the recovery window, want 1", n)
	}
	r.clk.Advance(4*time.Hour + time.Second)
	r.e.Tick(r.clk.Now())
	if v := gaugeValue(t, r.e.m.ProbeWindow); v != 0 {
		t.Errorf("recovery_probing %v after the window, want 0", v)
	}
	if !r.e.RecoveryProbing().IsZero() {
		t.Error("RecoveryProbing() still set after the window")
	}
	offerTo(t, r, macB)
	if n := len(fp.targets()); n != 1 {
		t.Errorf("%d probes, want none after the window", n-1)
	}
}

func TestProbeErrorOffersUnprobed(t *testing.T) {
	r, fp := probeRig(t, true)
	fp.err = errors.New("no raw socket")
	offerTo(t, r, macA)
	if v := counterValue(t, r.e.m.Probes.WithLabelValues("error")); v != 1 {
		t.Errorf("probes{error} %v, want 1", v)
	}
}
