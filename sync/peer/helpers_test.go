package peer

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// newFakeClock is the fake clock of the tests, at a fixed start.
func newFakeClock() *clocktest.Fake {
	return clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// memStore is an in-memory Store with lease.DB's sequence semantics.
type memStore struct {
	mu            sync.Mutex
	leases        map[netip.Addr]lease.Lease
	last, partner uint64
	gate          chan struct{} // non-nil: every Apply call takes a token first
	release       func()        // opens the gate for good
	applyCalls    int
}

func newMemStore() *memStore { return &memStore{leases: make(map[netip.Addr]lease.Lease)} }

func (m *memStore) LastSeq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

func (m *memStore) PartnerSeq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.partner
}

func (m *memStore) Get(a netip.Addr) (lease.Lease, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[a]
	return l, ok
}

func (m *memStore) Range(fn func(lease.Lease) bool) {
	m.mu.Lock()
	all := make([]lease.Lease, 0, len(m.leases))
	for _, l := range m.leases {
		all = append(all, l)
	}
	m.mu.Unlock()
	for _, l := range all {
		if !fn(l) {
			return
		}
	}
}

func (m *memStore) Apply(ls ...lease.Lease) error {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyCalls++
	for _, l := range ls {
		if err := l.Validate(); err != nil {
			return err
		}
		// What lease.DB stores: whole seconds, UTC.
		for _, t := range []*time.Time{&l.Start, &l.Expiry, &l.PotentialExpiry, &l.AckedExpiry, &l.PartnerExpiry, &l.CLTT, &l.StateStart} {
			if !t.IsZero() {
				*t = t.Truncate(time.Second).UTC()
			}
		}
		l.Peer = !l.Peer
		m.leases[l.Addr] = l
		if l.Peer {
			m.partner = max(m.partner, l.Seq)
		} else {
			m.last = max(m.last, l.Seq)
		}
	}
	return nil
}

// commit stores a new ACTIVE lease for addr (host part i of 192.0.2.0/24
// and beyond) and returns its record, as lease.DB.CommitRecords would.
func (m *memStore) commit(t testing.TB, i int, now time.Time) lease.Record {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last++
	a := netip.AddrFrom4([4]byte{192, 0, 2 + byte(i>>8), byte(i)})
	l := lease.Lease{
		Addr: a, HWAddr: net.HardwareAddr{0, 0x11, 0x22, 0x33, byte(i >> 8), byte(i)},
		State: lease.StateActive, Start: now.Truncate(time.Second), Expiry: now.Add(time.Hour).Truncate(time.Second),
		PotentialExpiry: now.Add(90 * time.Minute).Truncate(time.Second), Seq: m.last,
	}
	r, err := lease.NewRecord(l)
	if err != nil {
		t.Fatal(err)
	}
	m.leases[a] = r.Lease()
	return r
}

// snapshotView is a store's lease set as comparable strings (address,
// state, client, expiry).
func (m *memStore) view() map[netip.Addr]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[netip.Addr]string, len(m.leases))
	for a, l := range m.leases {
		out[a] = l.State.String() + " " + l.HWAddr.String() + " " + l.Expiry.UTC().Format(time.RFC3339)
	}
	return out
}

// testKey passes sync/psk's rule (LoadPSK reads it in a test).
var testKey = []byte("q8Vx2LmZ0tRw7NcJ4hYb9KfP3sDg6AeU")

type node struct {
	l      *Link
	store  *memStore
	events chan Event
}

func newNode(t testing.TB, name string, role Role, clk clock.Clock, mod func(*Options)) *node {
	t.Helper()
	n := &node{store: newMemStore(), events: make(chan Event, 1024)}
	o := Options{
		Name: name, Role: role, PSK: testKey, MaxResponseDelay: 3 * time.Second, MaxUnacked: 64,
		Store: n.store, Clock: clk, ConfigHash: []byte("h1"), FromPartner: failover.FromPartner,
		OnEvent: func(ev Event) { n.events <- ev },
	}
	if mod != nil {
		mod(&o)
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	return n
}

// connect runs a session between a (dialer) and b over net.Pipe; it
// returns a function that cuts the connection and waits for both ends.
func connect(t testing.TB, a, b *node) (cut func()) {
	t.Helper()
	ca, cb := net.Pipe()
	return connectConns(t, a, b, ca, cb)
}

// tcpPair returns the two ends of a loopback TCP connection. Unlike
// net.Pipe, the kernel buffers what the reader has not read yet, as on
// the real link.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ca, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return ca, cb
}

func connectConns(t testing.TB, a, b *node, ca, cb net.Conn) (cut func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.l.HandleConn(ctx, ca, true) })
	wg.Go(func() { _ = b.l.HandleConn(ctx, cb, false) })
	cut = func() { ca.Close(); cb.Close(); cancel(); wg.Wait() }
	t.Cleanup(cut)
	return cut
}

// waitFor returns the next event of type T, skipping others; it fails the
// test after a bounded real-time wait.
func waitFor[T Event](t testing.TB, ch <-chan Event) T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if v, ok := ev.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event within 5s", zero)
			return zero
		}
	}
}

// upPair returns two linked nodes with a shared fake clock, both Up and
// both resynchronised.
func upPair(t testing.TB, mod func(*Options)) (p, s *node, clock *clocktest.Fake, cut func()) {
	t.Helper()
	clock = newFakeClock()
	p = newNode(t, "gw1", Primary, clock, mod)
	s = newNode(t, "gw2", Secondary, clock, mod)
	ca, cb := tcpPair(t)
	cut = connectConns(t, p, s, ca, cb)
	waitFor[Up](t, p.events)
	waitFor[Up](t, s.events)
	waitFor[ResyncDone](t, p.events)
	waitFor[ResyncDone](t, s.events)
	return p, s, clock, cut
}

func mustAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2 + byte(i>>8), byte(i)}) }

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// histogram returns h's observation count and sum.
func histogram(t testing.TB, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// recvErr waits, bounded, for a HandleConn result.
func recvErr(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("HandleConn still running after 5s")
		return nil
	}
}

// block makes every Apply wait for a token on the returned channel; the
// test's cleanup releases them all so no session is left hanging.
func (m *memStore) block(t testing.TB) chan struct{} {
	g := make(chan struct{})
	m.mu.Lock()
	m.gate = g
	m.mu.Unlock()
	var once sync.Once
	m.release = func() { once.Do(func() { close(g) }) }
	t.Cleanup(m.release)
	return g
}

// waitNothingPending waits, bounded, until l's session is established and
// sent everything it owed at its start (snapshot or resume, SyncDone), and
// no update or snapshot page of l's awaits the partner's ack.
func waitNothingPending(t testing.TB, l *Link) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		s := l.cur
		idle := s != nil && s.established && !s.syncPending && l.acked == l.sent && l.sent == len(l.log) &&
			(s.snap == nil || (s.snap.done && !s.snap.inflight))
		l.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an update or snapshot page still awaits the partner's ack after 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
