package pair

import (
	"context"
	"net/netip"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// balance moves addresses between FREE and BACKUP as the policy asks
// (draft §5.4; only the owner gives addresses away, Policy.Transfer). The
// records go through the replicating commit path, so the partner learns
// of a BACKUP address before this box forgets it owned it.
//
// Each round moves the whole imbalance of a pool up to
// failover.BalanceMax; while some remains the next round comes as soon as
// failover.BalancePace allows for what the round's commits took, so a
// large pool change is balanced in seconds, not minutes.
func (p *Pair) balance(ctx context.Context) {
	rdb := &replicatingDB{DB: p.db, p: p}
	wait := failover.BalanceIdle
	for {
		t := p.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		start := p.clock.Now()
		rest := p.balanceRound(rdb)
		wait = failover.BalancePace(rest, p.clock.Now().Sub(start))
	}
}

// balanceRound commits one round of the policy's pool balancing
// (failover.Policy.Balance decides which pools move how many addresses).
// Pool balancing belongs to NORMAL with the link up (draft §5.4): the
// published policy may still say NORMAL for a moment after the link went
// down (the machine has not handled LinkDown yet), so the link itself is
// asked too, before the round and again right before each commit, and a
// round never spans two link sessions (linkGen). A transfer committed
// while the partner cannot hear it would only be queued for it, and the
// pool would be moved on a policy (shares) that no longer holds.
//
// It reports whether a pool still has addresses to move (a move was
// capped at failover.BalanceMax).
func (p *Pair) balanceRound(rdb *replicatingDB) (rest bool) {
	gen := p.linkGen.Load()
	pol := p.gate.Load()
	if !p.balanceAllowed(pol, gen) {
		return false
	}
	for _, mv := range pol.Balance(p.stats()) {
		rest = rest || mv.Rest > 0
		now := p.clock.Now()
		var ls []lease.Lease
		for range mv.N {
			a, err := p.db.Allocate(mv.Pool, netip.Addr{}, mv.From)
			if err != nil {
				break
			}
			ls = append(ls, mv.Lease(a, now))
		}
		if len(ls) == 0 {
			continue
		}
		if !p.balanceAllowed(p.gate.Load(), gen) {
			for _, l := range ls {
				p.db.Unhold(l.Addr)
			}
			return false
		}
		if _, err := rdb.Commit(ls...); err != nil {
			for _, l := range ls {
				p.db.Unhold(l.Addr)
			}
			p.log.Error("pool balance", "pool", mv.Pool, "err", err)
			continue
		}
		p.met.moved.WithLabelValues(mv.To.String()).Add(float64(len(ls)))
		p.log.Info("pool balance", "pool", mv.Pool, "moved", len(ls), "from", mv.From.String(), "to", mv.To.String(), "rest", mv.Rest)
	}
	return rest
}

// balanceAllowed: the policy is NORMAL, the link is up now, and it is the
// same link session as when the round began (gen).
func (p *Pair) balanceAllowed(pol failover.Policy, gen uint64) bool {
	return pol.State == failover.Normal && p.link != nil && p.link.Up() && p.linkGen.Load() == gen
}
