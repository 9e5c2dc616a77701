package pair

import (
	"fmt"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
)

// Status is the failover part of `hadhcpd status`.
func (p *Pair) Status() *control.FailoverStatus {
	ag := p.Agreed()
	fs := &control.FailoverStatus{Role: p.cfg.Role.String(), Mode: p.cfg.Mode.String(), State: "STARTUP", PartnerState: "UNKNOWN",
		Split: ag.Split, MCLTSeconds: ag.MCLT.Seconds(), MaxResponseDelaySeconds: ag.MaxResponseDelay.Seconds(),
		LoadBalanceMaxSeconds: ag.LoadBalanceMaxSeconds, StandbyShare: ag.StandbyShare}
	if d := p.disagree.Load(); d != nil {
		fs.ParamsRefused = *d
	}
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
	if p.sec != nil {
		fs.ConfigHash = p.sec.ConfigHash()
	}
	if p.rel != "" {
		fs.ConfigHash = fmt.Sprintf("%x", *p.relHash.Load())
	}
	if m := p.configMatch.Load(); m != 0 {
		match := m == 1
		fs.ConfigMatch = &match
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
