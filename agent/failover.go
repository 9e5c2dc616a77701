package agent

// The failover part: wires sync/failover (the state machine), sync/peer
// (the sync link) and the lease database into the DHCP engine and the VRRP
// instance named by failover.vrrp_instance (DESIGN.md "Failover and
// replication").
//
//   - One goroutine (Run) owns the failover Machine. Its inputs are link
//     events (peer.Options.OnEvent), the VRRP instance's transitions and
//     adverts (vrrpPart.Hook) and its own timer; all arrive through one
//     unbounded queue, so the link's and the instance's goroutines never
//     block on it. After every Handle it publishes the Policy to a
//     failover.Gate that the engine reads through fgate (dhcpd.Gate).
//   - The commit path (replicatingDB, the engine's LeaseDB): a lease is
//     committed locally (durable, group commit), then handed to
//     Link.Replicate, which returns once the partner applied it durably:
//     the ACK leaves only then (invariant 2). While the partner is
//     unreachable Replicate fails at once and the ACK leaves with the lease
//     on our disk only, as invariant 2 allows.
//   - When VRRP makes this box master because the partner's adverts
//     stopped, the link is told (Link.PartnerSilent): if it is quiet too it
//     releases every commit at once, so no ACK of the takeover waits
//     max_response_delay for a dead partner; if it is demonstrably alive
//     (a VRRP-only partition) it stays up and keeps replicating.
//   - SetFit lowers the instance's VRRP priority to unfitPriority while the
//     machine says this node is not fit (invariant 3) and restores it when
//     it is.
//   - A balancer goroutine moves addresses between FREE and BACKUP as the
//     policy asks (Policy.Transfer, draft-ietf-dhc-failover-12 §5.4), so the
//     secondary has addresses of its own to give new clients after a
//     takeover.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/prometheus/client_golang/prometheus"
)

// unfitPriority is the VRRP priority advertised while the node is not fit
// to serve: the lowest valid one (RFC 5798 §5.2.4), so any fit partner
// preempts it, while a node alone still becomes master (invariant 3: "except
// when no other box is there at all").
const unfitPriority = 1

// balanceEvery is how often the balancer looks at the pools; balanceMax
// bounds the addresses moved per round so one round is one short commit.
const (
	balanceEvery = time.Second
	balanceMax   = 256
)

// failoverPart is the failover side of the agent.
type failoverPart struct {
	log   *slog.Logger
	cfg   failover.Config
	inst  string // failover.vrrp_instance
	clock peer.Clock
	vr    *vrrpPart
	m     *failover.Machine // owned by Run's goroutine
	gate  failover.Gate
	opts  peer.Options // the link's options, completed by attach
	link  *peer.Link   // set by attach
	// order is held from a local commit until its records are queued on
	// the link, so the stream carries them in sequence order.
	order sync.Mutex
	db    *lease.DB // set by attach
	rep   lease.OpenReport
	base  *config.Config // this node's config: a synced section is validated with it
	dh    *dhcpPart      // set by start: where a section is applied
	pot   potentials
	acked ackedPotentials
	q     evQueue
	met   *failoverMetrics
	op    opState // operator commands (agent/operator.go)

	// Published for other goroutines (the control socket): the machine's
	// status after each step, and the skew measured at the last handshake.
	status atomic.Pointer[failover.Status]
	skew   atomic.Int64 // nanoseconds, partner clock minus ours (display only)
	// linkGen counts link Up and Down events: a pool balancing round
	// commits only within the link session it started in.
	linkGen atomic.Uint64
	// partner is what the last handshake said about the partner, and
	// when the link last went down (zero while up), for the status.
	partner atomic.Pointer[partnerSeen]

	// ctx bounds Replicate calls of the commit path; cancelled when Run
	// ends.
	ctx    context.Context
	cancel context.CancelFunc

	// The machine's single timer; Run's goroutine only.
	timer  peer.Timer
	timerC <-chan time.Time

	// heard: the partner's VRRP adverts are heard (since the last
	// master-down); lastAdvert: when the last one arrived. Touched only
	// from the instance goroutine's callbacks.
	heard      bool
	lastAdvert time.Time
	// silence is how long without any advert means the partner stopped
	// advertising: 3 x the instance's advert interval (RFC 5798 §6.1
	// Master_Down_Interval without the skew).
	silence time.Duration
}

// failoverMetrics are the failover part's own collectors.
type failoverMetrics struct {
	state       prometheus.Gauge
	fit         prometheus.Gauge
	transitions *prometheus.CounterVec
	unreachable prometheus.Counter
	moved       *prometheus.CounterVec
}

func newFailoverMetrics(reg prometheus.Registerer) (*failoverMetrics, error) {
	m := &failoverMetrics{
		state: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hadhcpd_failover_state", Help: "Failover state (1 STARTUP, 2 NORMAL, 3 COMMUNICATIONS-INTERRUPTED, 4 PARTNER-DOWN, 5 RECOVER, 6 RECOVER-WAIT, 7 RECOVER-DONE, 8 POTENTIAL-CONFLICT).",
		}),
		fit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hadhcpd_failover_fit", Help: "1 while this node is fit to be VRRP master of failover.vrrp_instance.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_failover_transitions_total", Help: "Failover state transitions, by new state.",
		}, []string{"to"}),
		unreachable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hadhcpd_failover_acks_without_partner_total", Help: "Commits acknowledged to clients while the partner was unreachable (durable on this box only).",
		}),
		moved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_failover_pool_moved_total", Help: "Addresses moved by pool balancing, by new state.",
		}, []string{"to"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.state, m.fit, m.transitions, m.unreachable, m.moved} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

// newFailover builds the failover part of cfg (nil, nil without a
// failover: section): the machine, the gate, and the link's options. The
// link itself needs the lease database: attach completes it. It lowers the
// VRRP priority of failover.vrrp_instance before VRRP runs, since a node
// starts unfit (STARTUP).
func newFailover(b *config.Built, log *slog.Logger, reg prometheus.Registerer, vr *vrrpPart, clock peer.Clock) (*failoverPart, error) {
	f := b.Failover
	if f == nil {
		return nil, nil
	}
	if vr == nil {
		return nil, &config.ConfigError{Key: "failover.vrrp_instance", Reason: "failover needs the vrrp instance whose mastership decides who serves"}
	}
	fc := f.Machine
	m, err := failover.New(fc)
	if err != nil {
		return nil, &config.ConfigError{Key: "failover", Reason: err.Error()}
	}
	if clock == nil {
		clock = wallClock{}
	}
	opts := peer.Options{
		Name: b.File.Node.Name, Role: peer.Primary, Listen: f.Listen.String(), Peer: f.Peer.String(),
		MaxResponseDelay: f.MaxResponseDelay, MaxUnacked: f.MaxUnacked,
		Clock: clock, Logger: log.With("component", "peer"), FromPartner: failover.FromPartner,
	}
	if fc.Role == failover.Secondary {
		opts.Role = peer.Secondary
	}
	switch {
	case f.Auth.PSKFile != "":
		if opts.PSK, err = peer.LoadPSK(f.Auth.PSKFile); err != nil {
			return nil, &config.ConfigError{Key: "failover.auth.psk_file", Reason: err.Error()}
		}
	case f.Auth.TLS != nil:
		t := f.Auth.TLS
		if opts.TLS, err = peer.LoadTLS(peer.TLSFiles{Cert: t.Cert, Key: t.Key, CA: t.CA}); err != nil {
			return nil, &config.ConfigError{Key: "failover.auth.tls", Reason: err.Error()}
		}
	}
	if b.File.DHCP != nil {
		sec, err := config.SectionBytes(b.File.DHCP)
		if err != nil {
			return nil, err
		}
		opts.ConfigHash = config.SectionHash(sec)
	}
	if opts.Metrics, err = peer.NewMetrics(reg); err != nil {
		return nil, fmt.Errorf("peer metrics: %w", err)
	}
	met, err := newFailoverMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("failover metrics: %w", err)
	}
	p := &failoverPart{
		log: log, cfg: fc, inst: f.VRRPInstance, clock: clock, vr: vr, m: m, base: b.File,
		opts: opts, met: met, silence: f.SilenceAfter,
	}
	p.q.init()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.gate.Store(m.Policy()) // serves nothing until Start
	vr.SetPriority(p.inst, unfitPriority)
	vr.Hook(p.inst, p.onVRRPTransition, p.onVRRPAdvert)
	return p, nil
}

// attach builds the link over the opened lease database; newDHCP calls it
// (as its wrap function) and the engine gets the replicating layer.
func (p *failoverPart) attach(db *lease.DB) dhcpd.LeaseDB {
	p.db = db
	return &replicatingDB{DB: db, p: p}
}

// start finishes what needs the opened database: the link (its Store is
// the database) and what recovery found.
func (p *failoverPart) start(dh *dhcpPart) error {
	if p.db == nil || dh == nil {
		return errors.New("failover: the lease database is not open")
	}
	p.rep, p.dh = dh.rep, dh
	p.opts.Store = leaseStore{p.db}
	p.opts.OnEvent = p.onLinkEvent
	if p.cfg.Role == failover.Secondary {
		p.opts.OnConfig = p.onConfig
	}
	l, err := peer.New(p.opts)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	p.link = l
	if p.cfg.Role == failover.Primary && p.base.DHCP != nil {
		return p.sendConfig(p.base.DHCP)
	}
	return nil
}

// sendConfig (primary) hands the dhcp: section to the link: sent on every
// connect and now if the link is up (DESIGN.md "Config sync").
func (p *failoverPart) sendConfig(sec *config.DHCPConfig) error {
	b, err := config.SectionBytes(sec)
	if err != nil {
		return err
	}
	if err := p.link.SendConfig(config.SectionHash(b), b); err != nil {
		return fmt.Errorf("failover: config sync: %w", err)
	}
	return nil
}

// onConfig (secondary, the link's reader goroutine) takes the primary's
// dhcp: section: checked as this node's own file would be (with its own
// interfaces and node parts), applied without a restart and kept in
// node.state_dir. Its error is the rejection reason the primary gets; the
// section in force stays then.
func (p *failoverPart) onConfig(hash, data []byte) error {
	if !bytes.Equal(config.SectionHash(data), hash) {
		return errors.New("the config hash does not match its content")
	}
	sec, err := config.ParseSection(data)
	if err != nil {
		return err
	}
	if p.dh.configHash() != fmt.Sprintf("%x", hash) {
		if _, err := p.dh.apply(p.base, sec, "primary"); err != nil {
			return err
		}
	}
	// The next handshake announces the section now in force.
	if err := p.link.SetConfigHash(hash); err != nil {
		return err
	}
	if err := writeSynced(p.base.Node.StateDir, data); err != nil {
		return fmt.Errorf("applied, but not kept in node.state_dir: %w", err)
	}
	return nil
}

// gateAdapter is the engine's view of the gate.
func (p *failoverPart) gateAdapter() dhcpd.Gate {
	return &fgate{g: &p.gate, clock: p.clock, pot: &p.pot, acked: &p.acked}
}

// Run runs the link, the balancer and the machine until ctx ends.
func (p *failoverPart) Run(ctx context.Context) error {
	defer p.cancel()
	if p.link == nil {
		return errors.New("failover: not started (no link)")
	}
	var wg sync.WaitGroup
	linkErr := make(chan error, 1)
	wg.Go(func() { linkErr <- p.link.Run(ctx) })
	wg.Go(func() { p.balance(ctx) })
	defer wg.Wait()

	known := !p.rep.NeedResync
	p.exec(p.m.Handle(p.clock.Now(), failover.Start{LastSeq: p.db.LastSeq(), SeqKnown: known}))
	p.log.Info("failover started", "role", p.cfg.Role, "mode", p.cfg.Mode, "state", p.m.State(),
		"last_seq", p.db.LastSeq(), "seq_known", known, "vrrp_instance", p.inst, "config_hash", p.dh.configHash())
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
			for _, ev := range p.q.drain() {
				p.exec(p.m.Handle(p.clock.Now(), ev))
			}
		}
	}
}

// exec performs the machine's actions, in order, then publishes the policy.
func (p *failoverPart) exec(acts []failover.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case failover.Transition:
			// One line per transition (DESIGN.md "Observability").
			p.log.Info("failover transition", "from", a.From.String(), "to", a.To.String(), "reason", a.Reason)
			p.met.state.Set(float64(a.To))
			p.met.transitions.WithLabelValues(a.To.String()).Inc()
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
		}
	}
	p.gate.Store(p.m.Policy())
	st := p.m.Status()
	p.status.Store(&st)
	p.op.stepped(acts) // after the status: a waiting command reads it
}

func (p *failoverPart) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer, p.timerC = nil, nil
}

// onLinkEvent turns the link's events into machine events (peer.Options
// OnEvent: called from the link's goroutines, must not block).
func (p *failoverPart) onLinkEvent(ev peer.Event) {
	switch ev := ev.(type) {
	case peer.Up:
		p.linkGen.Add(1)
		p.partner.Store(&partnerSeen{name: ev.PartnerName})
		p.skew.Store(int64(ev.Skew))
		p.log.Info("peer link up", "partner", ev.PartnerName, "remote", ev.Remote,
			"partner_state", failover.State(ev.PartnerState).String(), "partner_acked_seq", ev.PartnerAckedSeq,
			"our_last_seq", ev.OurLastSeq, "resume", ev.Resume, "config_match", ev.ConfigMatch, "skew", ev.Skew)
		p.q.push(failover.LinkUp{Partner: failover.State(ev.PartnerState), PartnerMaintenance: ev.PartnerMaintenance,
			PartnerAckedSeq: ev.PartnerAckedSeq, OurLastSeq: ev.OurLastSeq})
	case peer.Down:
		p.linkGen.Add(1)
		ps := partnerSeen{lostAt: p.clock.Now()}
		if old := p.partner.Load(); old != nil {
			ps.name = old.name
		}
		p.partner.Store(&ps)
		p.log.Info("peer link down", "reason", ev.Reason)
		p.q.push(failover.LinkDown{})
	case peer.PartnerState:
		p.q.push(failover.PartnerState{State: failover.State(ev.State), Maintenance: ev.Maintenance})
	case peer.ResyncDone:
		p.log.Info("peer resync done", "snapshot", ev.Snapshot, "records", ev.Records)
		p.q.push(failover.ResyncDone{})
	case peer.ConfigReceived:
		p.log.Info("config from primary", "hash", fmt.Sprintf("%x", ev.Hash), "err", ev.Err)
	case peer.ConfigVerdict:
		p.log.Info("config verdict from secondary", "hash", fmt.Sprintf("%x", ev.Hash), "accepted", ev.Accepted, "reason", ev.Reason)
	}
}

// onVRRPTransition (instance goroutine): mastership changes, and the
// "partner silent on the VRRP path" evidence of a master-down takeover
// (RFC 5798 §6.4.2: no advert of any priority for Master_Down_Interval).
//
// A backup with preempt also becomes master through its Master_Down_Timer:
// it discards a lower-priority master's adverts (§6.4.2) and lets the
// timer fire. That is no silence (the partner advertised until now), so a
// master-down with an advert heard within the silence window is taken as
// the preemption it is and says nothing about the partner.
func (p *failoverPart) onVRRPTransition(t vrrp.Transition) {
	silent := p.lastAdvert.IsZero() || p.clock.Now().Sub(p.lastAdvert) >= p.silence
	if t.To == vrrp.Master && t.Cause == vrrp.CauseMasterDown && silent {
		if p.heard && p.link != nil {
			// The partner was advertising and stopped. No ACK of this
			// takeover may wait max_response_delay for its acks (issue
			// 8): if the sync link is quiet too, the partner is gone and
			// the link releases every commit at once. If the link is
			// demonstrably alive (a VRRP-only partition), it stays up
			// and commits wait only while the partner keeps answering
			// (peer.Link.PartnerSilent). Only after it was heard: at a
			// cold start both boxes time out before either advertised.
			if p.link.PartnerSilent() {
				p.log.Info("partner's VRRP adverts stopped and the sync link is quiet: partner unreachable", "vrrp_instance", p.inst)
			} else {
				p.log.Info("partner's VRRP adverts stopped but the sync link is alive: link kept", "vrrp_instance", p.inst)
			}
		}
		p.heard = false
		p.q.push(failover.VRRPPartner{Heard: false})
	}
	switch {
	case t.To == vrrp.Master:
		p.q.push(failover.VRRPMaster{Master: true})
	case t.From == vrrp.Master:
		p.q.push(failover.VRRPMaster{Master: false})
	}
}

// onVRRPAdvert (instance goroutine, every advert): the partner is heard on
// the VRRP path. Only the change is queued.
func (p *failoverPart) onVRRPAdvert(_ netip.Addr, _ uint8) {
	p.lastAdvert = p.clock.Now()
	if !p.heard {
		p.heard = true
		if p.link != nil {
			p.link.PartnerHeard()
		}
		p.q.push(failover.VRRPPartner{Heard: true})
	}
}

// balance moves addresses between FREE and BACKUP as the policy asks
// (draft §5.4; only the owner gives addresses away, Policy.Transfer). The
// records go through the replicating commit path, so the partner learns
// of a BACKUP address before this box forgets it owned it.
func (p *failoverPart) balance(ctx context.Context) {
	rdb := &replicatingDB{DB: p.db, p: p}
	for {
		t := p.clock.NewTimer(balanceEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		p.balanceRound(rdb)
	}
}

// balanceRound is one look at the pools. Pool balancing belongs to NORMAL
// with the link up (draft §5.4, Policy.Transfer): the published policy
// may still say NORMAL for a moment after the link went down (the machine
// has not handled LinkDown yet), so the link itself is asked too, before
// the round and again right before each commit, and a round never spans
// two link sessions (linkGen). A transfer committed while the partner
// cannot hear it would only be queued for it, and the pool would be moved
// on a policy (shares) that no longer holds.
func (p *failoverPart) balanceRound(rdb *replicatingDB) {
	gen := p.linkGen.Load()
	pol := p.gate.Load()
	if !p.balanceAllowed(pol, gen) {
		return
	}
	for _, st := range p.db.Stats() {
		n, from, to := pol.Transfer(st)
		if n <= 0 {
			continue
		}
		n = min(n, balanceMax)
		now := p.clock.Now()
		var ls []lease.Lease
		for range n {
			a, err := p.db.Allocate(st.Name, netip.Addr{}, from)
			if err != nil {
				break
			}
			ls = append(ls, lease.Lease{Addr: a, State: to, StateStart: now, CLTT: now})
		}
		if len(ls) == 0 {
			continue
		}
		if !p.balanceAllowed(p.gate.Load(), gen) {
			for _, l := range ls {
				p.db.Unhold(l.Addr)
			}
			return
		}
		if _, err := rdb.Commit(ls...); err != nil {
			for _, l := range ls {
				p.db.Unhold(l.Addr)
			}
			p.log.Error("pool balance", "pool", st.Name, "err", err)
			continue
		}
		p.met.moved.WithLabelValues(to.String()).Add(float64(len(ls)))
		p.log.Info("pool balance", "pool", st.Name, "moved", len(ls), "from", from.String(), "to", to.String())
	}
}

// balanceAllowed: the policy is NORMAL, the link is up now, and it is the
// same link session as when the round began (gen).
func (p *failoverPart) balanceAllowed(pol failover.Policy, gen uint64) bool {
	return pol.State == failover.Normal && p.link != nil && p.link.Up() && p.linkGen.Load() == gen
}

// replicatingDB is the engine's lease database in a pair: Commit and
// Expire are local commits followed by replication to the partner.
type replicatingDB struct {
	*lease.DB
	p *failoverPart
	// committed, when set (tests), runs between a local commit and the
	// queueing of its records: a goroutine slowed there must not let a
	// later batch into the stream first.
	committed func()
}

// Commit commits locally (durable, group commit), then waits until the
// partner applied the records durably: only then may the engine build the
// ACK (invariant 2). The potential expiry the gate computed for a new
// binding (failover.Grant) is recorded first, so the partner receives it
// (draft §5.2.1: "what to tell the failover partner").
func (r *replicatingDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	ls = append([]lease.Lease(nil), ls...) // the caller's slice stays as it was
	for i := range ls {
		if ls[i].State == lease.StateActive {
			if pe, ok := r.p.pot.take(ls[i].Addr); ok && pe.After(ls[i].PotentialExpiry) {
				ls[i].PotentialExpiry = pe
			}
		}
	}
	// Number and queue under one lock, so records enter the stream in the
	// order the database numbered them; wait for the partner outside it,
	// so the next group commit (the engine keeps several in flight) is
	// made durable here while this one travels (DESIGN.md data path, 4-5).
	r.p.order.Lock()
	recs, err := r.DB.CommitRecords(ls...)
	if err != nil {
		r.p.order.Unlock()
		return nil, err
	}
	if r.committed != nil {
		r.committed()
	}
	wait := r.p.send(recs)
	r.p.order.Unlock()
	ok := wait()
	out := lease.Leases(recs)
	for i := range out {
		// Acked: the partner holds these potential expiries durably, so
		// a renewal may be granted up to MCLT past them (draft §5.2.1).
		// Not acked: an older acked one stays true, but a binding that
		// ended has none.
		if ok || out[i].State != lease.StateActive {
			r.p.acked.record(out[i])
		}
	}
	return out, nil
}

// Expire's records (ACTIVE -> EXPIRED) go to the partner too.
func (r *replicatingDB) Expire(now time.Time, max int) ([]lease.Lease, error) {
	r.p.order.Lock()
	recs, err := r.DB.ExpireRecords(now, max)
	wait := r.p.send(recs)
	r.p.order.Unlock()
	out := lease.Leases(recs)
	if len(out) > 0 {
		wait()
		for i := range out {
			r.p.acked.record(out[i]) // the binding ended
		}
	}
	return out, err
}

// send queues committed records on the link at once and returns the wait
// for the partner's ack (see peer.Link.Send): true when the partner
// applied every one durably. The records carry the payloads the journal
// got, so nothing is encoded again. Every error leaves the records durable
// here and queued for the partner; the engine proceeds (the partner is
// unreachable, and the machine goes COMMUNICATIONS-INTERRUPTED on the
// link's Down).
func (p *failoverPart) send(rs []lease.Record) (wait func() bool) {
	if p.link == nil || len(rs) == 0 {
		return func() bool { return false }
	}
	w := p.link.Send(rs...)
	return func() bool {
		err := w(p.ctx)
		switch {
		case err == nil:
			return true
		case errors.Is(err, peer.ErrPartnerUnreachable), errors.Is(err, context.Canceled):
			p.met.unreachable.Add(float64(len(rs)))
		default:
			p.log.Error("replicate", "records", len(rs), "err", err)
		}
		return false
	}
}

// leaseStore is peer.Store over the lease database: its Apply is one group
// commit of the partner's records, in order (lease.DB.Apply).
type leaseStore struct{ *lease.DB }

// The engine asks fgate for every pool the policy allows.
var _ dhcpd.MultiPoolGate = (*fgate)(nil)

// fgate is dhcpd.Gate over the published failover policy.
type fgate struct {
	g     *failover.Gate
	clock peer.Clock
	pot   *potentials
	acked *ackedPotentials
}

func (f *fgate) Serve(c dhcpd.Client) bool {
	r := failover.Request{HWAddr: c.HWAddr, Secs: c.Secs, Renewal: c.Renewal}
	if strings.HasPrefix(c.Key, "i") { // lease.ClientKey: "i" + option 61
		r.ClientID = []byte(c.Key[1:])
	}
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

// LeaseTime is the MCLT rule (failover.Grant); the potential expiry to
// send the partner is kept for the commit of this binding.
//
// The partner's ack of our last update for this binding counts as its
// acknowledged potential expiry (lease.Lease.AckedExpiry is only filled
// from the partner's own records): the MCLT rule of draft §5.2.1 then lets
// the renewal at T1 have the full desired lease instead of staying capped
// at MCLT.
func (f *fgate) LeaseTime(l lease.Lease, want time.Duration, now time.Time) time.Duration {
	if f.acked != nil {
		if t, ok := f.acked.get(l); ok && t.After(l.AckedExpiry) {
			l.AckedExpiry = t
		}
	}
	grant, pe := f.g.LeaseTime(now, l, want)
	f.pot.put(l.Addr, pe)
	return grant
}

// potentials carries the potential expiry from the gate's LeaseTime to
// the commit of the same address (by address; an offer that is never
// requested leaves an entry the next commit of that address overwrites or
// takes).
type potentials struct {
	mu sync.Mutex
	m  map[netip.Addr]time.Time
}

func (p *potentials) put(a netip.Addr, t time.Time) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[netip.Addr]time.Time{}
	}
	p.m[a] = t
	p.mu.Unlock()
}

func (p *potentials) take(a netip.Addr) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.m[a]
	delete(p.m, a)
	return t, ok
}

// ackedPotentials is, per address, the potential expiry the partner
// acknowledged (its Replicate returned nil) for the binding of one client.
// In memory only: after a restart renewals are capped at MCLT again until
// the next ack, which is the safe side. At most one entry per address.
type ackedPotentials struct {
	mu sync.Mutex
	m  map[netip.Addr]ackedPotential
}

type ackedPotential struct {
	client string // lease.Lease.Key of the binding
	at     time.Time
}

// record notes an acknowledged record: an ACTIVE binding's potential
// expiry; any other state ends the binding and its entry.
func (a *ackedPotentials) record(l lease.Lease) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l.State != lease.StateActive || l.PotentialExpiry.IsZero() {
		delete(a.m, l.Addr)
		return
	}
	if a.m == nil {
		a.m = map[netip.Addr]ackedPotential{}
	}
	a.m[l.Addr] = ackedPotential{client: l.Key(), at: l.PotentialExpiry}
}

// get is the acknowledged potential expiry of l's address, if it was for
// the same client.
func (a *ackedPotentials) get(l lease.Lease) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[l.Addr]
	if !ok || e.client != l.Key() {
		return time.Time{}, false
	}
	return e.at, true
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

// wallClock is peer.Clock over the time package: the agent's only clock
// (tests inject a fake).
type wallClock struct{}

func (wallClock) Now() time.Time                      { return time.Now() }
func (wallClock) NewTimer(d time.Duration) peer.Timer { return wallTimer{time.NewTimer(d)} }

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time        { return w.t.C }
func (w wallTimer) Stop() bool                 { return w.t.Stop() }
func (w wallTimer) Reset(d time.Duration) bool { return w.t.Reset(d) }

// partnerSeen is what the status says about the partner besides its
// failover state: its node name from the last handshake, and when the
// link last went down (zero while it is up or before it ever was).
type partnerSeen struct {
	name   string
	lostAt time.Time
}

// statusView is the failover part of `hadhcpd status`.
func (p *failoverPart) statusView() *control.FailoverStatus {
	fs := &control.FailoverStatus{Role: p.cfg.Role.String(), Mode: p.cfg.Mode.String(), State: "STARTUP", PartnerState: "UNKNOWN"}
	if st := p.status.Load(); st != nil {
		fs.State, fs.LinkUp = st.State.String(), st.LinkUp
		fs.PartnerLastState = st.Partner.String()
	}
	if ps := p.partner.Load(); ps != nil {
		fs.PartnerName = ps.name
		fs.PartnerLastSeen = ps.lostAt
	}
	settlePartner(fs)
	if p.link != nil {
		fs.UnackedUpdates = p.link.Unacked()
	}
	fs.SkewSeconds = time.Duration(p.skew.Load()).Seconds()
	if p.dh != nil {
		fs.ConfigHash = p.dh.configHash()
	}
	return fs
}

// settlePartner fills partner_state from what is known: the state the
// partner announced while the link is up; UNKNOWN while it is down (in
// COMMUNICATIONS-INTERRUPTED the partner may have moved on since), with
// partner_last_state and partner_last_seen telling what it was and when.
func settlePartner(fs *control.FailoverStatus) {
	if fs.LinkUp {
		fs.PartnerState = fs.PartnerLastState
		fs.PartnerLastSeen = time.Time{}
		return
	}
	fs.PartnerState = "UNKNOWN"
	if fs.PartnerLastSeen.IsZero() {
		fs.PartnerLastState = "UNKNOWN" // never linked: nothing was heard
	}
}
