package dhcpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

// LeaseDB is what the engine needs from the lease database (*lease.DB
// satisfies it; see dhcpd/lease/api.go for the contract of each method).
type LeaseDB interface {
	Get(addr netip.Addr) (lease.Lease, bool)
	ByClient(key string) (lease.Lease, bool)
	// Allocate takes a free address of the pool (the hint when it is free)
	// and holds it until Commit or Unhold.
	Allocate(pool string, hint netip.Addr, from lease.State) (netip.Addr, error)
	Unhold(addr netip.Addr)
	// Commit returns once the leases are durable.
	Commit(ls ...lease.Lease) ([]lease.Lease, error)
	Expire(now time.Time, max int) ([]lease.Lease, error)
	Stats() []lease.PoolStats
}

// Clock is the engine's time source.
type Clock interface{ Now() time.Time }

// ServerIDFunc returns the server identifier for an interface (the VRRP
// virtual IP when an instance covers it), or false to let the engine use
// the receiving interface's own address.
type ServerIDFunc func(iface string) (netip.Addr, bool)

// Inbound is what the socket layer knows about a request's arrival.
type Inbound struct {
	IfIndex int
	Iface   string
	// IfAddrs are the receiving interface's IPv4 addresses: they choose the
	// subnet of a directly attached client and the fallback server id.
	IfAddrs []netip.Prefix
}

// Reply is the engine's decision: a message and where it goes. Resp is nil
// when nothing is sent (RELEASE, DECLINE).
type Reply struct {
	Resp *dhcpv4.DHCPv4
	Dest Dest

	// commit is set (and Resp nil) by bind: the reply is decided once the
	// lease is durable; HandleAsync queues it for the committer.
	commit *pendingCommit
}

// pendingCommit is a lease waiting for the committer, and what to do once
// its commit returned: finish builds the reply (ACK) or the error.
type pendingCommit struct {
	lease  lease.Lease
	finish func(err error) (Reply, error)
	done   func(Reply, error)
}

// DropReason is why a request got no reply; the server counts drops by it.
type DropReason string

func (d DropReason) Error() string { return "dropped: " + string(d) }

// Reasons for dropping a request.
const (
	ErrNotRequest       DropReason = "not-bootrequest"
	ErrBOOTP            DropReason = "bootp" // no message type: BOOTP is refused
	ErrMalformed        DropReason = "malformed"
	ErrNoSubnet         DropReason = "no-subnet" // no served subnet for this link/relay
	ErrNotServing       DropReason = "not-serving"
	ErrOtherServer      DropReason = "other-server" // REQUEST for another server's offer
	ErrNoAddress        DropReason = "no-address"
	ErrUnknownType      DropReason = "unknown-type"
	ErrBusy             DropReason = "busy" // the address is being committed for another request
	ErrNoRecord         DropReason = "no-record"
	ErrNoServerID       DropReason = "no-server-id"
	ErrNotAuthoritative DropReason = "not-authoritative" // would NAK, but authoritative is off
	ErrCommit           DropReason = "commit-failed"
	// ErrNotOffered: a SELECTING request names our server id for an
	// address this server did not offer, may not allocate and nobody else
	// holds; in a pair both boxes carry the VIP as server id, so the offer
	// was the partner's (both VRRP masters during a partition).
	ErrNotOffered DropReason = "not-offered"
)

// Reason returns the metric label for an error from Handle.
func Reason(err error) string {
	var d DropReason
	if errors.As(err, &d) {
		return string(d)
	}
	return "error"
}

// Engine answers DHCPv4 requests (RFC 2131 §4.3). Safe for concurrent use.
type Engine struct {
	// cfg is swapped whole by Reconfigure; a request reads it once per
	// use and a *scope.Subnet it got stays valid (configs are never mutated
	// after they are published).
	cfg   atomic.Pointer[scope.Config]
	db    LeaseDB
	gate  Gate
	sid   ServerIDFunc
	clock Clock
	log   *slog.Logger
	m     *Metrics

	mu sync.Mutex
	// mu guards the following.
	offers   map[netip.Addr]*offer // by address
	byKey    map[string]*offer     // by client key
	offerQ   []offerRef            // offers in order of expiry (OfferHold changes only on Reconfigure)
	busy     map[netip.Addr]string // address -> client key, while its commit runs
	abandonQ []abandoned           // declined addresses in order of probation end

	// The committer (see commitLoop): leases waiting to be committed, and
	// whether a committer goroutine is running to take them.
	cmu        sync.Mutex
	cq         []*pendingCommit
	taking     bool          // a committer is waiting to take the queue
	inflight   int           // db.Commit calls under way
	maxFlight  int           // see EngineOptions.CommitsInFlight
	lastCommit time.Time     // start of the last group commit (monotonic)
	spacing    time.Duration // see DefaultCommitSpacing

	eventBind [2]prometheus.Counter // "bind", "renew": pre-curried
}

type offer struct {
	addr  netip.Addr
	key   string
	until time.Time
	held  bool // taken with Allocate: Unhold when the offer lapses
}

type offerRef struct {
	addr  netip.Addr
	until time.Time
}

type abandoned struct {
	addr  netip.Addr
	until time.Time
}

// EngineOptions are the engine's collaborators. DB and Config are required.
type EngineOptions struct {
	Config   *scope.Config
	DB       LeaseDB
	Gate     Gate         // nil: SingleServer
	ServerID ServerIDFunc // nil: the receiving interface's address
	Clock    Clock        // nil: wall clock
	Logger   *slog.Logger // nil: discard
	Metrics  *Metrics     // nil: unregistered collectors
	// CommitSpacing is the least time from the start of one group commit
	// to the start of the next: 0 is DefaultCommitSpacing, negative none.
	CommitSpacing time.Duration
	// CommitsInFlight bounds the db.Commit calls under way at once
	// (default 4). More than one pays off when a commit waits for more
	// than the local fsync: a failover pair's commit returns only once the
	// partner applied it (DESIGN.md invariant 2), so with one in flight
	// the pair's throughput would be a batch per round trip.
	CommitsInFlight int
}

// DefaultCommitSpacing paces group commits to at most 200 fsyncs a second.
// An fdatasync costs this process CPU (the journal commit runs in its
// context) whatever it carries; under a load of a few thousand ACKs a
// second, back-to-back fsyncs carried 3–4 leases each and cost a fifth of
// the server's CPU. Spaced 5 ms apart they carry ~20 and the server needs
// ~30 % less CPU per DORA (scripts/bench-dhcp.sh). A commit after a quiet
// spell (the last one started longer ago than this) does not wait, so an
// idle server's ACK latency is unchanged; under load an ACK waits at most
// this much more, invisible next to a client's 4 s retransmission timer
// (RFC 2131 §4.1).
const DefaultCommitSpacing = 5 * time.Millisecond

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// NewEngine builds an engine. It fills each subnet's subnet mask and
// broadcast options from its prefix unless the config sets them.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.Config == nil || o.DB == nil {
		return nil, errors.New("dhcpd: engine needs a config and a lease database")
	}
	e := &Engine{
		db: o.DB, gate: o.Gate, sid: o.ServerID, clock: o.Clock, log: o.Logger, m: o.Metrics,
		offers: map[netip.Addr]*offer{}, byKey: map[string]*offer{}, busy: map[netip.Addr]string{},
	}
	if e.gate == nil {
		e.gate = SingleServer{}
	}
	if e.clock == nil {
		e.clock = wallClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.m == nil {
		e.m = NewMetrics(nil)
	}
	e.maxFlight = o.CommitsInFlight
	if e.maxFlight <= 0 {
		e.maxFlight = 4
	}
	switch {
	case o.CommitSpacing == 0:
		e.spacing = DefaultCommitSpacing
	case o.CommitSpacing > 0:
		e.spacing = o.CommitSpacing
	}
	e.eventBind[0] = e.m.Events.WithLabelValues("bind")
	e.eventBind[1] = e.m.Events.WithLabelValues("renew")
	prepareConfig(o.Config)
	e.cfg.Store(o.Config)
	return e, nil
}

// prepareConfig fills the defaults NewEngine and Reconfigure apply: the
// offer hold, and each subnet's subnet mask (option 1) and broadcast
// address (option 28, RFC 2132 §3.3, §5.3) from its prefix.
func prepareConfig(c *scope.Config) {
	if c.OfferHold <= 0 {
		c.OfferHold = 10 * time.Second
	}
	for _, s := range c.Subnets {
		if s.Options == nil {
			s.Options = scope.Options{}
		}
		if _, ok := s.Options[1]; !ok {
			m := net.CIDRMask(s.Prefix.Bits(), 32)
			s.Options[1] = []byte(m)
		}
		if _, ok := s.Options[28]; !ok {
			b := scope.Broadcast(s.Prefix).As4()
			s.Options[28] = b[:]
		}
	}
}

// PoolSetter is the part of the lease database Reconfigure needs.
type PoolSetter interface {
	SetPools(pools []lease.Pool) error
}

// Reconfigure swaps the engine's subnets, pools, options and timers for
// cfg without a restart (config reload, config sync): the database's pool
// set is replaced first (leases outside every new pool are kept), then
// new requests see cfg. Offers made under the old config stay until they
// lapse. cfg must not be changed by the caller afterwards.
func (e *Engine) Reconfigure(cfg *scope.Config, db PoolSetter) error {
	if cfg == nil || db == nil {
		return errors.New("dhcpd: reconfigure needs a config and a lease database")
	}
	prepareConfig(cfg)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := db.SetPools(cfg.Pools()); err != nil {
		return fmt.Errorf("dhcpd: reconfigure: pools: %w", err)
	}
	e.cfg.Store(cfg)
	return nil
}

// client is the requester's identity.
type client struct {
	key string
	id  []byte
	hw  net.HardwareAddr
}

// Handle decides the answer to one request. A nil Reply.Resp with a nil
// error means the request was handled without a reply (RELEASE, DECLINE);
// an error says why it was dropped (see Reason). It waits for the lease
// commit of a REQUEST; HandleAsync does not.
func (e *Engine) Handle(req *dhcpv4.DHCPv4, in Inbound) (Reply, error) {
	type result struct {
		rep Reply
		err error
	}
	ch := make(chan result, 1)
	e.HandleAsync(req, in, func(rep Reply, err error) { ch <- result{rep, err} })
	r := <-ch
	return r.rep, r.err
}

// HandleAsync is Handle with the decision given to done, which is called
// exactly once: at once, on the calling goroutine, for everything that does
// not commit a lease (DISCOVER never touches the disk), or from the
// engine's committer once the lease of an ACK is durable. Commits of
// concurrent requests share one db.Commit call (and so one fsync), so a
// caller needs no more goroutines than CPUs to keep the disk busy.
func (e *Engine) HandleAsync(req *dhcpv4.DHCPv4, in Inbound, done func(Reply, error)) {
	rep, err := e.decide(req, in)
	if p := rep.commit; p != nil && err == nil {
		p.done = done
		e.enqueueCommit(p)
		return
	}
	done(rep, err)
}

// enqueueCommit queues p for the committer, starting one when none is
// waiting to take the queue and fewer than maxFlight commits are under way.
func (e *Engine) enqueueCommit(p *pendingCommit) {
	e.cmu.Lock()
	e.cq = append(e.cq, p)
	start := e.startTakerLocked()
	e.cmu.Unlock()
	if start {
		go e.commitLoop()
	}
}

// startTakerLocked reports whether the caller must start a committer (and
// marks one as taking). e.cmu held.
func (e *Engine) startTakerLocked() bool {
	if len(e.cq) == 0 || e.taking || e.inflight >= e.maxFlight {
		return false
	}
	e.taking = true
	return true
}

// commitLoop takes everything queued (after the commit spacing) and
// commits it in one db.Commit (one fsync for the lot: group commit), then
// finishes its batch (builds the ACKs, calls done). One committer at a
// time waits to take the queue; up to maxFlight batches are committed at
// once, so a batch is whatever arrived during the spacing: large under
// load, one lease when idle. No goroutine lives while nothing is queued.
func (e *Engine) commitLoop() {
	e.cmu.Lock()
	// Pacing is plumbing, not protocol: monotonic time, not e.clock (a
	// test's fake clock must not stall or skip it).
	if wait := e.spacing - time.Since(e.lastCommit); wait > 0 && len(e.cq) < maxBatch {
		e.cmu.Unlock()
		time.Sleep(wait)
		e.cmu.Lock()
	}
	e.lastCommit = time.Now()
	batch := e.cq
	e.cq = nil
	e.taking = false
	if len(batch) == 0 {
		e.cmu.Unlock()
		return
	}
	e.inflight++
	e.cmu.Unlock()
	errs := e.commitBatch(batch)
	e.cmu.Lock()
	e.inflight--
	next := e.startTakerLocked()
	e.cmu.Unlock()
	if next {
		go e.commitLoop()
	}
	for i, p := range batch {
		rep, err := p.finish(errs[i])
		p.done(rep, err)
		if i%8 == 7 {
			runtime.Gosched() // let the next committer and the flusher run (see Server.readLoop)
		}
	}
}

// maxBatch is the queue length at which a committer stops waiting out
// the commit spacing.
const maxBatch = 256

// commitBatch commits the leases of batch and returns each one's error.
// A batch that fails is retried lease by lease, so that one lease the
// database refuses does not fail the others' ACKs.
func (e *Engine) commitBatch(batch []*pendingCommit) []error {
	errs := make([]error, len(batch))
	ls := make([]lease.Lease, len(batch))
	for i, p := range batch {
		ls[i] = p.lease
	}
	t0 := e.clock.Now()
	_, err := e.db.Commit(ls...)
	if err != nil && len(ls) > 1 {
		for i := range ls {
			_, errs[i] = e.db.Commit(ls[i])
		}
	} else {
		for i := range errs {
			errs[i] = err
		}
	}
	d := e.clock.Now().Sub(t0).Seconds()
	e.m.Batch.Observe(float64(len(batch)))
	for range batch {
		e.m.Commit.Observe(d)
	}
	return errs
}

// isRenewal reports a DHCPREQUEST in RENEWING or REBINDING state (RFC 2131
// §4.3.2): ciaddr set, neither a server identifier nor a requested address.
func isRenewal(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType) bool {
	if mt != dhcpv4.MessageTypeRequest {
		return false
	}
	ci := addr4(req.ClientIPAddr)
	return ci.IsValid() && !ci.IsUnspecified() &&
		req.Options.Get(dhcpv4.OptionServerIdentifier) == nil &&
		req.Options.Get(dhcpv4.OptionRequestedIPAddress) == nil
}

// decide is Handle up to the lease commit.
func (e *Engine) decide(req *dhcpv4.DHCPv4, in Inbound) (Reply, error) {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return Reply{}, ErrNotRequest
	}
	mt := req.MessageType()
	if mt == dhcpv4.MessageTypeNone {
		// RFC 2131 §4.1 lets a server answer BOOTP; dynamic BOOTP has no
		// lease end and cannot work with failover, so it is refused.
		return Reply{}, ErrBOOTP
	}
	c := client{id: req.Options.Get(dhcpv4.OptionClientIdentifier), hw: req.ClientHWAddr}
	if len(c.hw) == 0 && len(c.id) == 0 {
		return Reply{}, ErrMalformed
	}
	c.key = lease.ClientKey(c.id, c.hw)
	sub := e.subnetFor(req, in)
	if sub == nil {
		return Reply{}, ErrNoSubnet
	}
	gc := Client{Key: c.key, HWAddr: c.hw, Secs: req.NumSeconds, Renewal: isRenewal(req, mt)}
	if len(c.id) > 0 {
		gc.ClientID = c.id
	}
	if !e.gate.Serve(gc) {
		return Reply{}, ErrNotServing
	}
	sid, ok := e.serverID(in, sub)
	if !ok {
		return Reply{}, ErrNoServerID
	}
	now := e.clock.Now()
	switch mt {
	case dhcpv4.MessageTypeDiscover:
		return e.discover(req, c, sub, sid, now)
	case dhcpv4.MessageTypeRequest:
		return e.request(req, c, sub, sid, now)
	case dhcpv4.MessageTypeRelease:
		return Reply{}, e.release(req, c, sid, now)
	case dhcpv4.MessageTypeDecline:
		return Reply{}, e.decline(req, c, sub, sid, now)
	case dhcpv4.MessageTypeInform:
		return e.inform(req, c, sub, sid)
	}
	return Reply{}, ErrUnknownType
}

// subnetFor picks the subnet a request belongs to: the relay's link
// selection sub-option (RFC 3527) or the subnet selection option (RFC 3011)
// when present, then giaddr (RFC 2131 §4.3.1), then ciaddr of a client that
// has an address, then the receiving interface's addresses.
func (e *Engine) subnetFor(req *dhcpv4.DHCPv4, in Inbound) *scope.Subnet {
	gi := addr4(req.GatewayIPAddr)
	relayed := gi.IsValid() && !gi.IsUnspecified()
	if relayed {
		if rai := req.RelayAgentInfo(); rai != nil {
			if b := rai.Get(dhcpv4.LinkSelectionSubOption); len(b) == 4 {
				return e.subnetContaining(netip.AddrFrom4([4]byte(b)), false)
			}
		}
	}
	if b := req.Options.Get(dhcpv4.OptionSubnetSelection); len(b) == 4 {
		return e.subnetContaining(netip.AddrFrom4([4]byte(b)), false)
	}
	if relayed {
		return e.subnetContaining(gi, true)
	}
	if ci := addr4(req.ClientIPAddr); ci.IsValid() && !ci.IsUnspecified() {
		if s := e.subnetContaining(ci, false); s != nil {
			return s
		}
	}
	for _, p := range in.IfAddrs {
		if s := e.subnetContaining(p.Addr(), false); s != nil {
			return s
		}
	}
	return nil
}

func (e *Engine) subnetContaining(a netip.Addr, relays bool) *scope.Subnet {
	for _, s := range e.cfg.Load().Subnets {
		if s.Prefix.Contains(a) {
			return s
		}
	}
	if relays {
		for _, s := range e.cfg.Load().Subnets {
			for _, r := range s.Relays {
				if r == a {
					return s
				}
			}
		}
	}
	return nil
}

// serverID is the address clients send unicasts to (option 54): the VIP
// when the agent has one for the interface (invariant 5), else the
// interface's address in the client's subnet, else its first address.
func (e *Engine) serverID(in Inbound, sub *scope.Subnet) (netip.Addr, bool) {
	if e.sid != nil {
		if a, ok := e.sid(in.Iface); ok {
			return a, true
		}
	}
	for _, p := range in.IfAddrs {
		if sub.Prefix.Contains(p.Addr()) {
			return p.Addr(), true
		}
	}
	if len(in.IfAddrs) > 0 {
		return in.IfAddrs[0].Addr(), true
	}
	return netip.Addr{}, false
}

// discover chooses an address for an OFFER (RFC 2131 §4.3.1): the client's
// reservation, its current or last lease, the address it asked for, any
// free address.
func (e *Engine) discover(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) (Reply, error) {
	addr, res, err := e.offerAddr(req, c, sub, now)
	if err != nil {
		return Reply{}, err
	}
	lt := e.grant(req, c, sub, addr, now)
	resp := e.newReply(req, dhcpv4.MessageTypeOffer, sid)
	resp.YourIPAddr = net.IP(addr.AsSlice())
	setLeaseTime(resp, lt)
	e.addOptions(resp, req, sub, res)
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("offer", "ip", addr, "mac", c.hw.String(), "client", clientLabel(c), "lease", lt)
	}
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

func (e *Engine) offerAddr(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, now time.Time) (netip.Addr, *scope.Reservation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := sub.ReservationFor(c.id, c.hw); r != nil {
		if l, ok := e.db.Get(r.Addr); ok && l.State == lease.StateActive && now.Before(l.Expiry) && l.Key() != c.key {
			e.log.Warn("reserved address is leased to another client", "ip", r.Addr, "mac", c.hw.String(), "holder", l.HWAddr.String())
			return netip.Addr{}, nil, ErrNoAddress
		}
		e.setOfferLocked(c.key, r.Addr, false, now)
		return r.Addr, r, nil
	}
	if o := e.byKey[c.key]; o != nil {
		if sub.PoolOf(o.addr) != nil {
			e.setOfferLocked(c.key, o.addr, o.held, now)
			return o.addr, nil, nil
		}
		e.dropOfferLocked(o)
	}
	if l, ok := e.db.ByClient(c.key); ok && sub.PoolOf(l.Addr) != nil && sub.ReservationOf(l.Addr) == nil {
		if held, ok := e.claimLocked(sub, c, l.Addr, now); ok {
			e.setOfferLocked(c.key, l.Addr, held, now)
			return l.Addr, nil, nil
		}
	}
	if ra := addr4(req.RequestedIPAddress()); ra.IsValid() && sub.PoolOf(ra) != nil && sub.ReservationOf(ra) == nil {
		if held, ok := e.claimLocked(sub, c, ra, now); ok {
			e.setOfferLocked(c.key, ra, held, now)
			return ra, nil, nil
		}
	}
	var buf [1]lease.State
	states := e.allocStates(&buf)
	if len(states) == 0 {
		return netip.Addr{}, nil, ErrNoAddress
	}
	for _, from := range states {
		for i := range sub.Pools {
			a, err := e.db.Allocate(sub.Pools[i].Name, netip.Addr{}, from)
			if err != nil {
				if !errors.Is(err, lease.ErrPoolExhausted) {
					e.log.Error("allocate", "pool", sub.Pools[i].Name, "err", err)
				}
				continue
			}
			e.setOfferLocked(c.key, a, true, now)
			return a, nil, nil
		}
	}
	e.log.Warn("no free address", "subnet", sub.Prefix, "mac", c.hw.String())
	return netip.Addr{}, nil, ErrNoAddress
}

// takenByOtherLocked reports whether addr is offered to, being committed
// for, or bound to a client other than c: the cases where a NAK tells the
// client something true.
func (e *Engine) takenByOtherLocked(c client, addr netip.Addr, now time.Time) bool {
	if k, busy := e.busy[addr]; busy && k != c.key {
		return true
	}
	if o := e.offers[addr]; o != nil && o.key != c.key {
		return true
	}
	l, known := e.db.Get(addr)
	return known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry)
}

// claimLocked tries to take addr (in a pool of sub) for client c. It
// reports whether the address may be used, and whether it is now held
// (taken with Allocate, to be committed or Unheld).
func (e *Engine) claimLocked(sub *scope.Subnet, c client, addr netip.Addr, now time.Time) (held, ok bool) {
	if k, busy := e.busy[addr]; busy && k != c.key {
		return false, false
	}
	if o := e.offers[addr]; o != nil {
		if o.key != c.key {
			return false, false
		}
		return o.held, true
	}
	l, known := e.db.Get(addr)
	mine := known && l.Key() == c.key
	if known && !mine && l.State == lease.StateActive && now.Before(l.Expiry) {
		return false, false
	}
	var buf [1]lease.State
	states := e.allocStates(&buf)
	if known && (l.State == lease.StateAbandoned || l.State == lease.StateBackup && !mine && !slices.Contains(states, lease.StateBackup)) {
		return false, false
	}
	if mine && l.State == lease.StateActive {
		return false, true // already bound to this client: nothing to take
	}
	pool := sub.PoolOf(addr)
	if pool == nil {
		return false, false
	}
	if len(states) == 0 {
		return false, false // renewals only
	}
	for _, from := range states {
		got, err := e.db.Allocate(pool.Name, addr, from)
		if err == nil && got == addr {
			return true, true
		}
		if err == nil {
			e.db.Unhold(got)
		}
	}
	// Not in the free set, and nobody in this engine holds it (offers and
	// busy were checked under mu): the client's own expired or released
	// binding that the database keeps out of the free set is safe to reuse.
	if mine {
		return false, true
	}
	return false, false
}

// allocStates is the gate's list of pools to allocate from, in order
// (MultiPoolGate), else AllocateFrom's one, in buf; empty: renew only.
func (e *Engine) allocStates(buf *[1]lease.State) []lease.State {
	if m, ok := e.gate.(MultiPoolGate); ok {
		return m.AllocateFromAll()
	}
	if s, ok := e.gate.AllocateFrom(); ok {
		buf[0] = s
		return buf[:]
	}
	return nil
}

func (e *Engine) setOfferLocked(key string, addr netip.Addr, held bool, now time.Time) {
	if o := e.byKey[key]; o != nil && o.addr != addr {
		e.dropOfferLocked(o)
	}
	until := now.Add(e.cfg.Load().OfferHold)
	o := e.offers[addr]
	if o == nil {
		o = &offer{addr: addr, key: key}
		e.offers[addr] = o
		e.byKey[key] = o
	}
	o.held = o.held || held
	o.until = until
	e.offerQ = append(e.offerQ, offerRef{addr, until})
}

// dropOfferLocked forgets an offer and gives back its address.
func (e *Engine) dropOfferLocked(o *offer) {
	delete(e.offers, o.addr)
	if e.byKey[o.key] == o {
		delete(e.byKey, o.key)
	}
	if o.held {
		e.db.Unhold(o.addr)
	}
}

// takeOfferLocked removes an offer without giving back its address (it is
// about to be committed) and reports whether it was held.
func (e *Engine) takeOfferLocked(addr netip.Addr) bool {
	o := e.offers[addr]
	if o == nil {
		return false
	}
	delete(e.offers, addr)
	if e.byKey[o.key] == o {
		delete(e.byKey, o.key)
	}
	return o.held
}

// request handles DHCPREQUEST in its four client states (RFC 2131 §4.3.2).
func (e *Engine) request(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) (Reply, error) {
	reqIP := addr4(req.RequestedIPAddress())
	ciaddr := addr4(req.ClientIPAddr)
	if s := addr4(req.ServerIdentifier()); s.IsValid() {
		// SELECTING: the client chose an offer.
		if s != sid {
			// Another server's offer was chosen: ours lapses at once.
			e.mu.Lock()
			if o := e.byKey[c.key]; o != nil {
				e.dropOfferLocked(o)
			}
			e.mu.Unlock()
			return Reply{}, ErrOtherServer
		}
		if !reqIP.IsValid() {
			// "'requested IP address' MUST be filled in" (§4.3.2).
			return Reply{}, ErrMalformed
		}
		return e.bind(req, c, sub, sid, reqIP, now, true)
	}
	if reqIP.IsValid() && (ciaddr.IsUnspecified() || !ciaddr.IsValid()) {
		// INIT-REBOOT: NAK a wrong network or an address the server
		// knows is not this client's; silence when it has no record.
		if !sub.Prefix.Contains(reqIP) {
			return e.nak(req, sid, "wrong network", reqIP)
		}
		if r := sub.ReservationFor(c.id, c.hw); r != nil && r.Addr != reqIP {
			return e.nak(req, sid, "client has another reserved address", reqIP)
		}
		if r := sub.ReservationOf(reqIP); r != nil && sub.ReservationFor(c.id, c.hw) != r {
			return e.nak(req, sid, "reserved for another client", reqIP)
		}
		l, known := e.db.Get(reqIP)
		if known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry) {
			return e.nak(req, sid, "leased to another client", reqIP)
		}
		if mine, ok := e.db.ByClient(c.key); ok && mine.Addr != reqIP && mine.State == lease.StateActive && now.Before(mine.Expiry) {
			return e.nak(req, sid, "client holds another address", reqIP)
		}
		if !(known && l.Key() == c.key) && sub.ReservationOf(reqIP) == nil {
			return Reply{}, ErrNoRecord
		}
		return e.bind(req, c, sub, sid, reqIP, now, false)
	}
	if ciaddr.IsValid() && !ciaddr.IsUnspecified() {
		// RENEWING (unicast to us) or REBINDING (broadcast): ciaddr is
		// the client's address.
		if !sub.Prefix.Contains(ciaddr) {
			return e.nak(req, sid, "wrong network", ciaddr)
		}
		l, known := e.db.Get(ciaddr)
		if known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry) {
			return e.nak(req, sid, "leased to another client", ciaddr)
		}
		if !(known && l.Key() == c.key) && sub.ReservationOf(ciaddr) == nil {
			return Reply{}, ErrNoRecord
		}
		return e.bind(req, c, sub, sid, ciaddr, now, false)
	}
	return Reply{}, ErrMalformed
}

// bind commits addr to the client and returns the ACK, or a NAK when the
// address cannot be the client's.
func (e *Engine) bind(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid, addr netip.Addr, now time.Time, selecting bool) (Reply, error) {
	if !sub.Prefix.Contains(addr) {
		return e.nak(req, sid, "wrong network", addr)
	}
	res := sub.ReservationOf(addr)
	if res != nil && sub.ReservationFor(c.id, c.hw) != res {
		return e.nak(req, sid, "reserved for another client", addr)
	}
	if mine := sub.ReservationFor(c.id, c.hw); mine != nil && mine.Addr != addr {
		return e.nak(req, sid, "client has another reserved address", addr)
	}
	e.mu.Lock()
	if k, busy := e.busy[addr]; busy {
		e.mu.Unlock()
		if k == c.key {
			return Reply{}, ErrBusy // a retransmission while the first commit runs
		}
		return e.nak(req, sid, "being leased to another client", addr)
	}
	var held, ok bool
	if o := e.offers[addr]; o != nil && o.key == c.key {
		held, ok = e.takeOfferLocked(addr), true
	} else if res != nil {
		l, known := e.db.Get(addr)
		ok = !(known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry))
		if o != nil && o.key != c.key {
			ok = false
		}
	} else {
		held, ok = e.claimLocked(sub, c, addr, now)
	}
	if !ok {
		taken := e.takenByOtherLocked(c, addr, now)
		e.mu.Unlock()
		if selecting && !taken {
			// RFC 2131 §4.3.2: a server not selected by the REQUEST stays
			// silent. The shared server id cannot tell which box of a pair
			// made the offer, so an address that is not ours to give and
			// that no other client holds is the partner's offer: a NAK here
			// would make the client throw away the partner's good ACK.
			return Reply{}, ErrNotOffered
		}
		return e.nak(req, sid, "address not available", addr)
	}
	// The client's other offer (if it chose a different address) lapses.
	if o := e.byKey[c.key]; o != nil {
		e.dropOfferLocked(o)
	}
	e.busy[addr] = c.key
	e.mu.Unlock()

	prev, _ := e.db.Get(addr)
	lt := e.grant(req, c, sub, addr, now)
	l := lease.Lease{
		Addr:       addr,
		HWAddr:     append(net.HardwareAddr(nil), c.hw...),
		ClientID:   append([]byte(nil), c.id...),
		Hostname:   hostname(req, res),
		State:      lease.StateActive,
		Start:      now,
		Expiry:     now.Add(lt),
		CLTT:       now,
		StateStart: now,
	}
	renew := prev.State == lease.StateActive && prev.Key() == c.key
	if renew {
		l.Start, l.StateStart = prev.Start, prev.StateStart
		l.PotentialExpiry, l.AckedExpiry, l.PartnerExpiry = prev.PotentialExpiry, prev.AckedExpiry, prev.PartnerExpiry
	}
	// The commit runs in the engine's committer (commitLoop), batched with
	// other requests' leases into one db.Commit: the ACK is built only
	// after its lease is durable, and no worker waits for the fsync.
	p := &pendingCommit{lease: l}
	p.finish = func(err error) (Reply, error) {
		e.mu.Lock()
		delete(e.busy, addr)
		if err != nil && held {
			e.db.Unhold(addr)
		}
		e.mu.Unlock()
		if err != nil {
			e.log.Error("commit lease", "ip", addr, "mac", c.hw.String(), "err", err)
			return Reply{}, fmt.Errorf("%w: %w", ErrCommit, err)
		}
		event := "bind"
		if renew {
			event = "renew"
		}
		resp := e.newReply(req, dhcpv4.MessageTypeAck, sid)
		resp.ClientIPAddr = req.ClientIPAddr
		resp.YourIPAddr = net.IP(addr.AsSlice())
		setLeaseTime(resp, lt)
		e.addOptions(resp, req, sub, res)
		dest := destination(req, resp)
		e.eventBind[renewIndex(renew)].Inc()
		if e.log.Enabled(context.Background(), slog.LevelDebug) {
			e.log.Debug("lease "+event, "ip", addr, "mac", c.hw.String(), "client", clientLabel(c), "expiry", l.Expiry, "selecting", selecting, "dest", dest.Kind.String())
		}
		return Reply{Resp: resp, Dest: dest}, nil
	}
	return Reply{commit: p}, nil
}

func renewIndex(renew bool) int {
	if renew {
		return 1
	}
	return 0
}

// nak answers DHCPNAK when authoritative (RFC 2131 §4.3.2), else stays
// silent so that another server on the link can answer.
func (e *Engine) nak(req *dhcpv4.DHCPv4, sid netip.Addr, why string, addr netip.Addr) (Reply, error) {
	if !e.cfg.Load().Authoritative {
		return Reply{}, ErrNotAuthoritative
	}
	resp := e.newReply(req, dhcpv4.MessageTypeNak, sid)
	resp.Options[uint8(dhcpv4.OptionMessage)] = []byte(why)
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() && !gi.IsUnspecified() {
		// §4.3.2: through a relay, the NAK asks it to broadcast.
		resp.SetBroadcast()
	}
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("nak", "ip", addr, "mac", req.ClientHWAddr.String(), "reason", why)
	}
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

// release frees the client's binding (RFC 2131 §4.3.4). The client's
// identity stays on the record so it gets the same address next time.
func (e *Engine) release(req *dhcpv4.DHCPv4, c client, sid netip.Addr, now time.Time) error {
	if s := addr4(req.ServerIdentifier()); s.IsValid() && s != sid {
		return ErrOtherServer
	}
	addr := addr4(req.ClientIPAddr)
	return e.endBinding(c, addr, now, true, func(l *lease.Lease) {
		l.State = lease.StateReleased
		l.Expiry = now
	}, "release")
}

// decline marks an address the client found in use as ABANDONED for the
// probation period (RFC 2131 §4.3.3).
func (e *Engine) decline(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) error {
	if s := addr4(req.ServerIdentifier()); s.IsValid() && s != sid {
		return ErrOtherServer
	}
	addr := addr4(req.RequestedIPAddress())
	if !addr.IsValid() || !sub.Prefix.Contains(addr) {
		return ErrMalformed
	}
	probation := e.cfg.Load().DeclineProbation
	if probation <= 0 {
		probation = time.Hour
	}
	err := e.endBinding(c, addr, now, false, func(l *lease.Lease) {
		*l = lease.Lease{Addr: addr, State: lease.StateAbandoned, StateStart: now, Start: now, Expiry: now.Add(probation), CLTT: now}
	}, "decline")
	if err == nil {
		e.log.Warn("address declined by client: abandoned for the probation period", "ip", addr, "mac", c.hw.String(), "until", now.Add(probation))
		e.mu.Lock()
		e.abandonQ = append(e.abandonQ, abandoned{addr, now.Add(probation)})
		e.mu.Unlock()
	}
	return err
}

// endBinding commits a change to the client's own binding of addr.
// With active set, only an ACTIVE binding qualifies (RELEASE); otherwise any
// of the client's records or its offer does (DECLINE).
func (e *Engine) endBinding(c client, addr netip.Addr, now time.Time, active bool, change func(*lease.Lease), event string) error {
	if !addr.IsValid() || addr.IsUnspecified() {
		return ErrMalformed
	}
	e.mu.Lock()
	if _, busy := e.busy[addr]; busy {
		e.mu.Unlock()
		return ErrBusy
	}
	l, known := e.db.Get(addr)
	if o := e.offers[addr]; o != nil && o.key == c.key && !(known && l.Key() == c.key) {
		// DECLINE of an address only offered (a client that probes before
		// REQUEST): mark it too.
		e.takeOfferLocked(addr)
		l, known = lease.Lease{Addr: addr, HWAddr: c.hw, ClientID: c.id}, true
	}
	if !known || l.Key() != c.key || (active && l.State != lease.StateActive) || l.State == lease.StateAbandoned {
		e.mu.Unlock()
		return ErrNoRecord
	}
	e.busy[addr] = c.key
	e.mu.Unlock()
	change(&l)
	l.CLTT, l.StateStart = now, now
	_, err := e.db.Commit(l)
	e.mu.Lock()
	delete(e.busy, addr)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	e.m.Events.WithLabelValues(event).Inc()
	e.log.Debug("lease "+event, "ip", addr, "mac", c.hw.String(), "client", clientLabel(c))
	return nil
}

// inform answers DHCPINFORM with options only: no lease time, no yiaddr
// (RFC 2131 §4.3.5).
func (e *Engine) inform(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr) (Reply, error) {
	resp := e.newReply(req, dhcpv4.MessageTypeAck, sid)
	resp.ClientIPAddr = req.ClientIPAddr
	var res *scope.Reservation
	if ci := addr4(req.ClientIPAddr); ci.IsValid() {
		if r := sub.ReservationOf(ci); r != nil && r == sub.ReservationFor(c.id, c.hw) {
			res = r
		}
	}
	e.addOptions(resp, req, sub, res)
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

// grant is the lease time for addr: the client's request (option 51)
// clamped to [min, max], else the default (RFC 2131 §4.3.1), then capped by
// the gate (failover MCLT).
func (e *Engine) grant(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, addr netip.Addr, now time.Time) time.Duration {
	t := sub.Times
	lt := t.Default
	if b := req.Options.Get(dhcpv4.OptionIPAddressLeaseTime); len(b) == 4 {
		lt = time.Duration(binary.BigEndian.Uint32(b)) * time.Second
		if lt < t.Min {
			lt = t.Min
		}
		if t.Max > 0 && lt > t.Max {
			lt = t.Max
		}
	}
	l, _ := e.db.Get(addr)
	if l.Key() != c.key {
		l = lease.Lease{Addr: addr, HWAddr: c.hw, ClientID: c.id}
	}
	if capped := e.gate.LeaseTime(l, lt, now); capped < lt {
		lt = capped
	}
	if lt < time.Second {
		lt = time.Second
	}
	return lt.Truncate(time.Second)
}

func setLeaseTime(resp *dhcpv4.DHCPv4, lt time.Duration) {
	s := uint32(lt / time.Second)
	resp.Options[uint8(dhcpv4.OptionIPAddressLeaseTime)] = binary.BigEndian.AppendUint32(nil, s)
	// RFC 2131 §4.4.5: T1 = 0.5, T2 = 0.875 of the lease.
	resp.Options[uint8(dhcpv4.OptionRenewTimeValue)] = binary.BigEndian.AppendUint32(nil, s/2)
	resp.Options[uint8(dhcpv4.OptionRebindingTimeValue)] = binary.BigEndian.AppendUint32(nil, uint32(uint64(s)*7/8))
}

// newReply starts a reply per RFC 2131 Table 3.
func (e *Engine) newReply(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, sid netip.Addr) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		ClientHWAddr:  req.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	resp.Options[uint8(dhcpv4.OptionDHCPMessageType)] = []byte{byte(mt)}
	resp.Options[uint8(dhcpv4.OptionServerIdentifier)] = sid.AsSlice()
	// RFC 6842: echo the client identifier; RFC 3046 §2.2: echo option 82.
	if id := req.Options.Get(dhcpv4.OptionClientIdentifier); id != nil {
		resp.Options[uint8(dhcpv4.OptionClientIdentifier)] = id
	}
	if rai := req.Options.Get(dhcpv4.OptionRelayAgentInformation); rai != nil {
		resp.Options[uint8(dhcpv4.OptionRelayAgentInformation)] = rai
	}
	return resp
}

// alwaysSent are options sent even when the client's parameter request list
// omits them: most clients cannot work without them.
var alwaysSent = []uint8{1, 3, 6, 15, 28}

// addOptions adds the configured options the client asked for (option 55,
// RFC 2132 §9.8), plus alwaysSent; a client without a list gets them all.
func (e *Engine) addOptions(resp, req *dhcpv4.DHCPv4, sub *scope.Subnet, res *scope.Reservation) {
	get := func(code uint8) []byte {
		if res != nil {
			if v, ok := res.Options[code]; ok {
				return v
			}
		}
		return sub.Options[code]
	}
	prl := req.Options.Get(dhcpv4.OptionParameterRequestList)
	if len(prl) == 0 {
		for code, v := range sub.Options {
			resp.Options[code] = v
		}
		if res != nil {
			for code, v := range res.Options {
				resp.Options[code] = v
			}
		}
	} else {
		for _, code := range prl {
			if _, set := resp.Options[code]; set {
				continue // never let config override a server-owned option
			}
			if v := get(code); v != nil {
				resp.Options[code] = v
			}
		}
		for _, code := range alwaysSent {
			if v := get(code); v != nil {
				resp.Options[code] = v
			}
		}
	}
	if res != nil && res.Hostname != "" && (len(prl) == 0 || contains(prl, 12)) {
		resp.Options[12] = []byte(res.Hostname)
	}
	if dropped := fitReply(resp, req, prl); len(dropped) > 0 {
		e.log.Debug("reply trimmed to the client's maximum message size", "mac", req.ClientHWAddr.String(), "dropped_options", dropped)
	}
}

// minMaxMessage is the DHCP message every client must accept (RFC 2131 §2:
// a 576-octet IP datagram, so an options field of at least 312 octets) and
// the least value option 57 may carry (RFC 2132 §9.10).
const minMaxMessage = 576

// keptOptions are never dropped to fit a message: without them the reply
// is not a usable DHCP answer (type, server id, lease times, mask) or breaks
// the client's or relay's matching (client id, RFC 6842; option 82,
// RFC 3046 §2.2).
var keptOptions = [256]bool{1: true, 51: true, 53: true, 54: true, 58: true, 59: true, 61: true, 82: true}

// fitReply drops options from resp until its IP datagram fits the size the
// client accepts: its option 57 (RFC 2132 §9.10; counted, as ISC dhcpd and
// Kea do, with the IP and UDP headers), or 576 without one. Options the
// client did not ask for go first, then the requested ones from the end of
// its parameter request list (RFC 2132 §9.8 orders it by preference). It
// returns the codes dropped.
func fitReply(resp, req *dhcpv4.DHCPv4, prl []byte) []uint8 {
	limit := minMaxMessage
	if b := req.Options.Get(dhcpv4.OptionMaximumDHCPMessageSize); len(b) == 2 {
		limit = max(int(binary.BigEndian.Uint16(b)), minMaxMessage)
	}
	// IP (20) + UDP (8) + BOOTP fixed fields (236) + magic cookie (4) +
	// the end option (1).
	size := 20 + 8 + 236 + 4 + 1
	for _, v := range resp.Options {
		size += encodedLen(len(v))
	}
	if size <= limit {
		return nil
	}
	rank := func(code uint8) int { // higher: dropped first
		for i, c := range prl {
			if c == code {
				return i
			}
		}
		return 1000 + int(code)
	}
	var order []uint8
	for code := range resp.Options {
		if !keptOptions[code] {
			order = append(order, code)
		}
	}
	slices.SortFunc(order, func(a, b uint8) int { return rank(b) - rank(a) })
	var dropped []uint8
	for _, code := range order {
		if size <= limit {
			break
		}
		size -= encodedLen(len(resp.Options[code]))
		delete(resp.Options, code)
		dropped = append(dropped, code)
	}
	return dropped
}

// encodedLen is the length of an option of n value bytes on the wire: a
// value longer than 255 bytes is split into several instances (RFC 3396).
func encodedLen(n int) int {
	if n == 0 {
		return 2
	}
	return n + 2*((n+254)/255)
}

func contains(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func hostname(req *dhcpv4.DHCPv4, res *scope.Reservation) string {
	if res != nil && res.Hostname != "" {
		return res.Hostname
	}
	h := req.HostName()
	if len(h) > 63 {
		h = h[:63]
	}
	return h
}

func clientLabel(c client) string {
	if len(c.id) > 0 {
		return fmt.Sprintf("id:%x", c.id)
	}
	return c.hw.String()
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
