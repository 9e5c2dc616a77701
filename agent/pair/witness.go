package pair

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// Witness is the LAN side of the partner's presence: the agent's ARP
// probes (netcfg). A VRRP master learns nothing about its partner from
// VRRP (backups are silent, RFC 5798 §6.4.3); while the sync link is down
// it asks the LAN for the partner's own addresses instead: a partner that
// answers is alive, whatever the sync cable says (failover.Presence).
type Witness interface {
	// OwnAddrs are this box's IPv4 addresses on the served links, not
	// the VIPs: what the partner probes.
	OwnAddrs() []netip.Addr
	// Probe asks the LAN who has addr; an error means the probe says
	// nothing (no carrier, no link in addr's subnet, a socket error).
	Probe(ctx context.Context, addr netip.Addr) (answered bool, err error)
}

// probeEvery is how often the partner is probed while the link is down;
// well under auto_partner_down, so a partner's answer is never far.
const probeEvery = 500 * time.Millisecond

// SetWitness (before Start) gives the pair its LAN witness: its own
// addresses go into the handshake, and while this node is VRRP master
// with the sync link down, Run probes the partner's.
func (p *Pair) SetWitness(w Witness) {
	p.witness = w
	if w != nil {
		p.agreedMu.Lock()
		p.ownLAN = w.OwnAddrs()
		p.agreedMu.Unlock()
	}
}

// probeLoop runs the witness until ctx ends.
func (p *Pair) probeLoop(ctx context.Context) {
	if p.witness == nil {
		return
	}
	last := 0 // 0 nothing said, 1 answered, 2 unanswered
	for {
		t := p.clock.NewTimer(probeEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		ev, ok := p.probeOnce(ctx)
		if !ok {
			last = 0
			continue
		}
		// One line when what the LAN says changes, for the operator.
		if st := map[bool]int{true: 1, false: 2}[ev.Answered]; st != last {
			last = st
			p.log.Info("partner LAN probe", "answered", ev.Answered, "partner_addrs", fmt.Sprint(*p.partnerLAN.Load()))
		}
		p.q.push(ev)
	}
}

// probeOnce probes the partner when this node is VRRP master and the
// sync link is down (probePartner); ok is false when there is nothing to
// say.
func (p *Pair) probeOnce(ctx context.Context) (failover.LANProbe, bool) {
	if p.link == nil {
		return failover.LANProbe{}, false
	}
	return p.probePartner(ctx, p.gate.Load().Master, p.link.Up())
}

// probePartner probes every address the partner gave, when master and
// the link is down: answered when any answered, unanswered only when at
// least one probe went out and none answered (a probe that failed says
// nothing).
func (p *Pair) probePartner(ctx context.Context, master, linkUp bool) (failover.LANProbe, bool) {
	lan := p.partnerLAN.Load()
	if lan == nil || len(*lan) == 0 || !master || linkUp || p.witness == nil {
		return failover.LANProbe{}, false
	}
	at := p.clock.Now()
	made := false
	for _, a := range *lan {
		answered, err := p.witness.Probe(ctx, a)
		if err != nil {
			p.log.Debug("partner LAN probe failed", "addr", a, "err", err)
			continue
		}
		if answered {
			return failover.LANProbe{At: at, Answered: true}, true
		}
		made = true
	}
	if !made {
		return failover.LANProbe{}, false
	}
	return failover.LANProbe{At: at}, true
}

// quietEvery is how often a load-balancing pair looks whether the sync
// link went quiet (peer.Link.Quiet): a lost partner's buckets are then
// answered within quietBound (two heartbeats) plus this.
const quietEvery = 50 * time.Millisecond

// quietLoop (load-balance) tells the machine when the sync link goes
// quiet and when the partner is heard again (failover.PartnerQuiet).
func (p *Pair) quietLoop(ctx context.Context) {
	if p.cfg.Mode != failover.LoadBalance {
		return
	}
	quiet := false
	for {
		t := p.clock.NewTimer(quietEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		q := p.link != nil && p.link.Quiet()
		if q == quiet {
			continue
		}
		quiet = q
		p.log.Info("partner's sync link quiet", "quiet", q)
		p.q.push(failover.PartnerQuiet{Quiet: q})
	}
}
