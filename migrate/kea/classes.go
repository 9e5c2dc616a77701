package kea

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// classes maps client-classes. Kea's test language is hadhcpd's (a
// subset): the test is carried as it is.
func (c *conv) classes(v *Value) {
	if v.Kind != Arr {
		c.rep.Invalid(v.Pos, "client-classes", "must be a list")
		return
	}
	for _, e := range v.Arr {
		name := str(e.Get("name"))
		if name == "" {
			c.rep.Invalid(e.Pos, "client-class", "no name")
			continue
		}
		if c.isHAClass(name) {
			c.rep.Drop(e.Pos, "client-class "+name, "Kea HA's own class: hadhcpd's load balancing needs none")
			continue
		}
		key := "dhcp.client_classes[" + name + "]"
		cc := config.ClientClassConfig{Name: name}
		c.rep.Map(e.Pos, "client-class "+name, key)
		// A class's own option-def (Kea allows them for option 43) first.
		if od := e.Get("option-def"); od != nil {
			for _, d := range od.Arr {
				c.optionDef(d)
			}
		}
		so := &scopeOpts{}
		params := false
		tm := times{&cc.DefaultLeaseTime, &cc.MaxLeaseTime, &cc.MinLeaseTime, &cc.RenewTime, &cc.RebindTime}
		for _, m := range e.Obj {
			switch m.Key {
			case "name", "option-def":
			case "test":
				cc.Test = normTest(str(m.Val))
				if t := c.haFree(cc.Test); t != cc.Test {
					// With load balancing the pair splits the clients
					// itself; a test on Kea's HA_ classes selects the
					// pools of one server (merged, see loadBalance).
					c.rep.MapNote(m.Pos, "test "+str(m.Val), key+".test", "member('HA_...') is member('ALL'): hadhcpd's load balancing splits the clients between the boxes itself")
					cc.Test = t
				} else {
					c.rep.Map(m.Pos, "test "+str(m.Val), key+".test")
				}
			case "option-data":
				so = c.optionData(m.Val, key+".options")
				params = params || len(so.opts)+len(so.carry) > 0
			case "only-if-required", "only-in-additional-list":
				if m.Val.Kind == Bool && m.Val.Bool {
					c.onlyIfReq[name] = m.Pos
				}
			case "template-test":
				c.rep.Unsupported(m.Pos, m.Key, "spawning classes (template-test) are not supported")
			default:
				if c.common(m, key, &cc.NextServer, &cc.ServerName, &cc.BootFile, &tm) {
					params = true
					continue
				}
				c.other(m, "client-class")
			}
		}
		tm.complete(c, key, e)
		if _, ok := c.onlyIfReq[name]; ok && !params {
			delete(c.onlyIfReq, name) // nothing it would give elsewhere
		}
		cc.Options = c.finishOpts(so, key)
		c.cfg.DHCP.ClientClasses = append(c.cfg.DHCP.ClientClasses, cc)
		c.classPos = append(c.classPos, e.Pos)
	}
}

// checkClasses reports the tests hadhcpd's language (a subset of Kea's)
// cannot compile, at their class.
func (c *conv) checkClasses() {
	d := c.cfg.DHCP
	for i, err := range migrate.ClassErrors(d.ClientClasses, d.OptionDefinitions) {
		c.rep.Unsupported(c.classPos[i], "client-class "+d.ClientClasses[i].Name, "its test does not compile in hadhcpd's class language (a subset of Kea's): "+err.Error())
	}
}

// normTest writes Kea's built-in KNOWN/UNKNOWN classes the way hadhcpd
// names them.
func normTest(t string) string {
	return strings.NewReplacer("member('KNOWN')", "known", "member('UNKNOWN')", "unknown").Replace(t)
}

// haFree replaces member('HA_<peer>') in a test by member('ALL').
func (c *conv) haFree(t string) string {
	for _, n := range c.haNames {
		t = strings.ReplaceAll(t, "member('HA_"+n+"')", "member('ALL')")
	}
	return t
}

func (c *conv) isHAClass(name string) bool {
	for _, n := range c.haNames {
		if name == "HA_"+n {
			return true
		}
	}
	return false
}

// loadBalance: Kea HA's load balancing gives each server the pools of its
// HA_<server> class (Kea ARM "Load Balancing Configuration"); hadhcpd's
// splits clients by hash over one pool the pair shares, so the pools of
// the two classes become the subnet's pools, unrestricted, merged where
// they touch.
func (c *conv) loadBalance() {
	d := c.cfg.DHCP
	fix := func(s *config.SubnetConfig, key string) {
		var keep []config.PoolConfig
		var ha []config.PoolConfig
		for _, p := range s.Pools {
			var rest []string
			isHA := false
			for _, a := range p.Allow {
				if c.isHAClass(a) {
					isHA = true
				} else {
					rest = append(rest, a)
				}
			}
			if !isHA {
				keep = append(keep, p)
				continue
			}
			p.Allow = rest
			ha = append(ha, p)
		}
		if len(ha) == 0 {
			return
		}
		ha = mergePools(ha)
		s.Pools = append(keep, ha...)
		c.rep.MapNote(migrate.Pos{}, key+" pools of classes HA_*", key+".pools", fmt.Sprintf("Kea HA load balancing: the two servers' pools are the pair's %d pool(s); failover load-balance splits clients between the boxes", len(ha)))
	}
	for i := range d.Subnets {
		fix(&d.Subnets[i], "dhcp.subnets["+d.Subnets[i].Subnet+"]")
	}
	for i := range d.SharedNetworks {
		for j := range d.SharedNetworks[i].Subnets {
			s := &d.SharedNetworks[i].Subnets[j]
			fix(s, "dhcp.shared_networks["+d.SharedNetworks[i].Name+"].subnets["+s.Subnet+"]")
		}
	}
}

// mergePools joins pools of the same options and classes whose ranges
// touch.
func mergePools(ps []config.PoolConfig) []config.PoolConfig {
	type rng struct {
		lo, hi netip.Addr
		p      config.PoolConfig
	}
	var rs []rng
	for _, p := range ps {
		a, b, _ := strings.Cut(p.Range, "-")
		lo, err1 := netip.ParseAddr(a)
		hi, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil {
			continue
		}
		rs = append(rs, rng{lo, hi, p})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo.Less(rs[j].lo) })
	var out []rng
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].hi.Next() == r.lo && fmt.Sprint(out[n-1].p.Options, out[n-1].p.Allow, out[n-1].p.Deny) == fmt.Sprint(r.p.Options, r.p.Allow, r.p.Deny) {
			out[n-1].hi = r.hi
			continue
		}
		out = append(out, r)
	}
	res := make([]config.PoolConfig, 0, len(out))
	for _, r := range out {
		r.p.Range = r.lo.String() + "-" + r.hi.String()
		res = append(res, r.p)
	}
	return res
}

// precedence reports a class option that a subnet, shared network or
// pool also sets with another value: Kea gives the subnet's (Kea ARM
// "DHCPv4 option precedence": pool, subnet, shared network, then class),
// hadhcpd the class's, as ISC dhcpd does.
func (c *conv) precedence() {
	d := c.cfg.DHCP
	type scoped struct {
		key  string
		opts map[string]any
	}
	var scopes []scoped
	add := func(k string, s *config.SubnetConfig) {
		scopes = append(scopes, scoped{k, s.Options})
		for i, p := range s.Pools {
			scopes = append(scopes, scoped{fmt.Sprintf("%s.pools[%d]", k, i), p.Options})
		}
	}
	for i := range d.Subnets {
		add("dhcp.subnets["+d.Subnets[i].Subnet+"]", &d.Subnets[i])
	}
	for _, n := range d.SharedNetworks {
		k := "dhcp.shared_networks[" + n.Name + "]"
		scopes = append(scopes, scoped{k, n.Options})
		for i := range n.Subnets {
			add(k+".subnets["+n.Subnets[i].Subnet+"]", &n.Subnets[i])
		}
	}
	for _, cl := range d.ClientClasses {
		keys := make([]string, 0, len(cl.Options))
		for k := range cl.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, s := range scopes {
				v, ok := s.opts[k]
				if ok && fmt.Sprint(v) != fmt.Sprint(cl.Options[k]) {
					c.rep.Unsupported(migrate.Pos{}, "client class "+cl.Name+" option "+k, "also set in "+s.key+": Kea gives that one to the class's clients there, hadhcpd the class's (classes come before subnets and pools in hadhcpd, as in ISC dhcpd)")
				}
			}
		}
	}
}
