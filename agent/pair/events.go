package pair

import (
	"fmt"
	"net/netip"

	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/hadhcpd/hadhcpd/vrrp"
)

// onLinkEvent turns the link's events into machine events (peer.Options
// OnEvent: called from the link's goroutines, must not block).
func (p *Pair) onLinkEvent(ev peer.Event) {
	switch ev := ev.(type) {
	case peer.Up:
		p.linkGen.Add(1)
		p.partnerName.Store(&ev.PartnerName)
		p.skew.Store(int64(ev.Skew))
		if ev.ConfigMatch {
			p.configMatch.Store(1)
		} else {
			p.configMatch.Store(2)
		}
		p.log.Info("peer link up", "partner", ev.PartnerName, "remote", ev.Remote,
			"partner_state", failover.State(ev.PartnerState).String(), "partner_acked_seq", ev.PartnerAckedSeq,
			"our_last_seq", ev.OurLastSeq, "resume", ev.Resume, "config_match", ev.ConfigMatch, "skew", ev.Skew)
		p.q.push(failover.LinkUp{Partner: failover.State(ev.PartnerState), PartnerMaintenance: ev.PartnerMaintenance,
			PartnerAckedSeq: ev.PartnerAckedSeq, OurLastSeq: ev.OurLastSeq})
	case peer.Down:
		p.linkGen.Add(1)
		p.log.Info("peer link down", "reason", ev.Reason)
		p.q.push(failover.LinkDown{})
	case peer.Quiet:
		p.onQuiet(ev)
	case peer.PartnerState:
		p.q.push(failover.PartnerState{State: failover.State(ev.State), Maintenance: ev.Maintenance})
	case peer.ResyncDone:
		p.log.Info("peer resync done", "snapshot", ev.Snapshot, "records", ev.Records)
		p.q.push(failover.ResyncDone{})
	case peer.ConfigReceived:
		p.log.Info("config from primary", "hash", fmt.Sprintf("%x", ev.Hash), "err", ev.Err)
		switch {
		case ev.Err == nil && p.sec != nil && fmt.Sprintf("%x", ev.Hash) == p.sec.ConfigHash():
			p.configMatch.Store(1) // applied: both serve the primary's section now
		case ev.Err == nil:
			p.configMatch.Store(2) // applied, but served with other global keys (a relationship of several)
		}
	case peer.ConfigVerdict:
		p.log.Info("config verdict from secondary", "hash", fmt.Sprintf("%x", ev.Hash), "accepted", ev.Accepted, "reason", ev.Reason)
		if ev.Accepted && p.sec != nil && fmt.Sprintf("%x", ev.Hash) == p.sec.ConfigHash() {
			p.configMatch.Store(1)
		} else {
			p.configMatch.Store(2)
		}
	}
}

// onVRRPTransition (instance goroutine): mastership changes, and the
// master-down takeovers the machine weighs as VRRP-path evidence
// (failover.Presence.MasterDown tells silence from preemption).
func (p *Pair) onVRRPTransition(t vrrp.Transition) {
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
func (p *Pair) onVRRPAdvert(_ netip.Addr, _ uint8) {
	p.q.push(failover.VRRPAdvert{At: p.clock.Now()})
}

// advertsStopped (Run's goroutine) tells the link that the partner's
// adverts, heard before, stopped. No ACK of this takeover may wait
// max_response_delay for its acks: if the sync link is quiet too, the
// partner is gone and the link releases every commit at once. If the link
// is demonstrably alive (a VRRP-only partition), it stays up and commits
// wait only while the partner keeps answering. Only the link sees its own
// frames, so it judges its own quietness (peer.Link.PartnerSilent).
func (p *Pair) advertsStopped() {
	if p.link == nil {
		return
	}
	if p.link.PartnerSilent() {
		p.log.Info("partner's VRRP adverts stopped and the sync link is quiet: partner unreachable", "vrrp_instance", p.inst)
	} else {
		p.log.Info("partner's VRRP adverts stopped but the sync link is alive: link kept", "vrrp_instance", p.inst)
	}
}
