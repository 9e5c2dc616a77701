package failover

import (
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Request is what the gate needs to know about a client message.
type Request struct {
	ClientID []byte // option 61, if any
	HWAddr   []byte // chaddr, hlen bytes
	Secs     uint16 // the secs field
	// Renewal: a DHCPREQUEST in RENEWING or REBINDING state (RFC 2131
	// §4.3.2: ciaddr set, no server identifier, no requested address).
	Renewal bool
}

// Policy is an immutable snapshot of what the machine allows, for the DHCP
// engine's workers. Time-dependent rules (the MCLT of PARTNER-DOWN) are
// evaluated against the now each method gets, so a snapshot stays right
// until the machine's state changes. The zero Policy serves nothing.
type Policy struct {
	State       State
	Role        Role
	Mode        Mode
	Master      bool // VRRP master of failover.vrrp_instance
	Maintenance bool
	Fit         bool

	mclt       time.Duration
	split      int
	maxSecs    int
	share      float64
	respond    bool      // the state answers clients at all
	balanced   bool      // load-balance NORMAL: the hash decides new clients
	serveFrom  time.Time // nothing is answered before (stale PARTNER-DOWN)
	allPools   bool      // PARTNER-DOWN: the partner's pool too, from allFrom
	allFrom    time.Time //
	transfers  bool      // NORMAL with the link up: pool balancing runs
	ownPool    lease.State
	otherPool  lease.State
	allReclaim bool // PARTNER-DOWN: reclaim without the partner's ack after LatestEnd
}

// Policy returns the machine's current policy. The agent publishes it to
// the Gate after every Handle.
func (m *Machine) Policy() Policy {
	p := Policy{
		State: m.state, Role: m.cfg.Role, Mode: m.cfg.Mode, Master: m.master,
		Maintenance: m.maint, Fit: m.fit,
		mclt: m.cfg.MCLT, split: m.cfg.Split, maxSecs: m.cfg.LoadBalanceMaxSeconds,
		ownPool: m.cfg.Role.ownPool(),
	}
	if p.ownPool == lease.StateFree {
		p.otherPool = lease.StateBackup
	} else {
		p.otherPool = lease.StateFree
	}
	p.respond = m.state.responsive() && !m.maint
	if m.cfg.Mode == HotStandby && !m.master {
		p.respond = false // hot-standby: only the VRRP master answers
	}
	// A partner in maintenance answers nobody, and one whose link went
	// quiet (PartnerQuiet) may be gone: the hash would leave its buckets
	// unanswered, so this node answers every client (from its own pool,
	// so no address can be given twice) until the partner is back.
	p.balanced = m.cfg.Mode == LoadBalance && m.state == Normal && !m.partnerMaint && !m.partnerQuiet
	if m.state == PartnerDown {
		p.allPools, p.allFrom, p.allReclaim = true, m.allFrom(), true
		if !m.pdOwnAtOnce {
			p.serveFrom = p.allFrom
		}
	}
	p.transfers = m.state == Normal && m.pres.LinkIsUp() && !m.maint
	// Effective BACKUP share: in load-balance it follows the split; in
	// hot-standby the box that serves holds the large share, so a
	// secondary that stays master (preempt off) is not starved.
	switch {
	case m.cfg.Mode == LoadBalance:
		p.share = float64(256-m.cfg.Split) / 256
	case m.cfg.Role == Secondary && m.master,
		m.cfg.Role == Primary && !m.master && m.pres.AdvertsHeard():
		p.share = 1 - m.cfg.StandbyShare
	default:
		p.share = m.cfg.StandbyShare
	}
	return p
}

// Serve reports whether this node answers the client now. Hot-standby:
// only the VRRP master, in a responsive state. Load-balance in NORMAL:
// renewals and rebinds from anyone (draft §5.5), other messages only for
// the clients whose RFC 3074 bucket is ours, or whose secs exceeds
// load_balance_max_seconds (the partner seems not to answer them);
// in COMMUNICATIONS-INTERRUPTED and PARTNER-DOWN every client.
func (p Policy) Serve(now time.Time, r Request) bool {
	if !p.respond || now.Before(p.serveFrom) {
		return false
	}
	if !p.balanced || r.Renewal || int(Secs(r.Secs)) > p.maxSecs {
		return true
	}
	primary := PrimaryBucket(LoadBalanceHash(LoadBalanceKey(r.ClientID, r.HWAddr)), p.split)
	return primary == (p.Role == Primary)
}

// Secs is the secs field as the load-balance rule reads it. Some
// clients (Windows among them) write it little-endian, so 3 s arrives as
// 768 and would make both boxes answer a first DISCOVER. A value above
// 255 whose low byte is zero is taken as byte-swapped, the rule ISC dhcpd
// applies when built with SECS_BYTEORDER (load_balance_mine).
//
// Why it is safe: the misreading only ever lowers secs, so it can only
// make a box leave a client to its partner's bucket, never answer twice.
// The one client it misjudges is one that truly waited a multiple of 256
// seconds (over four minutes): that one transmission is answered by the
// owner of its bucket only, as any fresh client is, and its next
// retransmission (secs no longer a multiple of 256) by both. A partner
// that is gone is handled by the failover states, not by secs.
func Secs(secs uint16) uint16 {
	if secs > 0xff && secs&0xff == 0 {
		return secs >> 8
	}
	return secs
}

// Pools lists the binding states this node may allocate new addresses
// from now, in the order to try: its own pool (primary FREE, secondary
// BACKUP, draft §5.4) and, in PARTNER-DOWN once MCLT has passed since the
// partner was last heard, the partner's too. Nil: allocate nothing.
func (p Policy) Pools(now time.Time) []lease.State {
	if !p.respond || now.Before(p.serveFrom) {
		return nil
	}
	if p.allPools && !now.Before(p.allFrom) {
		return []lease.State{p.ownPool, p.otherPool}
	}
	return []lease.State{p.ownPool}
}

// MayAllocate reports whether an address in binding state st may be given
// to a new client now.
func (p Policy) MayAllocate(now time.Time, st lease.State) bool {
	for _, s := range p.Pools(now) {
		if s == st {
			return true
		}
	}
	return false
}

// LeaseTime is the lease to grant l's client and the potential expiry to
// record and send the partner (Grant with PartnerKnows(l)). In every state
// the cap holds: without the partner's acks (COMMUNICATIONS-INTERRUPTED,
// PARTNER-DOWN) leases shrink to at most MCLT past what it acknowledged.
func (p Policy) LeaseTime(now time.Time, l lease.Lease, desired time.Duration) (time.Duration, time.Time) {
	return Grant(now, PartnerKnows(l), desired, p.mclt)
}

// Reclaimable reports whether an EXPIRED, RELEASED or RESET address may be
// made FREE (available to another client) now. partnerHas is true when the
// partner acknowledged the record that put it in that state.
//
// Draft §5.2.2 asks for that ack outside PARTNER-DOWN, and in PARTNER-DOWN
// for MCLT past the partner's departure and past the lease's expiry. Here
// the address must also be past LatestEnd in every state: a renewal the
// partner granted unseen (in COMMUNICATIONS-INTERRUPTED, then lost with its
// journal) may run until MCLT past the potential expiry it held, and an ack
// from a partner that lost its journal proves nothing about it. The cost
// is that an expired address rests about desired/2 + MCLT before reuse.
func (p Policy) Reclaimable(now time.Time, l lease.Lease, partnerHas bool) bool {
	switch l.State {
	case lease.StateExpired, lease.StateReleased, lease.StateReset:
	default:
		return false
	}
	if now.Before(LatestEnd(l, p.mclt)) {
		return false
	}
	if partnerHas {
		return true
	}
	return p.allReclaim && !now.Before(p.allFrom)
}

// Transfer says which of its own available addresses this node should
// hand to its partner now to keep the pool balance (Rebalance): n
// addresses from state from to state to. Only in NORMAL with the link up;
// the records go over the link like any other.
func (p Policy) Transfer(st lease.PoolStats) (n int, from, to lease.State) {
	if !p.transfers {
		return 0, 0, 0
	}
	toBackup, toFree := Rebalance(st, p.share, DefaultThreshold(st))
	if p.Role == Primary && toBackup > 0 {
		return toBackup, lease.StateFree, lease.StateBackup
	}
	if p.Role == Secondary && toFree > 0 {
		return toFree, lease.StateBackup, lease.StateFree
	}
	return 0, 0, 0
}

// BackupShare is the fraction of available addresses the secondary should
// hold as BACKUP under this policy.
func (p Policy) BackupShare() float64 { return p.share }

// Gate is what the DHCP engine holds: the latest published Policy, safe
// for concurrent readers. The machine's goroutine calls Store after every
// Handle; the agent adapts Gate to the engine's interface.
type Gate struct{ p atomic.Pointer[Policy] }

// Store publishes a policy.
func (g *Gate) Store(p Policy) { g.p.Store(&p) }

// Load returns the current policy (the zero Policy, serving nothing,
// before the first Store).
func (g *Gate) Load() Policy {
	if p := g.p.Load(); p != nil {
		return *p
	}
	return Policy{}
}

// Serve, Pools, MayAllocate, LeaseTime and Reclaimable ask the current policy.
func (g *Gate) Serve(now time.Time, r Request) bool { return g.Load().Serve(now, r) }
func (g *Gate) Pools(now time.Time) []lease.State   { return g.Load().Pools(now) }
func (g *Gate) MayAllocate(now time.Time, st lease.State) bool {
	return g.Load().MayAllocate(now, st)
}
func (g *Gate) LeaseTime(now time.Time, l lease.Lease, desired time.Duration) (time.Duration, time.Time) {
	return g.Load().LeaseTime(now, l, desired)
}
func (g *Gate) Reclaimable(now time.Time, l lease.Lease, partnerHas bool) bool {
	return g.Load().Reclaimable(now, l, partnerHas)
}
