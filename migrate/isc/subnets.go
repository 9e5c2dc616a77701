package isc

import (
	"fmt"
	"net/netip"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

type subnet struct {
	cfg    config.SubnetConfig
	prefix netip.Prefix
	pos    migrate.Pos
	par    *params
	net    *sharedNet // nil: not in a shared network
	pools  []*pool
}

type sharedNet struct {
	name string
	pos  migrate.Pos
	par  *params
	subs []*subnet
}

type pool struct {
	pos    migrate.Pos
	par    *params
	sub    *subnet    // nil: a pool of a shared network, placed by address
	net    *sharedNet // the shared network it stands in, if any
	ranges []*prange
	// chain is the parameters of the scopes around the pool, innermost
	// first: a permit outside a pool applies to every pool inside.
	chain []*params
}

type prange struct {
	pos    migrate.Pos
	src    string
	lo, hi netip.Addr
	pool   *pool // nil: a range directly in a subnet
	sub    *subnet
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
		return netip.Addr{}, migrate.Errorf(s.Pos, "%s: %q is not an IPv4 address (hadhcpd does no DNS lookups: write the address)", s.word(0), s.word(i))
	}
	return a, nil
}

func (c *conv) subnet(s *Stmt, sc *scope) error {
	if len(s.Words) != 4 || s.word(2) != "netmask" || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `subnet ADDRESS netmask MASK { ... }`")
	}
	switch sc.kind {
	case "global", "shared-network", "group":
	default:
		return migrate.Errorf(s.Pos, "subnet inside %s", sc.kind)
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
	for _, o := range c.subnets {
		if o.prefix.Overlaps(p) {
			return migrate.Errorf(s.Pos, "subnet %s overlaps subnet %s", p, o.prefix)
		}
	}
	sub := &subnet{cfg: config.SubnetConfig{Subnet: p.String()}, prefix: p, pos: s.Pos, par: newParams()}
	c.subnets = append(c.subnets, sub)
	for e := sc; e != nil; e = e.parent {
		if e.net != nil && sub.net == nil {
			sub.net = e.net
			e.net.subs = append(e.net.subs, sub)
		}
		e.subs = append(e.subs, sub)
	}
	key := fmt.Sprintf("dhcp.subnets[%s]", p)
	if sub.net != nil {
		key = fmt.Sprintf("dhcp.shared_networks[%s].subnets[%s]", sub.net.name, p)
	}
	c.rep.Map(s.Pos, s.String(), key)
	c.block(s.Block, &scope{kind: "subnet", name: p.String(), key: key, sub: sub, net: sub.net, par: sub.par, parent: sc})
	return nil
}

// sharedNetwork: several subnets on one link (dhcpd.conf(5) "THE
// SHARED-NETWORK STATEMENT"), hadhcpd's shared_networks[].
func (c *conv) sharedNetwork(s *Stmt, sc *scope) error {
	if !s.HasBlock || len(s.Words) != 2 {
		return migrate.Errorf(s.Pos, "want `shared-network NAME { ... }`")
	}
	if sc.kind != "global" && sc.kind != "group" {
		return migrate.Errorf(s.Pos, "shared-network inside %s", sc.kind)
	}
	n := &sharedNet{name: s.word(1), pos: s.Pos, par: newParams()}
	for _, o := range c.nets {
		if o.name == n.name {
			return migrate.Errorf(s.Pos, "a second shared-network %q (the first is at %s)", n.name, o.pos)
		}
	}
	c.nets = append(c.nets, n)
	for e := sc; e != nil; e = e.parent {
		e.nets = append(e.nets, n)
	}
	key := "dhcp.shared_networks[" + n.name + "]"
	c.rep.Map(s.Pos, s.String(), key)
	c.block(s.Block, &scope{kind: "shared-network", name: n.name, key: key, net: n, par: n.par, parent: sc})
	return nil
}

// group: its parameters go to every declaration inside that does not set
// them itself.
func (c *conv) group(s *Stmt, sc *scope) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "group needs a { ... } block")
	}
	switch sc.kind {
	case "global", "group", "shared-network", "subnet":
	default:
		return migrate.Errorf(s.Pos, "group inside %s", sc.kind)
	}
	in := &scope{kind: "group", name: s.word(1), par: newParams(), parent: sc, sub: sc.sub, net: sc.net}
	c.rep.MapNote(s.Pos, s.String(), "(scope)", "its parameters are applied to the declarations inside")
	c.block(s.Block, in)
	g := in.par
	for _, n := range in.nets {
		n.par.inherit(g)
	}
	for _, sub := range in.subs {
		if sub.net == nil || !contains(in.nets, sub.net) {
			sub.par.inherit(g)
		}
	}
	for _, h := range in.hosts {
		h.par.inherit(g)
	}
	for _, p := range in.pools {
		p.par.inherit(&params{opts: g.opts})
	}
	for _, cl := range in.classes {
		cl.par.inherit(g)
	}
	return nil
}

func contains[T comparable](l []T, x T) bool {
	for _, e := range l {
		if e == x {
			return true
		}
	}
	return false
}

func (c *conv) pool(s *Stmt, sc *scope) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "pool needs a { ... } block")
	}
	if sc.sub == nil && sc.net == nil {
		return migrate.Errorf(s.Pos, "pool inside %s (pools belong in a subnet or shared-network)", sc.kind)
	}
	pl := &pool{pos: s.Pos, par: newParams(), sub: sc.sub, net: sc.net}
	pl.chain = []*params{pl.par}
	if sc.sub != nil {
		sc.sub.pools = append(sc.sub.pools, pl)
	}
	for e := sc; e != nil; e = e.parent {
		e.pools = append(e.pools, pl)
		if e.par != nil {
			pl.chain = append(pl.chain, e.par)
		}
	}
	in := &scope{kind: "pool", key: "pools[]", sub: sc.sub, net: sc.net, pool: pl, par: pl.par, parent: sc}
	c.rep.MapNote(s.Pos, s.String(), "pools[]", "each range of the pool becomes a pool with the pool's options and permits")
	var stmts []*Stmt
	for _, st := range s.Block {
		if st.word(0) == "failover" {
			if st.word(1) != "peer" || len(st.Words) != 3 || st.Words[2].kind != tString {
				c.rep.Invalid(st.Pos, st.String(), "want `failover peer \"NAME\";` in a pool")
				continue
			}
			c.poolPeer = append(c.poolPeer, st)
			c.rep.MapNote(st.Pos, st.String(), "failover", "the pool is replicated to the partner")
			continue
		}
		stmts = append(stmts, st)
	}
	c.block(stmts, in)
	return nil
}

func (c *conv) rangeStmt(s *Stmt, sc *scope) error {
	if sc.sub == nil && sc.pool == nil {
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
		c.rep.Unsupported(s.Pos, s.String(), "a dynamic-bootp range: hadhcpd refuses dynamic BOOTP (incompatible with failover); the range is imported for DHCP clients only")
	}
	r := &prange{pos: s.Pos, src: s.String(), lo: lo, hi: hi, pool: sc.pool, sub: sc.sub}
	if sc.pool != nil {
		sc.pool.ranges = append(sc.pool.ranges, r)
	}
	c.ranges = append(c.ranges, r)
	return nil
}
