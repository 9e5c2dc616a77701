package isc

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

type host struct {
	pos   migrate.Pos
	name  string
	res   config.ReservationConfig
	fixed netip.Addr
	par   *params
	sub   *subnet    // the subnet it is declared in, if any
	net   *sharedNet // the shared network it is declared in, if any
	// idPos is where each identifier was set, to report the ones
	// dropped (a reservation has one).
	ids []hostID
	v6  bool // it has DHCPv6 statements
}

type hostID struct {
	pos  migrate.Pos
	kind string // hw_address, client_id, circuit_id, remote_id
	val  string
	src  string
}

func (c *conv) host(s *Stmt, sc *scope) error {
	if !s.HasBlock || len(s.Words) != 2 {
		return migrate.Errorf(s.Pos, "want `host NAME { ... }`")
	}
	h := &host{pos: s.Pos, name: s.word(1), par: newParams(), sub: sc.sub, net: sc.net}
	in := &scope{kind: "host", name: h.name, key: "reservations[" + h.name + "]", host: h, par: h.par, parent: sc}
	c.block(s.Block, in)
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
	key := "reservations[" + h.name + "]"
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
		h.ids = append(h.ids, hostID{s.Pos, "hw_address", net.HardwareAddr(mac).String(), s.String()})
	case "fixed-address":
		var addrs []string
		for _, t := range s.Words[1:] {
			if !t.is(',') {
				addrs = append(addrs, t.str())
			}
		}
		a, err := netip.ParseAddr(s.word(1))
		if err != nil || !a.Is4() {
			return migrate.Errorf(s.Pos, "fixed-address %q is not an IPv4 address (hadhcpd does no DNS lookups: write the address)", s.word(1))
		}
		if len(addrs) > 1 {
			c.rep.Unsupported(s.Pos, s.String(), "a reservation has one address; the first is imported")
		}
		h.fixed = a
		h.res.IP = a.String()
		c.rep.Map(s.Pos, s.String(), key+".ip")
	case "host-identifier":
		// host-identifier option agent.circuit-id "x"; (dhcpd.conf(5)
		// "host-identifier option"): a reservation by relay sub-option.
		if s.word(1) != "option" || len(s.Words) != 4 {
			return migrate.Errorf(s.Pos, "want `host-identifier option NAME VALUE;`")
		}
		kind := map[string]string{"agent.circuit-id": "circuit_id", "agent.remote-id": "remote_id", "dhcp-client-identifier": "client_id"}[s.word(2)]
		if strings.HasPrefix(s.word(2), "dhcp6.") {
			h.v6 = true
			c.rep.Drop(s.Pos, s.String(), "DHCPv6: hadhcpd serves DHCPv4")
			return nil
		}
		if kind == "" {
			c.rep.Unsupported(s.Pos, s.String(), "a host identified by "+s.word(2)+": hadhcpd's reservations are by hw_address, client_id, circuit_id or remote_id")
			return nil
		}
		v, err := idValue(s.Words[3], kind != "client_id")
		if err != nil {
			return migrate.Errorf(s.Pos, "host-identifier: %v", err)
		}
		h.ids = append(h.ids, hostID{s.Pos, kind, v, s.String()})
	case "option":
		if s.word(1) == "dhcp-client-identifier" {
			if len(s.Words) != 3 {
				return migrate.Errorf(s.Pos, "option dhcp-client-identifier: want one value")
			}
			v, err := idValue(s.Words[2], false)
			if err != nil {
				return migrate.Errorf(s.Pos, "dhcp-client-identifier: %v", err)
			}
			h.ids = append(h.ids, hostID{s.Pos, "client_id", v, s.String()})
			return nil
		}
		return c.option(s, sc)
	case "fixed-address6", "fixed-prefix6":
		h.v6 = true
		c.rep.Drop(s.Pos, s.String(), "DHCPv6: hadhcpd serves DHCPv4")
	case "uid":
		c.rep.Unsupported(s.Pos, s.String(), "use option dhcp-client-identifier")
	case "ddns-hostname", "ddns-domainname":
		c.rep.Drop(s.Pos, s.String(), "DDNS setting; hadhcpd does no DNS updates")
	case "default-lease-time", "max-lease-time", "min-lease-time":
		return c.leaseTime(s, sc)
	case "next-server", "filename", "server-name":
		return c.bootField(s, sc)
	case "vendor-option-space":
		return c.vendorSpace(s, sc)
	case "if", "elsif", "else":
		c.rep.Unsupported(s.Pos, s.String(), "a conditional inside a host: write a class")
	default:
		if why, ok := dropped[s.word(0)]; ok {
			c.rep.Drop(s.Pos, s.String(), why)
			return nil
		}
		if why, ok := unsupported[s.word(0)]; ok {
			c.rep.Unsupported(s.Pos, s.String(), why)
			return nil
		}
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("unknown statement %q in host %s (skipped)", s.word(0), h.name))
	}
	return nil
}

// idValue writes an identifier as hadhcpd's config does: colon hex, or
// for relay sub-options a quoted string as 'text' (Kea's style, which
// hadhcpd reads too).
func idValue(t token, quoted bool) (string, error) {
	if t.kind == tString {
		if quoted && printable(t.b) {
			return "'" + string(t.b) + "'", nil
		}
		return net.HardwareAddr(t.b).String(), nil
	}
	b, err := dhcpscope.ParseHex(t.str())
	if err != nil {
		return "", fmt.Errorf("%q is neither a quoted string nor colon hex", t.str())
	}
	return net.HardwareAddr(b).String(), nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\'' {
			return false
		}
	}
	return len(b) > 0
}
