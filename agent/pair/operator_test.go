package pair

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/vrrptest"
)

// testFailover is a pair over a real machine and a real (not running)
// link, running Run's loop (without the link and the balancer). VRRP is a
// fakeVRRP without instances, so SetPriority records the override.
func testFailover(t *testing.T) *Pair {
	t.Helper()
	p := newTestFailover(t)
	runLoop(t, p)
	return p
}

// newTestFailover is testFailover's part, its loop not started.
func newTestFailover(t *testing.T) *Pair {
	t.Helper()
	m, err := failover.New(failover.Config{Role: failover.Primary, Mode: failover.HotStandby, MCLT: time.Hour, StandbyShare: 0.1, Split: 128, LoadBalanceMaxSeconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	link, err := peer.New(peer.Options{FromPartner: failover.FromPartner, Name: "gw1", Role: peer.Primary, Listen: "127.0.0.1:0", Peer: "127.0.0.1:1",
		PSK: []byte(strings.Repeat("k", peer.MinPSKLen)), MaxResponseDelay: time.Second, MaxUnacked: 10,
		Store: nopStore{}, Clock: clock.Wall()})
	if err != nil {
		t.Fatal(err)
	}
	met, _ := newFailoverMetrics(nil)
	p := &Pair{log: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: clock.Wall(), inst: "lan",
		vr: &fakeVRRP{}, m: m, link: link, met: met, silence: 300 * time.Millisecond}
	p.q.init()
	p.cmds = make(chan opCmd)
	return p
}

// runLoop starts p and runs its loop until the test ends.
func runLoop(t *testing.T, p *Pair) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.exec(p.m.Handle(time.Now(), failover.Start{LastSeq: 0, SeqKnown: true}))
		_ = p.loop(ctx, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// nopStore satisfies peer.Store for a link that never runs.
type nopStore struct{ peer.Store }

func (p *Pair) prio() uint8 {
	f := p.vr.(*fakeVRRP)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prios[p.inst]
}

// fakeVRRP is the agent's VRRP part as a pair uses it (VRRP): it records
// the priority override and drives the instances it is given, as the
// agent's part does; without instances Resign is a no-op and nothing is
// known of mastership.
type fakeVRRP struct {
	mu    sync.Mutex
	prios map[string]uint8
	insts map[string]*vrrp.Instance
}

func (f *fakeVRRP) Hook(string, func(vrrp.Transition), func(netip.Addr, uint8)) {}

func (f *fakeVRRP) SetPriority(instance string, prio uint8) {
	f.mu.Lock()
	if f.prios == nil {
		f.prios = map[string]uint8{}
	}
	f.prios[instance] = prio
	in := f.insts[instance]
	f.mu.Unlock()
	if in != nil {
		in.SetPriority(prio)
	}
}

func (f *fakeVRRP) instance(name string) *vrrp.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.insts[name]
}

func (f *fakeVRRP) setInstances(insts map[string]*vrrp.Instance) {
	f.mu.Lock()
	f.insts = insts
	f.mu.Unlock()
}

func (f *fakeVRRP) Resign(instance string) {
	if in := f.instance(instance); in != nil {
		in.Resign()
	}
}

func (f *fakeVRRP) MasterElsewhere(instance string) (elsewhere, known bool) {
	in := f.instance(instance)
	if in == nil {
		return false, false
	}
	st := in.Status()
	return st.State == vrrp.Backup && st.MasterAddr.IsValid(), true
}

func (f *fakeVRRP) InstanceStatus(string) (control.VRRPStatus, bool) {
	return control.VRRPStatus{}, false
}

// TestOperatorMaintenanceHandover drives the real machine: maintenance
// start is refused without a NORMAL partner, then applied; the box is
// unfit (VRRP priority lowered) and the command returns once VRRP says
// the partner took mastership; stop restores fitness and the priority.
func TestOperatorMaintenanceHandover(t *testing.T) {
	p := testFailover(t)
	ctx := context.Background()

	if _, err := p.Maintenance(ctx, true); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "sync link") {
		t.Fatalf("maintenance start with the link down: %v, want refused", err)
	}
	// Link up with a NORMAL partner, synced, VRRP master: NORMAL and fit.
	p.q.push(failover.LinkUp{Partner: failover.Normal, PartnerAckedSeq: 0, OurLastSeq: 0})
	p.q.push(failover.ResyncDone{})
	p.q.push(failover.VRRPMaster{Master: true})
	waitFor(t, func() bool {
		st := p.status.Load()
		return st != nil && st.State == failover.Normal && st.Fit && st.Master
	})
	if got := p.prio(); got != 0 {
		t.Fatalf("fit: priority override %d, want 0 (configured)", got)
	}

	// The partner preempts shortly after our lowered advert.
	go func() {
		waitFor(t, func() bool { return p.prio() == unfitPriority })
		time.Sleep(50 * time.Millisecond)
		p.q.push(failover.VRRPMaster{Master: false})
	}()
	r, err := p.Maintenance(ctx, true)
	if err != nil || !r.Applied || !r.Maintenance || r.Fit || r.State != "NORMAL" {
		t.Fatalf("maintenance start: %+v, %v", r, err)
	}
	if st := p.status.Load(); st.Master {
		t.Fatal("maintenance start returned while still VRRP master")
	}
	if got := p.prio(); got != unfitPriority {
		t.Errorf("in maintenance: priority override %d, want %d", got, unfitPriority)
	}
	// partner-down is refused (link up), with the machine's reason.
	if r, err := p.PartnerDown(ctx); !errors.Is(err, ErrRefused) || r.Refused != "the sync link to the partner is up" {
		t.Errorf("partner-down with the link up: %+v, %v", r, err)
	}

	r, err = p.Maintenance(ctx, false)
	if err != nil || r.Maintenance || !r.Fit || r.State != "NORMAL" {
		t.Fatalf("maintenance stop: %+v, %v", r, err)
	}
	if got := p.prio(); got != 0 {
		t.Errorf("after maintenance: priority override %d, want 0 (configured)", got)
	}
}

// TestOperatorMaintenanceNoHandover: when nobody takes mastership the
// command says so (bounded), with maintenance on.
func TestOperatorMaintenanceNoHandover(t *testing.T) {
	p := testFailover(t)
	p.silence = 0 // the shortest wait (opHandoverMin)
	p.q.push(failover.LinkUp{Partner: failover.Normal})
	p.q.push(failover.ResyncDone{})
	p.q.push(failover.VRRPMaster{Master: true})
	waitFor(t, func() bool { st := p.status.Load(); return st != nil && st.Fit && st.Master })
	r, err := p.Maintenance(context.Background(), true)
	if !errors.Is(err, ErrNoHandover) || !r.Applied || !r.Maintenance {
		t.Fatalf("no handover: %+v, %v", r, err)
	}
}

// TestOperatorPartnerDown: after the link is lost and VRRP heard silence,
// the operator's partner-down is applied.
func TestOperatorPartnerDown(t *testing.T) {
	p := testFailover(t)
	p.q.push(failover.LinkUp{Partner: failover.Normal})
	p.q.push(failover.ResyncDone{})
	p.q.push(failover.VRRPAdvert{})
	waitFor(t, func() bool { st := p.status.Load(); return st != nil && st.State == failover.Normal })
	if _, err := p.PartnerDown(context.Background()); !errors.Is(err, ErrRefused) {
		t.Fatalf("partner-down while the partner is heard: %v", err)
	}
	p.q.push(failover.LinkDown{})
	p.q.push(failover.VRRPMasterDown{})
	r, err := p.PartnerDown(context.Background())
	if err != nil || !r.Applied || r.State != "PARTNER-DOWN" {
		t.Fatalf("partner-down: %+v, %v", r, err)
	}
	if r, err := p.PartnerDown(context.Background()); !errors.Is(err, ErrRefused) || r.Refused != "already in PARTNER-DOWN" {
		t.Errorf("second partner-down: %+v, %v", r, err)
	}
}

// TestOperatorCommandAfterQueuedEvents: a command is handled after the
// events queued before it, even when the loop finds both ready at once
// (its select would otherwise pick either).
func TestOperatorCommandAfterQueuedEvents(t *testing.T) {
	for range 8 {
		p := newTestFailover(t)
		p.q.push(failover.LinkUp{Partner: failover.Normal})
		res := make(chan error, 1)
		go func() { _, err := p.PartnerDown(context.Background()); res <- err }()
		time.Sleep(10 * time.Millisecond) // the command waits on the loop's channel
		runLoop(t, p)
		if err := <-res; !errors.Is(err, ErrRefused) {
			t.Fatalf("partner-down after the link came up: %v, want refused", err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not met within 5s")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOperatorPartnerStateAsStatus: an operator command's result says
// what `status` says about the partner: its state while the link is up,
// UNKNOWN with the last state and when the link went down while it is
// down (the partner may have moved on since).
func TestOperatorPartnerStateAsStatus(t *testing.T) {
	p := testFailover(t)
	p.onLinkEvent(peer.Up{PartnerName: "gw2", PartnerState: uint8(failover.Normal)})
	p.q.push(failover.ResyncDone{})
	waitFor(t, func() bool { st := p.status.Load(); return st != nil && st.State == failover.Normal && st.LinkUp })
	r, err := p.PartnerDown(context.Background())
	if !errors.Is(err, ErrRefused) || r.PartnerState != "NORMAL" || r.PartnerLastState != "NORMAL" || !r.PartnerLastSeen.IsZero() {
		t.Errorf("link up: %+v, %v; want partner NORMAL, no last seen", r, err)
	}

	p.onLinkEvent(peer.Down{Reason: errors.New("test")})
	waitFor(t, func() bool { st := p.status.Load(); return st != nil && !st.LinkUp })
	r = p.result("partner-down")
	fs := p.Status()
	if r.PartnerState != "UNKNOWN" || r.PartnerLastState != "NORMAL" || r.PartnerLastSeen.IsZero() {
		t.Errorf("link down: partner %q, last %q at %v; want UNKNOWN, last NORMAL with a time", r.PartnerState, r.PartnerLastState, r.PartnerLastSeen)
	}
	if r.State != fs.State || r.PartnerState != fs.PartnerState || r.PartnerLastState != fs.PartnerLastState || !r.PartnerLastSeen.Equal(fs.PartnerLastSeen) {
		t.Errorf("result %+v disagrees with status %+v", r, fs)
	}
	// The refusal of maintenance start carries the same view.
	r, err = p.Maintenance(context.Background(), true)
	if !errors.Is(err, ErrRefused) || r.PartnerState != "UNKNOWN" || r.PartnerLastState != "NORMAL" {
		t.Errorf("maintenance start, link down: %+v, %v", r, err)
	}
}

// nopOwner is a vrrp.Owner that holds nothing.
type nopOwner struct{}

func (nopOwner) Take() error    { return nil }
func (nopOwner) Release() error { return nil }

// TestOperatorMaintenanceResigns: maintenance start hands mastership to a
// partner that does not preempt (RFC 5798 §6.4.3: the resigning master's
// priority-0 advert makes it take over after Skew_Time); a lowered
// priority alone would leave this box master, in maintenance, serving
// nobody. Real vrrp instances on an in-memory segment, real time.
func TestOperatorMaintenanceResigns(t *testing.T) {
	p := testFailover(t)
	seg := &vrrptest.Net{}
	const adv = 50 * time.Millisecond
	newInst := func(name, addr string, prio uint8, onT func(vrrp.Transition)) *vrrp.Instance {
		src := netip.MustParseAddr(addr)
		in, err := vrrp.NewInstance(vrrp.Config{Name: name, Interface: "lan0", VRID: 51, Priority: prio, AdvertInterval: adv,
			Preempt: false, VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}},
			vrrp.Deps{Conn: seg.Conn(src), Owner: nopOwner{}, Primary: src, OnTransition: onT})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	ours := newInst("lan", "192.0.2.11", 200, func(tr vrrp.Transition) {
		switch {
		case tr.To == vrrp.Master:
			p.q.push(failover.VRRPMaster{Master: true})
		case tr.From == vrrp.Master:
			p.q.push(failover.VRRPMaster{Master: false})
		}
	})
	partner := newInst("partner", "192.0.2.12", 100, nil)
	p.vr.(*fakeVRRP).setInstances(map[string]*vrrp.Instance{"lan": ours})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, in := range []*vrrp.Instance{ours, partner} {
		wg.Go(func() { _ = in.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	p.q.push(failover.LinkUp{Partner: failover.Normal})
	p.q.push(failover.ResyncDone{})
	waitFor(t, func() bool { st := p.status.Load(); return st != nil && st.Fit && st.Master })
	if partner.Status().State != vrrp.Backup {
		t.Fatalf("partner %v, want backup", partner.Status().State)
	}
	begin := time.Now()
	r, err := p.Maintenance(ctx, true)
	took := time.Since(begin)
	if err != nil || !r.Applied || !r.Maintenance {
		t.Fatalf("maintenance start: %+v, %v", r, err)
	}
	if st := ours.Status(); st.State != vrrp.Backup || st.Priority != unfitPriority || st.Cause != vrrp.CauseResign {
		t.Errorf("our instance %+v, want backup at priority %d after resigning", st, unfitPriority)
	}
	if partner.Status().State != vrrp.Master {
		t.Errorf("partner %v, want master", partner.Status().State)
	}
	// Skew_Time of the partner, not the 3 s handover bound.
	if took > time.Second {
		t.Errorf("maintenance start took %v, want the partner's Skew_Time (~30ms) plus scheduling", took)
	}
	t.Logf("maintenance start returned after %v", took.Round(time.Millisecond))

	// Stop: the configured priority is back; neither side preempts, so
	// the partner keeps the VIP.
	if _, err := p.Maintenance(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return ours.Status().Priority == 200 })
	time.Sleep(5 * adv)
	if ours.Status().State != vrrp.Backup || partner.Status().State != vrrp.Master {
		t.Errorf("after maintenance stop without preempt: ours %v partner %v, want the partner to keep mastership",
			ours.Status().State, partner.Status().State)
	}
}
