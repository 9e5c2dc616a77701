package dhcpd

import (
	"net/netip"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// ReleaseLease ends addr's ACTIVE binding on the operator's behalf, as the
// client's DHCPRELEASE would (RFC 2131 §4.3.4): the record becomes
// RELEASED and keeps the client's identity, through the engine's own
// database, so in a pair it takes the replicated commit path like any
// lease change and returns once it is durable (on both boxes while the
// partner is reachable, invariant 2). It returns the record as committed;
// ErrNoRecord when addr has no ACTIVE binding, ErrBusy while a request is
// committing it. The caller publishes the lease event: it knows who asked.
// Whether the partner can learn of the change safely is the caller's to
// decide before (the failover state).
func (e *Engine) ReleaseLease(addr netip.Addr) (lease.Lease, error) {
	now := e.clock.Now()
	l, ok := e.db.Get(addr)
	if !ok || l.State != lease.StateActive {
		return lease.Lease{}, ErrNoRecord
	}
	c := client{key: l.Key(), id: l.ClientID, hw: l.HWAddr}
	if err := e.endBinding(c, addr, now, true, func(l *lease.Lease) {
		l.State = lease.StateReleased
		l.Expiry = now
	}, "release"); err != nil {
		return lease.Lease{}, err
	}
	e.refreshPools()
	out, _ := e.db.Get(addr)
	return out, nil
}
