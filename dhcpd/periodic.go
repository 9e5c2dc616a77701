package dhcpd

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/prometheus/client_golang/prometheus"
)

type abandoned struct {
	addr  netip.Addr
	until time.Time
}

// Tick does the engine's timed work: offers past OfferHold give their
// address back, declined addresses past probation return to their pool,
// ACTIVE leases past their expiry become EXPIRED, and the lease gauges and
// the pools' offer bounds follow the database's counts. The caller runs it
// about once a second.
func (e *Engine) Tick(now time.Time) {
	e.probeWindow(now)
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
		e.emit(LeaseExpired, l, netip.Addr{})
		e.log.Debug("lease expire", "ip", l.Addr, "mac", l.HWAddr.String())
	}
	e.refreshPools()
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
	stats := e.db.Stats()
	for _, s := range stats {
		e.log.Info(fmt.Sprintf("pool %s total %d free %d backup %d active %d", s.Name, s.Total, s.Free, s.Backup, s.Active),
			"expired", s.Expired, "released", s.Released, "abandoned", s.Abandoned, "held", s.Held)
	}
	e.gauges.set(e.m, stats)
}

// refreshPools brings the lease gauges and the pools' offer bounds up to
// the database's counts. Stats is a few counters per pool (the database
// keeps them on every change), so Tick runs this each time: exhaustion
// shows within a tick, not at the next summary line.
func (e *Engine) refreshPools() {
	stats := e.db.Stats()
	e.gauges.set(e.m, stats)
	e.mu.Lock()
	e.poolLimitsLocked(stats)
	e.mu.Unlock()
}

// stateLabels are the state label values of hadhcpd_dhcp_leases.
var stateLabels = [...]string{"free", "backup", "active", "expired", "released", "abandoned", "reset", "held"}

// poolGauges are the hadhcpd_dhcp_leases gauges of each pool, curried once.
type poolGauges struct {
	mu sync.Mutex
	by map[string]*[len(stateLabels)]prometheus.Gauge
}

func (g *poolGauges) set(m *Metrics, stats []lease.PoolStats) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.by == nil {
		g.by = map[string]*[len(stateLabels)]prometheus.Gauge{}
	}
	seen := make(map[string]bool, len(stats))
	for _, s := range stats {
		seen[s.Name] = true
		gs := g.by[s.Name]
		if gs == nil {
			gs = new([len(stateLabels)]prometheus.Gauge)
			for i, st := range stateLabels {
				gs[i] = m.Leases.WithLabelValues(s.Name, st)
			}
			g.by[s.Name] = gs
		}
		for i, v := range [len(stateLabels)]int{s.Free, s.Backup, s.Active, s.Expired, s.Released, s.Abandoned, s.Reset, s.Held} {
			gs[i].Set(float64(v))
		}
	}
	for name := range g.by {
		if !seen[name] {
			// A pool that left the config (reload) is no longer reported.
			for _, st := range stateLabels {
				m.Leases.DeleteLabelValues(name, st)
			}
			delete(g.by, name)
		}
	}
}
