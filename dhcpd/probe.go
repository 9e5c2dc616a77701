package dhcpd

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

// Probing before an offer (RFC 2131 §2.2: "the allocating server SHOULD
// probe the reused address before allocating the address, e.g., with an
// ICMP echo request"; §4.4.1 lets the client ARP too). The engine probes
// an address it is about to offer from the free set when dhcp.ping_check
// is on, and always during a recovery window: after a lease database
// recovery that lost records on a box without a partner to resync from,
// for one max_lease_time, the engine cannot prove from its records that a
// free address is free (invariant 1). An address that answers is marked
// ABANDONED for the decline probation, as if its client had DECLINEd it,
// and another is tried.
//
// A probe waits up to the probe timeout; the request's goroutine does not
// wait with it (HandleAsync answers from the probe's goroutine), so other
// clients are served meanwhile.

// Prober asks the network whether an address is in use. netcfg implements
// it with ARP on directly attached links and ICMP echo beyond relays.
type Prober interface {
	// InUse reports whether anything answered for t.Addr before ctx
	// ended. An error means the probe could not be made (no socket); the
	// engine then offers the address, counting the failure.
	InUse(ctx context.Context, t ProbeTarget) (bool, error)
}

// ProbeTarget is an address to probe and where.
type ProbeTarget struct {
	Addr netip.Addr
	// Direct: the client's subnet is on the receiving interface (Iface,
	// IfIndex), where ARP reaches the address; otherwise it is behind a
	// relay and only ICMP echo does.
	Direct  bool
	Iface   string
	IfIndex int
}

const (
	// DefaultProbeTimeout is how long a probe waits for an answer (ISC's
	// ping-timeout is 1 s; a client waits about 4 s for its first OFFER,
	// RFC 2131 §4.1, so half a second leaves room for a second try).
	DefaultProbeTimeout = 500 * time.Millisecond
	// maxProbeAttempts bounds the addresses probed for one DISCOVER: an
	// address that answered is abandoned and the next tried.
	maxProbeAttempts = 3
	// maxProbesInFlight bounds the probes under way (a goroutine and a
	// socket each): a storm of DISCOVERs during a recovery window must
	// not open thousands of sockets.
	maxProbesInFlight = 256
)

// Drop reasons of probing.
const (
	ErrProbing    DropReason = "probing"      // a probe of this client's offer is under way: its retransmission waits for it
	ErrProbeLimit DropReason = "probe-limit"  // maxProbesInFlight probes are under way
	ErrProbeInUse DropReason = "probe-in-use" // every address tried answered a probe
)

// prober is the engine's probing state.
type prober struct {
	p      Prober
	always atomic.Bool  // dhcp.ping_check
	until  atomic.Int64 // unix ns: the recovery window's end; 0: none
	sem    chan struct{}
	m      probeMetrics

	mu       sync.Mutex
	active   bool      // the window was active at the last check (for its log lines)
	warnedAt time.Time // the last log line of a failed probe
}

// probeWarnEvery spaces the log lines of failed probes: one a minute says
// that addresses go out unprobed without a line per DISCOVER.
const probeWarnEvery = time.Minute

type probeMetrics struct {
	probes *prometheus.CounterVec // result: free, in-use, error
	window prometheus.Gauge
}

func newProber(p Prober, m *Metrics) *prober {
	return &prober{p: p, sem: make(chan struct{}, maxProbesInFlight),
		m: probeMetrics{probes: m.Probes, window: m.ProbeWindow}}
}

// pendingProbe is a DISCOVER waiting for the probe of the address chosen
// for it.
type pendingProbe struct {
	req    *dhcpv4.DHCPv4
	c      client
	sub    *scope.Subnet
	sid    netip.Addr
	addr   netip.Addr
	in     Inbound // set by HandleAsync
	tries  int     // addresses probed before this one
	direct bool
}

// SetRecoveryProbing makes the engine probe every address it offers from
// the free set until until (the zero time ends the window): the agent
// calls it after a recovery that lost records on a box without a partner.
func (e *Engine) SetRecoveryProbing(until time.Time) {
	if e.probe == nil {
		return
	}
	var ns int64
	if !until.IsZero() {
		ns = until.UnixNano()
	}
	e.probe.until.Store(ns)
	e.probeWindow(e.clock.Now())
}

// RecoveryProbing reports the end of the recovery probing window, or the
// zero time when none is active (status).
func (e *Engine) RecoveryProbing() time.Time {
	if e.probe == nil {
		return time.Time{}
	}
	if ns := e.probe.until.Load(); ns != 0 && e.clock.Now().UnixNano() < ns {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// probeWindow logs the window's start and end and sets its gauge; Tick
// calls it every second.
func (e *Engine) probeWindow(now time.Time) {
	pr := e.probe
	if pr == nil {
		return
	}
	ns := pr.until.Load()
	active := ns != 0 && now.UnixNano() < ns
	pr.mu.Lock()
	was := pr.active
	pr.active = active
	pr.mu.Unlock()
	switch {
	case active && !was:
		pr.m.window.Set(1)
		e.log.Warn("recovery probing: every address offered from a pool is probed first (ARP, ICMP echo), because the lease database lost records and no partner can restore them",
			"until", time.Unix(0, ns).UTC())
	case !active && was:
		pr.m.window.Set(0)
		e.log.Info("recovery probing window ended: every lease lost in the recovery has expired")
	}
}

// probing reports whether addresses offered now must be probed.
func (e *Engine) probing(now time.Time) bool {
	pr := e.probe
	if pr == nil {
		return false
	}
	if pr.always.Load() {
		return true
	}
	ns := pr.until.Load()
	return ns != 0 && now.UnixNano() < ns
}

// needProbe is discover's one question: must addr, just chosen for c's
// OFFER, be probed first? Only an address taken from the free set is
// (not a reservation, nor the client's own binding, which the client
// itself would answer), and only once per offer. It returns the probe to
// run, or nil to offer now; a retransmission while the offer's probe runs
// is dropped (ErrProbing). prev is addr's stored lease, if any.
func (e *Engine) needProbe(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid, addr netip.Addr, res *scope.Reservation, prev lease.Lease, now time.Time) (*pendingProbe, error) {
	if res != nil || !e.probing(now) {
		return nil, nil
	}
	if prev.Addr.IsValid() && prev.Key() == c.key {
		return nil, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.offers[addr]
	if o == nil || o.key != c.key || o.probed {
		return nil, nil
	}
	if o.probing {
		return nil, ErrProbing
	}
	o.probing = true
	gi := addr4(req.GatewayIPAddr)
	return &pendingProbe{req: req, c: c, sub: sub, sid: sid, addr: addr, direct: !gi.IsValid() || gi.IsUnspecified()}, nil
}

// runProbe probes p's address in the background (HandleAsync) and
// answers done: the OFFER when nothing answered, else the next address,
// probed in turn, up to maxProbeAttempts.
func (e *Engine) runProbe(p *pendingProbe, done func(Reply, error)) {
	pr := e.probe
	select {
	case pr.sem <- struct{}{}:
	default:
		e.probeDone(p, false)
		done(Reply{}, ErrProbeLimit)
		return
	}
	go func() {
		defer func() { <-pr.sem }()
		for {
			inUse := e.probeOne(p)
			now := e.clock.Now()
			if inUse {
				e.abandonInUse(p, now)
				if p.tries+1 >= maxProbeAttempts {
					done(Reply{}, ErrProbeInUse)
					return
				}
			} else {
				e.probeDone(p, true)
			}
			// Once more through discover: the probed offer is answered
			// now, or another address was chosen and needs its probe.
			rep, err := e.discover(p.req, p.c, p.sub, p.sid, now)
			if err != nil || rep.probe == nil {
				done(rep, err)
				return
			}
			next := rep.probe
			next.in, next.tries = p.in, p.tries+1
			if next.tries >= maxProbeAttempts {
				e.probeDone(next, false)
				done(Reply{}, ErrProbeInUse)
				return
			}
			p = next
		}
	}()
}

// probeOne asks the Prober about p's address, within the timeout.
func (e *Engine) probeOne(p *pendingProbe) bool {
	pr := e.probe
	timeout := e.cfg.Load().PingTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	inUse, err := pr.p.InUse(ctx, ProbeTarget{Addr: p.addr, Direct: p.direct, Iface: p.in.Iface, IfIndex: p.in.IfIndex})
	switch {
	case err != nil:
		pr.m.probes.WithLabelValues("error").Inc()
		now := e.clock.Now()
		pr.mu.Lock()
		warn := pr.warnedAt.IsZero() || now.Sub(pr.warnedAt) >= probeWarnEvery
		if warn {
			pr.warnedAt = now
		}
		pr.mu.Unlock()
		if warn {
			// Offering is safer than refusing everybody, but the operator
			// must know that the probes do not work (CAP_NET_RAW?).
			e.log.Warn("probe failed; addresses are offered unprobed (hadhcpd_dhcp_probes_total{result=\"error\"} counts them)", "ip", p.addr, "err", err)
		}
		return false
	case inUse:
		pr.m.probes.WithLabelValues("in-use").Inc()
		return true
	}
	pr.m.probes.WithLabelValues("free").Inc()
	return false
}

// probeDone ends the probe of p's offer: probed marks it as checked (the
// next DISCOVER answers at once).
func (e *Engine) probeDone(p *pendingProbe, probed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o := e.offers[p.addr]; o != nil && o.key == p.c.key {
		o.probing = false
		o.probed = o.probed || probed
	}
}

// abandonInUse marks p's address, which answered a probe, ABANDONED for
// the decline probation, as a DECLINE would (RFC 2131 §4.3.3), and
// forgets the offer: the client gets another address.
func (e *Engine) abandonInUse(p *pendingProbe, now time.Time) {
	addr := p.addr
	probation := e.cfg.Load().DeclineProbation
	if probation <= 0 {
		probation = time.Hour
	}
	e.mu.Lock()
	o := e.offers[addr]
	if o == nil || o.key != p.c.key {
		e.mu.Unlock()
		return // the offer lapsed meanwhile: nothing of ours to mark
	}
	if _, busy := e.busy[addr]; busy {
		e.mu.Unlock()
		return
	}
	held := e.takeOfferLocked(addr)
	e.busy[addr] = p.c.key
	e.mu.Unlock()
	_, err := e.db.Commit(lease.Lease{Addr: addr, State: lease.StateAbandoned, StateStart: now, Start: now, Expiry: now.Add(probation), CLTT: now})
	e.mu.Lock()
	delete(e.busy, addr)
	if err == nil {
		e.abandonQ = append(e.abandonQ, abandoned{addr, now.Add(probation)})
	}
	e.mu.Unlock()
	if err != nil {
		if held {
			e.db.Unhold(addr)
		}
		e.log.Error("probe: mark an address in use as abandoned", "ip", addr, "err", fmt.Errorf("%w: %w", ErrCommit, err))
		return
	}
	e.m.Events.WithLabelValues("probe-abandon").Inc()
	e.log.Warn("address answered a probe before it was offered: abandoned for the probation period", "ip", addr,
		"mac", p.c.hw.String(), "probe", map[bool]string{true: "arp", false: "icmp"}[p.direct], "until", now.Add(probation))
}
