package dhcpload

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// memLink is an in-memory Link: frames the population writes go to a fake
// server, whose answers come back through in.
type memLink struct {
	in     chan []byte
	srv    *fakeServer
	closed chan struct{}
	once   sync.Once
}

func newMemLink(srv *fakeServer) *memLink {
	l := &memLink{in: make(chan []byte, 1024), srv: srv, closed: make(chan struct{})}
	srv.link = l
	return l
}

func (l *memLink) ReadFrame(b []byte) (int, error) {
	select {
	case f := <-l.in:
		return copy(b, f), nil
	case <-l.closed:
		return 0, net.ErrClosed
	}
}

func (l *memLink) WriteFrame(b []byte) error {
	select {
	case <-l.closed:
		return net.ErrClosed
	default:
	}
	l.srv.handle(append([]byte(nil), b...))
	return nil
}

func (l *memLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memLink) deliver(f []byte) {
	select {
	case l.in <- f:
	case <-l.closed:
	}
}

// fakeServer is a minimal RFC 2131 server with knobs to misbehave.
type fakeServer struct {
	link *memLink
	ip   netip.Addr
	mac  net.HardwareAddr

	mu             sync.Mutex
	next           int
	dropDiscovers  int  // ignore this many DISCOVERs first
	nakRequests    int  // NAK this many SELECTING REQUESTs first
	silentRequests bool // never answer REQUESTs
	answerARP      bool // answer ARP for ip
	unicastRenew   bool // answer RENEWING REQUESTs unicast to ip
	broadcastRenew bool // answer REBINDING REQUESTs
	// takeover: the first RENEWING REQUEST is lost with the box at mac,
	// and ip moves to this MAC with a gratuitous ARP (a VRRP takeover);
	// unicasts to any other MAC go unanswered from then on.
	takeover net.HardwareAddr
	got      []gotFrame
	arps     []arpPacket
}

type gotFrame struct {
	u udpDatagram
	m *dhcpv4.DHCPv4
}

func newFakeServer() *fakeServer {
	return &fakeServer{ip: netip.MustParseAddr("198.18.0.2"), mac: macS, answerARP: true, unicastRenew: true, broadcastRenew: true}
}

func (s *fakeServer) handle(f []byte) {
	if a, err := parseARP(f); err == nil {
		s.mu.Lock()
		s.arps = append(s.arps, a)
		answer := s.answerARP && a.op == arpRequest && a.targetIP == s.ip
		s.mu.Unlock()
		if answer {
			s.link.deliver(arpFrame(a.senderMAC, s.mac, arpPacket{op: arpReply, senderMAC: s.mac, senderIP: s.ip, targetMAC: a.senderMAC, targetIP: a.senderIP}))
		}
		return
	}
	u, err := parseUDP(f, portServer)
	if err != nil {
		return
	}
	m, err := dhcpv4.FromBytes(u.payload)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, gotFrame{u: u, m: m})
	var typ dhcpv4.MessageType
	yi := net.IP(nil)
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		if s.dropDiscovers > 0 {
			s.dropDiscovers--
			return
		}
		s.next++
		typ, yi = dhcpv4.MessageTypeOffer, net.IPv4(198, 18, 1, byte(s.next))
	case dhcpv4.MessageTypeRequest:
		switch {
		case s.silentRequests:
			return
		case !m.ClientIPAddr.IsUnspecified(): // RENEWING or REBINDING
			unicast := u.dst == s.ip
			if unicast && s.takeover != nil {
				if s.mac.String() != s.takeover.String() {
					s.mac = s.takeover
					garp := arpPacket{op: arpRequest, senderMAC: s.mac, senderIP: s.ip, targetMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, targetIP: s.ip}
					go s.link.deliver(arpFrame(broadcastMAC, s.mac, garp))
				}
				if u.dstMAC.String() != s.mac.String() {
					return
				}
			}
			if (unicast && !s.unicastRenew) || (!unicast && !s.broadcastRenew) {
				return
			}
			typ, yi = dhcpv4.MessageTypeAck, m.ClientIPAddr
		case s.nakRequests > 0:
			s.nakRequests--
			typ, yi = dhcpv4.MessageTypeNak, net.IPv4zero
		default:
			typ, yi = dhcpv4.MessageTypeAck, m.RequestedIPAddress()
		}
	default:
		return
	}
	rep, err := dhcpv4.NewReplyFromRequest(m,
		dhcpv4.WithMessageType(typ), dhcpv4.WithYourIP(yi),
		dhcpv4.WithServerIP(s.ip.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.ip.AsSlice())),
		dhcpv4.WithLeaseTime(3600))
	if err != nil {
		panic(err)
	}
	y4, _ := netip.AddrFromSlice(yi.To4())
	if typ == dhcpv4.MessageTypeNak {
		y4 = bcast4
	}
	// Unicast to chaddr/yiaddr (no broadcast flag, RFC 2131 §4.1).
	s.link.deliver(udpFrame(m.ClientHWAddr, s.mac, s.ip, y4, portServer, portClient, rep.ToBytes()))
}

func (s *fakeServer) received() []gotFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gotFrame(nil), s.got...)
}

func newTestPop(t *testing.T, srv *fakeServer, cfg Config) *Population {
	t.Helper()
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 30 * time.Millisecond
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = 2 * time.Second
	}
	p, err := New(newMemLink(srv), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestDORA(t *testing.T) {
	srv := newFakeServer()
	p := newTestPop(t, srv, Config{MACPrefix: [2]byte{0xab, 0xcd}})
	r := p.DORA(context.Background(), 7)
	if !r.OK() {
		t.Fatalf("DORA: %v", r.Err)
	}
	if want := (net.HardwareAddr{0x02, 0xab, 0xcd, 0, 0, 7}); r.MAC.String() != want.String() {
		t.Errorf("MAC = %s, want %s", r.MAC, want)
	}
	if r.Addr != netip.MustParseAddr("198.18.1.1") || r.LeaseTime != time.Hour {
		t.Errorf("lease %s for %v, want 198.18.1.1 for 1h", r.Addr, r.LeaseTime)
	}
	if r.OfferFrom.ID != srv.ip || r.AckFrom.IP != srv.ip || r.AckFrom.MAC.String() != srv.mac.String() {
		t.Errorf("servers: offer %v, ack %v; want %s / %s", r.OfferFrom, r.AckFrom, srv.ip, srv.mac)
	}
	if r.Offer.IsZero() || r.Ack.Before(r.Offer) || r.Offer.Before(r.Start) {
		t.Errorf("times: start %v offer %v ack %v", r.Start, r.Offer, r.Ack)
	}
	if r.Discovers != 1 || r.Requests != 1 || r.Naks != 0 {
		t.Errorf("transmissions %d/%d, NAKs %d; want 1/1, 0", r.Discovers, r.Requests, r.Naks)
	}
	got := srv.received()
	if len(got) != 2 {
		t.Fatalf("server got %d messages, want 2", len(got))
	}
	for _, g := range got {
		// INIT and SELECTING speak from 0.0.0.0 to the broadcast address
		// (RFC 2131 §4.1), with the client's own MAC as the frame source.
		if g.u.src != zero4 || g.u.dst != bcast4 || g.u.srcMAC.String() != r.MAC.String() || g.m.ClientHWAddr.String() != r.MAC.String() {
			t.Errorf("%s from %s (%s) to %s chaddr %s", g.m.MessageType(), g.u.src, g.u.srcMAC, g.u.dst, g.m.ClientHWAddr)
		}
	}
	if req := got[1].m; req.RequestedIPAddress().String() != "198.18.1.1" || req.ServerIdentifier().String() != srv.ip.String() {
		t.Errorf("SELECTING REQUEST: option 50 %v, 54 %v", req.RequestedIPAddress(), req.ServerIdentifier())
	}
	if rs := p.Replies(); len(rs) != 2 || rs[0].Type != dhcpv4.MessageTypeOffer || rs[1].Type != dhcpv4.MessageTypeAck || rs[1].Client != 7 {
		t.Errorf("Replies = %+v, want OFFER then ACK for client 7", rs)
	}
	if res := p.Results(); len(res) != 1 || res[0].Client != 7 {
		t.Errorf("Results = %+v", res)
	}
}

func TestDORARetransmitsDiscover(t *testing.T) {
	srv := newFakeServer()
	srv.dropDiscovers = 2
	p := newTestPop(t, srv, Config{})
	r := p.DORA(context.Background(), 1)
	if !r.OK() || r.Discovers != 3 {
		t.Fatalf("err %v, DISCOVERs %d; want an ACK after 3", r.Err, r.Discovers)
	}
	// Retransmissions keep the xid (RFC 2131 §4.1) and secs counts from
	// the client's start.
	got := srv.received()
	if got[0].m.TransactionID != got[2].m.TransactionID {
		t.Errorf("DISCOVER retransmission changed xid")
	}
}

func TestDORANakRestarts(t *testing.T) {
	srv := newFakeServer()
	srv.nakRequests = 1
	p := newTestPop(t, srv, Config{})
	r := p.DORA(context.Background(), 1)
	if !r.OK() || r.Naks != 1 || r.Discovers != 2 || r.Requests != 2 {
		t.Fatalf("err %v, NAKs %d, DISCOVERs %d, REQUESTs %d; want ACK after NAK, 2 DISCOVERs", r.Err, r.Naks, r.Discovers, r.Requests)
	}
	got := srv.received()
	if got[0].m.TransactionID == got[2].m.TransactionID {
		t.Errorf("back in INIT after a NAK the client must pick a new xid")
	}
}

func TestDORATimeout(t *testing.T) {
	srv := newFakeServer()
	srv.silentRequests = true
	p := newTestPop(t, srv, Config{StepTimeout: 20 * time.Millisecond, Deadline: 200 * time.Millisecond, RequestTries: 2})
	r := p.DORA(context.Background(), 1)
	if !errors.Is(r.Err, ErrTimeout) || r.OK() {
		t.Fatalf("err %v, want ErrTimeout", r.Err)
	}
	// Each pass: 1 DISCOVER, 2 REQUESTs, 20 ms apart, until 200 ms.
	if r.Requests < 4 || r.Discovers < 2 || r.Requests > 2*r.Discovers {
		t.Errorf("DISCOVERs %d, REQUESTs %d: want passes of one DISCOVER and ≤ 2 REQUESTs", r.Discovers, r.Requests)
	}
	if el := time.Since(r.Start); el > time.Second {
		t.Errorf("DORA took %v with a 200ms deadline", el)
	}
}

func TestRenew(t *testing.T) {
	for _, tc := range []struct {
		name          string
		arp, unicast  bool
		bcast         bool
		mode          string
		wantErr       error
		wantUnicastTx bool
	}{
		{"renewing", true, true, true, "renewing", nil, true},
		{"server MAC unknown: rebinding", false, true, true, "rebinding", nil, false},
		{"unicast unanswered: rebinding", true, false, true, "rebinding", nil, true},
		{"no answer", false, false, false, "", ErrNoReply, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeServer()
			p := newTestPop(t, srv, Config{StepTimeout: 20 * time.Millisecond})
			held := p.DORA(context.Background(), 3)
			if !held.OK() {
				t.Fatal(held.Err)
			}
			srv.mu.Lock()
			srv.answerARP, srv.unicastRenew, srv.broadcastRenew = tc.arp, tc.unicast, tc.bcast
			srv.mu.Unlock()
			rr, err := p.Renew(context.Background(), held, 60*time.Millisecond, 60*time.Millisecond)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Renew err %v, want %v", err, tc.wantErr)
			}
			if err == nil && (rr.Mode != tc.mode || rr.Type != dhcpv4.MessageTypeAck || rr.Addr != held.Addr) {
				t.Errorf("Renew = %+v, want %s ACK of %s", rr, tc.mode, held.Addr)
			}
			sawUnicast := false
			for _, g := range srv.received()[2:] {
				// RFC 2131 §4.3.2: ciaddr set, no requested address and no
				// server identifier in RENEWING/REBINDING; sent from the lease.
				if g.m.ClientIPAddr.String() != held.Addr.String() || g.m.Options.Has(dhcpv4.OptionRequestedIPAddress) || g.m.Options.Has(dhcpv4.OptionServerIdentifier) || g.u.src != held.Addr {
					t.Errorf("renewal REQUEST from %s: ciaddr %s, options %v", g.u.src, g.m.ClientIPAddr, g.m.Options)
				}
				if g.u.dst == srv.ip {
					sawUnicast = true
					if g.u.dstMAC.String() != srv.mac.String() {
						t.Errorf("unicast REQUEST to MAC %s, want the resolved %s", g.u.dstMAC, srv.mac)
					}
				}
			}
			if sawUnicast != tc.wantUnicastTx {
				t.Errorf("unicast RENEWING sent: %v, want %v", sawUnicast, tc.wantUnicastTx)
			}
		})
	}
	p := newTestPop(t, newFakeServer(), Config{})
	if _, err := p.Renew(context.Background(), Result{Client: 1, Err: ErrTimeout}, time.Millisecond, time.Millisecond); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Renew of a failed client: err %v, want ErrNotHeld", err)
	}
}

// TestRenewFollowsTakeover: a RENEWING client whose server's address
// moves to another MAC (a VRRP takeover's gratuitous ARP) sends its next
// retransmission there and is answered in RENEWING, without waiting for
// REBINDING.
func TestRenewFollowsTakeover(t *testing.T) {
	srv := newFakeServer()
	p := newTestPop(t, srv, Config{StepTimeout: 20 * time.Millisecond})
	held := p.DORA(context.Background(), 4)
	if !held.OK() {
		t.Fatal(held.Err)
	}
	moved := net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 3}
	srv.mu.Lock()
	srv.takeover = moved
	srv.mu.Unlock()
	rr, err := p.Renew(context.Background(), held, time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Mode != "renewing" || rr.Type != dhcpv4.MessageTypeAck || rr.From.MAC.String() != moved.String() || rr.LeaseTime != time.Hour {
		t.Errorf("Renew = %+v, want a RENEWING ACK from %s with a 1h lease", rr, moved)
	}
	var macs []string
	for _, g := range srv.received()[2:] {
		macs = append(macs, g.u.dstMAC.String())
	}
	if len(macs) < 2 || macs[0] != macS.String() || macs[len(macs)-1] != moved.String() {
		t.Errorf("RENEWING REQUESTs sent to %v, want the first to %s, the last to %s", macs, macS, moved)
	}
	// The next renewal goes to the moved MAC at once, without asking.
	srv.mu.Lock()
	arps, got := len(srv.arps), len(srv.got)
	srv.mu.Unlock()
	if rr, err := p.Renew(context.Background(), held, time.Second, time.Second); err != nil || rr.Mode != "renewing" {
		t.Fatalf("second Renew = %+v, %v; want a RENEWING ACK", rr, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var to []string
	for _, g := range srv.got[got:] {
		to = append(to, g.u.dstMAC.String())
	}
	if len(srv.arps) != arps || len(to) != 1 || to[0] != moved.String() {
		t.Errorf("second Renew: %d ARP queries, REQUESTs to %v; want none and one to %s", len(srv.arps)-arps, to, moved)
	}
}

// TestARPResponder: a server resolving a client's lease (to unicast to
// ciaddr) gets the client's MAC; other addresses go unanswered.
func TestARPResponder(t *testing.T) {
	srv := newFakeServer()
	p := newTestPop(t, srv, Config{})
	held := p.DORA(context.Background(), 5)
	if !held.OK() {
		t.Fatal(held.Err)
	}
	ask := func(ip netip.Addr) {
		srv.link.deliver(arpFrame(broadcastMAC, srv.mac, arpPacket{op: arpRequest, senderMAC: srv.mac, senderIP: srv.ip, targetMAC: make(net.HardwareAddr, 6), targetIP: ip}))
	}
	ask(netip.MustParseAddr("198.18.9.9"))
	ask(held.Addr)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		srv.mu.Lock()
		arps := append([]arpPacket(nil), srv.arps...)
		srv.mu.Unlock()
		if len(arps) > 0 {
			if len(arps) != 1 || arps[0].op != arpReply || arps[0].senderIP != held.Addr || arps[0].senderMAC.String() != held.MAC.String() || arps[0].targetIP != srv.ip {
				t.Fatalf("ARP answers %+v, want one reply %s is-at %s", arps, held.Addr, held.MAC)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no ARP reply for the held address")
}

func TestRun(t *testing.T) {
	srv := newFakeServer()
	p := newTestPop(t, srv, Config{Rate: 500})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Stop once 20 clients have started; Run must still finish them.
		for len(p.Results()) < 20 {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
	}()
	n := p.Run(ctx)
	res := p.Results()
	if n < 20 || len(res) != n {
		t.Fatalf("started %d, finished %d; want ≥ 20 all finished", n, len(res))
	}
	seen := map[string]bool{}
	for _, r := range res {
		if !r.OK() {
			t.Errorf("client %d: %v", r.Client, r.Err)
		}
		if seen[r.MAC.String()] {
			t.Errorf("MAC %s used twice", r.MAC)
		}
		seen[r.MAC.String()] = true
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{StepTimeout: time.Second, Deadline: time.Millisecond},
		{Rate: -1},
		{MaxInFlight: -3},
	} {
		if _, err := New(newMemLink(newFakeServer()), cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil link) accepted")
	}
}

// TestCloseEndsExchanges: closing the link ends a waiting client at once.
func TestCloseEndsExchanges(t *testing.T) {
	srv := newFakeServer()
	srv.dropDiscovers = 1 << 30
	p, err := New(newMemLink(srv), Config{StepTimeout: time.Hour, Deadline: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result)
	go func() { done <- p.DORA(context.Background(), 1) }()
	for len(srv.received()) == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = p.Close()
	select {
	case r := <-done:
		if r.OK() {
			t.Error("DORA succeeded on a closed link")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DORA still waiting 5s after Close")
	}
}
