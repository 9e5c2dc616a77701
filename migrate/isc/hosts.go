package isc

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/hadhcpd/hadhcpd/config"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

type host struct {
	pos     migrate.Pos
	name    string
	res     config.ReservationConfig
	fixed   netip.Addr
	options map[string]any
}

func (c *conv) host(s *Stmt, sc *scope) error {
	if !s.HasBlock || len(s.Words) != 2 {
		return migrate.Errorf(s.Pos, "want `host NAME { ... }`")
	}
	h := &host{pos: s.Pos, name: s.word(1), options: map[string]any{}}
	in := &scope{kind: "host", host: h, parent: sc}
	if err := c.block(s.Block, in); err != nil {
		return err
	}
	if c.declName && h.res.Hostname == "" {
		h.res.Hostname = h.name
	}
	c.hosts = append(c.hosts, h)
	for e := sc; e != nil; e = e.parent {
		e.hosts = append(e.hosts, h)
	}
	return nil
}

func (c *conv) hostStmt(s *Stmt, sc *scope) error {
	h := sc.host
	switch s.word(0) {
	case "hardware":
		if len(s.Words) != 3 {
			return migrate.Errorf(s.Pos, "want `hardware ethernet MAC;`")
		}
		mac, err := dhcpscope.ParseHex(s.word(2))
		if err != nil || (s.word(1) == "ethernet" && len(mac) != 6) {
			return migrate.Errorf(s.Pos, "hardware: %q is not a MAC address", s.word(2))
		}
		if s.word(1) != "ethernet" {
			c.rep.Unsupported(s.Pos, s.String(), "only ethernet hardware addresses are supported")
			return nil
		}
		h.res.HWAddress = net.HardwareAddr(mac).String()
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].hw_address", h.name))
	case "fixed-address":
		var addrs []string
		for _, t := range s.Words[1:] {
			if !t.is(',') {
				addrs = append(addrs, t.str())
			}
		}
		a, err := netip.ParseAddr(s.word(1))
		if err != nil || !a.Is4() {
			c.rep.Unsupported(s.Pos, s.String(), "fixed-address must be an IPv4 address (hadhcpd does no DNS lookups)")
			return nil
		}
		if len(addrs) > 1 {
			c.rep.Unsupported(s.Pos, s.String(), "a reservation has one address; the first is imported")
		}
		h.fixed = a
		h.res.IP = a.String()
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].ip", h.name))
	case "option":
		if s.word(1) == "dhcp-client-identifier" {
			if len(s.Words) != 3 {
				return migrate.Errorf(s.Pos, "option dhcp-client-identifier: want one value")
			}
			id := []byte(s.word(2))
			if s.Words[2].kind != tString {
				b, err := dhcpscope.ParseHex(s.word(2))
				if err != nil {
					return migrate.Errorf(s.Pos, "dhcp-client-identifier %q is neither a quoted string nor colon hex", s.word(2))
				}
				id = b
			}
			h.res.ClientID = hexColon(id)
			c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].client_id", h.name))
			return nil
		}
		return c.option(s, sc)
	case "uid":
		c.rep.Unsupported(s.Pos, s.String(), "use option dhcp-client-identifier")
	case "ddns-hostname", "ddns-domainname":
		c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
	case "default-lease-time", "max-lease-time", "min-lease-time":
		c.rep.Unsupported(s.Pos, s.String(), "lease times per reservation are not supported")
	default:
		if why, ok := dropped[s.word(0)]; ok {
			c.rep.Drop(s.Pos, s.String(), why)
			return nil
		}
		if why, ok := unsupported[s.word(0)]; ok {
			c.rep.Unsupported(s.Pos, s.String(), why)
			return nil
		}
		return migrate.Errorf(s.Pos, "unknown statement %q in host %s", s.word(0), h.name)
	}
	return nil
}
