package e2e

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
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
// down, one relationship's sync link cut silently by nftables (the other
// relationships of both boxes keep theirs), or disk loss (the box lost,
// its sync link a moment first, and back with an empty state_dir: every
// lease it ACKed must come back from its partners, so an ACK that left
// before the partner had the lease shows up as lost; every box runs with
// the shortest MCLT, 1m, the RECOVER-WAIT of a box back without its
// journal, as in TestIntegrationFailoverDiskLoss). After each repair every
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
	chaosRingDiskLoss = "diskloss"   // box loss, the sync link stagger first; back on an empty state_dir
)

var chaosRingKinds = []string{chaosBoxLoss, chaosKill9, chaosRestart, chaosRingLinkSync, chaosRingCut, chaosRingDiskLoss}

// A disk loss's sync link goes down this long before the rest of the box
// (drawn in the range): the box serves its segment meanwhile with nothing
// reaching its partners, so a box that ACKs before its partner has the
// lease gives out ~25 new leases a second there that only its disk holds.
// Below the link's ack bound (max_response_delay/6, 500 ms here), after
// which commits go ahead as "partner unreachable" and such leases are
// lost with the disk by design.
const chaosStaggerMin, chaosStaggerMax = 100 * time.Millisecond, 300 * time.Millisecond

// chaosRingFailover is the ring chaos's extra failover keys: the
// shortest MCLT, since a disk loss costs one in RECOVER-WAIT.
const chaosRingFailover = "  mclt: 1m\n"

// chaosRingFault is one scheduled fault: the pair's (kind, lead, hold),
// the box, for cut-rel which of its two partners, for diskloss how long
// its sync link is down before the rest.
type chaosRingFault struct {
	chaosFault
	box     string
	partner int
	stagger time.Duration
}

// chaosRingSchedule deals n faults from seed. Pure: one seed, one
// schedule.
func chaosRingSchedule(seed uint64, n int) []chaosRingFault {
	rng := mrand.New(mrand.NewPCG(seed, 0x72696e67)) // "ring"
	out := make([]chaosRingFault, 0, n)
	for _, f := range chaosDeal(seed, n, chaosRingKinds) {
		rf := chaosRingFault{chaosFault: f, box: []string{"a", "b", "c"}[rng.IntN(3)], partner: rng.IntN(2)}
		rf.stagger = (chaosStaggerMin + time.Duration(rng.Int64N(int64(chaosStaggerMax-chaosStaggerMin)+1))).Round(time.Millisecond)
		out = append(out, rf)
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

// chaosRevival is a box a disk loss started again: when, and its log's
// start marker.
type chaosRevival struct {
	box, marker string
	at          time.Time
}

// inject runs one fault up to and including its repair and describes it;
// after a disk loss, the box's revival.
func (m *multiLab) inject(f chaosRingFault) (string, *chaosRevival) {
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
		return fmt.Sprintf("%s of %s with %s", f.kind, f.box, m.partners(f.box)[f.partner]), nil
	case chaosRingDiskLoss:
		b.Host.MustIP("link", "set", "sync0", "down")
		time.Sleep(f.stagger)
		m.lose(f.box)
		if exited, _ := b.Proc.Wait(chaosExitWait); !exited {
			t.Fatalf("%s did not exit within %v of its loss", f.box, chaosExitWait)
		}
		// A new disk: the config and the key kept, the state gone.
		if err := os.RemoveAll(filepath.Join(b.Dir, "state")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(f.hold)
		at := time.Now()
		marker := m.revive(f.box)
		return fmt.Sprintf("%s of %s (sync link down %v before the box)", f.kind, f.box, f.stagger), &chaosRevival{f.box, marker, at}
	default:
		t.Fatalf("unknown fault kind %q", f.kind)
	}
	return fmt.Sprintf("%s of %s", f.kind, f.box), nil
}

// resyncDoneRx is a relationship's resync done, in its box's log.
func resyncDoneRx(rel string) *regexp.Regexp {
	return regexp.MustCompile(`msg="peer resync done" .*relationship=` + regexp.QuoteMeta(rel) + ` `)
}

// checkResync checks a box back on an empty disk once it has resynced
// each of its relationships, one MCLT before it may serve: every ACK of
// its segments received before its start, unexpired, is ACTIVE for its
// client on both of the segment's boxes (invariant 2: the partner had it
// before the client did, so the resync gave it back; a lease ACKed before
// it reached the partner is on neither box now, and only until it
// expires, at most one MCLT later, would anything tell), and no address
// was ACKed twice. acks(i) is segment i's ACKs so far. It returns the
// violations found per segment.
func (m *multiLab) checkResync(r chaosRevival, acks func(seg int) []crashAck) []int {
	t := m.t
	t.Helper()
	out := make([]int, len(m.segs))
	b := m.boxes[r.box]
	for si, s := range m.segs {
		if r.box != s.pri && r.box != s.sec {
			continue
		}
		rx := resyncDoneRx(s.name)
		lab.WaitFor(t, 30*time.Second, r.box+" resynced "+s.name, func() (bool, string) {
			_, pos := logEvent(b.Log.String(), r.marker, rx)
			return pos >= 0, "no resync done in its log since its start"
		})
		var before []crashAck
		for _, a := range acks(si) {
			if a.at.Before(r.at) {
				before = append(before, a)
			}
		}
		// The resync is done, its records applied: a short bound for
		// the database reads to agree.
		deadline := time.Now().Add(10 * time.Second)
		for {
			v := crashCheck(before)(activeIn(t, m.boxes[s.pri], s.net), activeIn(t, m.boxes[s.sec], s.net), time.Now())
			if len(v.lost) == 0 && len(v.dups) == 0 || time.Now().After(deadline) {
				what := fmt.Sprintf("%s back on an empty disk, %s resynced", r.box, s.name)
				reportLines(t, what+": lost (invariant 2)", v.lost)
				reportLines(t, what+": duplicate (invariant 1)", v.dups)
				out[si] = len(v.lost) + len(v.dups)
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	return out
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
	m := newMultiLabWith(t, chaosRingPrefix, withFailover(chaosRingFailover), ringLoadSegments, ringSync, "a", "b", "c")
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

	type segResult struct{ acks, unanswered, naks, lost, dups, resync int }
	var toNormal []time.Duration
	total := make([]segResult, len(m.segs))
	byKind := map[string][]time.Duration{}
	defer func() {
		var b strings.Builder
		fmt.Fprintf(&b, "ring chaos summary (seed %d, %d of %d faults run):\n", seed, len(toNormal), n)
		for i, s := range m.segs {
			r := total[i]
			fmt.Fprintf(&b, "  %s (%s–%s): %d ACKs, %d unanswered, %d NAKs, lost %d, duplicates %d; after disk losses' resyncs %d lost or duplicate (a lease counts per box)\n", s.name, s.pri, s.sec, r.acks, r.unanswered, r.naks, r.lost, r.dups, r.resync)
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
		desc, revived := m.inject(f)
		what := fmt.Sprintf("fault %d/%d: %s (lead %v, hold %v)", i+1, n, desc, f.lead, f.hold)
		var resync []int
		if revived != nil {
			resync = m.checkResync(*revived, func(si int) []crashAck {
				l := loads[si].c
				l.mu.Lock()
				defer l.mu.Unlock()
				return slices.Clone(l.acks)
			})
		}
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
			if resync != nil {
				r.resync += resync[si]
			}
			if st.acks == 0 {
				t.Errorf("%s: %s: no ACK at all: the load client did not work", what, s.name)
			}
			l1 := fmt.Sprintf("%s %d ACKs lost %d dups %d (check %v)", s.name, len(acks), len(v.lost)+len(v.early), len(v.dups), conv.Round(time.Millisecond))
			if resync != nil && (f.box == s.pri || f.box == s.sec) {
				l1 += fmt.Sprintf(", after the resync %d lost or duplicate", resync[si])
			}
			line = append(line, l1)
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
		if f.stagger < chaosStaggerMin || f.stagger > chaosStaggerMax {
			t.Errorf("stagger %v out of range", f.stagger)
		}
	}
	if len(kinds) != len(chaosRingKinds) || len(boxes) != 3 {
		t.Errorf("40 faults cover kinds %v, boxes %v", kinds, boxes)
	}
}
