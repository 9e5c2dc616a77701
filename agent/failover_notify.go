package agent

import (
	"log/slog"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// failover.notify: the operator's script on every transition of a
// failover machine, run by agent/hooks as the VRRP instances' notify
// scripts are (in order, without a shell, under a timeout, never in the
// machine's loop).

// singleFailoverName is the name a failover.notify script gets for the
// single failover: section (a relationship passes its own).
const singleFailoverName = "failover"

// failoverHooks are the runners of the box's failover relationships.
type failoverHooks struct {
	log     *slog.Logger
	metrics *hooks.Metrics
	deps    hooks.Deps // Exec and Clock for tests; Log and Metrics are set per runner
	runners []*hooks.Runner
}

// observer returns the transition observer of the relationship name
// (spec's notify script): it calls next (the event stream's), then queues
// the script. Without a script it is next itself.
func (h *failoverHooks) observer(name string, s config.FailoverNotifySpec, next func(failover.Transition)) func(failover.Transition) {
	if s.Command == nil {
		return next
	}
	d := h.deps
	d.Log = h.log.With("relationship", name)
	d.Metrics = h.metrics
	r := hooks.New(name, hooks.Scripts{Notify: s.Command, Timeout: s.Timeout}, d)
	h.runners = append(h.runners, r)
	return failoverNotifyObserver(r, next)
}

// failoverNotifyObserver composes with next: ObserveTransitions takes a
// single observer, and the event stream must keep its own.
func failoverNotifyObserver(r *hooks.Runner, next func(failover.Transition)) func(failover.Transition) {
	return func(t failover.Transition) {
		if next != nil {
			next(t)
		}
		r.NotifyFailover(t.To.String(), t.From.String())
	}
}

// close waits up to notifyStopGrace for the queued scripts, then kills
// what still runs; called once the machines stopped.
func (h *failoverHooks) close() { closeRunners(h.runners, notifyStopGrace) }
