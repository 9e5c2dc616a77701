package agent

// The failover part: wires sync/failover (the state machine), sync/peer
// (the sync link) and the lease database into the DHCP engine and the VRRP
// instance named by failover.vrrp_instance (DESIGN.md "Failover and
// replication").
//
//   - One goroutine (Run) owns the failover Machine. Its inputs are link
//     events (peer.Options.OnEvent), the VRRP instance's transitions and
//     adverts (vrrpPart.Hook) and its own timer, which arrive through one
//     unbounded queue, so the link's and the instance's goroutines never
//     block on it; and operator commands (agent/operator.go), which arrive
//     on a channel the loop owns and get the actions of their own step
//     back. After every Handle it publishes the Policy to a failover.Gate
//     that the engine reads through fgate (dhcpd.Gate).
//   - The commit path (replicatingDB, the engine's LeaseDB): a lease is
//     committed locally (durable, group commit), then handed to
//     Link.Replicate, which returns once the partner applied it durably:
//     the ACK leaves only then (invariant 2). While the partner is
//     unreachable Replicate fails at once and the ACK leaves with the lease
//     on our disk only, as invariant 2 allows.
//   - The VRRP instance's adverts and master-down takeovers go to the
//     machine as they are; failover.Presence decides what they say about
//     the partner. When the machine concludes that the partner's adverts
//     stopped (AdvertsStopped), the link is told (Link.PartnerSilent): if
//     it is quiet too it releases every commit at once, so no ACK of the
//     takeover waits max_response_delay for a dead partner; if it is
//     demonstrably alive (a VRRP-only partition) it stays up and keeps
//     replicating.
//   - SetFit lowers the instance's VRRP priority to unfitPriority while the
//     machine says this node is not fit (invariant 3) and restores it when
//     it is.
//   - A balancer goroutine moves addresses between FREE and BACKUP as the
//     policy decides (Policy.Balance, draft-ietf-dhc-failover-12 §5.4), so the
//     secondary has addresses of its own to give new clients after a
//     takeover.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/metrics"
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

// balanceEvery is how often the balancer looks at the pools.
const balanceEvery = time.Second

// failoverPart is the failover side of the agent.
type failoverPart struct {
	log   *slog.Logger
	cfg   failover.Config
	inst  string // failover.vrrp_instance
	clock clock.Clock
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
	// ackedSeq is the highest sequence number of our stream the partner
	// has acknowledged since this process started (its acks are
	// cumulative): in memory only, so after a restart renewals are
	// capped at MCLT again until the next ack, which is the safe side.
	ackedSeq atomic.Uint64
	q        evQueue
	cmds     chan opCmd // operator commands, received only by Run's loop
	met      *failoverMetrics
	op       opState // operator commands (agent/operator.go)

	// Published for other goroutines (the control socket): the machine's
	// status after each step, and the skew measured at the last handshake.
	status atomic.Pointer[failover.Status]
	skew   atomic.Int64 // nanoseconds, partner clock minus ours (display only)
	// linkGen counts link Up and Down events: a pool balancing round
	// commits only within the link session it started in.
	linkGen atomic.Uint64
	// partnerName is the partner's node name from the last handshake,
	// for the status.
	partnerName atomic.Pointer[string]

	// ctx bounds Replicate calls of the commit path; cancelled when Run
	// ends.
	ctx    context.Context
	cancel context.CancelFunc

	// The machine's single timer; Run's goroutine only.
	timer  clock.Timer
	timerC <-chan time.Time

	// silence is how long without any advert means the partner stopped
	// advertising: 3 x the instance's advert interval (RFC 5798 §6.1
	// Master_Down_Interval without the skew), failover.VRRPMasterDown's
	// Window.
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
	s := metrics.New(reg)
	m := &failoverMetrics{
		state: s.Gauge("hadhcpd_failover_state",
			"Failover state (1 STARTUP, 2 NORMAL, 3 COMMUNICATIONS-INTERRUPTED, 4 PARTNER-DOWN, 5 RECOVER, 6 RECOVER-WAIT, 7 RECOVER-DONE, 8 POTENTIAL-CONFLICT)."),
		fit:         s.Gauge("hadhcpd_failover_fit", "1 while this node is fit to be VRRP master of failover.vrrp_instance."),
		transitions: s.CounterVec("hadhcpd_failover_transitions_total", "Failover state transitions, by new state.", "to"),
		unreachable: s.Counter("hadhcpd_failover_acks_without_partner_total",
			"Commits acknowledged to clients while the partner was unreachable (durable on this box only)."),
		moved: s.CounterVec("hadhcpd_failover_pool_moved_total", "Addresses moved by pool balancing, by new state.", "to"),
	}
	return m, s.Err()
}

// newFailover builds the failover part of cfg (nil, nil without a
// failover: section): the machine, the gate, and the link's options. The
// link itself needs the lease database: attach completes it. It lowers the
// VRRP priority of failover.vrrp_instance before VRRP runs, since a node
// starts unfit (STARTUP).
func newFailover(b *config.Built, log *slog.Logger, reg prometheus.Registerer, vr *vrrpPart, clk clock.Clock) (*failoverPart, error) {
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
	if clk == nil {
		clk = clock.Wall()
	}
	opts := peer.Options{
		Name: b.File.Node.Name, Role: peer.Primary, Listen: f.Listen.String(), Peer: f.Peer.String(),
		MaxResponseDelay: f.MaxResponseDelay, MaxUnacked: f.MaxUnacked,
		Clock: clk, Logger: log.With("component", "peer"), FromPartner: failover.FromPartner,
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
		log: log, cfg: fc, inst: f.VRRPInstance, clock: clk, vr: vr, m: m, base: b.File,
		opts: opts, met: met, silence: f.SilenceAfter,
	}
	p.q.init()
	p.cmds = make(chan opCmd)
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
	if p.dh.ConfigHash() != fmt.Sprintf("%x", hash) {
		if _, err := p.dh.Apply(p.base, sec, "primary"); err != nil {
			return err
		}
	}
	// The next handshake announces the section now in force.
	if err := p.link.SetConfigHash(hash); err != nil {
		return err
	}
	if err := config.WriteSynced(p.base.Node.StateDir, data); err != nil {
		return fmt.Errorf("applied, but not kept in node.state_dir: %w", err)
	}
	return nil
}

// gateAdapter is the engine's view of the gate.
func (p *failoverPart) gateAdapter() dhcpd.Gate {
	return &fgate{g: &p.gate, clock: p.clock, ackedSeq: &p.ackedSeq}
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
		"last_seq", p.db.LastSeq(), "seq_known", known, "vrrp_instance", p.inst, "config_hash", p.dh.ConfigHash())
	return p.loop(ctx, linkErr)
}

// loop is Run's loop: the only goroutine that touches the machine, until
// ctx ends or the link fails (an error on linkErr; nil: none).
func (p *failoverPart) loop(ctx context.Context, linkErr <-chan error) error {
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

func (p *failoverPart) handleQueued() {
	for _, ev := range p.q.drain() {
		p.exec(p.m.Handle(p.clock.Now(), ev))
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
		p.partnerName.Store(&ev.PartnerName)
		p.skew.Store(int64(ev.Skew))
		p.log.Info("peer link up", "partner", ev.PartnerName, "remote", ev.Remote,
			"partner_state", failover.State(ev.PartnerState).String(), "partner_acked_seq", ev.PartnerAckedSeq,
			"our_last_seq", ev.OurLastSeq, "resume", ev.Resume, "config_match", ev.ConfigMatch, "skew", ev.Skew)
		p.q.push(failover.LinkUp{Partner: failover.State(ev.PartnerState), PartnerMaintenance: ev.PartnerMaintenance,
			PartnerAckedSeq: ev.PartnerAckedSeq, OurLastSeq: ev.OurLastSeq})
	case peer.Down:
		p.linkGen.Add(1)
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
// master-down takeovers the machine weighs as VRRP-path evidence
// (failover.Presence.MasterDown tells silence from preemption).
func (p *failoverPart) onVRRPTransition(t vrrp.Transition) {
	if t.To == vrrp.Master && t.Cause == vrrp.CauseMasterDown {
		p.q.push(failover.VRRPMasterDown{At: p.clock.Now(), Window: p.silence})
	}
	switch {
	case t.To == vrrp.Master:
		p.q.push(failover.VRRPMaster{Master: true})
	case t.From == vrrp.Master:
		p.q.push(failover.VRRPMaster{Master: false})
	}
}

// onVRRPAdvert (instance goroutine, every advert): the partner is heard on
// the VRRP path. The queue folds a run of adverts into the latest.
func (p *failoverPart) onVRRPAdvert(_ netip.Addr, _ uint8) {
	p.q.push(failover.VRRPAdvert{At: p.clock.Now()})
}

// advertsStopped (Run's goroutine) tells the link that the partner's
// adverts, heard before, stopped. No ACK of this takeover may wait
// max_response_delay for its acks: if the sync link is quiet too, the
// partner is gone and the link releases every commit at once. If the link
// is demonstrably alive (a VRRP-only partition), it stays up and commits
// wait only while the partner keeps answering. Only the link sees its own
// frames, so it judges its own quietness (peer.Link.PartnerSilent).
func (p *failoverPart) advertsStopped() {
	if p.link == nil {
		return
	}
	if p.link.PartnerSilent() {
		p.log.Info("partner's VRRP adverts stopped and the sync link is quiet: partner unreachable", "vrrp_instance", p.inst)
	} else {
		p.log.Info("partner's VRRP adverts stopped but the sync link is alive: link kept", "vrrp_instance", p.inst)
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

// balanceRound commits one round of the policy's pool balancing
// (failover.Policy.Balance decides which pools move how many addresses).
// Pool balancing belongs to NORMAL with the link up (draft §5.4): the
// published policy may still say NORMAL for a moment after the link went
// down (the machine has not handled LinkDown yet), so the link itself is
// asked too, before the round and again right before each commit, and a
// round never spans two link sessions (linkGen). A transfer committed
// while the partner cannot hear it would only be queued for it, and the
// pool would be moved on a policy (shares) that no longer holds.
func (p *failoverPart) balanceRound(rdb *replicatingDB) {
	gen := p.linkGen.Load()
	pol := p.gate.Load()
	if !p.balanceAllowed(pol, gen) {
		return
	}
	for _, mv := range pol.Balance(p.db.Stats()) {
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
			return
		}
		if _, err := rdb.Commit(ls...); err != nil {
			for _, l := range ls {
				p.db.Unhold(l.Addr)
			}
			p.log.Error("pool balance", "pool", mv.Pool, "err", err)
			continue
		}
		p.met.moved.WithLabelValues(mv.To.String()).Add(float64(len(ls)))
		p.log.Info("pool balance", "pool", mv.Pool, "moved", len(ls), "from", mv.From.String(), "to", mv.To.String())
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
// ACK (invariant 2). A binding's potential expiry is on its lease (the
// engine put the gate's there), so the partner receives it with the
// record (draft §5.2.1: "what to tell the failover partner"). The record
// also carries, as AckedExpiry, the potential expiry the partner
// acknowledged for the binding's previous record, so a renewal granted
// while the partner is unreachable still counts from it.
func (r *replicatingDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	ls = append([]lease.Lease(nil), ls...) // the caller's slice stays as it was
	acked := r.p.ackedSeq.Load()
	for i := range ls {
		if ls[i].State != lease.StateActive {
			continue
		}
		if prev, ok := r.DB.Get(ls[i].Addr); ok && prev.Key() == ls[i].Key() {
			if a := failover.AckedThrough(prev, acked).AckedExpiry; a.After(ls[i].AckedExpiry) {
				ls[i].AckedExpiry = a
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
	out := lease.Leases(recs)
	if wait() {
		r.p.acked(out)
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
	if len(out) > 0 && wait() {
		r.p.acked(out)
	}
	return out, err
}

// acked notes that the partner applied every record of ls durably.
// Every record goes to the stream in sequence order, so the partner's ack
// is cumulative up to the highest.
func (p *failoverPart) acked(ls []lease.Lease) {
	var top uint64
	for i := range ls {
		top = max(top, ls[i].Seq)
	}
	for {
		cur := p.ackedSeq.Load()
		if top <= cur || p.ackedSeq.CompareAndSwap(cur, top) {
			return
		}
	}
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
	g        *failover.Gate
	clock    clock.Clock
	ackedSeq *atomic.Uint64 // failoverPart.ackedSeq
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

// LeaseTime is the MCLT rule (failover.Grant) and the potential expiry
// the engine records on the lease it commits. The partner's ack of our
// record of this binding counts as its acknowledged potential expiry
// (failover.AckedThrough): the MCLT rule of draft §5.2.1 then lets the
// renewal at T1 have the full desired lease instead of staying capped at
// MCLT.
func (f *fgate) LeaseTime(l lease.Lease, want time.Duration, now time.Time) (time.Duration, time.Time) {
	if f.ackedSeq != nil {
		l = failover.AckedThrough(l, f.ackedSeq.Load())
	}
	return f.g.LeaseTime(now, l, want)
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

// statusView is the failover part of `hadhcpd status`.
func (p *failoverPart) statusView() *control.FailoverStatus {
	fs := &control.FailoverStatus{Role: p.cfg.Role.String(), Mode: p.cfg.Mode.String(), State: "STARTUP", PartnerState: "UNKNOWN"}
	if st := p.status.Load(); st != nil {
		fs.State, fs.LinkUp = st.State.String(), st.LinkUp
		fs.PartnerLastState = st.Partner.String()
		fs.PartnerLastSeen = st.LinkDownSince
	}
	if n := p.partnerName.Load(); n != nil {
		fs.PartnerName = *n
	}
	settlePartner(fs)
	if p.link != nil {
		fs.UnackedUpdates = p.link.Unacked()
	}
	fs.SkewSeconds = time.Duration(p.skew.Load()).Seconds()
	if p.dh != nil {
		fs.ConfigHash = p.dh.ConfigHash()
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
