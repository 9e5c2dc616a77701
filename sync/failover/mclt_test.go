package failover

import (
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestGrant(t *testing.T) {
	const h, day = time.Hour, 24 * time.Hour
	tests := []struct {
		name          string
		now, knows    time.Time
		desired, mclt time.Duration
		grant         time.Duration
		potential     time.Time
	}{
		// draft-ietf-dhc-failover-12 §5.2.1 worked example: MCLT 1 h,
		// desired 3 days. New lease: 1 h, partner told 3 days + 1/2 h.
		{"draft example: first lease", t0, time.Time{}, 3 * day, h, h, t0.Add(3*day + h/2)},
		// Renewal at T1 (30 min later) with that potential acknowledged:
		// 3 days remain, +MCLT > desired, so the full 3 days; the partner
		// is told T1 (1.5 days) + 3 days = 4.5 days.
		{"draft example: renewal at T1", t0.Add(h / 2), t0.Add(3*day + h/2), 3 * day, h, 3 * day, t0.Add(h/2 + 4*day + 12*h)},
		{"desired shorter than MCLT", t0, time.Time{}, 30 * time.Minute, h, 30 * time.Minute, t0.Add(45 * time.Minute)},
		{"acked potential in the past counts as nothing", t0, t0.Add(-h), 3 * day, h, h, t0.Add(3*day + h/2)},
		{"partly used ack: remainder + MCLT", t0, t0.Add(2 * h), 3 * day, h, 3 * h, t0.Add(3*day + 3*h/2)},
		{"zero desired", t0, time.Time{}, 0, h, 0, t0},
		{"zero mclt", t0, time.Time{}, day, 0, 0, t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, p := Grant(tc.now, tc.knows, tc.desired, tc.mclt)
			if g != tc.grant || !p.Equal(tc.potential) {
				t.Errorf("Grant = %v, %v; want %v, %v", g, p, tc.grant, tc.potential)
			}
			if tc.mclt > 0 && tc.now.Add(g).After(later(tc.knows, tc.now).Add(tc.mclt)) {
				t.Errorf("grant ends past acked potential + MCLT")
			}
		})
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestGrantChain follows one client through renewals at T1 with every
// update acknowledged: the fundamental relationship holds at every step.
func TestGrantChain(t *testing.T) {
	const mclt, desired = time.Hour, 72 * time.Hour
	now, acked := t0, time.Time{}
	for i := 0; i < 10; i++ {
		g, p := Grant(now, acked, desired, mclt)
		if now.Add(g).After(later(acked, now).Add(mclt)) {
			t.Fatalf("step %d: lease end %v past acked %v + MCLT", i, now.Add(g), acked)
		}
		if i > 0 && g != desired {
			t.Fatalf("step %d: renewal got %v, want full %v", i, g, desired)
		}
		acked = p
		now = now.Add(g / 2)
	}
}

func TestPartnerKnowsAndLatestEnd(t *testing.T) {
	l := lease.Lease{Expiry: t0.Add(time.Hour), AckedExpiry: t0.Add(2 * time.Hour), PartnerExpiry: t0.Add(3 * time.Hour)}
	if got := PartnerKnows(l); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("PartnerKnows = %v", got)
	}
	l.PotentialExpiry = t0.Add(5 * time.Hour) // sent, never acked
	if got := LatestEnd(l, time.Hour); !got.Equal(t0.Add(6 * time.Hour)) {
		t.Errorf("LatestEnd = %v, want potential+MCLT", got)
	}
	if got := LatestEnd(lease.Lease{Expiry: t0}, time.Hour); !got.Equal(t0) {
		t.Errorf("LatestEnd without partner times = %v, want expiry", got)
	}
}

func TestAckedThrough(t *testing.T) {
	pe := t0.Add(72 * time.Hour)
	ours := lease.Lease{State: lease.StateActive, Seq: 7, PotentialExpiry: pe}
	tests := []struct {
		name string
		l    lease.Lease
		seq  uint64
		want time.Time
	}{
		{"acked record", ours, 7, pe},
		{"acked by a later ack", ours, 9, pe},
		{"not yet acked", ours, 6, time.Time{}},
		{"never written (a new binding)", lease.Lease{State: lease.StateActive, PotentialExpiry: pe}, 9, time.Time{}},
		{"the partner's record keeps its own", lease.Lease{State: lease.StateActive, Seq: 3, Peer: true, PotentialExpiry: pe}, 9, time.Time{}},
		{"ended binding", lease.Lease{State: lease.StateExpired, Seq: 3, PotentialExpiry: pe}, 9, time.Time{}},
		{"an acked later one stays", lease.Lease{State: lease.StateActive, Seq: 3, PotentialExpiry: pe, AckedExpiry: pe.Add(time.Hour)}, 9, pe.Add(time.Hour)},
	}
	for _, tc := range tests {
		if got := AckedThrough(tc.l, tc.seq).AckedExpiry; !got.Equal(tc.want) {
			t.Errorf("%s: AckedExpiry %v, want %v", tc.name, got, tc.want)
		}
	}
}
