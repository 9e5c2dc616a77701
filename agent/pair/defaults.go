package pair

import (
	"github.com/hadhcpd/hadhcpd/sync/defaults"
	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// OnDefaults registers fn for the global defaults the partner sends
// (failover.defaults_from; the agent decides with sync/defaults whether
// to take and forward them). Called before Start; fn runs on the link's
// reader goroutine.
func (p *Pair) OnDefaults(fn func(defaults.Set)) {
	p.opts.OnDefaults = func(d peer.Defaults) {
		fn(defaults.Set{Source: d.Source, Serial: d.Serial, Hash: d.Hash, Body: d.Body})
	}
}

// SendDefaults hands s to the link: sent to the partner on every connect,
// and now if the link is up. After Start.
func (p *Pair) SendDefaults(s defaults.Set) error {
	return p.link.SendDefaults(peer.Defaults{Source: s.Source, Serial: s.Serial, Hash: s.Hash, Body: s.Body})
}

// PartnerName is the partner's node name from the last handshake ("" before
// the first).
func (p *Pair) PartnerName() string {
	if n := p.partnerName.Load(); n != nil {
		return *n
	}
	return ""
}
