package isc

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

type subnet struct {
	cfg    config.SubnetConfig
	prefix netip.Prefix
	pos    migrate.Pos
	set    map[string]bool // options the subnet sets itself
}

type prange struct {
	pos    migrate.Pos
	src    string
	lo, hi netip.Addr
	sub    *subnet // nil: in a pool of a shared-network; found by address
}

func maskBits(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

func addr4(s *Stmt, i int) (netip.Addr, error) {
	a, err := netip.ParseAddr(s.word(i))
	if err != nil || !a.Is4() {
		return netip.Addr{}, migrate.Errorf(s.Pos, "%s: %q is not an IPv4 address", s.word(0), s.word(i))
	}
	return a, nil
}

func (c *conv) subnet(s *Stmt, sc *scope) error {
	if len(s.Words) != 4 || s.word(2) != "netmask" || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `subnet ADDRESS netmask MASK { ... }`")
	}
	a, err := addr4(s, 1)
	if err != nil {
		return err
	}
	m, err := addr4(s, 3)
	if err != nil {
		return err
	}
	bits := maskBits(m)
	if bits < 0 {
		return migrate.Errorf(s.Pos, "netmask %s is not contiguous", m)
	}
	p := netip.PrefixFrom(a, bits)
	if p.Masked().Addr() != a {
		return migrate.Errorf(s.Pos, "%s is not the network address of a /%d (that is %s)", a, bits, p.Masked().Addr())
	}
	sub := &subnet{cfg: config.SubnetConfig{Subnet: p.String(), Options: map[string]any{}}, prefix: p, pos: s.Pos, set: map[string]bool{}}
	for _, o := range c.subnets {
		if o.prefix.Overlaps(p) {
			return migrate.Errorf(s.Pos, "subnet %s overlaps subnet %s", p, o.prefix)
		}
	}
	c.subnets = append(c.subnets, sub)
	for e := sc; e != nil; e = e.parent {
		e.subs = append(e.subs, sub)
	}
	c.rep.Map(s.Pos, s.String(), fmt.Sprintf("dhcp.subnets[%s]", p))
	return c.block(s.Block, &scope{kind: "subnet", sub: sub, parent: sc})
}

// container handles shared-network and group: their parameters go to
// every subnet (and host) declared inside.
func (c *conv) container(s *Stmt, sc *scope, kind string) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "%s needs a { ... } block", kind)
	}
	if sc.kind != "global" && !(kind == "group" && (sc.kind == "group" || sc.kind == "shared-network" || sc.kind == "subnet")) {
		return migrate.Errorf(s.Pos, "%s inside %s", kind, sc.kind)
	}
	in := &scope{kind: kind, name: s.word(1), inherit: map[string]any{}, parent: sc, sub: sc.sub}
	if kind == "shared-network" {
		c.rep.MapNote(s.Pos, s.String(), "dhcp.subnets[]", "its subnets become ordinary subnets: hadhcpd picks the subnet by the receiving interface's address or the relay's giaddr")
	} else {
		c.rep.MapNote(s.Pos, s.String(), "(scope)", "its parameters are applied to the declarations inside")
	}
	if err := c.block(s.Block, in); err != nil {
		return err
	}
	for _, sub := range in.subs {
		for k, v := range in.inherit {
			if !sub.set[k] {
				sub.cfg.Options[k] = v
				sub.set[k] = true
			}
		}
		ts := []**time.Duration{&sub.cfg.DefaultLeaseTime, &sub.cfg.MaxLeaseTime, &sub.cfg.MinLeaseTime}
		for i, t := range in.times {
			if t != nil && *ts[i] == nil {
				*ts[i] = t
			}
		}
	}
	for _, h := range in.hosts {
		if kind != "group" {
			break // a shared-network's options reach its hosts through their subnet
		}
		for k, v := range in.inherit {
			if _, ok := h.options[k]; !ok {
				h.options[k] = v
			}
		}
	}
	return nil
}

func (c *conv) pool(s *Stmt, sc *scope) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "pool needs a { ... } block")
	}
	if sc.kind != "subnet" && sc.kind != "shared-network" {
		return migrate.Errorf(s.Pos, "pool inside %s (pools belong in a subnet or shared-network)", sc.kind)
	}
	c.rep.MapNote(s.Pos, s.String(), "dhcp.subnets[].pools[]", "each range of the pool becomes a pool")
	in := &scope{kind: "pool", sub: sc.sub, parent: sc}
	for _, st := range s.Block {
		if st.word(0) == "failover" {
			if st.word(1) != "peer" || len(st.Words) != 3 || st.Words[2].kind != tString {
				return migrate.Errorf(st.Pos, "want `failover peer \"NAME\";` in a pool")
			}
			c.poolPeer = append(c.poolPeer, st)
			c.rep.MapNote(st.Pos, st.String(), "failover", "the pool is replicated to the partner")
			continue
		}
		if err := c.stmt(st, in); err != nil {
			return err
		}
	}
	return nil
}

func (c *conv) rangeStmt(s *Stmt, sc *scope) error {
	if sc.kind != "subnet" && sc.kind != "pool" {
		return migrate.Errorf(s.Pos, "range inside %s (ranges belong in a subnet or pool)", sc.kind)
	}
	w := s.Words[1:]
	bootp := false
	if len(w) > 0 && w[0].str() == "dynamic-bootp" {
		bootp = true
		w = w[1:]
	}
	if len(w) < 1 || len(w) > 2 {
		return migrate.Errorf(s.Pos, "want `range [dynamic-bootp] LOW [HIGH];`")
	}
	lo, err := netip.ParseAddr(w[0].str())
	if err != nil || !lo.Is4() {
		return migrate.Errorf(s.Pos, "range: %q is not an IPv4 address", w[0].str())
	}
	hi := lo
	if len(w) == 2 {
		if hi, err = netip.ParseAddr(w[1].str()); err != nil || !hi.Is4() {
			return migrate.Errorf(s.Pos, "range: %q is not an IPv4 address", w[1].str())
		}
	}
	if hi.Less(lo) {
		lo, hi = hi, lo // dhcpd accepts either order
	}
	if sc.sub != nil && (!sc.sub.prefix.Contains(lo) || !sc.sub.prefix.Contains(hi)) {
		return migrate.Errorf(s.Pos, "range %s-%s is not inside subnet %s", lo, hi, sc.sub.prefix)
	}
	if bootp {
		c.rep.Unsupported(s.Pos, s.String(), "a dynamic-bootp range: hadhcpd refuses BOOTP (incompatible with failover); the range is imported for DHCP clients only")
	}
	c.ranges = append(c.ranges, &prange{pos: s.Pos, src: s.String(), lo: lo, hi: hi, sub: sc.sub})
	return nil
}
