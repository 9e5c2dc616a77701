package e2e

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Chaos over a ring of three (`make chaos RING=3`): boxes A, B, C in three
// relationships (A–B segment 1, B–C segment 2, C–A segment 3), a load
// client on each segment (new clients and INIT-REBOOT renewals, as the
// pair's chaos), and one random fault after another on a random box: box
// loss (links down, SIGKILL), SIGKILL, a graceful restart, its sync link
// down, or one relationship's sync link cut silently by nftables (the
// other relationships of both boxes keep theirs). After each repair every
// relationship must be NORMAL again on both of its boxes, and then each
// segment is checked as the pair's chaos checks a pair (checkChaos),
// against the ACKs its clients got and its two boxes' databases:
// invariants 1 and 2 per relationship, the same active bindings on both,
// the VIP on the primary alone.
//
// HADHCPD_CHAOS_RING=3 runs it (it is long: not part of `make test`);
// HADHCPD_CHAOS_N and HADHCPD_CHAOS_SEED as for the pair's.

// chaosRingPrefix is this test's namespace prefix.
const chaosRingPrefix = "hmu2"

// Ring fault kinds (chaosKill9, chaosBoxLoss, chaosRestart are the
// pair's).
const (
	chaosRingLinkSync = "link-sync0" // the box's sync link down (all its relationships)
	chaosRingCut      = "cut-rel"    // one relationship's sync traffic dropped (nftables) in the box
)

var chaosRingKinds = []string{chaosBoxLoss, chaosKill9, chaosRestart, chaosRingLinkSync, chaosRingCut}

// chaosRingFault is one scheduled fault: the pair's (kind, lead, hold),
// the box, and for cut-rel which of its two partners.
type chaosRingFault struct {
	chaosFault
	box     string
	partner int
}

// chaosRingSchedule deals n faults from seed. Pure: one seed, one
// schedule.
func chaosRingSchedule(seed uint64, n int) []chaosRingFault {
	rng := mrand.New(mrand.NewPCG(seed, 0x72696e67)) // "ring"
	out := make([]chaosRingFault, 0, n)
	for _, f := range chaosDeal(seed, n, chaosRingKinds) {
		out = append(out, chaosRingFault{chaosFault: f, box: []string{"a", "b", "c"}[rng.IntN(3)], partner: rng.IntN(2)})
	}
	return out
}

// partners are box's partners in the ring, in segment order.
func (m *multiLab) partners(box string) []string {
	var out []string
	for _, s := range m.segs {
		switch box {
		case s.pri:
			out = append(out, s.sec)
		case s.sec:
			out = append(out, s.pri)
		}
	}
	return out
}

// inject runs one fault up to and including its repair and describes it.
func (m *multiLab) inject(f chaosRingFault) string {
	t := m.t
	t.Helper()
	b := m.boxes[f.box]
	switch f.kind {
	case chaosBoxLoss:
		m.lose(f.box)
		if exited, _ := b.Proc.Wait(chaosExitWait); !exited {
			t.Fatalf("%s did not exit within %v of its loss", f.box, chaosExitWait)
		}
		time.Sleep(f.hold)
		m.revive(f.box)
	case chaosKill9:
		b.Kill(syscall.SIGKILL, chaosExitWait)
		time.Sleep(f.hold)
		b.Start()
	case chaosRestart:
		b.Kill(syscall.SIGTERM, chaosExitWait)
		b.Start()
	case chaosRingLinkSync:
		b.Host.MustIP("link", "set", "sync0", "down")
		time.Sleep(f.hold)
		b.Host.MustIP("link", "set", "sync0", "up")
	case chaosRingCut:
		// Only the traffic with one partner, silently (no RST, no ICMP):
		// that relationship's heartbeat timeout must tell; the box's other
		// relationship shares the interface and the listener and must not
		// notice.
		peer := m.sync[m.partners(f.box)[f.partner]]
		nft(t, b.Host, fmt.Sprintf("table inet hmu2cut {\n chain in { type filter hook input priority 0; ip saddr %s drop; }\n chain out { type filter hook output priority 0; ip daddr %s drop; }\n}\n", peer, peer))
		time.Sleep(f.hold)
		nft(t, b.Host, "delete table inet hmu2cut\n")
		return fmt.Sprintf("%s of %s with %s", f.kind, f.box, m.partners(f.box)[f.partner])
	default:
		t.Fatalf("unknown fault kind %q", f.kind)
	}
	return fmt.Sprintf("%s of %s", f.kind, f.box)
}

// activeIn is box's ACTIVE leases inside the prefix net.
func activeIn(t *testing.T, b *lab.Box, net string) map[netip.Addr]control.LeaseInfo {
	t.Helper()
	p := netip.MustParsePrefix(net)
	var ls []control.LeaseInfo
	if err := b.Leases(&ls, "--state", "active"); err != nil {
		t.Fatal(err)
	}
	out := map[netip.Addr]control.LeaseInfo{}
	for _, l := range ls {
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			t.Fatalf("%s: leases --json: bad ip %q", b.Name, l.IP)
		}
		if p.Contains(a) {
			out[a] = l
		}
	}
	return out
}

// checkSegment is checkChaos over segment s: its clients' ACKs, its two
// boxes' leases of its subnet, its VIP; re-read until clean or
// chaosConvergeWait (duplicates and VIP holders end the wait at once).
func (m *multiLab) checkSegment(s ringSeg, acks []crashAck) (chaosViolations, time.Duration) {
	start := time.Now()
	for {
		now := time.Now()
		pri, sec := m.boxes[s.pri], m.boxes[s.sec]
		v := checkChaos(acks, activeIn(m.t, pri, s.net), activeIn(m.t, sec, s.net),
			lab.HasAddr(pri.Host, s.iface, s.vip), lab.HasAddr(sec.Host, s.iface, s.vip), now)
		if v.count() == 0 || !v.converging() || now.Sub(start) > chaosConvergeWait {
			return v, time.Since(start)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestIntegrationChaosRing: HADHCPD_CHAOS_N random faults over the ring
// under load on every segment; after each, every relationship back to
// NORMAL, 0 lost, 0 duplicates per segment.
func TestIntegrationChaosRing(t *testing.T) {
	if os.Getenv("HADHCPD_CHAOS_RING") != "3" {
		t.Skip("ring chaos runs with HADHCPD_CHAOS_RING=3 (make chaos RING=3): minutes long")
	}
	testnet.RequireRoot(t)
	testnet.RequireCmd(t, "nft")
	n, seed, err := chaosEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	m := newMultiLabIn(t, chaosRingPrefix, ringLoadSegments, ringSync, "a", "b", "c")
	loads := make([]*chaosLoad, len(m.segs))
	for i, s := range m.segs {
		h := m.net.Host(fmt.Sprintf("cl%d", i+1))
		h.Connect(m.sw[s.name], "eth0")
		loads[i] = &chaosLoad{c: newLoadClient(t, h)}
	}
	sched := chaosRingSchedule(seed, n)
	t.Logf("ring chaos seed %d, %d faults (replay the schedule: make chaos RING=3 SEED=%d N=%d)", seed, n, seed, n)
	budget := int(chaosPoolShare * ringLoadPool / float64(n))
	m.waitNormal(chaosNormalWait, true)

	type segResult struct{ acks, unanswered, naks, lost, dups int }
	var toNormal []time.Duration
	total := make([]segResult, len(m.segs))
	byKind := map[string][]time.Duration{}
	defer func() {
		var b strings.Builder
		fmt.Fprintf(&b, "ring chaos summary (seed %d, %d of %d faults run):\n", seed, len(toNormal), n)
		for i, s := range m.segs {
			r := total[i]
			fmt.Fprintf(&b, "  %s (%s–%s): %d ACKs, %d unanswered, %d NAKs, lost %d, duplicates %d\n", s.name, s.pri, s.sec, r.acks, r.unanswered, r.naks, r.lost, r.dups)
		}
		for _, k := range chaosRingKinds {
			if ds := byKind[k]; len(ds) > 0 {
				fmt.Fprintf(&b, "  %-10s %d faults, fault→every relationship NORMAL med/max %s\n", k, len(ds), medMax(ds))
			}
		}
		t.Log(b.String())
	}()
	runCtx, stopAll := context.WithCancel(context.Background())
	defer stopAll()

	for i, f := range sched {
		ctx, cancel := context.WithCancel(runCtx)
		stats := make([]chaosLoadStats, len(loads))
		done := make(chan struct{})
		go func() {
			defer close(done)
			var wg sync.WaitGroup
			for si, l := range loads {
				wg.Go(func() { stats[si] = l.run(ctx, i|si<<12, budget, seed) })
			}
			wg.Wait()
		}()
		stopLoads := func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("fault %d: a load client did not stop within 10s", i+1)
			}
		}
		time.Sleep(f.lead)
		marker := fmt.Sprintf("--- ring chaos fault %d/%d ---\n", i+1, n)
		m.mark(marker, m.names...)
		faultAt := time.Now()
		what := fmt.Sprintf("fault %d/%d: %s (lead %v, hold %v)", i+1, n, m.inject(f), f.lead, f.hold)
		m.waitNormal(chaosNormalWait, true)
		d := time.Since(faultAt).Round(time.Millisecond)
		toNormal = append(toNormal, d)
		byKind[f.kind] = append(byKind[f.kind], d)
		time.Sleep(chaosTail)
		stopLoads()

		var line []string
		for si, s := range m.segs {
			l := loads[si]
			l.c.mu.Lock()
			acks := slices.Clone(l.c.acks)
			l.c.mu.Unlock()
			v, conv := m.checkSegment(s, acks)
			st, r := stats[si], &total[si]
			r.acks, r.unanswered, r.naks = len(acks), r.unanswered+st.unanswered, r.naks+st.naks
			r.lost, r.dups = len(v.lost)+len(v.early), len(v.dups)
			if st.acks == 0 {
				t.Errorf("%s: %s: no ACK at all: the load client did not work", what, s.name)
			}
			line = append(line, fmt.Sprintf("%s %d ACKs lost %d dups %d (check %v)", s.name, len(acks), len(v.lost)+len(v.early), len(v.dups), conv.Round(time.Millisecond)))
			reportLines(t, what+": "+s.name+": lost (invariant 2)", v.lost)
			reportLines(t, what+": "+s.name+": ends early (invariant 2)", v.early)
			reportLines(t, what+": "+s.name+": duplicate (invariant 1)", v.dups)
			reportLines(t, what+": "+s.name+": active sets differ", v.diff)
			reportLines(t, what+": "+s.name+": VIP", v.vip)
		}
		t.Logf("%s: every relationship NORMAL %v after the fault; %s", what, d, strings.Join(line, "; "))
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, b := range m.names {
		m.boxes[b].Stop(t)
	}
}

// One seed, one schedule; every kind and every box come up.
func TestChaosRingSchedule(t *testing.T) {
	a, b := chaosRingSchedule(7, 40), chaosRingSchedule(7, 40)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("one seed gave two schedules")
	}
	kinds, boxes := map[string]bool{}, map[string]bool{}
	for _, f := range a {
		kinds[f.kind], boxes[f.box] = true, true
		if f.partner < 0 || f.partner > 1 {
			t.Errorf("partner %d", f.partner)
		}
	}
	if len(kinds) != len(chaosRingKinds) || len(boxes) != 3 {
		t.Errorf("40 faults cover kinds %v, boxes %v", kinds, boxes)
	}
}
