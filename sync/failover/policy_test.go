package failover

import (
	"slices"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

func TestGateDecisions(t *testing.T) {
	sec := time.Second
	sec2 := testCfg
	sec2.Role = Secondary
	pdSteps := with(normalPair(), step{4 * sec, VRRPMaster{true}}, step{5 * sec, LinkDown{}},
		step{6 * sec, VRRPMasterDown{}}, step{6*sec + time.Minute, TimerFired{}}) // heardAt = t0+6s
	renew, discover := Request{HWAddr: []byte{1, 2, 3, 4, 5, 6}, Renewal: true}, Request{HWAddr: []byte{1, 2, 3, 4, 5, 6}}
	free, backup := lease.StateFree, lease.StateBackup
	tests := []struct {
		name     string
		cfg      Config
		steps    []step
		at       time.Duration
		serve    bool
		pools    []lease.State
		transfer bool
	}{
		{"startup: nothing", testCfg, []step{start, {sec, VRRPMaster{true}}}, 2 * sec, false, nil, false},
		{"recover: nothing", testCfg, []step{start, {sec, VRRPMaster{true}}, {2 * sec, linkNormal}}, 3 * sec, false, nil, false},
		{"normal primary master: FREE", testCfg, with(normalPair(), step{4 * sec, VRRPMaster{true}}), 5 * sec, true, []lease.State{free}, true},
		{"normal primary backup: silent", testCfg, normalPair(), 5 * sec, false, nil, true},
		{"normal secondary master: BACKUP only", sec2, with(normalPair(), step{4 * sec, VRRPMaster{true}}), 5 * sec, true, []lease.State{backup}, false},
		{"comm-int primary master: FREE", testCfg, with(normalPair(), step{4 * sec, VRRPMaster{true}}, step{5 * sec, LinkDown{}}), 6 * sec, true, []lease.State{free}, false},
		{"partner-down before MCLT: own pool", testCfg, pdSteps, 30 * time.Minute, true, []lease.State{free}, false},
		{"partner-down after MCLT: both", testCfg, pdSteps, 6*sec + time.Hour, true, []lease.State{free, backup}, false},
		{"secondary partner-down after MCLT: both", sec2, pdSteps, 6*sec + time.Hour, true, []lease.State{backup, free}, false},
		{"lone cold start PD before MCLT: nothing", testCfg,
			[]step{start, {sec, VRRPMaster{true}}, {3 * sec, VRRPMasterDown{}}, {3*sec + time.Minute, TimerFired{}}}, 30 * time.Minute, false, nil, false},
		{"lone cold start PD after MCLT: all", testCfg,
			[]step{start, {sec, VRRPMaster{true}}, {3 * sec, VRRPMasterDown{}}, {3*sec + time.Minute, TimerFired{}}}, 3*sec + time.Hour, true, []lease.State{free, backup}, false},
		{"maintenance: nothing", testCfg, with(normalPair(), step{4 * sec, VRRPMaster{true}}, step{5 * sec, MaintenanceStart{}}), 6 * sec, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := runSteps(t, tc.cfg, tc.steps)
			var g Gate
			g.Store(m.Policy())
			now := t0.Add(tc.at)
			if got := g.Serve(now, renew); got != tc.serve {
				t.Errorf("Serve(renewal) = %v, want %v", got, tc.serve)
			}
			if got := g.Pools(now); !slices.Equal(got, tc.pools) {
				t.Errorf("Pools = %v, want %v", got, tc.pools)
			}
			n, _, _ := g.Load().Transfer(lease.PoolStats{Free: 100})
			if (n > 0) != tc.transfer {
				t.Errorf("Transfer n = %d, want transfer %v", n, tc.transfer)
			}
			for _, st := range tc.pools {
				if !g.MayAllocate(now, st) {
					t.Errorf("MayAllocate(%v) = false", st)
				}
			}
			if g.MayAllocate(now, lease.StateActive) {
				t.Error("MayAllocate(ACTIVE) = true")
			}
			if got := g.Serve(now, discover); got != tc.serve {
				t.Errorf("Serve(discover) = %v, want %v", got, tc.serve)
			}
		})
	}
	var zero Gate
	if zero.Serve(t0, renew) || zero.Pools(t0) != nil {
		t.Error("an unpublished gate must serve nothing")
	}
}

func TestLoadBalanceServe(t *testing.T) {
	cfg := testCfg
	cfg.Mode, cfg.Split = LoadBalance, 128
	prim, _ := runSteps(t, cfg, normalPair())
	cfg.Role = Secondary
	secd, _ := runSteps(t, cfg, normalPair())
	pp, sp := prim.Policy(), secd.Policy()
	now := t0.Add(time.Hour)
	for i := 0; i < 256; i++ {
		r := Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}
		if pp.Serve(now, r) == sp.Serve(now, r) {
			t.Fatalf("client %d: primary %v, secondary %v; want exactly one", i, pp.Serve(now, r), sp.Serve(now, r))
		}
		r.Secs = 4 // > load_balance_max_seconds 3: both answer
		if !pp.Serve(now, r) || !sp.Serve(now, r) {
			t.Fatalf("client %d with secs 4: both must answer", i)
		}
		r.Secs, r.Renewal = 0, true
		if !pp.Serve(now, r) || !sp.Serve(now, r) {
			t.Fatalf("client %d renewal: both must answer (draft §5.5)", i)
		}
	}
	if got := pp.BackupShare(); got != 0.5 {
		t.Errorf("load-balance share = %v, want split-derived 0.5", got)
	}
	// The partner's link quiet (it may be gone): every bucket, until it
	// is heard again.
	quiet, _ := runSteps(t, cfg, with(normalPair(), step{time.Hour, PartnerQuiet{Quiet: true}}))
	for i := range 256 {
		if r := (Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}); !quiet.Policy().Serve(now, r) {
			t.Fatalf("client %d: not answered while the partner's link is quiet", i)
		}
	}
	quiet.Handle(now, PartnerQuiet{})
	served := 0
	for i := range 256 {
		if quiet.Policy().Serve(now, Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}) {
			served++
		}
	}
	if served == 256 {
		t.Error("the partner heard again: still every bucket")
	}
	// The primary in maintenance answers nobody: the secondary answers
	// every bucket, from its own pool only.
	secd.Handle(now, PartnerState{State: Normal, Maintenance: true})
	sp = secd.Policy()
	for i := range 256 {
		if r := (Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}); !sp.Serve(now, r) {
			t.Fatalf("client %d: the secondary does not answer while the primary is in maintenance", i)
		}
	}
	if got := sp.Pools(now); !slices.Equal(got, []lease.State{lease.StateBackup}) {
		t.Errorf("pools while the partner is in maintenance: %v, want BACKUP only", got)
	}
}

// TestLoadBalanceSwappedSecs: a client that writes secs little-endian
// (Windows: 3 s arrives as 768) gets one OFFER, not two, on a first
// DISCOVER; 4 s swapped (1024) is past load_balance_max_seconds 3 and
// both answer, as they would for 4 in the right order.
func TestLoadBalanceSwappedSecs(t *testing.T) {
	cfg := testCfg
	cfg.Mode, cfg.Split, cfg.LoadBalanceMaxSeconds = LoadBalance, 128, 3
	prim, _ := runSteps(t, cfg, normalPair())
	cfg.Role = Secondary
	secd, _ := runSteps(t, cfg, normalPair())
	pp, sp := prim.Policy(), secd.Policy()
	now := t0.Add(time.Hour)
	for i := range 256 {
		r := Request{HWAddr: []byte{0, 1, 2, 3, 4, byte(i)}}
		for _, secs := range []uint16{0x0100, 0x0200, 0x0300} { // 1, 2, 3 s swapped
			r.Secs = secs
			if pp.Serve(now, r) == sp.Serve(now, r) {
				t.Fatalf("client %d, secs %d (%d s swapped): primary %v, secondary %v; want exactly one",
					i, secs, secs>>8, pp.Serve(now, r), sp.Serve(now, r))
			}
		}
		for _, secs := range []uint16{0x0400, 4, 300, 0x0103} { // 4 s either way; 300 s; 259 s (low byte set: not swapped)
			r.Secs = secs
			if !pp.Serve(now, r) || !sp.Serve(now, r) {
				t.Fatalf("client %d, secs %d: both must answer", i, secs)
			}
		}
	}
}

func TestSecs(t *testing.T) {
	for _, c := range []struct{ in, want uint16 }{
		{0, 0}, {3, 3}, {255, 255}, {256, 1}, {768, 3}, {0x0103, 0x0103}, {0xff00, 0xff}, {1000, 1000}, {0xffff, 0xffff},
	} {
		if got := Secs(c.in); got != c.want {
			t.Errorf("Secs(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestReclaimable(t *testing.T) {
	normal, _ := runSteps(t, testCfg, normalPair())
	pd, _ := runSteps(t, testCfg, with(normalPair(), step{5 * time.Second, LinkDown{}},
		step{6 * time.Second, VRRPMasterDown{}}, step{6*time.Second + time.Minute, TimerFired{}}))
	exp := lease.Lease{State: lease.StateExpired, Expiry: t0.Add(10 * time.Minute), AckedExpiry: t0.Add(2 * time.Hour)}
	np, pp := normal.Policy(), pd.Policy()
	now := t0.Add(time.Hour)
	if np.Reclaimable(t0.Add(3*time.Hour), exp, false) {
		t.Error("NORMAL without partner ack: reclaimed")
	}
	if np.Reclaimable(now, exp, true) {
		t.Error("NORMAL with partner ack before acked potential + MCLT: reclaimed")
	}
	if !np.Reclaimable(t0.Add(3*time.Hour), exp, true) {
		t.Error("NORMAL with partner ack after LatestEnd: not reclaimed")
	}
	if pp.Reclaimable(t0.Add(2*time.Hour), exp, false) {
		t.Error("PD before acked potential + MCLT: reclaimed")
	}
	if !pp.Reclaimable(t0.Add(3*time.Hour), exp, false) {
		t.Error("PD after acked potential + MCLT: not reclaimed")
	}
	active := exp
	active.State = lease.StateActive
	if pp.Reclaimable(t0.Add(100*time.Hour), active, true) {
		t.Error("ACTIVE reclaimed")
	}
}

// TestSkewIndependence: the partner's clock being an hour off changes no
// decision. The machine never sees the partner's clock: the peer link
// converts every partner time into ours by the remaining duration, so the
// same history under any skew yields the same inputs; and the decisions
// computed from our own clock are identical whatever our clock reads
// (shifting every local time by ±1 h shifts every output by the same).
func TestSkewIndependence(t *testing.T) {
	hist := with(normalPair(), step{4 * time.Second, VRRPMaster{true}}, step{5 * time.Second, LinkDown{}},
		step{6 * time.Second, VRRPMasterDown{}}, step{6*time.Second + time.Minute, TimerFired{}})
	type decision struct {
		state          State
		serve          bool
		pools          []lease.State
		grant          time.Duration
		potentialAfter time.Duration
		reclaim        bool
	}
	decide := func(skew time.Duration) []decision {
		m, _ := New(testCfg)
		var out []decision
		for _, s := range hist {
			m.Handle(t0.Add(skew+s.at), s.ev)
		}
		p := m.Policy()
		for _, at := range []time.Duration{0, 30 * time.Minute, time.Hour, 2 * time.Hour, 5 * time.Hour} {
			now := t0.Add(skew + 2*time.Minute + at)
			// A lease whose partner times arrived as durations: the
			// partner acknowledged 90 min from "now-at" in its clock,
			// converted by the peer link to ours.
			l := lease.Lease{State: lease.StateExpired, Expiry: t0.Add(skew + 10*time.Minute),
				AckedExpiry: t0.Add(skew + 90*time.Minute)}
			g, pot := p.LeaseTime(now, l, 72*time.Hour)
			out = append(out, decision{m.State(), p.Serve(now, Request{Renewal: true}), p.Pools(now), g,
				pot.Sub(now), p.Reclaimable(now, l, false)})
		}
		return out
	}
	base := decide(0)
	for _, skew := range []time.Duration{-time.Hour, time.Hour, 59 * time.Minute} {
		got := decide(skew)
		for i := range base {
			b, g := base[i], got[i]
			if b.state != g.state || b.serve != g.serve || !slices.Equal(b.pools, g.pools) ||
				b.grant != g.grant || b.potentialAfter != g.potentialAfter || b.reclaim != g.reclaim {
				t.Errorf("skew %v, check %d: %+v, want %+v", skew, i, g, b)
			}
		}
	}
}
