package pair

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// stuckStore is a partner's database whose Apply never returns (until
// the test ends): with its own clock stopped, that partner says nothing
// more on the sync link, as a box lost with the connection open.
type stuckStore struct {
	*lease.DB
	release chan struct{}
}

func (s *stuckStore) Apply(ls ...lease.Lease) error {
	<-s.release
	return s.DB.Apply(ls...)
}

// lanWitness is a Witness whose answer the test sets; each probe is
// counted and announced on probed.
type lanWitness struct {
	answer atomic.Int32 // 0 silent, 1 answered, 2 the probe fails
	n      atomic.Int32
	probed chan struct{}
}

func (w *lanWitness) OwnAddrs() []netip.Addr { return nil }
func (w *lanWitness) Probe(ctx context.Context, _ netip.Addr) (bool, error) {
	w.n.Add(1)
	defer func() {
		select {
		case w.probed <- struct{}{}:
		default:
		}
	}()
	if _, ok := ctx.Deadline(); !ok {
		return false, errors.New("the quiet link's probe has no deadline")
	}
	switch w.answer.Load() {
	case 1:
		return true, nil
	case 2:
		return false, errors.New("no link")
	}
	return false, nil
}

// quietPair is a primary Pair over a real link (loopback TCP) to a
// secondary that stops talking once the session is up: the secondary's
// clock never moves (no heartbeat) and its Apply blocks (no ack). The
// primary's link runs on clk.
func quietPair(t *testing.T) (p *Pair, rdb *replicatingDB, clk *clocktest.Fake, w *lanWitness) {
	t.Helper()
	clk = clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	secClk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secStore := &stuckStore{DB: openPoolDB(t), release: make(chan struct{})}
	met, err := newFailoverMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w = &lanWitness{probed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p = &Pair{log: discardLog, clock: clk, met: met, ctx: ctx, cancel: cancel, witness: w, quiet: make(chan struct{}, 1)}
	p.q.init()
	lan := []netip.Addr{netip.MustParseAddr("192.0.2.3")}
	p.partnerLAN.Store(&lan)
	resynced := make(chan struct{}, 1)
	psk := []byte("0123456789abcdef0123456789abcdef")
	mk := func(name string, role peer.Role, store peer.Store, c *clocktest.Fake, onEvent func(peer.Event)) *peer.Link {
		l, err := peer.New(peer.Options{FromPartner: failover.FromPartner, Name: name, Role: role, Listen: "127.0.0.1:0", Peer: ln.Addr().String(),
			PSK: psk, MaxResponseDelay: 3 * time.Second, MaxUnacked: 100, Store: store, Logger: discardLog, Clock: c, OnEvent: onEvent})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sec := mk("gw2", peer.Secondary, secStore, secClk, nil)
	priDB := openPoolDB(t)
	p.link = mk("gw1", peer.Primary, priDB, clk, func(ev peer.Event) {
		if _, ok := ev.(peer.ResyncDone); ok {
			resynced <- struct{}{}
		}
		p.onLinkEvent(ev)
	})
	var wg sync.WaitGroup
	wg.Go(func() { _ = sec.Serve(ctx, ln) })
	wg.Go(func() { _ = p.link.Run(ctx) })
	t.Cleanup(func() { close(secStore.release); cancel(); wg.Wait() })
	// The secondary's own snapshot is all it says: then silence.
	select {
	case <-resynced:
	case <-time.After(5 * time.Second):
		t.Fatal("the primary did not get the secondary's snapshot within 5s")
	}
	return p, &replicatingDB{DB: priDB, p: p}, clk, w
}

// tick advances the primary's clock by a watchdog interval and waits
// until its watchdog has armed its timer again.
func tick(t *testing.T, clk *clocktest.Fake) {
	t.Helper()
	clk.Advance(125 * time.Millisecond) // max_response_delay/24
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		if _, ok := clk.Pending(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the link's watchdog did not arm again within 5s")
		}
	}
}

// tickUntil ticks the primary's clock until ch yields, at most three
// times (375 ms: quietBound, 250 ms, plus a tick for a last frame of the
// partner handled after the first one), never to the link's ack bound
// (500 ms). ok is false when ch never yielded.
func tickUntil[T any](t *testing.T, clk *clocktest.Fake, ch <-chan T) (v T, ok bool) {
	t.Helper()
	for i := range 3 {
		tick(t, clk)
		wait := 200 * time.Millisecond
		if i == 2 {
			wait = 5 * time.Second
		}
		select {
		case v = <-ch:
			return v, true
		case <-time.After(wait):
		}
	}
	return v, false
}

// commitAsync commits one lease through the replicating database.
func commitAsync(rdb *replicatingDB, now time.Time) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := rdb.Commit(lease.Lease{Addr: netip.MustParseAddr("192.0.2.150"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1},
			State: lease.StateActive, Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now})
		done <- err
	}()
	return done
}

// TestQuietLinkPartnerSilentOnLAN: a partner lost while VRRP backup
// (no advert stops) with a commit of ours waiting for its ack: the
// moment the sync link turns quiet (two heartbeat intervals) the LAN
// witness asks, finds it silent, and the commit is released at once,
// long before the link's ack bound (max_response_delay/6).
func TestQuietLinkPartnerSilentOnLAN(t *testing.T) {
	p, rdb, clk, w := quietPair(t)
	go p.quietLANLoop(p.ctx)
	done := commitAsync(rdb, clk.Now())
	err, ok := tickUntil(t, clk, done)
	if !ok {
		t.Fatalf("commit still waiting 375ms (fake) after the partner's last word, LAN silent (%d probes)", w.n.Load())
	}
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	// Released as "partner unreachable" (COMMUNICATIONS-INTERRUPTED
	// rules), not acknowledged: the partner never applied it.
	var m dto.Metric
	if err := p.met.unreachable.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("%v commits acknowledged without the partner, want 1", got)
	}
	// And the link went down (it may come up again at once: the
	// partner's kernel still accepts connections).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		down := false
		for _, ev := range p.q.drain() {
			_, ok := ev.(failover.LinkDown)
			down = down || ok
		}
		if down {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no link down within 5s")
		}
	}
	if got := w.n.Load(); got != 1 {
		t.Errorf("%d probes for one quiet stretch, want 1", got)
	}
}

// TestQuietLinkPartnerOnLAN: the sync link turns quiet but the partner
// answers ARP (a cut sync cable) or cannot be asked: the link is kept
// and the commit waits for the link's own rules (invariant 2 while the
// partner may be up).
func TestQuietLinkPartnerOnLAN(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer int32
	}{{"answers", 1}, {"no probe possible", 2}} {
		t.Run(c.name, func(t *testing.T) {
			p, rdb, clk, w := quietPair(t)
			w.answer.Store(c.answer)
			done := commitAsync(rdb, clk.Now())
			if _, ok := tickUntil(t, clk, p.quiet); !ok {
				t.Fatal("no Quiet from the link within 375ms (fake)")
			}
			p.quietCheck(p.ctx, quietUnasked)
			if w.n.Load() != 1 {
				t.Fatalf("%d probes, want 1", w.n.Load())
			}
			// A close by PartnerAbsent emits Down before it returns.
			for _, ev := range p.q.drain() {
				if _, ok := ev.(failover.LinkDown); ok {
					t.Fatal("link closed although the LAN witness did not find the partner silent")
				}
			}
			select {
			case err := <-done:
				t.Fatalf("commit released (%v) while the partner may be up", err)
			default:
			}
		})
	}
}

// TestAskLANParallel: the partner's addresses are asked at once, so the
// question takes one probe's time whatever the number of links; an
// answer on any link is an answer.
func TestAskLANParallel(t *testing.T) {
	p := &Pair{log: discardLog}
	var lan []netip.Addr
	for i := range 4 {
		lan = append(lan, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}))
	}
	p.partnerLAN.Store(&lan)
	gate := make(chan struct{})
	w := &gatedWitness{gate: gate, answer: lan[3]}
	p.witness = w
	res := make(chan [2]bool, 1)
	go func() {
		a, m := p.askLAN(context.Background())
		res <- [2]bool{a, m}
	}()
	// All four probes are under way before any returns.
	for deadline := time.Now().Add(5 * time.Second); w.in.Load() < 4; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 probes under way at once", w.in.Load())
		}
	}
	close(gate)
	if r := <-res; !r[0] || !r[1] {
		t.Fatalf("answered %v, made %v; want both (the fourth link answered)", r[0], r[1])
	}
}

type gatedWitness struct {
	gate   chan struct{}
	in     atomic.Int32
	answer netip.Addr
}

func (w *gatedWitness) OwnAddrs() []netip.Addr { return nil }
func (w *gatedWitness) Probe(_ context.Context, a netip.Addr) (bool, error) {
	w.in.Add(1)
	<-w.gate
	return a == w.answer, nil
}
