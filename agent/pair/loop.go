package pair

import (
	"context"
	"errors"
	"sync"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// Run runs the link, the balancer and the machine until ctx ends or the
// link fails (its listener cannot work: a wrong failover.listen, a broken
// socket); then it returns the link's error at once, so the agent stops
// rather than leave the pair without a link for good.
func (p *Pair) Run(ctx context.Context) error {
	defer p.cancel()
	if p.link == nil {
		return errors.New("failover: not started (no link)")
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	linkErr := make(chan error, 1)
	wg.Go(func() {
		if p.ln != nil && p.cfg.Role == failover.Secondary {
			linkErr <- p.link.Serve(ctx, p.ln)
			return
		}
		linkErr <- p.link.Run(ctx)
	})
	wg.Go(func() { p.balance(ctx) })
	wg.Go(func() { p.probeLoop(ctx) })
	wg.Go(func() { p.quietLoop(ctx) })
	wg.Go(func() { p.quietLANLoop(ctx) })
	// Deferred in this order, the balancer is stopped before it is waited
	// for: it runs until its context ends, also after the link failed.
	defer wg.Wait()
	defer stop()

	known := !p.rep.NeedResync
	last := p.store().LastSeq()
	p.exec(p.m.Handle(p.clock.Now(), failover.Start{LastSeq: last, SeqKnown: known}))
	p.log.Info("failover started", "role", p.cfg.Role, "mode", p.cfg.Mode, "state", p.m.State(),
		"last_seq", last, "seq_known", known, "vrrp_instance", p.inst, "config_hash", p.sec.ConfigHash())
	return p.loop(ctx, linkErr)
}

// loop is Run's loop: the only goroutine that touches the machine, until
// ctx ends or the link fails (an error on linkErr; nil: none).
func (p *Pair) loop(ctx context.Context, linkErr <-chan error) error {
	defer p.stopTimer()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-linkErr:
			if err != nil {
				return err
			}
			linkErr = nil
		case <-p.timerC:
			p.timerC = nil
			p.exec(p.m.Handle(p.clock.Now(), failover.TimerFired{}))
		case <-p.q.ready:
			p.handleQueued()
		case c := <-p.cmds:
			// Events queued before the command are handled first, as
			// when commands went through the queue: an operator who
			// saw the link go down has that seen by the machine.
			p.handleQueued()
			acts := p.m.Handle(p.clock.Now(), c.ev)
			p.exec(acts)
			c.done <- acts
		}
	}
}

func (p *Pair) handleQueued() {
	for _, ev := range p.q.drain() {
		p.exec(p.m.Handle(p.clock.Now(), ev))
	}
}

// exec performs the machine's actions, in order, then publishes the policy.
func (p *Pair) exec(acts []failover.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case failover.Transition:
			// One line per transition, for the operator's grep.
			p.log.Info("failover transition", "from", a.From.String(), "to", a.To.String(), "reason", a.Reason)
			p.met.state.Set(float64(a.To))
			p.met.transitions.WithLabelValues(a.To.String()).Inc()
			if a.To == failover.RecoverDone && p.rep.NeedResync {
				// The partner's full resync restored what our recovery
				// lost: the next start trusts the database again
				// (lease: the loss is remembered until then).
				if err := p.db.LossMended(); err != nil {
					p.log.Warn("forget the loss the resync mended", "err", err)
				} else {
					p.rep.NeedResync = false
					p.log.Info("lease records lost in recovery restored from the partner")
				}
			}
			if p.observe != nil {
				p.observe(a)
			}
		case failover.SetFit:
			prio := uint8(unfitPriority)
			if a.Fit {
				prio = 0 // the configured priority
				p.met.fit.Set(1)
			} else {
				p.met.fit.Set(0)
			}
			p.log.Info("failover fitness", "fit", a.Fit, "vrrp_instance", p.inst)
			p.vr.SetPriority(p.inst, prio)
		case failover.SendState:
			p.link.SetState(uint8(a.State), a.Maintenance)
		case failover.ArmTimer:
			p.stopTimer()
			p.timer = p.clock.NewTimer(a.After)
			p.timerC = p.timer.C()
		case failover.StopTimer:
			p.stopTimer()
		case failover.Refused:
			p.log.Warn("failover command refused", "reason", a.Reason)
		case failover.AdvertsStopped:
			p.advertsStopped()
		case failover.AdvertsResumed:
			if p.link != nil {
				p.link.PartnerHeard()
			}
		}
	}
	p.gate.Store(p.m.Policy())
	st := p.m.Status()
	p.status.Store(&st)
	p.op.stepped() // after the status: a waiting command reads it
}

func (p *Pair) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer, p.timerC = nil, nil
}

// evQueue is an unbounded FIFO of machine events: the link and the VRRP
// instance push without blocking; Run drains it when ready fires.
type evQueue struct {
	mu    sync.Mutex
	evs   []failover.Event
	ready chan struct{} // cap 1
}

func (q *evQueue) init() { q.ready = make(chan struct{}, 1) }

func (q *evQueue) push(ev failover.Event) {
	q.mu.Lock()
	if _, adv := ev.(failover.VRRPAdvert); adv && len(q.evs) > 0 {
		if _, last := q.evs[len(q.evs)-1].(failover.VRRPAdvert); last {
			// Only the latest of consecutive adverts matters (its time).
			q.evs[len(q.evs)-1] = ev
			q.mu.Unlock()
			return
		}
	}
	q.evs = append(q.evs, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *evQueue) drain() []failover.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.evs
	q.evs = nil
	return evs
}
