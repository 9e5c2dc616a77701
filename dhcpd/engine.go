package dhcpd

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
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

// Clock is the engine's time source (a clock.Clock serves).
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
	// Src is the request's IP source address and UDP port. A relay agent
	// sends from an address of its own and the server port 67 (RFC 8357
	// §1); a client from port 68, and from 0.0.0.0 until it has an address
	// (RFC 2131 §4.1). The zero value is a client's.
	Src netip.AddrPort
	// Unicast: the request was sent to one of this host's addresses, not
	// broadcast on the link. Only a unicast can come from a client on
	// another link (RENEWING, INFORM: RFC 2131 §4.3.2, §4.3.5), so only
	// then does ciaddr choose the subnet.
	Unicast bool
}

// Reply is the engine's decision: a message and where it goes. Resp is nil
// when nothing is sent (RELEASE, DECLINE).
type Reply struct {
	Resp *dhcpv4.DHCPv4
	Dest Dest

	// commit is set (and Resp nil) by bind: the reply is decided once the
	// lease is durable; HandleAsync queues it for the committer.
	commit *pendingCommit
	// probe is set (and Resp nil) by discover when the address must be
	// probed first (probe.go); HandleAsync runs the probe.
	probe *pendingProbe
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
	ErrInformNoCiaddr   DropReason = "inform-no-ciaddr" // RFC 2131 §4.3.5: the ACK goes to ciaddr
	// ErrNotOffered: a SELECTING request names our server id for an
	// address this server did not offer, may not allocate and nobody else
	// holds; in a pair both boxes carry the VIP as server id, so the offer
	// was the partner's (both VRRP masters during a partition).
	ErrNotOffered DropReason = "not-offered"

	// ErrClientGiaddr: giaddr set in a request that did not come from a
	// relay agent. Only a relay sets giaddr (RFC 2131 §4.1, §4.4.1 Table
	// 5: a client sends 0); answering would send the reply to an address
	// the sender chose and serve it from the relayed subnet it named.
	ErrClientGiaddr DropReason = "giaddr-from-client"
	// ErrUntrustedRelay: a relayed request from a source that
	// dhcp.trusted_relays, when set, does not list.
	ErrUntrustedRelay DropReason = "untrusted-relay"
	// ErrClientIDLong: a client identifier longer than the lease database
	// stores (see maxClientID); such a lease could be offered but never
	// committed.
	ErrClientIDLong DropReason = "client-id-too-long"

	// Per-source rates and offer bounds (Limits).
	ErrClientRate    DropReason = "rate-client"
	ErrCircuitRate   DropReason = "rate-circuit"
	ErrHWOffers      DropReason = "offers-chaddr"
	ErrCircuitOffers DropReason = "offers-circuit"
	ErrPoolOffers    DropReason = "offers-pool"
)

// maxClientID is the longest client identifier the lease database stores:
// its record gives the field one length byte (dhcpd/lease/doc.go, "Record
// payload"). Option 61 itself may be longer, split over several instances
// (RFC 3396), which the decoder joins.
const maxClientID = 255

// maxHWAddr is the longest chaddr the lease database stores: the 16 bytes
// of the field (RFC 2131 §2).
const maxHWAddr = 16

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
	lim      *limiter              // rate tables are lock-free; the counts are under mu

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
	onLease   func(LeaseEvent)      // EngineOptions.OnLease
	ignored   ignoredCounters

	gauges poolGauges

	probe *prober // nil: no Prober, never probes
}

// EngineOptions are the engine's collaborators. DB and Config are required.
type EngineOptions struct {
	Config   *scope.Config
	DB       LeaseDB
	Gate     Gate         // nil: SingleServer
	ServerID ServerIDFunc // nil: the receiving interface's address
	Clock    Clock        // nil: clock.Wall()
	Logger   *slog.Logger // nil: discard
	Metrics  *Metrics     // nil: unregistered collectors
	// CommitSpacing is the least time from the start of one group commit
	// to the start of the next: 0 is DefaultCommitSpacing, negative none.
	CommitSpacing time.Duration
	// CommitsInFlight bounds the db.Commit calls under way at once
	// (default 4). More than one pays off when a commit waits for more
	// than the local fsync: a failover pair's commit returns only once the
	// partner applied it (a lease is durable on both boxes before its ACK), so with one in flight
	// the pair's throughput would be a batch per round trip.
	CommitsInFlight int
	// Limits bound per-source request rates and the offers new clients
	// may hold; the zero value is DefaultLimits.
	Limits Limits
	// OnLease, when set, observes every lease change once it is durable
	// (the operator's event stream). It runs on the commit path and must
	// not block.
	OnLease func(LeaseEvent)
	// Prober probes addresses before they are offered (probe.go): with
	// dhcp.ping_check, and during a recovery window. nil: never.
	Prober Prober
}

// NewEngine builds an engine. It fills each subnet's subnet mask and
// broadcast options from its prefix unless the config sets them.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.Config == nil || o.DB == nil {
		return nil, errors.New("dhcpd: engine needs a config and a lease database")
	}
	e := &Engine{
		db: o.DB, gate: o.Gate, sid: o.ServerID, clock: o.Clock, log: o.Logger, m: o.Metrics, onLease: o.OnLease,
		offers: map[netip.Addr]*offer{}, byKey: map[string]*offer{}, busy: map[netip.Addr]string{},
	}
	if e.gate == nil {
		e.gate = SingleServer{}
	}
	if e.clock == nil {
		e.clock = clock.Wall()
	}
	e.lim = newLimiter(o.Limits, e.clock.Now())
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.m == nil {
		e.m, _ = NewMetrics(nil)
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
	e.ignored = newIgnoredCounters(e.m)
	if o.Prober != nil {
		e.probe = newProber(o.Prober, e.m)
		e.probe.always.Store(o.Config.PingCheck)
	}
	prepareConfig(o.Config)
	e.cfg.Store(o.Config)
	e.refreshPools()
	return e, nil
}

// prepareConfig fills the defaults NewEngine and Reconfigure apply: the
// offer hold, and each subnet's subnet mask (option 1) and broadcast
// address (option 28, RFC 2132 §3.3, §5.3) from its prefix. A configured
// mask other than the prefix's gets no derived broadcast address: the
// prefix's would contradict the mask the client is given (Kea and ISC
// dhcpd send none unless configured; the client computes it, RFC 1122
// §3.2.1.3).
func prepareConfig(c *scope.Config) {
	if c.OfferHold <= 0 {
		c.OfferHold = 10 * time.Second
	}
	c.Link()
	c.Index()
	for _, s := range c.Subnets {
		if s.Options == nil {
			s.Options = scope.Options{}
		}
		m := net.CIDRMask(s.Prefix.Bits(), 32)
		mask, ok := s.Options[1]
		if !ok {
			mask = []byte(m)
			s.Options[1] = mask
		}
		if _, ok := s.Options[28]; !ok && bytes.Equal(mask, m) {
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
	if e.probe != nil {
		e.probe.always.Store(cfg.PingCheck)
	}
	e.poolLimitsLocked(e.db.Stats())
	return nil
}

// client is the requester's identity.
type client struct {
	key string
	id  []byte
	hw  net.HardwareAddr
	src source // for the offer bounds (Limits)
	cls classified
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
	if p := rep.probe; p != nil && err == nil {
		p.in = in
		e.runProbe(p, done)
		return
	}
	done(rep, err)
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
	cfg := e.cfg.Load()
	if mt == dhcpv4.MessageTypeNone && !cfg.BOOTP {
		// RFC 2131 §4.1 lets a server answer BOOTP; dynamic BOOTP has no
		// lease end and cannot work with failover, so it is refused
		// (reserved hosts may use it: bootp in boot.go).
		return Reply{}, ErrBOOTP
	}
	c := client{id: req.Options.Get(dhcpv4.OptionClientIdentifier), hw: req.ClientHWAddr}
	if len(c.hw) == 0 && len(c.id) == 0 || len(c.hw) > maxHWAddr {
		return Reply{}, ErrMalformed
	}
	if len(c.id) > maxClientID {
		return Reply{}, ErrClientIDLong
	}
	c.key = lease.ClientKey(c.id, c.hw)
	relayed, err := fromTrustedRelay(req, in, cfg.TrustedRelays)
	if err != nil {
		return Reply{}, err
	}
	var rai *dhcpv4.RelayOptions
	if relayed {
		rai = req.RelayAgentInfo()
	}
	now := e.clock.Now()
	if c.src, err = e.admit(c, addr4(req.GatewayIPAddr), rai, now); err != nil {
		return Reply{}, err
	}
	sub := e.subnetFor(cfg, req, mt, in, relayed, rai)
	if sub == nil {
		return Reply{}, ErrNoSubnet
	}
	classify(cfg, req, sub, &c, rai)
	gc := Client{Key: c.key, HWAddr: c.hw, Secs: req.NumSeconds, Renewal: isRenewal(req, mt)}
	if len(c.id) > 0 {
		gc.ClientID = c.id
	}
	if !e.gateFor(sub).Serve(gc) {
		return Reply{}, ErrNotServing
	}
	sid, ok := e.serverID(in, sub)
	if !ok {
		return Reply{}, ErrNoServerID
	}
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
	case dhcpv4.MessageTypeNone:
		return e.bootp(req, c, sub, sid, now)
	}
	return Reply{}, ErrUnknownType
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
	// Any subnet of the shared network: the link's other subnets need
	// no address of the box, and the id must not change with the subnet
	// of the address a client gets (a SELECTING REQUEST names it).
	for _, s := range sub.Candidates() {
		for _, p := range in.IfAddrs {
			if s.Prefix.Contains(p.Addr()) {
				return p.Addr(), true
			}
		}
	}
	if len(in.IfAddrs) > 0 {
		return in.IfAddrs[0].Addr(), true
	}
	return netip.Addr{}, false
}

func clientLabel(c client) string {
	if len(c.id) > 0 {
		return fmt.Sprintf("id:%x", c.id)
	}
	return c.hw.String()
}
