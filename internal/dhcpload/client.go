package dhcpload

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Sentinel errors a caller branches on (wrapped with the client and stage).
var (
	// ErrTimeout: the client's deadline passed without an ACK.
	ErrTimeout = errors.New("dhcpload: no ACK before the client's deadline")
	// ErrNoReply: neither the RENEWING nor the REBINDING REQUEST was answered.
	ErrNoReply = errors.New("dhcpload: renewal not answered")
	// ErrNotHeld: Renew was given a result without an ACKed lease.
	ErrNotHeld = errors.New("dhcpload: client holds no lease")
	// ErrClosed: the population's link was closed.
	ErrClosed = errors.New("dhcpload: population closed")
)

// Link moves whole Ethernet frames. A Population reads from one goroutine
// and writes from many; implementations must allow that.
type Link interface {
	// ReadFrame reads the next frame received on the link (not the ones
	// this side sent) into b. It returns an error once the link is closed.
	ReadFrame(b []byte) (int, error)
	// WriteFrame sends one complete Ethernet frame.
	WriteFrame(b []byte) error
	Close() error
}

// Config sets a Population's load and timers. Zero fields take the defaults
// named in their comments.
type Config struct {
	// Rate is the number of new clients Run starts per second (default 50).
	Rate float64
	// StepTimeout is how long a client waits for a reply before it
	// retransmits (default 1s; RFC 2131 §4.1 suggests 4 s doubling, real
	// clients such as dhclient start near 1 s).
	StepTimeout time.Duration
	// RequestTries is the number of REQUEST transmissions in SELECTING
	// before the client goes back to INIT (default 3).
	RequestTries int
	// Deadline bounds one client's whole exchange, retransmissions
	// included (default 10s); a client without an ACK by then is lost.
	Deadline time.Duration
	// MaxInFlight bounds the exchanges under way in Run (default 2000): a
	// silent server must not make the load client pile up goroutines.
	MaxInFlight int
	// MACPrefix makes client n's chaddr 02:P0:P1:nn:nn:nn (locally
	// administered), so two populations on one LAN do not collide.
	MACPrefix [2]byte
	// Broadcast sets the BROADCAST flag (RFC 2131 §4.1) in DISCOVER and
	// REQUEST. Off by default, as Linux clients do: the server then
	// unicasts to chaddr, which is what the made-up MACs are for.
	Broadcast bool
	// Now stamps sent and received messages (default time.Now).
	Now func() time.Time
	// Linger keeps an exchange's xid matched for this long after the
	// exchange ended (default 0: not at all), so that a late duplicate
	// reply (a second OFFER from another server) is still recorded in
	// Replies: a test counting the OFFERs of one DISCOVER needs them all.
	Linger time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Rate == 0 {
		c.Rate = 50
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = time.Second
	}
	if c.RequestTries == 0 {
		c.RequestTries = 3
	}
	if c.Deadline == 0 {
		c.Deadline = 10 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 2000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if c.Rate < 0 || c.Rate > 100000 {
		errs = append(errs, fmt.Errorf("dhcpload: Rate %v is outside 0..100000 clients/s", c.Rate))
	}
	if c.StepTimeout < 0 || c.Deadline < 0 || c.RequestTries < 0 || c.MaxInFlight < 0 || c.Linger < 0 {
		errs = append(errs, errors.New("dhcpload: negative StepTimeout, Deadline, RequestTries, MaxInFlight or Linger"))
	}
	if c.Deadline < c.StepTimeout {
		errs = append(errs, fmt.Errorf("dhcpload: Deadline %v is shorter than StepTimeout %v", c.Deadline, c.StepTimeout))
	}
	return c, errors.Join(errs...)
}

// Server names the sender of a reply: its server identifier (option 54)
// and the IP and MAC source of the frame (which box sent it, when several
// share the identifier, as a VRRP pair does).
type Server struct {
	ID  netip.Addr
	IP  netip.Addr
	MAC net.HardwareAddr
}

func (s Server) String() string { return fmt.Sprintf("%s (from %s %s)", s.ID, s.IP, s.MAC) }

// Reply is one server message a client of the population received.
type Reply struct {
	At     time.Time
	Client int
	Type   dhcpv4.MessageType
	From   Server
	Addr   netip.Addr // yiaddr
}

// Result is one client's DORA exchange.
type Result struct {
	Client    int
	MAC       net.HardwareAddr
	Start     time.Time
	Offer     time.Time // the OFFER the ACKed REQUEST answered (zero: none)
	OfferFrom Server
	Ack       time.Time // zero: no ACK
	AckFrom   Server
	Addr      netip.Addr    // yiaddr of the ACK
	LeaseTime time.Duration // option 51 of the ACK
	// Transmissions and NAKs, retransmissions included.
	Discovers, Requests, Naks int
	Err                       error // nil iff Ack is set
}

// OK reports whether the client got its lease.
func (r Result) OK() bool { return r.Err == nil && !r.Ack.IsZero() }

// Population is a set of made-up DHCPv4 clients sharing one Link: each has
// its own chaddr and xids, speaks from 0.0.0.0 in INIT and from its lease in
// RENEWING/REBINDING, and answers ARP for the address it holds (a server
// unicasting to ciaddr resolves it first, RFC 2131 §4.1).
type Population struct {
	cfg  Config
	link Link

	mu      sync.Mutex
	next    int                              // next client number
	waiters map[dhcpv4.TransactionID]*waiter // exchanges under way
	arpWait map[netip.Addr][]chan arpPacket  // ARP resolutions under way
	held    map[netip.Addr]net.HardwareAddr  // address → client MAC, answered in ARP
	neigh   map[netip.Addr]net.HardwareAddr  // servers resolved for RENEWING (renew.go)
	results []Result                         // finished exchanges
	replies []Reply                          // every matched reply
	readErr error                            // why the reader stopped
	done    chan struct{}                    // closed when the reader stops
}

type waiter struct {
	client int
	mac    net.HardwareAddr
	ch     chan received
}

type received struct {
	m    *dhcpv4.DHCPv4
	from Server
	at   time.Time
}

// New starts a population on link (which it closes in Close).
func New(link Link, cfg Config) (*Population, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if link == nil {
		return nil, errors.New("dhcpload: nil link")
	}
	p := &Population{
		cfg: cfg, link: link,
		waiters: map[dhcpv4.TransactionID]*waiter{},
		arpWait: map[netip.Addr][]chan arpPacket{},
		held:    map[netip.Addr]net.HardwareAddr{},
		neigh:   map[netip.Addr]net.HardwareAddr{},
		done:    make(chan struct{}),
	}
	go p.read()
	return p, nil
}

// Close closes the link and waits for the reader to stop.
func (p *Population) Close() error {
	err := p.link.Close()
	<-p.done
	return err
}

// MAC is client n's hardware address.
func (p *Population) MAC(n int) net.HardwareAddr {
	return net.HardwareAddr{0x02, p.cfg.MACPrefix[0], p.cfg.MACPrefix[1], byte(n >> 16), byte(n >> 8), byte(n)}
}

// Results returns a copy of the finished exchanges, in finishing order.
func (p *Population) Results() []Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Result(nil), p.results...)
}

// Replies returns a copy of every reply matched to a client, in arrival order.
func (p *Population) Replies() []Reply {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Reply(nil), p.replies...)
}

// read dispatches DHCP replies to their exchange (by xid and chaddr) and
// ARP frames to resolutions and to the responder, until the link closes.
func (p *Population) read() {
	defer close(p.done)
	buf := make([]byte, 9000)
	for {
		n, err := p.link.ReadFrame(buf)
		if err != nil {
			p.mu.Lock()
			p.readErr = err
			for _, w := range p.waiters {
				close(w.ch)
			}
			p.waiters = map[dhcpv4.TransactionID]*waiter{}
			p.mu.Unlock()
			return
		}
		f := buf[:n]
		if a, err := parseARP(f); err == nil {
			p.handleARP(a)
			continue
		}
		u, err := parseUDP(f, portClient)
		if err != nil {
			continue
		}
		m, err := dhcpv4.FromBytes(u.payload)
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		at := p.cfg.Now()
		from := Server{IP: u.src, MAC: append(net.HardwareAddr(nil), u.srcMAC...)}
		from.ID, _ = netip.AddrFromSlice(m.ServerIdentifier().To4())
		p.mu.Lock()
		w := p.waiters[m.TransactionID]
		if w != nil && w.mac.String() == m.ClientHWAddr.String() {
			yi, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
			p.replies = append(p.replies, Reply{At: at, Client: w.client, Type: m.MessageType(), From: from, Addr: yi})
			select {
			case w.ch <- received{m: m, from: from, at: at}:
			default: // the exchange is not listening: a duplicate reply
			}
		}
		p.mu.Unlock()
	}
}

func (p *Population) handleARP(a arpPacket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.op == arpReply || a.op == arpRequest {
		// A reply, or a gratuitous ARP (sender announcing itself), resolves
		// the sender for whoever waits for it.
		for _, ch := range p.arpWait[a.senderIP] {
			select {
			case ch <- a:
			default:
			}
		}
		// RFC 826 "merge": a sender already in the table gets its new
		// hardware address, so a VRRP takeover's gratuitous ARP moves the
		// clients' unicasts to the new master as a host's neighbour
		// table does.
		if _, ok := p.neigh[a.senderIP]; ok {
			p.neigh[a.senderIP] = append(net.HardwareAddr(nil), a.senderMAC...)
		}
	}
	if a.op != arpRequest {
		return
	}
	mac, ok := p.held[a.targetIP]
	if !ok {
		return
	}
	rep := arpPacket{op: arpReply, senderMAC: mac, senderIP: a.targetIP, targetMAC: a.senderMAC, targetIP: a.senderIP}
	// Best effort, like a host's ARP: the server asks again if it is lost.
	_ = p.link.WriteFrame(arpFrame(a.senderMAC, mac, rep))
}

func (p *Population) register(client int, mac net.HardwareAddr) (dhcpv4.TransactionID, *waiter, error) {
	w := &waiter{client: client, mac: mac, ch: make(chan received, 8)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readErr != nil {
		return dhcpv4.TransactionID{}, nil, fmt.Errorf("%w: %v", ErrClosed, p.readErr)
	}
	for {
		var xid dhcpv4.TransactionID
		if _, err := rand.Read(xid[:]); err != nil {
			return xid, nil, err
		}
		if _, taken := p.waiters[xid]; !taken {
			p.waiters[xid] = w
			return xid, w, nil
		}
	}
}

func (p *Population) unregister(xid dhcpv4.TransactionID, w *waiter) {
	p.mu.Lock()
	if p.waiters[xid] == w {
		delete(p.waiters, xid)
	}
	p.mu.Unlock()
}

// await waits until deadline for a reply of one of the types; false on
// timeout, cancellation or a closed link.
func (p *Population) await(ctx context.Context, w *waiter, deadline time.Time, types ...dhcpv4.MessageType) (received, bool) {
	timer := time.NewTimer(deadline.Sub(p.cfg.Now()))
	defer timer.Stop()
	for {
		select {
		case r, ok := <-w.ch:
			if !ok {
				return received{}, false
			}
			for _, ty := range types {
				if r.m.MessageType() == ty {
					return r, true
				}
			}
		case <-timer.C:
			return received{}, false
		case <-ctx.Done():
			return received{}, false
		}
	}
}

func (p *Population) send(dst net.HardwareAddr, src net.HardwareAddr, srcIP, dstIP netip.Addr, m *dhcpv4.DHCPv4) error {
	return p.link.WriteFrame(udpFrame(dst, src, srcIP, dstIP, portClient, portServer, m.ToBytes()))
}

// secs is the RFC 2131 §4.1 'secs' field: seconds since the client began
// acquiring or renewing (servers use it: ISC failover's "load balance max
// seconds", Kea HA's max-ack-delay).
func secs(start, now time.Time) uint16 {
	s := now.Sub(start) / time.Second
	return uint16(min(max(s, 0), 0xffff))
}

var zero4 = netip.IPv4Unspecified()
var bcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// DORA runs client n's DISCOVER–OFFER–REQUEST–ACK (RFC 2131 §3.1, §4.4.1):
// DISCOVER retransmitted every StepTimeout until an OFFER; REQUEST for that
// OFFER retransmitted RequestTries times; a NAK or an unanswered REQUEST
// sends the client back to INIT with a new xid; Deadline bounds it all.
// The result is also kept for Results.
func (p *Population) DORA(ctx context.Context, n int) Result {
	mac := p.MAC(n)
	start := p.cfg.Now()
	r := Result{Client: n, MAC: mac, Start: start}
	deadline := start.Add(p.cfg.Deadline)
	stage := "no OFFER"
	for r.Err == nil && r.Ack.IsZero() {
		xid, w, err := p.register(n, mac)
		if err != nil {
			r.Err = err
			break
		}
		st, err := p.exchange(ctx, w, xid, &r, deadline, start)
		if p.cfg.Linger > 0 {
			time.AfterFunc(p.cfg.Linger, func() { p.unregister(xid, w) })
		} else {
			p.unregister(xid, w)
		}
		if st != "" {
			stage = st
		}
		switch {
		case err != nil:
			r.Err = err
		case !r.Ack.IsZero():
		case ctx.Err() != nil:
			r.Err = fmt.Errorf("client %d: %s: %w", n, stage, ctx.Err())
		case !p.cfg.Now().Before(deadline):
			r.Err = fmt.Errorf("client %d (%s): %s within %v: %w", n, mac, stage, p.cfg.Deadline, ErrTimeout)
		}
	}
	if r.Err == nil {
		p.mu.Lock()
		p.held[r.Addr] = mac
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.results = append(p.results, r)
	p.mu.Unlock()
	return r
}

// exchange is one pass from INIT: it fills r on ACK and returns the stage
// reached ("no OFFER", "no ACK", "NAK") for the error message.
func (p *Population) exchange(ctx context.Context, w *waiter, xid dhcpv4.TransactionID, r *Result, deadline, start time.Time) (string, error) {
	var offer received
	got := false
	for !got && p.cfg.Now().Before(deadline) && ctx.Err() == nil {
		disc, err := dhcpv4.NewDiscovery(r.MAC, dhcpv4.WithTransactionID(xid), dhcpv4.WithBroadcast(p.cfg.Broadcast))
		if err != nil {
			return "", err
		}
		disc.NumSeconds = secs(start, p.cfg.Now())
		if err := p.send(broadcastMAC, r.MAC, zero4, bcast4, disc); err != nil {
			return "", fmt.Errorf("client %d: send DISCOVER: %w", r.Client, err)
		}
		r.Discovers++
		offer, got = p.await(ctx, w, minTime(p.cfg.Now().Add(p.cfg.StepTimeout), deadline), dhcpv4.MessageTypeOffer)
	}
	if !got {
		return "no OFFER", nil
	}
	req, err := dhcpv4.NewRequestFromOffer(offer.m, dhcpv4.WithBroadcast(p.cfg.Broadcast))
	if err != nil {
		return "", err
	}
	req.ClientHWAddr = r.MAC
	for try := 0; try < p.cfg.RequestTries && p.cfg.Now().Before(deadline) && ctx.Err() == nil; try++ {
		req.NumSeconds = secs(start, p.cfg.Now())
		// SELECTING: broadcast, from 0.0.0.0 (RFC 2131 §4.4.1), so every
		// server learns which offer was taken.
		if err := p.send(broadcastMAC, r.MAC, zero4, bcast4, req); err != nil {
			return "", fmt.Errorf("client %d: send REQUEST: %w", r.Client, err)
		}
		r.Requests++
		rep, ok := p.await(ctx, w, minTime(p.cfg.Now().Add(p.cfg.StepTimeout), deadline), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
		if !ok {
			continue
		}
		if rep.m.MessageType() == dhcpv4.MessageTypeNak {
			r.Naks++
			return "NAK", nil
		}
		r.Offer, r.OfferFrom = offer.at, offer.from
		r.Ack, r.AckFrom = rep.at, rep.from
		r.Addr, _ = netip.AddrFromSlice(rep.m.YourIPAddr.To4())
		r.LeaseTime = rep.m.IPAddressLeaseTime(0)
		return "", nil
	}
	return "no ACK", nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Run starts Config.Rate new clients per second (numbered on from the last
// one this population started) until ctx ends, then waits for the
// exchanges under way, each bounded by Deadline, which are not cancelled:
// a client started just before the end still gets its chance. It returns
// the number of clients started. A start is skipped while MaxInFlight
// exchanges are under way.
func (p *Population) Run(ctx context.Context) int {
	tick := time.NewTicker(time.Duration(float64(time.Second) / p.cfg.Rate))
	defer tick.Stop()
	sem := make(chan struct{}, p.cfg.MaxInFlight)
	var wg sync.WaitGroup
	started := 0
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return started
		case <-p.done:
			wg.Wait()
			return started
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		p.mu.Lock()
		n := p.next
		p.next++
		p.mu.Unlock()
		if n >= 1<<24 {
			<-sem
			continue // chaddr has 24 bits for the client number
		}
		started++
		wg.Go(func() {
			defer func() { <-sem }()
			p.DORA(context.Background(), n)
		})
	}
}
