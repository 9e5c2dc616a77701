package migrate

import (
	"fmt"
	"net/netip"

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

// inventVRRP adds the VRRP instance a gateway pair needs: the default router
// the clients are told is the virtual IP both boxes share (the
// VIP is the LAN's default gateway and the server identifier). Without a
// router option and an interface there is nothing sound to invent, and the
// report says to write the section (or import keepalived.conf with
// --vrrp-from).
func inventVRRP(cfg *config.Config, d Defaults, rep *Report) {
	var vip string
	for _, s := range cfg.DHCP.Subnets {
		p, err := netip.ParsePrefix(s.Subnet)
		if err != nil {
			continue
		}
		r, ok := s.Options["routers"].([]string)
		if !ok || len(r) == 0 {
			continue
		}
		a, err := netip.ParseAddr(r[0])
		if err != nil || !p.Contains(a) {
			continue
		}
		vip = netip.PrefixFrom(a, p.Bits()).String()
		break
	}
	if vip == "" || len(cfg.DHCP.Interfaces) == 0 {
		rep.Invent("vrrp", "(none)", "no subnet router and interface to build a VRRP instance from; write the vrrp section (or use --vrrp-from keepalived.conf) before starting hadhcpd")
		return
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
		"the source has no VRRP; the first subnet's router becomes the virtual IP the two boxes share (check it, and the vrid)")
}
