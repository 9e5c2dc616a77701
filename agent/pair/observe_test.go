package pair

import (
	"errors"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// TestLeaseWriteAllowed: an operator's lease change is allowed only where
// the partner acknowledges it first (NORMAL, link up) or cannot hold a
// binding against it (PARTNER-DOWN).
func TestLeaseWriteAllowed(t *testing.T) {
	p := newTestFailover(t)
	if err := p.LeaseWriteAllowed(); !errors.Is(err, ErrPartnerCannotLearn) {
		t.Errorf("before the machine ran: %v", err)
	}
	for _, c := range []struct {
		st     failover.State
		linkUp bool
		ok     bool
	}{
		{failover.Normal, true, true},
		{failover.Normal, false, false},
		{failover.PartnerDown, false, true},
		{failover.CommInterrupted, false, false},
		{failover.CommInterrupted, true, false},
		{failover.Startup, true, false},
		{failover.Recover, true, false},
		{failover.RecoverWait, true, false},
		{failover.PotentialConflict, true, false},
	} {
		p.status.Store(&failover.Status{State: c.st, LinkUp: c.linkUp})
		err := p.LeaseWriteAllowed()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrPartnerCannotLearn)) {
			t.Errorf("%v link up %v: %v, want allowed %v", c.st, c.linkUp, err, c.ok)
		}
	}
	p.ackedSeq.Store(7)
	if !p.PartnerHas(7) || p.PartnerHas(8) || p.PartnerHas(0) {
		t.Error("PartnerHas: want 7 acked, 8 not, 0 never")
	}
}

// TestObserveTransitions: the observer sees every one of the machine's
// transitions, in order.
func TestObserveTransitions(t *testing.T) {
	p := newTestFailover(t)
	got := make(chan failover.Transition, 8)
	p.ObserveTransitions(func(tr failover.Transition) { got <- tr })
	now := time.Now()
	p.exec(p.m.Handle(now, failover.Start{LastSeq: 0, SeqKnown: true}))
	p.exec(p.m.Handle(now, failover.LinkUp{Partner: failover.Normal}))
	p.exec(p.m.Handle(now, failover.ResyncDone{}))
	p.exec(p.m.Handle(now.Add(time.Hour), failover.TimerFired{}))
	close(got)
	var seen []failover.Transition
	for tr := range got {
		seen = append(seen, tr)
	}
	if len(seen) < 2 {
		t.Fatalf("observed %+v, want the transitions out of STARTUP and on", seen)
	}
	from := failover.Startup
	for _, tr := range seen {
		if tr.From != from {
			t.Fatalf("observed %+v: a transition missed before %+v", seen, tr)
		}
		from = tr.To
	}
	if from != p.m.State() {
		t.Errorf("observed up to %v, the machine is in %v", from, p.m.State())
	}
}
