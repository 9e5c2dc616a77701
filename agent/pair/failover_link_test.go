package pair

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/prometheus/client_golang/prometheus"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// openPoolDB opens a lease database with one pool of 101 addresses.
func openPoolDB(t testing.TB) *lease.DB { return openRangeDB(t, "192.0.2.100", "192.0.2.200") }

// openRangeDB is a lease database in a test directory with one pool.
func openRangeDB(t testing.TB, first, last string) *lease.DB {
	t.Helper()
	db, _, err := lease.Open(lease.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.SetPools([]lease.Pool{{Name: "p", First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// linkedPair runs a primary and a secondary link over loopback TCP (wall
// clock), the secondary applying into secStore, and returns them once both
// are up.
func linkedPair(t testing.TB, priDB *lease.DB, secStore peer.Store) (pri, sec *peer.Link) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	psk := []byte("0123456789abcdef0123456789abcdef")
	mk := func(name string, role peer.Role, store peer.Store) *peer.Link {
		l, err := peer.New(peer.Options{FromPartner: failover.FromPartner, Name: name, Role: role, Listen: "127.0.0.1:0", Peer: ln.Addr().String(),
			PSK: psk, MaxResponseDelay: 3 * time.Second, MaxUnacked: 100, Store: store, Logger: discardLog})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sec, pri = mk("gw2", peer.Secondary, secStore), mk("gw1", peer.Primary, priDB)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sec.Serve(ctx, ln) })
	wg.Go(func() { _ = pri.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	for deadline := time.Now().Add(5 * time.Second); !pri.Up() || !sec.Up(); {
		if time.Now().After(deadline) {
			t.Fatal("the link did not come up within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return pri, sec
}

// normalPolicy is a primary's policy in NORMAL with the link up: pool
// balancing allowed (failover.Policy.Transfer).
func normalPolicy(t *testing.T) failover.Policy {
	t.Helper()
	cfg, err := config.FailoverMachine(&config.FailoverConfig{Role: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := failover.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Handle(now, failover.Start{SeqKnown: true})
	m.Handle(now, failover.LinkUp{Partner: failover.Normal})
	m.Handle(now, failover.ResyncDone{})
	if m.State() != failover.Normal {
		t.Fatalf("machine in %v, want NORMAL", m.State())
	}
	return m.Policy()
}

func backupCount(db *lease.DB) int {
	n := 0
	for _, st := range db.Stats() {
		n += st.Backup
	}
	return n
}

// TestBalanceOnlyWithLinkUp: pool balancing runs in NORMAL with the link
// up, and not in the moment after the link went down while the published
// policy still says NORMAL (the machine has not handled LinkDown yet).
func TestBalanceOnlyWithLinkUp(t *testing.T) {
	met, err := newFailoverMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	pol := normalPolicy(t)

	// The link just went down: a link that is not up, a NORMAL policy.
	db := openPoolDB(t)
	down, err := peer.New(peer.Options{FromPartner: failover.FromPartner, Name: "gw1", Role: peer.Primary, PSK: make([]byte, peer.MinPSKLen),
		MaxResponseDelay: 3 * time.Second, MaxUnacked: 10, Store: db, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pair{log: discardLog, clock: clock.Wall(), db: db, link: down, met: met, ctx: context.Background()}
	p.gate.Store(pol)
	p.balanceRound(&replicatingDB{DB: db, p: p})
	if n := backupCount(db); n != 0 {
		t.Fatalf("%d addresses moved to BACKUP while the link was down", n)
	}

	// Positive control: the same policy with the link up moves some.
	priDB, secDB := openPoolDB(t), openPoolDB(t)
	pri, _ := linkedPair(t, priDB, secDB)
	p = &Pair{log: discardLog, clock: clock.Wall(), db: priDB, link: pri, met: met, ctx: context.Background()}
	p.gate.Store(pol)
	p.balanceRound(&replicatingDB{DB: priDB, p: p})
	if n := backupCount(priDB); n == 0 {
		t.Fatal("no address moved to BACKUP in NORMAL with the link up")
	}
	if n, m := backupCount(secDB), backupCount(priDB); n != m {
		t.Errorf("the secondary holds %d BACKUP addresses, the primary gave %d", n, m)
	}
}

// TestVRRPSilenceKeepsLiveSyncLink: a master-down takeover while the
// sync link is demonstrably alive (a VRRP-only partition) must not tear
// the link down; replication goes on. The machine concludes the silence
// (failover.AdvertsStopped) and the agent tells the link.
func TestVRRPSilenceKeepsLiveSyncLink(t *testing.T) {
	priDB, secDB := openPoolDB(t), openPoolDB(t)
	_, sec := linkedPair(t, priDB, secDB)
	clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	m, err := failover.New(failover.Config{Role: failover.Secondary, MCLT: time.Hour, Split: 128, AutoPartnerDown: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	met, _ := newFailoverMetrics(nil)
	p := &Pair{log: discardLog, clock: clk, link: sec, m: m, met: met, vr: &fakeVRRP{}, silence: 300 * time.Millisecond}
	p.q.init()
	var stopped bool
	step := func() {
		for _, ev := range p.q.drain() {
			acts := p.m.Handle(clk.Now(), ev)
			for _, a := range acts {
				if _, ok := a.(failover.AdvertsStopped); ok {
					stopped = true
				}
			}
			p.exec(acts)
		}
	}
	p.exec(p.m.Handle(clk.Now(), failover.Start{SeqKnown: true}))
	p.q.push(failover.LinkUp{Partner: failover.Normal})
	p.onVRRPAdvert(netipZero, 100)
	step()
	clk.Advance(time.Second) // the adverts stopped (VRRP path cut)
	p.onVRRPTransition(vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Cause: vrrp.CauseMasterDown})
	step()
	if !stopped {
		t.Fatal("the machine did not conclude that the adverts stopped")
	}
	// Give a wrongly closed session time to show.
	time.Sleep(50 * time.Millisecond)
	if !sec.Up() {
		t.Fatal("the sync link was torn down although it was alive")
	}
}

// TestFailoverStatusPartner: the status names the partner, and while the
// link is down shows its state as unknown with the last state heard and
// its age.
func TestFailoverStatusPartner(t *testing.T) {
	clk := clocktest.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	p := &Pair{log: discardLog, clock: clk}
	p.q.init()
	p.onLinkEvent(peer.Up{PartnerName: "gw2", PartnerState: uint8(failover.Normal)})
	p.status.Store(&failover.Status{State: failover.Normal, Partner: failover.Normal, LinkUp: true})
	fs := p.Status()
	if fs.PartnerName != "gw2" || fs.PartnerState != "NORMAL" || !fs.PartnerLastSeen.IsZero() {
		t.Errorf("link up: name %q state %q last seen %v, want gw2 NORMAL zero", fs.PartnerName, fs.PartnerState, fs.PartnerLastSeen)
	}
	lost := clk.Now()
	p.onLinkEvent(peer.Down{})
	p.status.Store(&failover.Status{State: failover.CommInterrupted, Partner: failover.Normal, LinkUp: false, LinkDownSince: lost})
	fs = p.Status()
	if fs.PartnerName != "gw2" || fs.PartnerState != "UNKNOWN" || fs.PartnerLastState != "NORMAL" || !fs.PartnerLastSeen.Equal(lost) {
		t.Errorf("link down: name %q state %q last %q seen %v, want gw2 UNKNOWN NORMAL %v",
			fs.PartnerName, fs.PartnerState, fs.PartnerLastState, fs.PartnerLastSeen, lost)
	}
	var b strings.Builder
	st := control.Status{Node: "gw1", Started: lost, Failover: fs}
	if err := control.WriteStatus(&b, &st, lost.Add(12*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "unknown (NORMAL 12s ago)") || !strings.Contains(b.String(), "gw2") {
		t.Errorf("status table while the link is down:\n%s\nwant the partner gw2 and \"unknown (NORMAL 12s ago)\"", b.String())
	}
}

// TestRenewalGetsFullLeaseAfterAck (draft-ietf-dhc-failover-12 §5.2.1):
// a new binding is MCLT long; once the partner acknowledged the update
// carrying its potential expiry, the renewal at T1 gets the full desired
// lease. Another client at the same address does not inherit it.
func TestRenewalGetsFullLeaseAfterAck(t *testing.T) {
	met, err := newFailoverMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	priDB, secDB := openPoolDB(t), openPoolDB(t)
	pri, _ := linkedPair(t, priDB, secDB)
	p := &Pair{log: discardLog, clock: clock.Wall(), db: priDB, link: pri, met: met, ctx: context.Background()}
	p.gate.Store(normalPolicy(t)) // MCLT 1h
	g, rdb := p.Gate(), &replicatingDB{DB: priDB, p: p}
	const desired = 72 * time.Hour
	addr := netip.MustParseAddr("192.0.2.150")
	hw := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	t0 := time.Now().Truncate(time.Second)

	fg := g.LeaseTime(lease.Lease{Addr: addr, HWAddr: hw}, desired, t0)
	first, potential := fg.Time, fg.Potential
	if first != time.Hour || !potential.Equal(t0.Add(first/2+desired)) {
		t.Fatalf("first lease %v, potential %v; want MCLT (1h), now+30m+%v", first, potential, desired)
	}
	// The engine puts the potential expiry on the lease it commits.
	if _, err := rdb.Commit(lease.Lease{Addr: addr, HWAddr: hw, State: lease.StateActive, Start: t0,
		Expiry: t0.Add(first), PotentialExpiry: potential, CLTT: t0, StateStart: t0}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(first / 2)
	cur, ok := priDB.Get(addr)
	if !ok {
		t.Fatal("the binding is not in the database")
	}
	renewal := g.LeaseTime(cur, desired, t1)
	if renewal.Time != desired {
		t.Errorf("renewal at T1 after the partner's ack: %v, want the full %v", renewal.Time, desired)
	}
	// The engine keeps the acknowledged potential on the renewal's lease,
	// so a later renewal while the partner is unreachable counts from it.
	if !renewal.Acked.Equal(potential) {
		t.Errorf("renewal's acknowledged expiry %v, want the acked potential %v", renewal.Acked, potential)
	}
	other := lease.Lease{Addr: addr, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	if got := g.LeaseTime(other, desired, t1); got.Time != time.Hour || !got.Acked.IsZero() {
		t.Errorf("another client at the same address: %v acked %v, want MCLT (1h) and nothing acked", got.Time, got.Acked)
	}
}

// fgate hands the engine's renewal flag to the policy: in load-balance
// mode a client of the partner's hash bucket is answered only when it
// renews (draft-12 §5.3), so dropping the flag would leave the partner's
// clients unable to renew here.
func TestGateLoadBalanceRenewal(t *testing.T) {
	cfg, err := config.FailoverMachine(&config.FailoverConfig{Role: "primary", Mode: "load-balance", LoadBalanceMaxSeconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	m, err := failover.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m.Handle(now, failover.Start{SeqKnown: true})
	m.Handle(now, failover.LinkUp{Partner: failover.Normal})
	m.Handle(now, failover.ResyncDone{})
	var g failover.Gate
	g.Store(m.Policy())
	fg := &fgate{g: &g, clock: clock.Wall()}
	// A client whose RFC 3074 bucket is the secondary's.
	var hw net.HardwareAddr
	for i := range 256 {
		c := net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}
		if !failover.PrimaryBucket(failover.LoadBalanceHash(failover.LoadBalanceKey(nil, c)), cfg.Split) {
			hw = c
			break
		}
	}
	if hw == nil {
		t.Fatal("no client of the secondary's bucket among 256")
	}
	if fg.Serve(dhcpd.Client{Key: "h" + hw.String(), HWAddr: hw}) {
		t.Fatal("primary answers a new client of the secondary's bucket")
	}
	if !fg.Serve(dhcpd.Client{Key: "h" + hw.String(), HWAddr: hw, Renewal: true}) {
		t.Fatal("primary ignores a renewal from a client of the secondary's bucket")
	}
}
