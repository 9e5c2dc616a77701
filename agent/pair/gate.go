package pair

import (
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// Gate is the engine's view of the published policy (dhcpd.Gate).
func (p *Pair) Gate() dhcpd.Gate {
	return &fgate{g: &p.gate, clock: p.clock, ackedSeq: &p.ackedSeq}
}

// The engine asks fgate for every pool the policy allows.
var _ dhcpd.MultiPoolGate = (*fgate)(nil)

// fgate is dhcpd.Gate over the published failover policy.
type fgate struct {
	g        *failover.Gate
	clock    clock.Clock
	ackedSeq *atomic.Uint64 // Pair.ackedSeq
}

func (f *fgate) Serve(c dhcpd.Client) bool {
	r := failover.Request{ClientID: c.ClientID, HWAddr: c.HWAddr, Secs: c.Secs, Renewal: c.Renewal}
	return f.g.Serve(f.clock.Now(), r)
}

// AllocateFrom is the first pool the policy allows (its own: primary FREE,
// secondary BACKUP); the engine uses AllocateFromAll.
func (f *fgate) AllocateFrom() (lease.State, bool) {
	ps := f.g.Pools(f.clock.Now())
	if len(ps) == 0 {
		return 0, false
	}
	return ps[0], true
}

// AllocateFromAll is every pool the policy allows, its own first: in
// PARTNER-DOWN once the MCLT has passed, the partner's too
// (dhcpd.MultiPoolGate).
func (f *fgate) AllocateFromAll() []lease.State { return f.g.Pools(f.clock.Now()) }

// LeaseTime is the MCLT rule (failover.Grant) and the expiries the engine
// records on the lease it commits: the potential expiry, and the one the
// partner acknowledged for the binding. The partner's ack of our
// record of this binding counts as its acknowledged potential expiry
// (failover.AckedThrough): the MCLT rule of draft §5.2.1 then lets the
// renewal at T1 have the full desired lease instead of staying capped at
// MCLT.
func (f *fgate) LeaseTime(l lease.Lease, want time.Duration, now time.Time) dhcpd.Grant {
	if f.ackedSeq != nil {
		l = failover.AckedThrough(l, f.ackedSeq.Load())
	}
	t, p := f.g.LeaseTime(now, l, want)
	return dhcpd.Grant{Time: t, Potential: p, Acked: l.AckedExpiry}
}
