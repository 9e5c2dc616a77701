package failover

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

func TestRebalance(t *testing.T) {
	tests := []struct {
		name             string
		free, backup     int
		share            float64
		threshold        int
		toBackup, toFree int
	}{
		{"fresh pool 101 at 10%", 101, 0, 0.10, 2, 10, 0},
		{"balanced", 90, 10, 0.10, 2, 0, 0},
		{"within threshold", 92, 8, 0.10, 2, 0, 0},
		{"secondary used its share", 90, 2, 0.10, 1, 7, 0},
		{"too much backup: give back", 50, 50, 0.10, 2, 0, 40},
		{"flipped share: secondary serving", 90, 10, 0.90, 2, 80, 0},
		{"limited by free", 3, 0, 0.90, 0, 3, 0},
		{"share 0 returns all", 10, 5, 0, 0, 0, 5},
		{"nothing available", 0, 0, 0.5, 0, 0, 0},
		{"bad share", 10, 0, 1.5, 0, 0, 0},
		{"negative threshold = 0", 9, 0, 0.10, -5, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := Rebalance(lease.PoolStats{Free: tc.free, Backup: tc.backup}, tc.share, tc.threshold)
			if b != tc.toBackup || f != tc.toFree {
				t.Errorf("Rebalance = (%d, %d), want (%d, %d)", b, f, tc.toBackup, tc.toFree)
			}
		})
	}
	if got := DefaultThreshold(lease.PoolStats{Free: 1000}); got != 20 {
		t.Errorf("DefaultThreshold(1000) = %d", got)
	}
	if got := DefaultThreshold(lease.PoolStats{Free: 3}); got != 1 {
		t.Errorf("DefaultThreshold(3) = %d", got)
	}
}

// normalPolicy is role's policy in NORMAL with the link up (hot-standby,
// standby_share 10%), VRRP master as given.
func normalPolicy(t *testing.T, role Role, master bool) Policy {
	t.Helper()
	cfg := testCfg
	cfg.Role = role
	steps := normalPair()
	if master {
		steps = with(steps, step{3 * time.Second, VRRPMaster{true}})
	}
	m, _ := runSteps(t, cfg, steps)
	if m.State() != Normal {
		t.Fatalf("state %v, want NORMAL", m.State())
	}
	return m.Policy()
}

func TestPolicyBalance(t *testing.T) {
	big := lease.PoolStats{Name: "big", Total: 100000, Free: 100000}
	fresh := lease.PoolStats{Name: "fresh", Total: 101, Free: 101}
	even := lease.PoolStats{Name: "even", Total: 100, Free: 90, Backup: 10}
	heavy := lease.PoolStats{Name: "heavy", Total: 100, Free: 50, Backup: 50}
	down, _ := runSteps(t, testCfg, with(normalPair(), step{5 * time.Second, LinkDown{}}))
	tests := []struct {
		name  string
		pol   Policy
		stats []lease.PoolStats
		want  []Move
	}{
		{"primary hands FREE to BACKUP, capped per round", normalPolicy(t, Primary, true),
			[]lease.PoolStats{fresh, even, big, heavy},
			[]Move{{"fresh", 10, lease.StateFree, lease.StateBackup, 0}, {"big", BalanceMax, lease.StateFree, lease.StateBackup, 10000 - BalanceMax}}},
		{"secondary gives surplus BACKUP back as FREE", normalPolicy(t, Secondary, false),
			[]lease.PoolStats{fresh, even, heavy},
			[]Move{{"heavy", 40, lease.StateBackup, lease.StateFree, 0}}},
		{"secondary master holds the large share: primary hands over more", func() Policy {
			p := normalPolicy(t, Primary, false)
			m, _ := runSteps(t, testCfg, with(normalPair(), step{3 * time.Second, VRRPAdvert{}}))
			if m.Policy().BackupShare() != 0.9 || p.BackupShare() != 0.1 {
				t.Fatalf("shares %v, %v", m.Policy().BackupShare(), p.BackupShare())
			}
			return m.Policy()
		}(), []lease.PoolStats{even}, []Move{{"even", 80, lease.StateFree, lease.StateBackup, 0}}},
		{"nothing while the link is down", down.Policy(), []lease.PoolStats{fresh, big}, nil},
		{"nothing before NORMAL", func() Policy { m, _ := runSteps(t, testCfg, []step{start}); return m.Policy() }(),
			[]lease.PoolStats{fresh}, nil},
		{"no pools", normalPolicy(t, Primary, true), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.pol.Balance(tc.stats)
			if len(got) != len(tc.want) {
				t.Fatalf("Balance = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("move %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	a := netip.MustParseAddr("192.0.2.100")
	l := Move{To: lease.StateBackup}.Lease(a, t0)
	if l.Addr != a || l.State != lease.StateBackup || !l.StateStart.Equal(t0) || !l.CLTT.Equal(t0) || !l.Expiry.IsZero() {
		t.Errorf("Move.Lease = %+v", l)
	}
}

// TestBalancePace: balanced pools are looked at every second; while an
// imbalance remains the next round follows at once-ish, paced by what the
// last round's commits cost (at most a quarter of the time spent on them).
func TestBalancePace(t *testing.T) {
	for _, c := range []struct {
		rest bool
		took time.Duration
		want time.Duration
	}{
		{false, 0, BalanceIdle},
		{false, 500 * time.Millisecond, BalanceIdle},
		{true, 0, BalanceMinGap},
		{true, time.Millisecond, BalanceMinGap},
		{true, 40 * time.Millisecond, 120 * time.Millisecond},
		{true, 2 * time.Second, BalanceIdle},
	} {
		if got := BalancePace(c.rest, c.took); got != c.want {
			t.Errorf("BalancePace(%v, %v) = %v, want %v", c.rest, c.took, got, c.want)
		}
	}
	// A /15 at share 0.1: 13,107 to move, done within the 2% threshold
	// (2,621) after three rounds of BalanceMax.
	p := normalPolicy(t, Primary, true)
	st := lease.PoolStats{Name: "p15", Total: 131072, Free: 131072}
	rounds := 0
	for mv := p.Balance([]lease.PoolStats{st}); len(mv) > 0; mv = p.Balance([]lease.PoolStats{st}) {
		st.Free -= mv[0].N
		st.Backup += mv[0].N
		if rounds++; rounds > 100 {
			t.Fatal("no end")
		}
	}
	if want := 3; rounds != want {
		t.Errorf("%d rounds to balance a /15 at share 0.1, want %d", rounds, want)
	}
}
