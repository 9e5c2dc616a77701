package isc

import (
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// finish places ranges and hosts into their subnets, writes every
// declaration's parameters into the config, and fills the defaults where
// ISC's differ from hadhcpd's.
func (c *conv) finish() {
	d := c.cfg.DHCP
	var order []*class // of d.ClientClasses
	for _, cl := range c.order {
		cc := config.ClientClassConfig{Name: cl.name, Test: cl.test, Match: cl.match, Members: cl.members}
		if cl.test != "" && cl.match != "" {
			// `match if` guards a lookup table (dhcpd.conf(5): a client
			// is a member when the guard holds and its key is listed):
			// the table becomes a class of its own before this one.
			keys := config.ClientClassConfig{Name: cl.name + ":keys", Match: cl.match, Members: cl.members}
			d.ClientClasses = append(d.ClientClasses, keys)
			order = append(order, cl)
			cc.Match, cc.Members = "", nil
			cc.Test = "member('" + keys.Name + "') and (" + cl.test + ")"
			c.rep.MapNote(cl.pos, "class "+cl.name, "dhcp.client_classes["+keys.Name+"], dhcp.client_classes["+cl.name+"]", "the lookup table of a guarded class is a class of its own: "+cc.Test)
		}
		cc.Options = c.finishOpts(cl.par, "dhcp.client_classes["+cl.name+"]")
		cc.NextServer, cc.ServerName, cc.BootFile = cl.par.next, cl.par.sname, cl.par.file
		cc.DefaultLeaseTime, cc.MaxLeaseTime, cc.MinLeaseTime, cc.RenewTime, cc.RebindTime = cl.par.times[0], cl.par.times[1], cl.par.times[2], cl.par.times[3], cl.par.times[4]
		if cl.only != "" && len(c.subnets) > 1 && hasParams(cl.par) {
			c.rep.Unsupported(cl.pos, "if ... (in "+cl.only+")", "the condition stood inside "+cl.only+"; as client class "+cl.name+" it applies in every subnet: add a test on the subnet's clients (for example pkt4.giaddr) or move it")
		}
		d.ClientClasses = append(d.ClientClasses, cc)
		order = append(order, cl)
	}
	for i, err := range migrate.ClassErrors(d.ClientClasses, d.OptionDefinitions) {
		cl := order[i]
		c.rep.Unsupported(cl.pos, "class "+cl.name, "the translated test does not compile in hadhcpd's class language: "+err.Error())
	}
	c.placeRanges()
	c.placeHosts()
	c.finishAuth()
	for _, n := range c.nets {
		nc := config.SharedNetworkConfig{Name: n.name}
		nc.Options = c.finishOpts(n.par, "dhcp.shared_networks["+n.name+"]")
		nc.NextServer, nc.ServerName, nc.BootFile = n.par.next, n.par.sname, n.par.file
		nc.DefaultLeaseTime, nc.MaxLeaseTime, nc.MinLeaseTime, nc.RenewTime, nc.RebindTime = n.par.times[0], n.par.times[1], n.par.times[2], n.par.times[3], n.par.times[4]
		for _, s := range n.subs {
			if len(s.cfg.Pools) == 0 && len(s.cfg.Reservations) == 0 {
				// check-config wants a pool or a reservation in every
				// subnet, a shared network's too.
				c.rep.Drop(s.pos, "subnet "+s.prefix.String(), "no range and no host: left out of shared network "+n.name+"; if the link's own address or a relay's giaddr is in it, list that address in dhcp.shared_networks["+n.name+"].relays")
				continue
			}
			nc.Subnets = append(nc.Subnets, c.finishSubnet(s))
		}
		if len(nc.Subnets) == 0 {
			c.rep.Drop(n.pos, "shared-network "+n.name, "no subnet")
			continue
		}
		d.SharedNetworks = append(d.SharedNetworks, nc)
	}
	for _, s := range c.subnets {
		if s.net != nil {
			continue
		}
		if len(s.cfg.Pools) == 0 && len(s.cfg.Reservations) == 0 {
			c.rep.Drop(s.pos, "subnet "+s.prefix.String(), "no range and no host: hadhcpd needs no declaration for a network it does not serve")
			continue
		}
		d.Subnets = append(d.Subnets, c.finishSubnet(s))
	}
	g := c.global
	d.Options = c.finishOpts(g, "dhcp")
	d.NextServer, d.ServerName, d.BootFile = g.next, g.sname, g.file
	if g.times[0] != nil {
		d.DefaultLeaseTime = *g.times[0]
	}
	if g.times[1] != nil {
		d.MaxLeaseTime = *g.times[1]
	}
	if g.times[2] != nil {
		d.MinLeaseTime = *g.times[2]
	}
	if g.times[3] != nil {
		d.RenewTime = *g.times[3]
	}
	if g.times[4] != nil {
		d.RebindTime = *g.times[4]
	}
	d.BOOTP = c.bootp
	if d.DefaultLeaseTime == 0 {
		d.DefaultLeaseTime = iscDefaultLease
		c.rep.Invent("dhcp.default_lease_time", "12h", "ISC's default-lease-time")
	}
	if d.MaxLeaseTime == 0 {
		d.MaxLeaseTime = max(iscMaxLease, d.DefaultLeaseTime)
		c.rep.Invent("dhcp.max_lease_time", migrate.FormatDuration(d.MaxLeaseTime), "ISC's max-lease-time")
	}
	for _, st := range c.poolPeer {
		if c.fo == nil || st.word(2) != c.foName {
			c.rep.Invalid(st.Pos, st.String(), fmt.Sprintf("failover peer %q is not declared", st.word(2)))
		}
	}
	if c.fo != nil {
		if err := c.finishFailover(); err != nil {
			c.rep.Error(c.foPos, "failover peer "+c.foName, err)
		}
	} else if c.partner != nil {
		c.rep.Drop(migrate.Pos{}, "--partner-conf "+c.partner.name, "this box declares no failover peer: nothing taken from its partner's file")
	}
}

func hasParams(p *params) bool {
	return len(p.opts) > 0 || p.next != "" || p.sname != "" || p.file != "" || p.vspace != "" || len(p.sub) > 0 || p.times != [5]*time.Duration{}
}

// subKey is the subnet's key in the written config.
func subKey(s *subnet) string {
	if s.net != nil {
		return "dhcp.shared_networks[" + s.net.name + "].subnets[" + s.prefix.String() + "]"
	}
	return "dhcp.subnets[" + s.prefix.String() + "]"
}

func (c *conv) finishSubnet(s *subnet) config.SubnetConfig {
	sc := s.cfg
	key := subKey(s)
	sc.Options = c.finishOpts(s.par, key)
	sc.NextServer, sc.ServerName, sc.BootFile = s.par.next, s.par.sname, s.par.file
	sc.DefaultLeaseTime, sc.MaxLeaseTime, sc.MinLeaseTime, sc.RenewTime, sc.RebindTime = s.par.times[0], s.par.times[1], s.par.times[2], s.par.times[3], s.par.times[4]
	return sc
}

// finishOpts writes a scope's options, with option 43 (or another
// encapsulating option) built from the sub-options of its space.
func (c *conv) finishOpts(p *params, key string) map[string]any {
	opts := map[string]any{}
	for k, v := range p.opts {
		opts[k] = v
	}
	var vivso []any
	var names []string
	for name := range c.spaces {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sp := c.spaces[name]
		if len(p.sub[name]) == 0 {
			continue
		}
		if sp.enterprise != 0 {
			vivso = append(vivso, migrate.VIVSOEntry(sp.enterprise, name, p.sub[name], ""))
		}
		if sp.carrier != "" {
			opts[sp.carrier] = migrate.VendorSpecific(name, p.sub[name])
		}
	}
	if len(vivso) > 0 {
		opts["vivso_suboptions"] = vivso
	}
	vs := p.vspace
	if vs == "" && c.global.vspace != "" && len(p.sub[c.global.vspace]) > 0 {
		vs = c.global.vspace // dhcpd.conf's global vendor space with this scope's values
	}
	if vs != "" && c.spaces[vs].carrier == "" {
		subs := map[string]any{}
		maps.Copy(subs, c.global.sub[vs])
		maps.Copy(subs, p.sub[vs])
		if len(subs) == 0 {
			// The space is chosen here (a class) and its values set
			// elsewhere (a subnet): take them from there.
			var from []string
			for _, o := range c.allParams() {
				if len(o.p.sub[vs]) == 0 {
					continue
				}
				if len(from) == 0 {
					maps.Copy(subs, o.p.sub[vs])
				}
				from = append(from, o.key)
			}
			if len(from) > 1 {
				c.rep.Unsupported(p.pos, key+".options.vendor_specific", fmt.Sprintf("space %s is chosen here and its options are set in %s: hadhcpd's option 43 is set in one place; the values of %s are used", vs, strings.Join(from, ", "), from[0]))
			}
		}
		if len(subs) > 0 {
			opts["vendor_specific"] = map[string]any{"space": vs, "options": subs}
		}
	}
	return migrate.FinishOptions(opts)
}

type keyedParams struct {
	key string
	p   *params
}

func (c *conv) allParams() []keyedParams {
	out := []keyedParams{{"dhcp", c.global}}
	for _, n := range c.nets {
		out = append(out, keyedParams{"shared-network " + n.name, n.par})
	}
	for _, s := range c.subnets {
		out = append(out, keyedParams{"subnet " + s.prefix.String(), s.par})
	}
	for _, h := range c.hosts {
		out = append(out, keyedParams{"host " + h.name, h.par})
	}
	return out
}

// placeRanges makes each range a pool of its subnet, with its pool's
// options and the permits of the pool and the scopes around it.
func (c *conv) placeRanges() {
	for _, r := range c.ranges {
		sub := r.sub
		if sub == nil {
			for _, s := range c.subnets {
				if s.prefix.Contains(r.lo) && s.prefix.Contains(r.hi) {
					sub = s
				}
			}
			if sub == nil {
				c.rep.Invalid(r.pos, r.src, fmt.Sprintf("range %s-%s is inside no declared subnet", r.lo, r.hi))
				continue
			}
		}
		pc := config.PoolConfig{Range: r.lo.String() + "-" + r.hi.String()}
		var chain []*params
		if r.pool != nil {
			pc.Options = c.finishOpts(r.pool.par, "pools[]")
			chain = r.pool.chain
		} else {
			chain = []*params{sub.par, c.global}
			if sub.net != nil {
				chain = append(chain, sub.net.par)
			}
		}
		for _, p := range chain {
			pc.Allow = appendNew(pc.Allow, p.allow...)
			pc.Deny = appendNew(pc.Deny, p.deny...)
		}
		sub.cfg.Pools = append(sub.cfg.Pools, pc)
		c.rep.Map(r.pos, r.src, fmt.Sprintf("%s.pools[%d]", subKey(sub), len(sub.cfg.Pools)-1))
		if n, b := netBcast(sub.prefix); within(n, r.lo, r.hi) || within(b, r.lo, r.hi) {
			c.rep.MapNote(r.pos, r.src, "pools[]", "the range holds the subnet's network or broadcast address: hadhcpd never gives those two out")
		}
	}
}

func netBcast(p netip.Prefix) (netip.Addr, netip.Addr) {
	p = p.Masked()
	b := p.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	l := n | (1<<(32-p.Bits()) - 1)
	return p.Addr(), netip.AddrFrom4([4]byte{byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)})
}

func within(a, lo, hi netip.Addr) bool { return !a.Less(lo) && !hi.Less(a) }

func appendNew(l []string, xs ...string) []string {
	for _, x := range xs {
		if !contains(l, x) {
			l = append(l, x)
		}
	}
	return l
}

// knownUsed reports whether anything tells known from unknown clients:
// then a host without fixed-address matters (it makes its client known).
func (c *conv) knownUsed() bool {
	for _, cl := range c.cfg.DHCP.ClientClasses {
		if strings.Contains(cl.Test, "known") {
			return true
		}
	}
	for _, s := range c.subnets {
		for _, p := range s.cfg.Pools {
			if contains(p.Allow, "known") || contains(p.Allow, "unknown") || contains(p.Deny, "known") || contains(p.Deny, "unknown") {
				return true
			}
		}
	}
	return false
}

// placeHosts makes each host a reservation: in the subnet of its
// fixed-address, else (a host that only names a client, to make it known
// or give it parameters) in the subnet it is declared in, or every subnet
// of its shared network, or every subnet.
func (c *conv) placeHosts() {
	known := c.knownUsed()
	for _, h := range c.hosts {
		src := "host " + h.name
		if len(h.ids) == 0 && h.v6 {
			c.rep.Drop(h.pos, src, "a DHCPv6 host: hadhcpd serves DHCPv4")
			continue
		}
		if len(h.ids) == 0 {
			c.rep.Unsupported(h.pos, src, "no hardware ethernet, dhcp-client-identifier or host-identifier: dhcpd cannot match it either")
			continue
		}
		// A reservation holds hw_address and client_id together (either
		// matches, as in dhcpd); a relay identifier stands alone.
		id := h.ids[0]
		res := h.res
		var kept []hostID
		for _, x := range h.ids {
			relay := x.kind == "circuit_id" || x.kind == "remote_id"
			switch {
			case len(kept) > 0 && (relay || kept[0].kind == "circuit_id" || kept[0].kind == "remote_id"):
				c.rep.Drop(x.pos, x.src, fmt.Sprintf("host %s is matched by its %s: a reservation by a relay identifier has no other", h.name, kept[0].kind))
				continue
			case x.kind == "hw_address" && res.HWAddress != "", x.kind == "client_id" && res.ClientID != "":
				c.rep.Drop(x.pos, x.src, "a second "+x.kind+" of host "+h.name+": the last one is kept, as dhcpd does")
			}
			kept = append(kept, x)
			switch x.kind {
			case "hw_address":
				res.HWAddress = x.val
			case "client_id":
				res.ClientID = x.val
			case "circuit_id":
				res.CircuitID = x.val
			case "remote_id":
				res.RemoteID = x.val
			}
		}
		res.Options = c.finishOpts(h.par, "reservations["+h.name+"]")
		res.NextServer, res.ServerName, res.BootFile = h.par.next, h.par.sname, h.par.file
		var subs []*subnet
		switch {
		case h.fixed.IsValid():
			for _, s := range c.subnets {
				if s.prefix.Contains(h.fixed) {
					subs = []*subnet{s}
				}
			}
			if subs == nil {
				c.rep.Unsupported(h.pos, src, fmt.Sprintf("fixed-address %s is inside no declared subnet", h.fixed))
				continue
			}
		case !known && !hasParams(h.par) && res.Hostname == "":
			c.rep.Drop(h.pos, src, "no fixed-address and no parameters: in dhcpd it only makes the client known, and nothing here tells known clients apart")
			continue
		case h.sub != nil:
			subs = []*subnet{h.sub}
		case h.net != nil:
			subs = h.net.subs
		default:
			subs = c.subnets
		}
		var keys []string
		for _, s := range subs {
			s.cfg.Reservations = append(s.cfg.Reservations, res)
			keys = append(keys, fmt.Sprintf("%s.reservations[%d]", subKey(s), len(s.cfg.Reservations)-1))
		}
		if len(keys) > 1 {
			sort.Strings(keys)
			c.rep.MapNote(id.pos, src, keys[0]+" ...", fmt.Sprintf("a host without fixed-address applies wherever the client is: copied into %d subnets", len(keys)))
		} else if len(keys) == 1 {
			c.rep.MapNote(id.pos, id.src, keys[0]+"."+id.kind, src)
		}
	}
}

// finishAuth sets dhcp.authoritative from the subnets' effective values
// (dhcpd's may differ per scope; hadhcpd's is global).
func (c *conv) finishAuth() {
	eff := func(s *subnet) bool {
		for _, p := range []*params{s.par, netPar(s), c.global} {
			if p != nil && p.auth != nil {
				return *p.auth
			}
		}
		return false // dhcpd's default: not authoritative
	}
	var on, off []string
	for _, s := range c.subnets {
		if len(s.cfg.Pools) == 0 && len(s.cfg.Reservations) == 0 && s.net == nil {
			continue
		}
		if eff(s) {
			on = append(on, s.prefix.String())
		} else {
			off = append(off, s.prefix.String())
		}
	}
	switch {
	case len(on) > 0 && len(off) > 0:
		c.cfg.DHCP.Authoritative = migrate.Ptr(false)
		c.rep.Unsupported(migrate.Pos{}, "authoritative", fmt.Sprintf("dhcpd is authoritative for %s and not for %s; hadhcpd's setting is global: written false (no DHCPNAK where the server has no record of the client)", strings.Join(on, ", "), strings.Join(off, ", ")))
	case len(on) > 0:
		c.cfg.DHCP.Authoritative = migrate.Ptr(true)
	default:
		c.cfg.DHCP.Authoritative = migrate.Ptr(false)
		if !c.authSeen {
			c.rep.Invent("dhcp.authoritative", "false", "dhcpd.conf has no `authoritative;` and ISC's default is not authoritative: "+authNote)
		}
	}
}

func netPar(s *subnet) *params {
	if s.net != nil {
		return s.net.par
	}
	return nil
}
