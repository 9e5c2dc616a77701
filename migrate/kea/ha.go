package kea

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// hooks handles hooks-libraries: libdhcp_ha.so becomes failover:,
// lease_cmds is not needed, anything else cannot be carried.
func (c *conv) hooks(v *Value) error {
	for _, h := range v.Arr {
		lib := str(h.Get("library"))
		switch {
		case strings.HasSuffix(lib, "libdhcp_ha.so"):
			if err := c.ha(h); err != nil {
				return err
			}
		case strings.HasSuffix(lib, "libdhcp_lease_cmds.so"), strings.HasSuffix(lib, "libdhcp_stat_cmds.so"):
			c.rep.Drop(h.Pos, lib, "hadhcpd replicates leases itself and has `hadhcpd leases`/`status`")
		case strings.HasSuffix(lib, "libdhcp_host_cmds.so"), strings.HasSuffix(lib, "libdhcp_subnet_cmds.so"), strings.HasSuffix(lib, "libdhcp_class_cmds.so"):
			c.rep.Drop(h.Pos, lib, "a management API: hadhcpd's configuration is its file (reload with SIGHUP or the HTTP API)")
		case strings.HasSuffix(lib, "libdhcp_bootp.so"):
			// The hook answers BOOTP (no option 53; RFC 951, RFC 1542):
			// reserved clients, and others from the pools for ever.
			c.cfg.DHCP.BOOTP = "reserved"
			c.rep.MapNote(h.Pos, lib, "dhcp.bootp", "reserved: BOOTP clients with a reservation with an address are answered; dynamic BOOTP (Kea's hook gives other BOOTP clients a pool address for ever) is refused: a BOOTP lease never ends and cannot be made safe with failover")
		case strings.HasSuffix(lib, "libdhcp_flex_id.so"):
			c.rep.Unsupported(h.Pos, lib, "reservations by flexible identifier: hadhcpd reserves by hw_address, client_id, circuit_id or remote_id")
		default:
			c.rep.Unsupported(h.Pos, lib, "a Kea hook library hadhcpd has no equivalent for")
		}
	}
	return nil
}

// ha maps the libdhcp_ha.so parameters (Kea ARM "High Availability").
// Kea times are milliseconds.
func (c *conv) ha(h *Value) error {
	list := h.Get("parameters").Get("high-availability")
	if list == nil || list.Kind != Arr || len(list.Arr) == 0 {
		return migrate.Errorf(h.Pos, "libdhcp_ha.so without parameters.high-availability")
	}
	if len(list.Arr) > 1 {
		c.rep.Unsupported(list.Arr[1].Pos, "high-availability[1]", "more than one HA relationship: hadhcpd has one partner")
	}
	ha := list.Arr[0]
	f := &config.FailoverConfig{}
	this := str(ha.Get("this-server-name"))
	var me, peer *Value
	for _, p := range arr(ha.Get("peers")) {
		c.haNames = append(c.haNames, str(p.Get("name")))
		if str(p.Get("name")) == this {
			me = p
		} else if peer == nil {
			peer = p
		} else {
			c.rep.Unsupported(p.Pos, "peer "+str(p.Get("name")), "a third HA peer (backup server): hadhcpd has one partner")
		}
	}
	if me == nil || peer == nil {
		return migrate.Errorf(ha.Pos, "high-availability: this-server-name %q must name one of two peers", this)
	}
	ms := func(m Member) (time.Duration, error) {
		n, err := strconv.ParseUint(m.Val.Str, 10, 32)
		if m.Val.Kind != Num || err != nil {
			return 0, migrate.Errorf(m.Pos, "%s: %q is not a number of milliseconds", m.Key, m.Val.Str)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	for _, m := range ha.Obj {
		switch m.Key {
		case "this-server-name":
			c.rep.MapNote(m.Pos, m.Key+" "+this, "failover.role, failover.listen", "taken from this peer's entry")
		case "mode":
			switch str(m.Val) {
			case "hot-standby":
				f.Mode = "hot-standby"
			case "load-balancing":
				f.Mode = "load-balance"
				f.Split = migrate.Ptr(128)
				c.rep.Invent("failover.split", "128", "Kea's load balancing splits clients evenly")
			default:
				c.rep.Unsupported(m.Pos, "mode "+str(m.Val), "only hot-standby and load-balancing have an equivalent")
				continue
			}
			c.rep.Map(m.Pos, "mode "+str(m.Val), "failover.mode")
		case "max-response-delay":
			d, err := ms(m)
			if err != nil {
				return err
			}
			f.MaxResponseDelay = d
			c.rep.Map(m.Pos, m.Key, "failover.max_response_delay")
		case "peers":
			for _, p := range m.Val.Arr {
				if err := c.peer(p, p == me, f); err != nil {
					return err
				}
			}
		case "heartbeat-delay", "max-ack-delay", "max-unacked-clients", "max-rejected-lease-updates":
			c.rep.Drop(m.Pos, m.Key, "hadhcpd derives heartbeats and partner-down detection from max_response_delay, VRRP and auto_partner_down")
		case "sync-timeout", "sync-page-limit", "sync-leases", "send-lease-updates", "delayed-updates-limit", "wait-backup-ack", "multi-threading", "require-client-certs", "restrict-commands", "state-machine":
			c.rep.Drop(m.Pos, m.Key, "hadhcpd's replication always syncs leases on connect and sends every update before the ACK")
		case "trust-anchor", "cert-file", "key-file":
			c.rep.Drop(m.Pos, m.Key, "TLS of Kea's HTTP channel; set failover.auth.tls for hadhcpd's peer link")
		default:
			c.rep.Unsupported(m.Pos, m.Key, "unknown high-availability parameter (skipped)")
		}
	}
	if f.Mode == "" {
		f.Mode = "load-balance"
		f.Split = migrate.Ptr(128)
		c.rep.Invent("failover.mode", "load-balance", "no mode: Kea's default is load-balancing")
	}
	c.rep.Invent("failover.mclt", "(hadhcpd default)", "Kea HA has no MCLT")
	f.Auth.PSKFile = "/etc/hadhcpd/peer.key"
	c.rep.Invent("failover.auth.psk_file", f.Auth.PSKFile, "hadhcpd's peer link is always authenticated: put the same 32+ random bytes (mode 0600) in this file on both boxes")
	c.cfg.Failover = f
	return nil
}

func (c *conv) peer(p *Value, me bool, f *config.FailoverConfig) error {
	u, err := url.Parse(str(p.Get("url")))
	var a netip.Addr
	if err == nil {
		a, err = netip.ParseAddr(u.Hostname())
	}
	if err != nil || !a.Is4() {
		return migrate.Errorf(p.Pos, "peer %q: url %q does not hold an IPv4 address (hadhcpd does no DNS lookups)", str(p.Get("name")), str(p.Get("url")))
	}
	ap := netip.AddrPortFrom(a, peerPort).String()
	name := str(p.Get("name"))
	if me {
		switch r := str(p.Get("role")); r {
		case "primary":
			f.Role = "primary"
		case "standby", "secondary":
			f.Role = "secondary"
		default:
			return migrate.Errorf(p.Pos, "peer %q: role %q has no equivalent (primary, secondary or standby)", name, r)
		}
		f.Listen = ap
		c.rep.MapNote(p.Pos, "peer "+name+" (this server), role "+str(p.Get("role")), "failover.role, failover.listen", "port 647: Kea's HTTP port "+u.Port()+" is not hadhcpd's peer protocol")
	} else {
		f.Peer = ap
		c.rep.MapNote(p.Pos, "peer "+name+" (partner), url "+str(p.Get("url")), "failover.peer", "port 647: Kea's HTTP port "+u.Port()+" is not hadhcpd's peer protocol")
	}
	for _, m := range p.Obj {
		switch m.Key {
		case "name", "url", "role":
		case "auto-failover":
			if m.Val.Kind == Bool && !m.Val.Bool {
				f.AutoPartnerDown = migrate.Ptr(time.Duration(0))
				c.rep.MapNote(m.Pos, "auto-failover false", "failover.auto_partner_down", "0s: only the operator declares the partner down")
			} else {
				c.rep.Drop(m.Pos, m.Key, "hadhcpd takes over automatically (failover.auto_partner_down)")
			}
		default:
			c.rep.Drop(m.Pos, "peer "+m.Key, "Kea HTTP client setting")
		}
	}
	return nil
}
