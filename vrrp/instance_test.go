package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/vrrptest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// owner records Take/Release, the kernel side of mastership.
type owner struct {
	mu   sync.Mutex
	held bool
	log  []string
}

func (o *owner) Take() error {
	o.mu.Lock()
	o.held = true
	o.log = append(o.log, "take")
	o.mu.Unlock()
	return nil
}
func (o *owner) Release() error {
	o.mu.Lock()
	o.held = false
	o.log = append(o.log, "release")
	o.mu.Unlock()
	return nil
}
func (o *owner) Held() bool { o.mu.Lock(); defer o.mu.Unlock(); return o.held }

type box struct {
	inst   *vrrp.Instance
	conn   *vrrptest.Conn
	owner  *owner
	cancel context.CancelFunc
	done   chan error
}

const adv = 100 * time.Millisecond

func newBox(t *testing.T, n *vrrptest.Net, clk *clocktest.Fake, m *vrrp.Metrics, name, addr string, prio uint8, preempt bool) *box {
	t.Helper()
	src := netip.MustParseAddr(addr)
	b := &box{conn: n.Conn(src), owner: &owner{}, done: make(chan error, 1)}
	var err error
	b.inst, err = vrrp.NewInstance(vrrp.Config{
		Name: name, Interface: "lan0", VRID: 51, Priority: prio, AdvertInterval: adv, Preempt: preempt,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")},
	}, vrrp.Deps{Conn: b.conn, Owner: b.owner, Clock: clk, Primary: src, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *box) start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- b.inst.Run(ctx) }()
}

func (b *box) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	if err := <-b.done; err != nil {
		t.Fatalf("%s: Run: %v", b.inst.Name(), err)
	}
}

// advance moves the fake clock in small steps, letting the loops run
// between them (synctest.Wait: every goroutine blocked again).
func advance(clk *clocktest.Fake, d time.Duration) {
	const step = time.Millisecond
	for ; d > 0; d -= step {
		clk.Advance(min(step, d))
		synctest.Wait()
	}
}

func state(b *box) vrrp.State { return b.inst.Status().State }

func TestInstanceElectionAndHandover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		m, _ := vrrp.NewMetrics(nil)
		a := newBox(t, n, clk, m, "a", "192.0.2.11", 200, true)
		b := newBox(t, n, clk, m, "b", "192.0.2.12", 100, true)
		a.start()
		b.start()
		synctest.Wait()
		if state(a) != vrrp.Backup || state(b) != vrrp.Backup {
			t.Fatalf("after start: a %v b %v, want both backup", state(a), state(b))
		}
		// a's Master_Down_Interval (3*100ms + 21.875ms) is the shorter.
		advance(clk, 321*time.Millisecond)
		if state(a) != vrrp.Backup {
			t.Fatalf("a became %v before Master_Down_Interval", state(a))
		}
		advance(clk, 2*time.Millisecond)
		if state(a) != vrrp.Master || !a.owner.Held() {
			t.Fatalf("a is %v (holds VIP %v), want master", state(a), a.owner.Held())
		}
		advance(clk, 2*time.Second)
		if state(b) != vrrp.Backup || b.owner.Held() {
			t.Fatalf("b is %v while a advertises, want backup", state(b))
		}
		if got := b.inst.Status().MasterAddr; got != netip.MustParseAddr("192.0.2.11") {
			t.Errorf("b's master %v, want 192.0.2.11", got)
		}

		// Graceful stop: a sends priority 0, b takes over after its
		// Skew_Time (156*100ms/256 = 60.9ms), not Master_Down_Interval.
		a.conn.Sent()
		a.stop(t)
		if a.owner.Held() {
			t.Fatal("a still holds the VIP after stopping")
		}
		sent := a.conn.Sent()
		if len(sent) != 1 || sent[0].Payload[2] != 0 {
			t.Fatalf("a sent %d adverts on stop (%v), want one with priority 0", len(sent), sent)
		}
		advance(clk, 60*time.Millisecond)
		if state(b) != vrrp.Backup {
			t.Fatalf("b is %v before Skew_Time", state(b))
		}
		advance(clk, 2*time.Millisecond)
		if state(b) != vrrp.Master || !b.owner.Held() {
			t.Fatalf("b is %v after Skew_Time, want master", state(b))
		}

		// a comes back with preempt: it discards b's lower adverts and
		// takes over after its Master_Down_Interval; b steps down.
		a = newBox(t, n, clk, m, "a", "192.0.2.11", 200, true)
		a.start()
		advance(clk, 330*time.Millisecond)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup || b.owner.Held() {
			t.Fatalf("after a's return: a %v b %v (b holds %v), want a master", state(a), state(b), b.owner.Held())
		}
		a.stop(t)
		b.stop(t)
		if got := counter(m.Transitions.WithLabelValues("b", "master")); got != 1 {
			t.Errorf("b became master %v times, want 1", got)
		}
	})
}

func TestInstanceNoPreempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		a := newBox(t, n, clk, nil, "a", "192.0.2.11", 200, false)
		b := newBox(t, n, clk, nil, "b", "192.0.2.12", 100, false)
		b.start()
		advance(clk, 400*time.Millisecond)
		if state(b) != vrrp.Master {
			t.Fatalf("b alone is %v, want master", state(b))
		}
		a.start()
		advance(clk, 2*time.Second)
		if state(b) != vrrp.Master || state(a) != vrrp.Backup {
			t.Fatalf("without preempt: a %v b %v, want b to stay master", state(a), state(b))
		}
		a.stop(t)
		b.stop(t)
	})
}

func TestInstanceTrackAndDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		m, _ := vrrp.NewMetrics(nil)
		a := newBox(t, n, clk, m, "a", "192.0.2.11", 200, true)
		b := newBox(t, n, clk, m, "b", "192.0.2.12", 100, true)
		a.start()
		b.start()
		advance(clk, 400*time.Millisecond)
		if state(a) != vrrp.Master {
			t.Fatalf("a is %v, want master", state(a))
		}
		// A routed advert (TTL 254) claiming priority 255 must not win.
		pkt := vrrp.Advert{VRID: 51, Priority: 255, Interval: adv, Src: netip.MustParseAddr("192.0.2.99"), Dst: vrrp.MulticastGroup}
		raw, _ := pkt.MarshalBinary()
		a.conn.Inject(vrrp.Packet{Payload: raw, Src: pkt.Src, Dst: pkt.Dst, TTL: 254})
		synctest.Wait()
		if state(a) != vrrp.Master {
			t.Fatalf("a is %v after a TTL 254 advert, want master", state(a))
		}
		if got := counter(m.Drops.WithLabelValues("a", "ttl")); got != 1 {
			t.Errorf("ttl drops %v, want 1", got)
		}

		// Carrier lost on a's tracked interface: a gives up at once
		// (priority 0), b takes over after Skew_Time.
		a.inst.SetTrack(false)
		synctest.Wait()
		if state(a) != vrrp.Fault || a.owner.Held() {
			t.Fatalf("a is %v (holds %v) with its link down, want fault", state(a), a.owner.Held())
		}
		advance(clk, 62*time.Millisecond)
		if state(b) != vrrp.Master {
			t.Fatalf("b is %v, want master", state(b))
		}
		a.inst.SetTrack(true)
		advance(clk, 330*time.Millisecond)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup {
			t.Fatalf("link back: a %v b %v, want a master (preempt)", state(a), state(b))
		}
		a.stop(t)
		b.stop(t)
	})
}

func TestSyncGroupFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		lan, wan := &vrrptest.Net{}, &vrrptest.Net{}
		la := newBox(t, lan, clk, nil, "lan", "192.0.2.11", 200, true)
		wa := newBox(t, wan, clk, nil, "wan", "198.51.100.11", 200, true)
		lb := newBox(t, lan, clk, nil, "lan", "192.0.2.12", 100, true)
		wb := newBox(t, wan, clk, nil, "wan", "198.51.100.12", 100, true)
		if _, err := vrrp.NewGroup("gw", la.inst, wa.inst); err != nil {
			t.Fatal(err)
		}
		if _, err := vrrp.NewGroup("gw", lb.inst, wb.inst); err != nil {
			t.Fatal(err)
		}
		if _, err := vrrp.NewGroup("again", la.inst); err == nil {
			t.Error("an instance joined two groups")
		}
		for _, b := range []*box{la, wa, lb, wb} {
			b.start()
		}
		advance(clk, 400*time.Millisecond)
		if state(la) != vrrp.Master || state(wa) != vrrp.Master {
			t.Fatalf("box a: lan %v wan %v, want both master", state(la), state(wa))
		}
		// a's WAN link fails: its LAN follows into fault, box b takes both.
		wa.inst.SetTrack(false)
		advance(clk, 100*time.Millisecond)
		if state(la) != vrrp.Fault || state(wa) != vrrp.Fault {
			t.Fatalf("box a: lan %v wan %v, want both fault", state(la), state(wa))
		}
		if state(lb) != vrrp.Master || state(wb) != vrrp.Master {
			t.Fatalf("box b: lan %v wan %v, want both master", state(lb), state(wb))
		}
		for _, b := range []*box{la, wa, lb, wb} {
			b.stop(t)
		}
	})
}

// counter reads a counter (prometheus/testutil would pull in a module the
// project does not use).
func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestInstanceSetPriorityAndHooks: lowering the master's priority hands
// the VIP to the preempting backup (the agent's "unfit" signal), restoring
// it takes the VIP back; OnTransition and OnAdvert report what happened.
func TestInstanceSetPriorityAndHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		m, _ := vrrp.NewMetrics(nil)
		a := newBox(t, n, clk, m, "a", "192.0.2.11", 200, true)
		var (
			mu      sync.Mutex
			trans   []vrrp.Transition
			adverts = map[netip.Addr]uint8{}
		)
		src := netip.MustParseAddr("192.0.2.12")
		b := &box{conn: n.Conn(src), owner: &owner{}, done: make(chan error, 1)}
		var err error
		b.inst, err = vrrp.NewInstance(vrrp.Config{
			Name: "b", Interface: "lan0", VRID: 51, Priority: 100, AdvertInterval: adv, Preempt: true,
			VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")},
		}, vrrp.Deps{Conn: b.conn, Owner: b.owner, Clock: clk, Primary: src, Metrics: m,
			OnTransition: func(tr vrrp.Transition) { mu.Lock(); trans = append(trans, tr); mu.Unlock() },
			OnAdvert:     func(s netip.Addr, p uint8) { mu.Lock(); adverts[s] = p; mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		a.start()
		b.start()
		advance(clk, time.Second)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup {
			t.Fatalf("a %v b %v, want a master", state(a), state(b))
		}
		mu.Lock()
		if p := adverts[netip.MustParseAddr("192.0.2.11")]; p != 200 {
			t.Errorf("b's OnAdvert saw a's priority %d, want 200", p)
		}
		mu.Unlock()

		a.inst.SetPriority(1)
		advance(clk, time.Second)
		if state(a) != vrrp.Backup || state(b) != vrrp.Master || !b.owner.Held() || a.owner.Held() {
			t.Fatalf("after a's priority 1: a %v b %v, want b master", state(a), state(b))
		}
		if got := a.inst.Status().Priority; got != 1 {
			t.Errorf("a's status priority %d, want 1", got)
		}
		mu.Lock()
		want := []vrrp.Transition{{From: vrrp.Initialize, To: vrrp.Backup, Cause: vrrp.CauseStartup}, {From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CauseMasterDown}}
		if len(trans) != 2 || trans[0] != want[0] || trans[1] != want[1] {
			t.Errorf("b's OnTransition saw %v, want %v", trans, want)
		}
		mu.Unlock()

		a.inst.SetPriority(0) // back to the configured 200: preempts b
		advance(clk, time.Second)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup {
			t.Fatalf("after restore: a %v b %v, want a master", state(a), state(b))
		}
		a.stop(t)
		b.stop(t)
	})
}

// TestInstanceResignWithoutPartnerPreempt: the master of a pair whose
// backup does not preempt hands over with Resign (the agent's
// maintenance start): its lowered priority alone would keep it master
// forever; the priority-0 advert makes the backup master after its
// Skew_Time (RFC 5798 §6.4.2). The resigned router stays Backup; with
// its priority restored it preempts back only if it preempts itself.
func TestInstanceResignWithoutPartnerPreempt(t *testing.T) {
	for _, ownPreempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("own preempt %v", ownPreempt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
				n := &vrrptest.Net{}
				a := newBox(t, n, clk, nil, "a", "192.0.2.11", 200, ownPreempt)
				b := newBox(t, n, clk, nil, "b", "192.0.2.12", 100, false)
				a.start()
				b.start()
				advance(clk, time.Second)
				if state(a) != vrrp.Master || state(b) != vrrp.Backup {
					t.Fatalf("a %v b %v, want a master", state(a), state(b))
				}
				// The lowered priority alone: b does not preempt.
				a.inst.SetPriority(1)
				advance(clk, time.Second)
				if state(a) != vrrp.Master || state(b) != vrrp.Backup {
					t.Fatalf("a at priority 1 without resign: a %v b %v, want a still master (b does not preempt)", state(a), state(b))
				}
				a.inst.Resign()
				synctest.Wait()
				if state(a) != vrrp.Backup || a.owner.Held() {
					t.Fatalf("after resign: a %v (holds VIP %v), want backup without the VIP", state(a), a.owner.Held())
				}
				if st := a.inst.Status(); st.Cause != vrrp.CauseResign || st.Priority != 1 {
					t.Errorf("a's status %+v, want cause resign at priority 1", st)
				}
				// b's Skew_Time at priority 100: 60.9375ms.
				advance(clk, 60*time.Millisecond)
				if state(b) != vrrp.Backup {
					t.Fatalf("b became %v before its Skew_Time", state(b))
				}
				advance(clk, 2*time.Millisecond)
				if state(b) != vrrp.Master || !b.owner.Held() {
					t.Fatalf("b %v (holds VIP %v) after Skew_Time, want master", state(b), b.owner.Held())
				}
				advance(clk, 2*time.Second)
				if state(a) != vrrp.Backup || state(b) != vrrp.Master {
					t.Fatalf("later: a %v b %v, want a to stay backup", state(a), state(b))
				}
				if got := a.inst.Status().MasterAddr; got != netip.MustParseAddr("192.0.2.12") {
					t.Errorf("a's master %v, want b", got)
				}
				// A second resign as Backup does nothing.
				a.inst.Resign()
				advance(clk, time.Second)
				if state(a) != vrrp.Backup || state(b) != vrrp.Master {
					t.Fatalf("resign as backup: a %v b %v", state(a), state(b))
				}

				a.inst.SetPriority(0) // maintenance stop: the configured 200
				advance(clk, time.Second)
				want := vrrp.Backup
				if ownPreempt {
					want = vrrp.Master
				}
				if state(a) != want {
					t.Fatalf("priority restored, own preempt %v: a %v, want %v", ownPreempt, state(a), want)
				}
				a.stop(t)
				b.stop(t)
			})
		})
	}
}

// TestInstancePing: the loop answers a ping while idle (no packet, no
// timer: a Fault), and stops answering once Run has returned.
func TestInstancePing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		a := newBox(t, n, clk, nil, "a", "192.0.2.11", 200, true)
		a.inst.SetTrack(false) // Fault: nothing wakes the loop but a poke
		a.start()
		synctest.Wait()
		if state(a) != vrrp.Fault {
			t.Errorf("a %v, want fault", state(a))
		}
		for range 3 {
			tk := a.inst.Ping()
			synctest.Wait()
			if got := a.inst.Pong(); got < tk {
				t.Errorf("ping %d unanswered by an idle loop (pong %d)", tk, got)
			}
		}
		a.stop(t)
		tk := a.inst.Ping()
		synctest.Wait()
		if got := a.inst.Pong(); got >= tk {
			t.Fatalf("ping %d answered after Run returned (pong %d)", tk, got)
		}
	})
}

// floodConn delivers the same valid advert on every Read and keeps doing so
// after Close, like a socket whose receive queue never drains: the reader
// goroutine cannot count on Read failing to notice that Run has stopped.
type floodConn struct {
	pkt    vrrp.Packet
	reads  atomic.Int64
	first  chan struct{} // closed by the first Read
	once   sync.Once
	closed atomic.Bool
}

func (c *floodConn) Read(b []byte) (vrrp.Packet, error) {
	c.reads.Add(1)
	c.once.Do(func() { close(c.first) })
	p := c.pkt
	p.Payload = b[:copy(b, p.Payload)]
	return p, nil
}

func (c *floodConn) Write([]byte, netip.Addr) error { return nil }
func (c *floodConn) Close() error                   { c.closed.Store(true); return nil }

// TestInstanceStopsWhileFlooded: Run returns (so its reader goroutine has
// exited: Run waits for it) although adverts keep arriving while it stops.
// Once the loop has returned nobody empties the reader's channel, so a
// reader that only knows how to send would block there for ever.
func TestInstanceStopsWhileFlooded(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.12"), vrrp.MulticastGroup
	a := vrrp.Advert{VRID: 51, Priority: 100, Interval: adv, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Src: src, Dst: dst}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	conn := &floodConn{pkt: vrrp.Packet{Payload: b, Src: src, Dst: dst, TTL: vrrp.TTL}, first: make(chan struct{})}
	var heard atomic.Int64
	inst, err := vrrp.NewInstance(vrrp.Config{
		Name: "a", Interface: "lan0", VRID: 51, Priority: 200, AdvertInterval: adv, Preempt: true,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")},
	}, vrrp.Deps{
		Conn: conn, Owner: &owner{}, Primary: netip.MustParseAddr("192.0.2.11"),
		Clock:    clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
		OnAdvert: func(netip.Addr, uint8) { heard.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()

	deadline := time.After(10 * time.Second)
	select {
	case <-conn.first:
	case <-deadline:
		t.Fatal("the reader never called Read")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-deadline:
		t.Fatalf("Run has not returned 10s after cancel (%d reads, %d adverts handled): the reader is stuck sending to a loop that has gone",
			conn.reads.Load(), heard.Load())
	}
	if !conn.closed.Load() {
		t.Error("Run returned without closing the Conn")
	}
}

// TestInstanceTrackPriority: a tracked failure that lowers the master's
// effective priority below the preempting backup's hands the VIP over
// (RFC 5798 §6.4.3, the master advertises the lower priority at once);
// restoring it takes the VIP back. The failover override (SetPriority)
// wins over the tracked priority.
func TestInstanceTrackPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		n := &vrrptest.Net{}
		m, _ := vrrp.NewMetrics(nil)
		a := newBox(t, n, clk, m, "a", "192.0.2.11", 110, true)
		b := newBox(t, n, clk, m, "b", "192.0.2.12", 100, true)
		a.start()
		b.start()
		advance(clk, time.Second)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup {
			t.Fatalf("a %v b %v, want a master", state(a), state(b))
		}
		a.inst.SetTrackPriority(90) // a weight of -20 while its check fails
		// The master's next advert carries 90 at once; b discards it and
		// takes over after its Master_Down_Interval (~3.6 intervals).
		advance(clk, 5*adv)
		if state(a) != vrrp.Backup || state(b) != vrrp.Master || !b.owner.Held() || a.owner.Held() {
			t.Fatalf("after a's tracked priority 90: a %v b %v, want b master", state(a), state(b))
		}
		if got := a.inst.Status().Priority; got != 90 {
			t.Errorf("a's status priority %d, want 90", got)
		}
		if got := gauge(m.Priority.WithLabelValues("a")); got != 90 {
			t.Errorf("hadhcpd_vrrp_priority{instance=a} = %v, want 90", got)
		}
		a.inst.SetTrackPriority(0) // the check passes again: 110
		advance(clk, 5*adv)
		if state(a) != vrrp.Master || state(b) != vrrp.Backup {
			t.Fatalf("after restore: a %v b %v, want a master (preempt)", state(a), state(b))
		}
		// The failover override wins over tracking in both directions.
		a.inst.SetTrackPriority(120)
		a.inst.SetPriority(1)
		advance(clk, 5*adv)
		if got := a.inst.Status().Priority; got != 1 || state(b) != vrrp.Master {
			t.Errorf("override 1 with tracked 120: a's priority %d, b %v; want 1 and b master", got, state(b))
		}
		a.inst.SetPriority(0)
		advance(clk, 5*adv)
		if got := a.inst.Status().Priority; got != 120 || state(a) != vrrp.Master {
			t.Errorf("override cleared: a's priority %d state %v; want the tracked 120 and master", got, state(a))
		}
		a.stop(t)
		b.stop(t)
	})
}

func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
