package isc

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// partnerFile is the other box's dhcpd.conf (--partner-conf).
type partnerFile struct {
	name string
	data []byte
	load Loader
}

// The failover statements a secondary may take from its primary, indexes
// of conv.foSrc.
const (
	foMCLT = iota
	foSplitAt
	foLBMS
	foMRD
	foFields
)

// foAt remembers where a failover setting was read, for takePartner.
func (c *conv) foAt(i int, s *Stmt) { c.foSrc[i] = s }

// ParsePair is ParseConfig for one box of a failover pair, given the
// other box's dhcpd.conf (partner, read as pdata, its includes by load).
// dhcpd.conf(5) sets mclt and split (or hba) on the primary only, while
// hadhcpd's pair refuses its link until mode, mclt and
// max_response_delay agree (the secondary takes split and load balance
// max seconds from the primary at the handshake). So importing the
// secondary takes them from the primary's declaration of the same
// failover peer, each reported as mapped from the partner's file and
// line; importing the primary takes nothing.
func ParsePair(name string, data []byte, partner string, pdata []byte, load Loader) (*migrate.Result, error) {
	return parseConfig(name, data, load, &partnerFile{name: partner, data: pdata, load: load})
}

// findPeer reads the partner's file and returns its top-level
// `failover peer "name" { ... }` (nil if none), the names of the other
// failover peers it declares, and its syntax errors.
func (pf *partnerFile) findPeer(name string) (*Stmt, []string, []error) {
	p := newParser(newLexer(pf.name, bytes.NewReader(pf.data)), pf.load)
	p.tolerant = true
	var decl *Stmt
	var others []string
	var errs []error
	for {
		s, err := p.next()
		if err != nil {
			errs = append(errs, err)
			break
		}
		if s == nil {
			break
		}
		if s.word(0) != "failover" || s.word(1) != "peer" || !s.HasBlock {
			continue
		}
		if s.word(2) == name && decl == nil {
			decl = s
		} else {
			others = append(others, fmt.Sprintf("%q", s.word(2)))
		}
	}
	return decl, others, append(errs, p.errs...)
}

// takePartner completes this box's failover peer from the partner's
// declaration of the same peer (ParsePair). It takes nothing when the
// partner's declaration is missing, has the same role, or does not
// mirror this box's addresses: then --partner-conf is not this pair's
// other box, and the report says so.
func (c *conv) takePartner() {
	pf := c.partner
	decl, others, errs := pf.findPeer(c.foName)
	if decl == nil {
		why := fmt.Sprintf("no failover peer %q: nothing taken from it (is it the dhcpd.conf of this pair's other box?)", c.foName)
		if len(others) > 0 {
			why += "; it declares " + strings.Join(others, ", ")
		}
		c.rep.Invalid(migrate.Pos{}, "--partner-conf "+pf.name, why)
		for _, err := range errs {
			c.rep.Error(migrate.Pos{File: pf.name}, "--partner-conf "+pf.name, err)
		}
		return
	}
	p := &conv{rep: &migrate.Report{}}
	if err := p.failover(decl, &scope{kind: "global"}); err != nil {
		c.rep.Error(decl.Pos, decl.String(), err)
		return
	}
	// What is wrong in the partner's declaration is wrong for this box
	// too: a value it cannot read is not taken.
	for _, it := range p.rep.Items {
		if it.Kind == migrate.Invalid || it.Kind == migrate.Unsupported {
			c.rep.Items = append(c.rep.Items, it)
		}
	}
	pr := p.fo.Role
	switch {
	case pr == "":
		c.rep.Invalid(decl.Pos, decl.String(), "the partner's declaration is neither primary nor secondary: nothing taken from it")
		return
	case pr == c.fo.Role:
		c.rep.Invalid(decl.Pos, decl.String(), fmt.Sprintf("the partner is %s too: nothing taken from it (is it the dhcpd.conf of this pair's other box?)", pr))
		return
	}
	orISC := func(port int) int {
		if port == 0 {
			return iscFailoverPort
		}
		return port
	}
	mirror := true
	for _, m := range []struct {
		what      string
		theirs    netip.AddrPort
		ours, key string
		valid     bool
	}{
		{"address", netip.AddrPortFrom(p.foAddr, uint16(orISC(p.foPort))), c.fo.Peer, "peer address", p.foAddr.IsValid()},
		{"peer address", netip.AddrPortFrom(p.foPeer, uint16(orISC(p.foPeerPort))), c.fo.Listen, "address", p.foPeer.IsValid()},
	} {
		if m.valid && m.theirs.String() != m.ours {
			c.rep.Invalid(decl.Pos, decl.String(), fmt.Sprintf("the partner's %s and port %s are not this box's %s and port %s: nothing taken from it (is it the dhcpd.conf of this pair's other box?)", m.what, m.theirs, m.key, m.ours))
			mirror = false
		}
	}
	if !mirror {
		return
	}
	if c.fo.Role == "primary" {
		c.rep.Drop(decl.Pos, decl.String(), "the partner is the secondary and this box the primary: mclt and split are this box's own; nothing taken from it")
		return
	}
	f, pfo := c.fo, p.fo
	for _, fl := range []struct {
		at        int
		key, why  string
		same      bool
		take      func()
		refusable bool
	}{
		{foMCLT, "failover.mclt", "ISC sets it on the primary only", f.MCLT == pfo.MCLT, func() { f.MCLT = pfo.MCLT }, true},
		{foSplitAt, "failover.mode, failover.split", "ISC sets it on the primary only", c.foSplit != nil && p.foSplit != nil && *c.foSplit == *p.foSplit, func() { c.foSplit = p.foSplit }, false},
		{foLBMS, "failover.load_balance_max_seconds", "the secondary takes the primary's at the handshake", f.LoadBalanceMaxSeconds == pfo.LoadBalanceMaxSeconds, func() { f.LoadBalanceMaxSeconds = pfo.LoadBalanceMaxSeconds }, false},
		{foMRD, "failover.max_response_delay", "this box sets none, and the pair must agree on it", f.MaxResponseDelay == pfo.MaxResponseDelay, func() { f.MaxResponseDelay = pfo.MaxResponseDelay }, true},
	} {
		src, own := p.foSrc[fl.at], c.foSrc[fl.at]
		if src == nil || (own != nil && fl.same) {
			continue
		}
		fl.take()
		note := "the primary's, from --partner-conf: " + fl.why
		if own != nil {
			note = fmt.Sprintf("the primary's, from --partner-conf; it replaces this box's own %q (%s)", own.String(), own.Pos)
			if fl.refusable {
				note += ": hadhcpd refuses the failover link while the two boxes' differ"
			} else {
				note += ": the secondary takes the primary's at the handshake"
			}
		}
		c.rep.MapNote(src.Pos, src.String(), fl.key, note)
	}
}
