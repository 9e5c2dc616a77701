package pair

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// Witness is the LAN side of the partner's presence: the agent's ARP
// probes (netcfg). A VRRP master learns nothing about its partner from
// VRRP (backups are silent, RFC 5798 §6.4.3); while the sync link is down
// it asks the LAN for the partner's own addresses instead: a partner that
// answers is alive, whatever the sync cable says (failover.Presence).
// Every box also asks once when the sync link turns quiet (quietLANLoop),
// so no commit waits for a partner gone from both.
type Witness interface {
	// OwnAddrs are this box's IPv4 addresses on the served links, not
	// the VIPs: what the partner probes.
	OwnAddrs() []netip.Addr
	// Probe asks the LAN who has addr; an error means the probe says
	// nothing (no carrier, no link in addr's subnet, a socket error).
	// ctx's deadline, when it has one, bounds the probe (the quick
	// question of a quiet sync link); it is concurrency-safe.
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
	if !master || linkUp {
		return failover.LANProbe{}, false
	}
	at := p.clock.Now()
	answered, made := p.askLAN(ctx)
	if !made {
		return failover.LANProbe{}, false
	}
	return failover.LANProbe{At: at, Answered: answered}, true
}

// askLAN probes every address the partner gave, all at once (one live
// box on any served link is enough, and the question must not take
// longer with more links): answered when any answered; made when at least
// one probe went out (a probe that failed says nothing). ctx's deadline
// bounds each probe.
func (p *Pair) askLAN(ctx context.Context) (answered, made bool) {
	lan := p.partnerLAN.Load()
	if lan == nil || len(*lan) == 0 || p.witness == nil {
		return false, false
	}
	type result struct {
		answered bool
		err      error
	}
	res := make(chan result, len(*lan))
	for _, a := range *lan {
		go func() {
			ans, err := p.witness.Probe(ctx, a)
			if err != nil {
				p.log.Debug("partner LAN probe failed", "addr", a, "err", err)
			}
			res <- result{ans, err}
		}()
	}
	for range *lan {
		r := <-res
		if r.err == nil {
			made = true
			answered = answered || r.answered
		}
	}
	return answered, made
}

// quietProbeTimeout bounds the LAN witness's question when the sync link
// turns quiet (three ARP requests within it, netcfg.ProbeARP): a live box
// on the same LAN answers in well under a millisecond, and the commits of
// a lost partner wait on this answer.
const quietProbeTimeout = 75 * time.Millisecond

// onQuiet (the link's watchdog, peer.Quiet: must not block) hands the
// question to quietLANLoop; one waiting question is enough.
func (p *Pair) onQuiet(ev peer.Quiet) {
	p.log.Debug("sync link quiet", "silent", ev.Silent, "pending", ev.Pending)
	select {
	case p.quiet <- struct{}{}:
	default:
	}
}

// quietLANLoop asks the LAN whether the partner is there each time the
// sync link turns quiet (peer.Quiet: at most once per quiet stretch, so
// never in a tight loop), until ctx ends. A box lost while it was VRRP
// backup sends no advert whose absence would tell the master (RFC 5798
// §6.4.3), so without this the master's commits would wait for the
// link's ack bound; a cut sync cable cannot fake the answer (the partner
// still answers ARP on the served links).
func (p *Pair) quietLANLoop(ctx context.Context) {
	if p.witness == nil {
		return
	}
	last := quietUnasked
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.quiet:
		}
		last = p.quietCheck(ctx, last)
	}
}

// What a quiet link's question found (quietCheck).
const (
	quietUnasked  = iota // no probe could be made
	quietAnswered        // the partner answered on some link
	quietReleased        // silent on the LAN and on the link: released
	quietHeard           // silent on the LAN, but the link heard it meanwhile
)

// quietCheck asks the LAN once: a partner that answers nowhere, with the
// sync link quiet since before the question, is gone on both paths
// (peer.Link.PartnerAbsent releases every commit at once); one that
// answers anywhere is alive (a cut sync cable, invariant 1), and the
// link's own rules stand. It returns what it found; a finding like last
// is logged at debug level only (a partner of an older release, which
// heartbeats every max_response_delay/3, leaves the link quiet every
// second).
func (p *Pair) quietCheck(ctx context.Context, last int) int {
	if p.link == nil {
		return last
	}
	since := p.clock.Now()
	qctx, cancel := context.WithTimeout(ctx, quietProbeTimeout)
	answered, made := p.askLAN(qctx)
	cancel()
	found, msg := quietUnasked, "sync link quiet; the LAN witness could not ask"
	switch {
	case !made:
	case answered:
		found, msg = quietAnswered, "sync link quiet but the partner answers on the LAN: link kept"
	case p.link.PartnerAbsent(since):
		found, msg = quietReleased, "sync link quiet and the partner silent on the LAN: partner unreachable"
	default:
		found, msg = quietHeard, "partner silent on the LAN but heard on the sync link meanwhile: link kept"
	}
	lvl := slog.LevelInfo
	if found == last && found != quietReleased {
		lvl = slog.LevelDebug
	}
	p.log.Log(ctx, lvl, msg, "asked_for", p.clock.Now().Sub(since))
	return found
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
