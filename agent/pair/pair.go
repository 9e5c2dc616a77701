// Package pair runs one failover relationship: the failover machine's
// loop, the sync link, the replicated commit path, pool balancing and the
// operator's commands. It wires sync/failover (the state machine),
// sync/peer (the sync link) and the lease database into the DHCP engine
// and the VRRP instance named by failover.vrrp_instance. What it needs of the agent's other parts
// is two small interfaces: VRRP (the instances) and Section (the dhcp:
// section in force, for config sync).
//
//   - One goroutine (Run) owns the failover Machine. Its inputs are link
//     events (peer.Options.OnEvent), the VRRP instance's transitions and
//     adverts (VRRP.Hook) and its own timer, which arrive through one
//     unbounded queue, so the link's and the instance's goroutines never
//     block on it; and operator commands (operator.go), which arrive
//     on a channel the loop owns and get the actions of their own step
//     back. After every Handle it publishes the Policy to a failover.Gate
//     that the engine reads through fgate (dhcpd.Gate, Pair.Gate).
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
//   - A VRRP master hears no advert stop when its backup is lost (RFC 5798
//     §6.4.3). When the link turns quiet (peer.Quiet, two heartbeat
//     intervals) the pair asks its LAN witness at once (witness.go); a
//     partner that answers ARP on no served link while the link stayed
//     quiet is gone, and the link releases every commit
//     (Link.PartnerAbsent). A partner that answers (a cut sync cable)
//     changes nothing.
//   - SetFit lowers the instance's VRRP priority to unfitPriority while the
//     machine says this node is not fit (invariant 3) and restores it when
//     it is.
//   - A balancer goroutine moves addresses between FREE and BACKUP as the
//     policy decides (Policy.Balance, draft-ietf-dhc-failover-12 §5.4), so the
//     secondary has addresses of its own to give new clients after a
//     takeover.
package pair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// VRRP is what a pair needs of the box's VRRP instances; it names the one
// of failover.vrrp_instance in every call.
type VRRP interface {
	// Hook registers observers of the instance's transitions and adverts
	// (they run on the instance goroutine and must not block); called
	// before the instances run.
	Hook(instance string, onTransition func(vrrp.Transition), onAdvert func(netip.Addr, uint8))
	// SetPriority overrides the instance's priority; 0 restores the
	// configured one. Safe before and while the instances run.
	SetPriority(instance string, prio uint8)
	// Resign hands mastership over (vrrp.Instance.Resign); a no-op when
	// the instance is not master or not running.
	Resign(instance string)
	// MasterElsewhere reports whether the instance is Backup to a master
	// whose advert it accepted since it last was master itself; known is
	// false when the instance is not running.
	MasterElsewhere(instance string) (elsewhere, known bool)
	// InstanceStatus is the instance's line of `hadhcpd status`, for
	// the operator commands' results.
	InstanceStatus(instance string) (control.VRRPStatus, bool)
}

// Section is the dhcp: section in force, which a secondary replaces with
// the one its primary sends (config sync).
type Section interface {
	// ConfigHash is the hash of the section in force (hex).
	ConfigHash() string
	// Apply validates sec against base (this node's config) and, when it
	// is valid, puts it in force; on any error the section in force
	// stays. source names who sent it, for the log.
	Apply(base *config.Config, sec *config.DHCPConfig, source string) (changed []string, err error)
}

// Pair is one failover relationship at run time.
type Pair struct {
	log   *slog.Logger
	cfg   failover.Config
	inst  string // failover.vrrp_instance
	clock clock.Clock
	vr    VRRP
	m     *failover.Machine // owned by Run's goroutine
	gate  failover.Gate
	opts  peer.Options // the link's options, completed by Start
	link  *peer.Link   // set by Start
	// order is held from a local commit until its records are queued on
	// the link, so the stream carries them in sequence order.
	order sync.Mutex
	db    *lease.DB        // set by Attach
	rep   lease.OpenReport // set by Start: what recovery found
	base  *config.Config   // this node's config: a synced section is validated with it
	sec   Section          // set by Start: where a section is applied
	// ackedSeq is the highest sequence number of our stream the partner
	// has acknowledged since this process started (its acks are
	// cumulative): in memory only, so after a restart renewals are
	// capped at MCLT again until the next ack, which is the safe side.
	ackedSeq atomic.Uint64
	q        evQueue
	cmds     chan opCmd // operator commands, received only by Run's loop
	met      *failoverMetrics
	op       opState // operator commands (operator.go)

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
	// agreed are the parameters the partner must share (sent in the
	// handshake); disagree is why the last handshake refused the
	// partner's, "" once a link came up with them agreed.
	agreedMu sync.Mutex
	agreed   failover.Agreed // split and max seconds: the primary's in force
	ownLAN   []netip.Addr    // our addresses for the partner to probe (SetWitness)
	disagree atomic.Pointer[string]
	// witness probes the partner on the LAN (nil: no probing);
	// partnerLAN are its addresses from its last Hello.
	witness    Witness
	partnerLAN atomic.Pointer[[]netip.Addr]
	// quiet carries the link's Quiet events to quietLANLoop (cap 1).
	quiet chan struct{}

	// ctx bounds Replicate calls of the commit path; cancelled when Run
	// ends.
	ctx    context.Context
	cancel context.CancelFunc

	// The machine's single timer; Run's goroutine only.
	timer  clock.Timer
	timerC <-chan time.Time

	// observe sees each failover transition (ObserveTransitions); set
	// before Run.
	observe func(failover.Transition)
	// A relationship of several (config failover.relationships): view
	// narrows the lease database to its subnets (SetView), ln is the
	// listener shared with the box's other relationships (SetListener);
	// config sync carries the relationship's part of the dhcp: section
	// (the agent sends it, and its Section takes it), and relHash is the
	// hash of that part as this box serves it.
	rel     string
	view    View
	ln      net.Listener
	relHash atomic.Pointer[[]byte]
	// configMatch: 0 no handshake yet, 1 the partner announced our hash,
	// 2 another.
	configMatch atomic.Int32

	// silence is how long without any advert means the partner stopped
	// advertising: 3 x the instance's advert interval (RFC 5798 §6.1
	// Master_Down_Interval without the skew), failover.VRRPMasterDown's
	// Window.
	silence time.Duration
}

// failoverMetrics are the pair's own collectors.
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

// New builds the pair of b's failover: section (nil, nil without one):
// the machine, the gate, and the link's options. The link itself needs
// the lease database: Attach and Start complete it. vr holds
// failover.vrrp_instance; nil is a config error. It lowers the
// VRRP priority of failover.vrrp_instance before VRRP runs, since a node
// starts unfit (STARTUP).
func New(b *config.Built, log *slog.Logger, reg prometheus.Registerer, vr VRRP, clk clock.Clock) (*Pair, error) {
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
	agreed := failover.AgreedOf(fc, f.MaxResponseDelay)
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
	switch {
	case f.Name != "":
		opts.ConfigHash = f.SectionHash
	case b.File.DHCP != nil:
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
	p := &Pair{
		log: log, cfg: fc, inst: f.VRRPInstance, clock: clk, vr: vr, m: m, base: b.File,
		opts: opts, met: met, silence: f.SilenceAfter, rel: f.Name, agreed: agreed,
	}
	p.relHash.Store(&f.SectionHash)
	p.opts.CheckParams = p.checkParams
	p.q.init()
	p.cmds = make(chan opCmd)
	p.quiet = make(chan struct{}, 1)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.gate.Store(m.Policy()) // serves nothing until Start
	vr.SetPriority(p.inst, unfitPriority)
	vr.Hook(p.inst, p.onVRRPTransition, p.onVRRPAdvert)
	return p, nil
}

// Attach takes the opened lease database and returns the engine's view of
// it: the replicating commit path (invariant 2). The agent's
// newDHCP calls it (as its wrap function) between opening the database
// and building the engine.
func (p *Pair) Attach(db *lease.DB) dhcpd.LeaseDB {
	p.db = db
	return &replicatingDB{DB: db, p: p}
}

// Start finishes what needs the opened database: the link (its Store is
// the database), what recovery found (rep: whether the journal proves
// which records the partner has), and the section in force (sec). A
// primary sends its section to the link.
func (p *Pair) Start(sec Section, rep lease.OpenReport) error {
	if p.db == nil || sec == nil {
		return errors.New("failover: the lease database is not open")
	}
	p.rep, p.sec = rep, sec
	p.opts.Params = p.hello()
	p.opts.Store = p.store() // its Apply is one group commit of the partner's records
	p.opts.OnEvent = p.onLinkEvent
	if p.cfg.Role == failover.Secondary {
		p.opts.OnConfig = p.onConfig
	}
	l, err := peer.New(p.opts)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	p.link = l
	if p.cfg.Role == failover.Primary && p.base.DHCP != nil && p.rel == "" {
		return p.SendConfig(p.base.DHCP)
	}
	return nil
}

// SendConfig (primary) hands the dhcp: section to the link: sent on every
// connect and now if the link is up.
func (p *Pair) SendConfig(sec *config.DHCPConfig) error {
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
func (p *Pair) onConfig(hash, data []byte) error {
	if !bytes.Equal(config.SectionHash(data), hash) {
		return errors.New("the config hash does not match its content")
	}
	sec, err := config.ParseSection(data)
	if err != nil {
		return err
	}
	if p.sec.ConfigHash() != fmt.Sprintf("%x", hash) {
		if _, err := p.sec.Apply(p.base, sec, "primary"); err != nil {
			return err
		}
	}
	// The next handshake announces the section now in force. A
	// relationship of several serves the part with this box's own global
	// keys: the agent announces the hash of what it serves
	// (SetSectionHash), which differs from the primary's when those do.
	if p.rel == "" {
		if err := p.link.SetConfigHash(hash); err != nil {
			return err
		}
	}
	file := config.SyncedFile
	if p.rel != "" {
		file = config.RelationshipSyncedFile(p.rel) // its part only (sec is the agent's view of it)
	}
	if err := config.WriteSyncedAs(p.base.Node.StateDir, file, data); err != nil {
		return fmt.Errorf("applied, but not kept in node.state_dir: %w", err)
	}
	return nil
}

// View is a relationship's part of the box's lease database (a box in
// several relationships): the link sees only the leases of its subnets,
// and the sequence numbers are of those leases' records.
type View interface {
	peer.Store
	// Stats are the pools of the relationship's subnets (pool balancing).
	Stats() []lease.PoolStats
}

// SetView narrows the pair to its relationship's part of the database;
// called before Start.
func (p *Pair) SetView(v View) { p.view = v }

// SetListener gives a secondary the listener it shares with the box's
// other relationships (the agent routes each connection to its
// relationship); called before Run. Without one the link listens on
// failover.listen itself.
func (p *Pair) SetListener(ln net.Listener) { p.ln = ln }

// store is what the link and the machine see of the database.
func (p *Pair) store() peer.Store {
	if p.view != nil {
		return p.view
	}
	return p.db
}

// stats are the pools this pair balances.
func (p *Pair) stats() []lease.PoolStats {
	if p.view != nil {
		return p.view.Stats()
	}
	return p.db.Stats()
}

// SetSectionHash (a relationship of several) is the hash of its part of
// the dhcp: section after a reload: shown in the status at once,
// announced to the partner at the next handshake.
func (p *Pair) SetSectionHash(h []byte) error {
	if err := p.link.SetConfigHash(h); err != nil {
		return err
	}
	p.relHash.Store(&h)
	return nil
}

// Name is the relationship's name ("" for the single failover: section).
func (p *Pair) Name() string { return p.rel }

// Role is this node's role in the relationship.
func (p *Pair) Role() failover.Role { return p.cfg.Role }

// MaxResponseDelay is failover.max_response_delay: how long a commit may
// legitimately wait for the partner's ack (the agent's watchdog allows
// it on the commit path).
func (p *Pair) MaxResponseDelay() time.Duration { return p.opts.MaxResponseDelay }

// checkParams (the link's handshake, and a secondary's FrameParams)
// compares the partner's agreed parameters with ours: a difference in
// mode, mclt, max_response_delay or standby_share refuses the link,
// naming each key with both values, and is shown in the status until a
// handshake agrees. A secondary takes the primary's split and
// load_balance_max_seconds (they are the primary's to change, with a
// reload), logging when they differ from its own file.
func (p *Pair) checkParams(theirs []byte) error {
	h, err := failover.UnmarshalHello(theirs)
	a := h.Agreed
	if err == nil {
		lan := h.LAN
		p.partnerLAN.Store(&lan)
	}
	p.agreedMu.Lock()
	if err == nil {
		err = p.agreed.Check(a)
	}
	var set *failover.SetSplit
	if err == nil && p.cfg.Role == failover.Secondary {
		if split, maxs, changed := p.agreed.SplitFrom(a); changed {
			p.log.Info("failover split from the primary", "split", split, "load_balance_max_seconds", maxs,
				"was_split", p.agreed.Split, "was_load_balance_max_seconds", p.agreed.LoadBalanceMaxSeconds)
			p.agreed.Split, p.agreed.LoadBalanceMaxSeconds = split, maxs
			set = &failover.SetSplit{Split: split, MaxSeconds: maxs}
		}
	}
	p.agreedMu.Unlock()
	if set != nil {
		p.q.push(*set) // before the link's Up: the machine has it first
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	p.disagree.Store(&msg)
	return err
}

// Agreed is the pair parameters in force (the status shows them).
func (p *Pair) Agreed() failover.Agreed {
	p.agreedMu.Lock()
	defer p.agreedMu.Unlock()
	return p.agreed
}

// SetSplit (primary, on reload) puts a new failover.split and
// load_balance_max_seconds in force without a restart: the machine's
// policy answers the new buckets and balances the pools to the new share,
// and the secondary gets them over the link (at once if it is up, else
// at the next handshake) and does the same. A secondary refuses: its
// split is the primary's.
func (p *Pair) SetSplit(split, maxSeconds int) error {
	if p.cfg.Role != failover.Primary {
		return errors.New("failover.split is the primary's: this node takes it from its primary")
	}
	p.agreedMu.Lock()
	p.agreed.Split, p.agreed.LoadBalanceMaxSeconds = split, maxSeconds
	p.agreedMu.Unlock()
	params := p.hello()
	p.q.push(failover.SetSplit{Split: split, MaxSeconds: maxSeconds})
	if p.link == nil {
		return nil
	}
	return p.link.SendParams(params)
}

// hello is what the handshake tells the partner: the agreed parameters and
// our addresses on the served links.
func (p *Pair) hello() []byte {
	p.agreedMu.Lock()
	defer p.agreedMu.Unlock()
	return failover.Hello{Agreed: p.agreed, LAN: p.ownLAN}.Marshal()
}
