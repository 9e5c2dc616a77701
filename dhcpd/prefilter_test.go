package dhcpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// splitGate serves half of the clients, as one box of a load-balancing
// pair does (a hash of the client identifier, else chaddr), and those
// past 3 s of secs or renewing, and records the last Client it was asked
// about.
type splitGate struct {
	mu    sync.Mutex
	asked bool
	last  Client
}

func (g *splitGate) Serve(c Client) bool {
	g.mu.Lock()
	g.asked = true
	g.last = Client{Key: c.Key, ClientID: bytes.Clone(c.ClientID), HWAddr: bytes.Clone(c.HWAddr), Secs: c.Secs, Renewal: c.Renewal}
	g.mu.Unlock()
	h := fnv.New32a()
	h.Write(c.HWAddr)
	if len(c.ClientID) > 0 {
		h.Reset()
		h.Write(c.ClientID)
	}
	return h.Sum32()&1 == 0 || c.Secs > 3 || c.Renewal
}

func (g *splitGate) take() (Client, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, a := g.last, g.asked
	g.last, g.asked = Client{}, false
	return c, a
}

func (*splitGate) AllocateFrom() (lease.State, bool) { return lease.StateFree, true }
func (*splitGate) LeaseTime(_ lease.Lease, want time.Duration, _ time.Time) Grant {
	return Grant{Time: want}
}

func sameClient(a, b Client) bool {
	return a.Key == b.Key && bytes.Equal(a.ClientID, b.ClientID) && (a.ClientID == nil) == (b.ClientID == nil) &&
		bytes.Equal(a.HWAddr, b.HWAddr) && a.Secs == b.Secs && a.Renewal == b.Renewal
}

// randomRequest builds a BOOTP message around the fields and options
// NotServed reads, with the oddities the decoder has rules for: hlen past
// 16, options repeated or empty, a message type of two bytes, no End, an
// option cut short, trailing bytes, and now and then a flipped byte.
func randomRequest(r *rand.Rand) []byte {
	b := make([]byte, 240, 400)
	b[0] = 1
	if r.IntN(20) == 0 {
		b[0] = byte(r.IntN(3))
	}
	b[1] = 1
	b[2] = []byte{0, 6, 6, 6, 6, 1, 16, 17, 255}[r.IntN(9)]
	binary.BigEndian.PutUint16(b[8:], []uint16{0, 0, 0, 1, 3, 4, 60000}[r.IntN(7)])
	if r.IntN(3) == 0 {
		binary.BigEndian.PutUint32(b[12:], r.Uint32()) // ciaddr
	}
	for i := 28; i < 44; i++ {
		b[i] = byte(r.IntN(256))
	}
	copy(b[236:], []byte{99, 130, 83, 99})
	opt := func(code byte, v []byte) { b = append(append(b, code, byte(len(v))), v...) }
	randBytes := func(n int) []byte {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(r.IntN(256))
		}
		return v
	}
	if r.IntN(10) < 7 {
		opt(53, []byte{[]byte{1, 3}[r.IntN(2)]}) // the common case
	}
	for range r.IntN(6) {
		switch r.IntN(9) {
		case 0, 1:
			opt(53, []byte{[]byte{1, 3, 2, 4, 7, 8}[r.IntN(6)]})
		case 2:
			opt(53, randBytes(r.IntN(3)))
		case 3, 4:
			opt(61, randBytes(r.IntN(12)))
		case 5:
			opt(54, randBytes([]int{0, 4}[r.IntN(2)]))
		case 6:
			opt(50, randBytes([]int{0, 4}[r.IntN(2)]))
		case 7:
			b = append(b, 0) // Pad
		case 8:
			opt(byte(r.IntN(254)+1), randBytes(r.IntN(6)))
		}
	}
	switch r.IntN(10) {
	case 0: // no End
	case 1:
		b = append(b, 61, 9, 1) // cut short
	default:
		b = append(b, 255)
		if r.IntN(4) == 0 {
			b = append(b, randBytes(r.IntN(8))...) // after End: ignored
		}
	}
	if r.IntN(10) == 0 {
		b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
	}
	if r.IntN(20) == 0 {
		b = b[:r.IntN(len(b))]
	}
	return b
}

// checkNotServed compares NotServed with the full path (dhcpv4.FromBytes,
// then the engine) on one payload: a drop decided early must be one the
// full path makes; where both ask the Gate they ask about the same
// Client; and the early path decides every DISCOVER and REQUEST the
// full path asks the Gate about (it is not merely cautious).
func checkNotServed(t *testing.T, r *rig, g *splitGate, p []byte) (dropped bool) {
	t.Helper()
	mt, drop := r.e.NotServed(p)
	fast, fastAsked := g.take()
	req, err := dhcpv4.FromBytes(p)
	if err == nil {
		_, err = r.e.Handle(req, lanIn)
	}
	full, fullAsked := g.take()
	switch {
	case drop && err == nil:
		t.Fatalf("NotServed dropped %x (%s), the full path served it", p, mt)
	case drop && req != nil && req.MessageType() != mt:
		t.Fatalf("NotServed read message type %s from %x, the decoder %s", mt, p, req.MessageType())
	case fastAsked && fullAsked && !sameClient(fast, full):
		t.Fatalf("%x: NotServed asked the Gate about %+v, the full path about %+v", p, fast, full)
	case fullAsked && !fastAsked && (req.MessageType() == dhcpv4.MessageTypeDiscover || req.MessageType() == dhcpv4.MessageTypeRequest):
		t.Fatalf("%x: the full path asked the Gate about %s %+v, NotServed left it undecided", p, req.MessageType(), full)
	case fastAsked && fullAsked && drop != (err != nil && Reason(err) == string(ErrNotServing)):
		t.Fatalf("%x: NotServed drop %v, the full path: %v", p, drop, err)
	}
	r.clk.Advance(time.Second) // rates refill, offers lapse
	return drop
}

func newSplitRig(t testing.TB) (*rig, *splitGate) {
	r := newRig(t)
	g := &splitGate{}
	e, err := NewEngine(EngineOptions{Config: r.cfg, DB: r.db, Clock: r.clk, Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	return r, g
}

// TestNotServedMatchesFullPath: on random requests (and the oddities the
// decoder has rules for) the early drop of a load-balancing box decides
// exactly as the full decode and engine do.
func TestNotServedMatchesFullPath(t *testing.T) {
	r, g := newSplitRig(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	drops := 0
	for range 20000 {
		if checkNotServed(t, r, g, randomRequest(rnd)) {
			drops++
		}
	}
	if drops < 1000 {
		t.Errorf("only %d of 20000 random requests dropped early: the generator misses the common case", drops)
	}
	// A well-formed DISCOVER of a client the gate leaves to the partner.
	for i := range 16 {
		m, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 1, byte(i)})
		checkNotServed(t, r, g, m.ToBytes())
	}
}

// TestNotServedSubnetGate: a Gate that answers per subnet needs the
// subnet, so nothing is dropped early.
func TestNotServedSubnetGate(t *testing.T) {
	r := newRig(t)
	e, err := NewEngine(EngineOptions{Config: r.cfg, DB: r.db, Clock: r.clk, Gate: subnetOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 1, 1})
	if _, drop := e.NotServed(m.ToBytes()); drop {
		t.Error("dropped early under a SubnetGate")
	}
}

// subnetOnly is a SubnetGate serving nobody.
type subnetOnly struct{}

func (subnetOnly) Serve(Client) bool                 { return false }
func (s subnetOnly) For(netip.Prefix) Gate           { return s }
func (subnetOnly) AllocateFrom() (lease.State, bool) { return lease.StateFree, true }
func (subnetOnly) LeaseTime(_ lease.Lease, want time.Duration, _ time.Time) Grant {
	return Grant{Time: want}
}

// FuzzNotServed: the comparison of TestNotServedMatchesFullPath on any
// payload.
func FuzzNotServed(f *testing.F) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 64 {
		f.Add(randomRequest(rnd))
	}
	r, g := newSplitRig(f)
	f.Fuzz(func(t *testing.T, p []byte) { checkNotServed(t, r, g, p) })
}

// BenchmarkNotServed compares the early drop of a request the partner
// serves with its full decode.
func BenchmarkNotServed(b *testing.B) {
	r, _ := newSplitRig(b)
	var p []byte
	for i := 0; ; i++ {
		m, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 1, byte(i)},
			dhcpv4.WithOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer)))
		if _, drop := r.e.NotServed(m.ToBytes()); drop {
			p = m.ToBytes()
			break
		}
	}
	b.Run("early", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, drop := r.e.NotServed(p); !drop {
				b.Fatal("not dropped")
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, err := dhcpv4.FromBytes(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.e.Handle(req, lanIn); Reason(err) != string(ErrNotServing) {
				b.Fatal(err)
			}
			r.clk.Advance(time.Second) // the client's rate refills
		}
	})
}

// TestServerCountsEarlyDrop: a request dropped before the decode is
// counted as the full path counts a not-served one (packets by type and
// outcome, drops by reason) and gets no reply, while a served one is
// answered.
func TestServerCountsEarlyDrop(t *testing.T) {
	r, _ := newSplitRig(t)
	conn := newMemConn(net.Interface{Index: lanIn.IfIndex, Name: lanIn.Iface, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MTU: 1500})
	m, _ := NewMetrics(nil)
	s, err := NewServer(ServerOptions{
		Handler: r.e, Metrics: m, Conns: []PacketConn{conn},
		InterfaceAddrs: func() (map[int][]netip.Prefix, error) {
			return map[int][]netip.Prefix{lanIn.IfIndex: lanIn.IfAddrs}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var ours, theirs []byte
	for i := 0; ours == nil || theirs == nil; i++ {
		d, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 2, byte(i)})
		if _, drop := r.e.NotServed(d.ToBytes()); drop {
			theirs = d.ToBytes()
		} else {
			ours = d.ToBytes()
		}
	}
	send := func(p []byte) {
		conn.in <- AppendFrame(nil, broadcastMAC, macB, netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"), p)
	}
	send(theirs)
	send(ours) // answered after the first was handled: one reader, in order
	if got := conn.next(t); got.frame == nil {
		t.Fatal("no OFFER for the client served here")
	}
	if n := counterValue(t, m.Drops.WithLabelValues(string(ErrNotServing))); n != 1 {
		t.Errorf("drops{not-serving} = %v, want 1", n)
	}
	if n := counterValue(t, m.Packets.WithLabelValues("discover", "drop")); n != 1 {
		t.Errorf("packets{discover,drop} = %v, want 1", n)
	}
	select {
	case got := <-conn.out:
		t.Errorf("a reply to the client the partner serves: %+v", got)
	default:
	}
}
