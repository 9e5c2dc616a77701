package dhcpd

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

type abandoned struct {
	addr  netip.Addr
	until time.Time
}

// Tick does the engine's timed work: offers past OfferHold give their
// address back, declined addresses past probation return to their pool, and
// ACTIVE leases past their expiry become EXPIRED. The caller runs it about
// once a second.
func (e *Engine) Tick(now time.Time) {
	e.mu.Lock()
	n := 0
	for _, r := range e.offerQ {
		if r.until.After(now) {
			break
		}
		n++
		if o := e.offers[r.addr]; o != nil && !o.until.After(now) {
			e.dropOfferLocked(o)
		}
	}
	e.offerQ = append(e.offerQ[:0], e.offerQ[n:]...)
	var back []netip.Addr
	n = 0
	for _, a := range e.abandonQ {
		if a.until.After(now) {
			break
		}
		n++
		if _, busy := e.busy[a.addr]; !busy {
			back = append(back, a.addr)
		}
	}
	e.abandonQ = append(e.abandonQ[:0], e.abandonQ[n:]...)
	e.mu.Unlock()

	for _, a := range back {
		if l, ok := e.db.Get(a); ok && l.State == lease.StateAbandoned && !l.Expiry.After(now) {
			if _, err := e.db.Commit(lease.Lease{Addr: a, State: lease.StateFree, StateStart: now, CLTT: now}); err != nil {
				e.log.Error("return abandoned address", "ip", a, "err", err)
				continue
			}
			e.m.Events.WithLabelValues("reclaim").Inc()
			e.log.Info("declined address back in its pool after probation", "ip", a)
		}
	}
	expired, err := e.db.Expire(now, 10000)
	if err != nil {
		e.log.Error("expire leases", "err", err)
	}
	for _, l := range expired {
		e.m.Events.WithLabelValues("expire").Inc()
		e.log.Debug("lease expire", "ip", l.Addr, "mac", l.HWAddr.String())
	}
}

// RecoverAbandoned schedules the return of ABANDONED leases found in the
// database at start (their probation timers lived in the old process).
func (e *Engine) RecoverAbandoned(ls []lease.Lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range ls {
		if l.State == lease.StateAbandoned {
			e.abandonQ = append(e.abandonQ, abandoned{l.Addr, l.Expiry})
		}
	}
	// Keep the queue ordered by probation end.
	q := e.abandonQ
	for i := 1; i < len(q); i++ {
		for j := i; j > 0 && q[j].until.Before(q[j-1].until); j-- {
			q[j], q[j-1] = q[j-1], q[j]
		}
	}
}

// LogPools logs one summary line per pool at info and updates the lease
// gauges.
func (e *Engine) LogPools() {
	for _, s := range e.db.Stats() {
		e.log.Info(fmt.Sprintf("pool %s total %d free %d backup %d active %d", s.Name, s.Total, s.Free, s.Backup, s.Active),
			"expired", s.Expired, "released", s.Released, "abandoned", s.Abandoned, "held", s.Held)
		for state, v := range map[string]int{
			"free": s.Free, "backup": s.Backup, "active": s.Active, "expired": s.Expired,
			"released": s.Released, "abandoned": s.Abandoned, "reset": s.Reset, "held": s.Held,
		} {
			e.m.Leases.WithLabelValues(s.Name, state).Set(float64(v))
		}
	}
}
