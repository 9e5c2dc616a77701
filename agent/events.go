package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/vrrp"
)

// The operator's event stream (package events): the engine's lease
// changes, the VRRP instances' and the failover machine's transitions,
// and the operator's own lease changes through the API, all published to
// one bus that the API (GET /v1/events), the control socket (`hadhcpd
// events`) and the status page read. Every publisher is on a hot path
// (the commit path, an instance or the machine's goroutine); Publish
// never waits.

// leaseObserver is the engine's OnLease: each durable change to the bus.
func leaseObserver(bus *events.Bus) func(dhcpd.LeaseEvent) {
	return func(ev dhcpd.LeaseEvent) {
		bus.Publish(events.LeaseChange(ev.Action.String(), ev.Lease, ev.Relay))
	}
}

// vrrpObserver publishes an instance's transitions.
func vrrpObserver(bus *events.Bus) func(instance string, t vrrp.Transition) {
	return func(instance string, t vrrp.Transition) {
		bus.Publish(events.Event{Type: events.TypeVRRP, Instance: instance,
			From: strings.ToUpper(t.From.String()), To: strings.ToUpper(t.To.String()), Reason: t.Cause.String()})
	}
}

// failoverObserver publishes the transitions of relationship rel's
// machine ("" for the single failover: section, whose events name none).
func failoverObserver(bus *events.Bus, rel string) func(failover.Transition) {
	return func(t failover.Transition) {
		bus.Publish(events.Event{Type: events.TypeFailover, Relationship: rel, From: t.From.String(), To: t.To.String(), Reason: t.Reason})
	}
}

// observe hands each relationship's transitions to the event stream and
// to its failover.notify script, each named for its relationship: a box
// in several has a machine per relationship, and the same transition
// (NORMAL to COMMUNICATIONS-INTERRUPTED) means a different partner lost
// in each.
func (s *relSet) observe(h *failoverHooks, bus *events.Bus) {
	for _, r := range s.rels {
		r.p.ObserveTransitions(h.observer(r.spec.Name, r.spec.Notify, failoverObserver(bus, r.spec.Name)))
	}
}

// leaseWriter is the API's control.LeaseWriter: the engine's release,
// refused unless the pair says the partner can learn of it safely.
type leaseWriter struct {
	log *slog.Logger
	dh  *dhcpPart
	fo  *pair.Pair // nil for a single server
	rs  *relSet    // a box in several relationships: the pair is the address's
	bus *events.Bus
}

// pairOf is the relationship that replicates addr's lease, nil when the
// box serves it alone.
func (w *leaseWriter) pairOf(addr netip.Addr) *pair.Pair {
	if w.fo != nil {
		return w.fo
	}
	if w.rs != nil {
		for _, r := range w.rs.rels {
			if r.spec.Covers(addr) {
				return r.p
			}
		}
	}
	return nil
}

// Release ends addr's binding for the operator (DELETE /v1/leases/{ip}).
// The check and the commit are not one step: a link that drops between
// them leaves the record durable here and queued for the partner, as for
// a client's own RELEASE in the same moment (the answer's partner_acked
// says so).
func (w *leaseWriter) Release(_ context.Context, addr netip.Addr, by string) (control.ReleaseResult, error) {
	res := control.ReleaseResult{IP: addr.String()}
	p := w.pairOf(addr)
	if p != nil {
		if err := p.LeaseWriteAllowed(); err != nil {
			return res, fmt.Errorf("%w: %w", control.ErrLeaseRefused, err)
		}
	}
	l, err := w.dh.eng.ReleaseLease(addr)
	switch {
	case errors.Is(err, dhcpd.ErrNoRecord):
		return res, control.ErrNoLease
	case errors.Is(err, dhcpd.ErrBusy):
		return res, fmt.Errorf("%w: a client's request is committing this address now; try again", control.ErrLeaseRefused)
	case err != nil:
		return res, err
	}
	res.State = strings.ToUpper(l.State.String())
	res.PartnerAcked = p != nil && p.PartnerHas(l.Seq)
	switch {
	case p == nil:
		res.Message = "released (single server)"
	case res.PartnerAcked:
		res.Message = "released on both boxes"
	default:
		res.Message = "released here; the partner gets the record when it is back (it was not acknowledged yet)"
	}
	ev := events.LeaseChange(events.Released, l, netip.Addr{})
	ev.By = by
	w.bus.Publish(ev)
	w.log.Info("lease released by the operator", "ip", addr, "mac", l.HWAddr.String(), "by", by, "partner_acked", res.PartnerAcked)
	return res, nil
}
