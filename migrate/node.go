package migrate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
)

// Defaults are the node-local values the caller supplies because DHCP
// server configs do not hold them (dhcpd and Kea learn their interfaces
// from the command line or bind every one; neither knows about VRRP).
type Defaults struct {
	NodeName   string   // node.name; "" = derived from the failover role
	StateDir   string   // node.state_dir; "" = /var/lib/hadhcpd
	Interfaces []string // dhcp.interfaces when the source does not name them
	VRID       int      // VRRP router id of an invented instance; 0 = 51
	// VIP is the virtual IP of an invented VRRP instance: ADDRESS,
	// ADDRESS/LEN, or "router" (the first subnet's router); "" = a
	// placeholder the source uses nowhere (inventVRRP).
	VIP string
}

// DefaultStateDir is agent's default for node.state_dir.
const DefaultStateDir = "/var/lib/hadhcpd"

// Result is what an importer produces.
type Result struct {
	Config *config.Config
	Leases []Lease // nil when no lease file was given
	Report *Report
}

// FinishNode fills the node-local values of cfg that the source does not
// hold, and reports each as invented. It runs after the importer mapped
// everything it could.
func FinishNode(cfg *config.Config, d Defaults, rep *Report) {
	if cfg.Node.Name == "" {
		name := d.NodeName
		why := "from --node"
		if name == "" {
			name, why = "gw1", "no --node given"
			if cfg.Failover != nil {
				why = "no --node given; named after the failover role"
				if cfg.Failover.Role == "secondary" {
					name = "gw2"
				}
			}
		}
		cfg.Node.Name = name
		rep.Invent("node.name", name, why)
	}
	if cfg.Node.StateDir == "" {
		dir, why := d.StateDir, "from --state-dir"
		if dir == "" {
			dir, why = DefaultStateDir, "hadhcpd's default; the lease database is written here"
		}
		cfg.Node.StateDir = dir
		rep.Invent("node.state_dir", dir, why)
	}
	if cfg.DHCP != nil && len(cfg.DHCP.Interfaces) == 0 {
		if len(d.Interfaces) > 0 {
			cfg.DHCP.Interfaces = append([]string(nil), d.Interfaces...)
			rep.Invent("dhcp.interfaces", fmt.Sprint(d.Interfaces), "from --interface (the source does not name interfaces)")
		} else {
			rep.Invent("dhcp.interfaces", "[]", "the source does not name interfaces; set dhcp.interfaces (or pass --interface) before starting hadhcpd")
		}
	}
	if cfg.DHCP != nil && len(cfg.VRRP.Instances) == 0 {
		inventVRRP(cfg, d, rep)
	}
	if cfg.Failover != nil && cfg.Failover.VRRPInstance == "" && len(cfg.VRRP.Instances) > 0 {
		cfg.Failover.VRRPInstance = cfg.VRRP.Instances[0].Name
		rep.Invent("failover.vrrp_instance", cfg.Failover.VRRPInstance, "the VRRP instance whose mastership decides which box serves")
	}
}

// inventVRRP adds the VRRP instance a gateway pair needs. Its virtual IP
// is the server identifier clients renew with, and the address both boxes
// share; the source does not name one. A subnet's router is usually
// another box (the site's real router), so by default the VIP is a free
// address of the first subnet: one the source uses nowhere (routers,
// pools, reservations, next-server, option values, relays, failover
// addresses), the highest such. The report says it is a placeholder; the
// operator chooses with Defaults.VIP (--vip), "router" when these boxes
// are the subnet's router.
func inventVRRP(cfg *config.Config, d Defaults, rep *Report) {
	subs := allSubnets(cfg.DHCP)
	if len(subs) == 0 || len(cfg.DHCP.Interfaces) == 0 {
		rep.Invent("vrrp", "(none)", "no subnet and interface to build a VRRP instance from; write the vrrp section (or use --vrrp-from keepalived.conf) before starting hadhcpd")
		return
	}
	used := usedAddrs(cfg)
	var vip, why string
	switch {
	case d.VIP == "router":
		for _, s := range subs {
			p, err := netip.ParsePrefix(s.Subnet)
			r, ok := s.Options["routers"].([]string)
			if err != nil || !ok || len(r) == 0 {
				continue
			}
			if a, err := netip.ParseAddr(r[0]); err == nil && p.Contains(a) {
				vip, why = netip.PrefixFrom(a, p.Bits()).String(), "from --vip router: the first subnet's router; these boxes must be that router"
				break
			}
		}
		if vip == "" {
			rep.Unsupported(Pos{}, "--vip router", "no subnet has a router inside it to use as the virtual IP")
			return
		}
	case d.VIP != "":
		a, err := netip.ParseAddr(d.VIP)
		var p netip.Prefix
		if err != nil {
			p, err = netip.ParsePrefix(d.VIP)
			a = p.Addr()
		}
		if err != nil || !a.Is4() {
			rep.Unsupported(Pos{}, "--vip "+d.VIP, "not an IPv4 address, ADDRESS/LEN or \"router\"")
			return
		}
		if !p.IsValid() {
			for _, s := range subs {
				if sp, err := netip.ParsePrefix(s.Subnet); err == nil && sp.Contains(a) {
					p = netip.PrefixFrom(a, sp.Bits())
				}
			}
			if !p.IsValid() {
				rep.Unsupported(Pos{}, "--vip "+d.VIP, "inside no subnet: write it as ADDRESS/LEN")
				return
			}
		}
		vip, why = p.String(), "from --vip"
		if used.has(a) {
			why += "; note: the source also uses this address (a router, pool, reservation, server or option value)"
		}
	default:
		p, err := netip.ParsePrefix(subs[0].Subnet)
		if err != nil {
			return
		}
		a := lastFree(p, used)
		if !a.IsValid() {
			rep.Unsupported(Pos{}, "vrrp", fmt.Sprintf("subnet %s has no address the source leaves unused for the virtual IP: pass --vip", p))
			return
		}
		vip = netip.PrefixFrom(a, p.Bits()).String()
		why = "PLACEHOLDER: the source names no virtual IP; this is the highest address of the first subnet the source uses nowhere (not a router, pool, reservation, next-server or option value). Check no other box uses it, or choose with --vip ADDRESS (--vip router when these boxes are the subnet's router)"
	}
	vrid := d.VRID
	if vrid == 0 {
		vrid = 51
	}
	prio := 100
	if cfg.Failover != nil && cfg.Failover.Role == "primary" {
		prio = 200
	}
	cfg.VRRP.Instances = []config.VRRPInstance{{
		Name:           "lan",
		Interface:      cfg.DHCP.Interfaces[0],
		VRID:           vrid,
		Priority:       prio,
		AdvertInterval: 1e9,
		VirtualIPs:     []string{vip},
	}}
	rep.Invent("vrrp.instances[0]", fmt.Sprintf("lan on %s vrid %d priority %d vip %s", cfg.DHCP.Interfaces[0], vrid, prio, vip),
		"the source has no VRRP; vip "+why+" (check the vrid too)")
}

// allSubnets lists the subnets of d, shared networks' included.
func allSubnets(d *config.DHCPConfig) []config.SubnetConfig {
	out := append([]config.SubnetConfig(nil), d.Subnets...)
	for _, n := range d.SharedNetworks {
		out = append(out, n.Subnets...)
	}
	return out
}

// addrUse is the addresses and ranges the source uses.
type addrUse struct {
	set    map[netip.Addr]bool
	ranges [][2]netip.Addr
}

func (u addrUse) has(a netip.Addr) bool {
	if u.set[a] {
		return true
	}
	for _, r := range u.ranges {
		if !a.Less(r[0]) && !r[1].Less(a) {
			return true
		}
	}
	return false
}

// usedAddrs collects every IPv4 address the config mentions.
func usedAddrs(cfg *config.Config) addrUse {
	u := addrUse{set: map[netip.Addr]bool{}}
	add := func(s string) {
		if h, _, ok := strings.Cut(s, ":"); ok && strings.Count(s, ":") == 1 {
			s = h // failover host:port
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			u.set[a] = true
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, f := range strings.Fields(x) {
				add(f)
			}
		case []string:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	d := cfg.DHCP
	walk(d.Options)
	add(d.NextServer)
	for _, c := range d.ClientClasses {
		walk(c.Options)
		add(c.NextServer)
	}
	for _, n := range d.SharedNetworks {
		walk(n.Options)
		walk(n.Relays)
	}
	for _, s := range allSubnets(d) {
		walk(s.Options)
		add(s.NextServer)
		walk(s.Relays)
		for _, p := range s.Pools {
			walk(p.Options)
			lo, hi, ok := strings.Cut(p.Range, "-")
			a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
			b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
			if !ok || err1 != nil || err2 != nil {
				continue
			}
			u.ranges = append(u.ranges, [2]netip.Addr{a, b})
		}
		for _, r := range s.Reservations {
			add(r.IP)
			add(r.NextServer)
			walk(r.Options)
		}
	}
	if f := cfg.Failover; f != nil {
		add(f.Listen)
		add(f.Peer)
	}
	return u
}

// lastFree returns the highest host address of p that u does not hold.
func lastFree(p netip.Prefix, u addrUse) netip.Addr {
	p = p.Masked()
	if p.Bits() >= 31 {
		return netip.Addr{}
	}
	b := p.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := n | (1<<(32-p.Bits()) - 1)
	for a := last - 1; a > n && last-a < 1<<16; a-- {
		x := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		if !u.has(x) {
			return x
		}
	}
	return netip.Addr{}
}
