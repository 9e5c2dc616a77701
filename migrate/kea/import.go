package kea

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Format reads a Kea DHCPv4 config (kea-dhcp4.conf with its <?include?>s)
// and memfile lease CSV, for migrate.Convert and migrate.Job.
func Format() migrate.Format {
	return migrate.Format{
		Name: "kea",
		ParseConfig: func(name string, data []byte, fs migrate.FS) (*migrate.Result, error) {
			return ParseConfig(name, data, fs.ReadFile)
		},
		ParseLeases: ParseLeases,
	}
}

// peerPort is where hadhcpd's peer link listens when the Kea HA URL's
// port (Kea's HTTP control channel) cannot be reused.
const peerPort = 647

type conv struct {
	rep  *migrate.Report
	cfg  *config.Config
	defs map[string]optDef
}

type optDef struct {
	code int
	typ  migrate.OptType
}

// ParseConfig maps the Dhcp4 object.
func ParseConfig(name string, data []byte, load func(string) ([]byte, error)) (*migrate.Result, error) {
	root, err := ParseJSON(name, data, load)
	if err != nil {
		return nil, err
	}
	d4 := root.Get("Dhcp4")
	if d4 == nil || d4.Kind != Obj {
		return nil, migrate.Errorf(root.Pos, "no \"Dhcp4\" object")
	}
	c := &conv{rep: &migrate.Report{}, cfg: &config.Config{DHCP: &config.DHCPConfig{}}, defs: map[string]optDef{}}
	for _, m := range root.Obj {
		if m.Key != "Dhcp4" {
			c.rep.Drop(m.Pos, m.Key, "another Kea server's section")
		}
	}
	if od := d4.Get("option-def"); od != nil {
		if err := c.optionDefs(od); err != nil {
			return nil, err
		}
	}
	d := c.cfg.DHCP
	authSeen := false
	for _, m := range d4.Obj {
		src := m.Key
		switch m.Key {
		case "valid-lifetime", "min-valid-lifetime", "max-valid-lifetime":
			t, err := secs(m)
			if err != nil {
				return nil, err
			}
			*map[string]*time.Duration{"valid-lifetime": &d.DefaultLeaseTime, "min-valid-lifetime": &d.MinLeaseTime, "max-valid-lifetime": &d.MaxLeaseTime}[m.Key] = t
			c.rep.Map(m.Pos, src, "dhcp."+lifetimeKey(m.Key))
		case "authoritative":
			if m.Val.Kind != Bool {
				return nil, migrate.Errorf(m.Pos, "authoritative must be true or false")
			}
			d.Authoritative = migrate.Ptr(m.Val.Bool)
			authSeen = true
			c.rep.Map(m.Pos, src, "dhcp.authoritative")
		case "option-def":
		case "option-data":
			opts, err := c.options(m.Val, "dhcp.options")
			if err != nil {
				return nil, err
			}
			d.Options = migrate.FinishOptions(opts)
		case "interfaces-config":
			c.interfaces(m.Val)
		case "subnet4":
			if err := c.subnets(m.Val, nil, ""); err != nil {
				return nil, err
			}
		case "shared-networks":
			if m.Val.Kind != Arr {
				return nil, migrate.Errorf(m.Pos, "shared-networks must be a list")
			}
			for _, sn := range m.Val.Arr {
				if err := c.sharedNetwork(sn); err != nil {
					return nil, err
				}
			}
		case "hooks-libraries":
			if err := c.hooks(m.Val); err != nil {
				return nil, err
			}
		case "renew-timer", "rebind-timer", "calculate-tee-times", "t1-percent", "t2-percent":
			c.rep.Drop(m.Pos, src, "hadhcpd sends T1 = 0.5 and T2 = 0.875 of the lease time (RFC 2131 §4.4.5)")
		case "lease-database", "control-socket", "loggers", "multi-threading", "sanity-checks", "expired-leases-processing",
			"dhcp-queue-control", "server-tag", "dhcp-ddns", "hosts-database", "hosts-databases", "statistic-default-sample-count",
			"statistic-default-sample-age", "decline-probation-period", "host-reservation-identifiers", "reservations-global",
			"reservations-in-subnet", "reservations-out-of-pool", "match-client-id", "echo-client-id", "dhcp4o6-port", "compatibility",
			"cache-threshold", "cache-max-age", "parked-packet-limit", "server-hostname", "store-extended-info", "early-global-reservations-lookup", "ip-reservations-unique", "reservations-lookup-first", "lease-checks", "user-context", "comment":
			c.rep.Drop(m.Pos, src, "Kea's own server setting; hadhcpd has its own equivalent or needs none")
		case "client-classes":
			c.rep.Unsupported(m.Pos, src, "client classes are not supported")
		case "next-server", "boot-file-name":
			c.rep.Unsupported(m.Pos, src, "network boot (siaddr/file) is not supported")
		default:
			if strings.HasPrefix(m.Key, "ddns-") {
				c.rep.Drop(m.Pos, src, "DDNS setting; hadhcpd does no DNS updates")
				continue
			}
			return nil, migrate.Errorf(m.Pos, "unknown Dhcp4 parameter %q", m.Key)
		}
	}
	if !authSeen {
		d.Authoritative = migrate.Ptr(false)
		c.rep.Invent("dhcp.authoritative", "false", "no \"authoritative\" and Kea's default is false")
	}
	if d.DefaultLeaseTime == 0 {
		d.DefaultLeaseTime = 7200 * time.Second
		c.rep.Invent("dhcp.default_lease_time", "2h", "Kea's default valid-lifetime")
	}
	return &migrate.Result{Config: c.cfg, Report: c.rep}, nil
}

func lifetimeKey(k string) string {
	return map[string]string{"valid-lifetime": "default_lease_time", "min-valid-lifetime": "min_lease_time", "max-valid-lifetime": "max_lease_time"}[k]
}

func secs(m Member) (time.Duration, error) {
	n, err := strconv.ParseUint(m.Val.Str, 10, 32)
	if m.Val.Kind != Num || err != nil {
		return 0, migrate.Errorf(m.Pos, "%s: %q is not a number of seconds", m.Key, m.Val.Str)
	}
	return time.Duration(n) * time.Second, nil
}

func str(v *Value) string {
	if v == nil || v.Kind != Str {
		return ""
	}
	return v.Str
}

func (c *conv) interfaces(v *Value) {
	for _, m := range v.Obj {
		switch m.Key {
		case "interfaces":
			for _, e := range m.Val.Arr {
				name, addr, _ := strings.Cut(str(e), "/")
				if name == "*" || name == "" {
					c.rep.Unsupported(e.Pos, str(e), "hadhcpd serves the interfaces it is given: name them")
					continue
				}
				c.cfg.DHCP.Interfaces = append(c.cfg.DHCP.Interfaces, name)
				if addr != "" {
					c.rep.MapNote(e.Pos, str(e), "dhcp.interfaces", "the /"+addr+" pin is not carried: hadhcpd opens one socket per interface")
				} else {
					c.rep.Map(e.Pos, str(e), "dhcp.interfaces")
				}
			}
		default:
			c.rep.Drop(m.Pos, "interfaces-config."+m.Key, "hadhcpd's socket handling needs no setting")
		}
	}
}

func (c *conv) optionDefs(v *Value) error {
	for _, e := range v.Arr {
		name, code, typ := str(e.Get("name")), e.Get("code"), str(e.Get("type"))
		n, err := strconv.Atoi(strOrNum(code))
		if err != nil || n < 1 || n > 254 {
			return migrate.Errorf(e.Pos, "option-def %q: code must be 1..254", name)
		}
		t, ok := map[string]migrate.OptType{"ipv4-address": migrate.OptIP, "string": migrate.OptString, "uint8": migrate.OptUint8,
			"uint16": migrate.OptUint16, "uint32": migrate.OptUint32, "int32": migrate.OptInt32, "boolean": migrate.OptBool, "fqdn": migrate.OptDomainList, "binary": migrate.OptHex}[typ]
		if ok && typ == "ipv4-address" && e.Get("array") != nil && e.Get("array").Bool {
			t = migrate.OptIPList
		}
		if !ok || str(e.Get("space")) != "" && str(e.Get("space")) != "dhcp4" {
			c.rep.Unsupported(e.Pos, "option-def "+name, fmt.Sprintf("option type %q (or its space) cannot be written in hadhcpd.yaml", typ))
			continue
		}
		c.defs[name] = optDef{code: n, typ: t}
		c.rep.MapNote(e.Pos, "option-def "+name, "(option definition)", "used where the option is set")
	}
	return nil
}

func strOrNum(v *Value) string {
	if v == nil {
		return ""
	}
	return v.Str
}

// codeNames maps standard option codes to their Kea names.
var codeNames = func() map[int]string {
	m := map[int]string{}
	for n, d := range migrate.StandardOptions {
		if _, ok := m[int(d.Code)]; !ok || n == "classless-static-routes" {
			m[int(d.Code)] = n
		}
	}
	return m
}()

// options maps an option-data list.
func (c *conv) options(v *Value, key string) (map[string]any, error) {
	out := map[string]any{}
	if v.Kind != Arr {
		return nil, migrate.Errorf(v.Pos, "option-data must be a list")
	}
	for _, e := range v.Arr {
		name := str(e.Get("name"))
		if name == "" && e.Get("code") != nil {
			n, _ := strconv.Atoi(strOrNum(e.Get("code")))
			name = codeNames[n]
			for dn, d := range c.defs {
				if d.code == n {
					name = dn
				}
			}
			if name == "" {
				c.rep.Unsupported(e.Pos, "option-data code "+strOrNum(e.Get("code")), "an option with no definition: add an option-def or set it by code in hadhcpd.yaml")
				continue
			}
		}
		data := str(e.Get("data"))
		src := fmt.Sprintf("option-data %s %q", name, data)
		if sp := str(e.Get("space")); sp != "" && sp != "dhcp4" {
			c.rep.Unsupported(e.Pos, src, "option spaces are not supported")
			continue
		}
		if cf := e.Get("csv-format"); cf != nil && cf.Kind == Bool && !cf.Bool {
			// Raw hex data.
			code := 0
			if d, ok := migrate.StandardOptions[name]; ok {
				code = int(d.Code)
			} else if d, ok := c.defs[name]; ok {
				code = d.code
			}
			k, val := migrate.OptionEntry(code, migrate.OptionKey(name), migrate.OptHex, strings.ReplaceAll(data, " ", ""))
			out[k] = val
			c.rep.Map(e.Pos, src, key+"."+migrate.ReportKey(k))
			continue
		}
		if why, ok := migrate.DerivedOptions[name]; ok {
			c.rep.Drop(e.Pos, src, why)
			continue
		}
		vals := splitCSV(data)
		var code int
		var typ migrate.OptType
		var k string
		if d, ok := c.defs[name]; ok {
			code, typ, k = d.code, d.typ, migrate.OptionKey(name)
		} else if d, ok := migrate.StandardOptions[name]; ok {
			code, typ, k = int(d.Code), d.Type, d.Key
		} else {
			c.rep.Unsupported(e.Pos, src, fmt.Sprintf("option %q is not one hadhcpd knows by name; define it by code in hadhcpd.yaml", name))
			continue
		}
		if typ == migrate.OptRoutes {
			// Kea writes "198.51.100.0/24 - 192.0.2.1".
			for i, r := range vals {
				vals[i] = strings.Join(strings.Fields(strings.ReplaceAll(r, " - ", " ")), " ")
			}
		}
		val, err := migrate.OptionValue(typ, vals)
		if err != nil {
			return nil, migrate.Errorf(e.Pos, "option %s: %v", name, err)
		}
		k, val = migrate.OptionEntry(code, k, typ, val)
		out[k] = val
		c.rep.Map(e.Pos, src, key+"."+migrate.ReportKey(k))
	}
	return out, nil
}

func splitCSV(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *conv) sharedNetwork(v *Value) error {
	name := str(v.Get("name"))
	c.rep.MapNote(v.Pos, "shared-network "+name, "dhcp.subnets[]", "its subnets become ordinary subnets: hadhcpd picks the subnet by the receiving interface's address or the relay's giaddr")
	var inherit map[string]any
	if od := v.Get("option-data"); od != nil {
		var err error
		if inherit, err = c.options(od, "shared-network "+name+" options"); err != nil {
			return err
		}
	}
	for _, m := range v.Obj {
		switch m.Key {
		case "name", "option-data":
		case "subnet4":
			if err := c.subnets(m.Val, inherit, name); err != nil {
				return err
			}
		case "interface":
			c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, str(m.Val))
			c.rep.Map(m.Pos, "interface "+str(m.Val), "dhcp.interfaces")
		case "relay":
			c.rep.Unsupported(m.Pos, m.Key, "relay addresses are set per subnet in hadhcpd")
		default:
			c.rep.Unsupported(m.Pos, m.Key, "shared-network parameters other than option-data are not carried to its subnets")
		}
	}
	return nil
}

func appendUniq(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

func (c *conv) subnets(v *Value, inherit map[string]any, shared string) error {
	if v.Kind != Arr {
		return migrate.Errorf(v.Pos, "subnet4 must be a list")
	}
	for _, e := range v.Arr {
		p, err := netip.ParsePrefix(str(e.Get("subnet")))
		if err != nil || !p.Addr().Is4() || p.Masked() != p {
			return migrate.Errorf(e.Pos, "subnet %q is not an IPv4 network (192.0.2.0/24)", str(e.Get("subnet")))
		}
		sc := config.SubnetConfig{Subnet: p.String()}
		k := "dhcp.subnets[" + p.String() + "]"
		c.rep.Map(e.Pos, "subnet "+p.String(), k)
		opts := map[string]any{}
		for kk, vv := range inherit {
			opts[kk] = vv
		}
		for _, m := range e.Obj {
			switch m.Key {
			case "subnet":
			case "id":
				c.rep.Drop(m.Pos, "id "+m.Val.Str, "hadhcpd names a subnet by its prefix")
			case "pools":
				for _, pe := range m.Val.Arr {
					r, err := poolRange(str(pe.Get("pool")), p)
					if err != nil {
						return migrate.Errorf(pe.Pos, "pool %q: %v", str(pe.Get("pool")), err)
					}
					sc.Pools = append(sc.Pools, config.PoolConfig{Range: r})
					c.rep.Map(pe.Pos, "pool "+str(pe.Get("pool")), fmt.Sprintf("%s.pools[%d]", k, len(sc.Pools)-1))
					for _, pm := range pe.Obj {
						if pm.Key != "pool" {
							c.rep.Unsupported(pm.Pos, "pool "+pm.Key, "pool-level parameters are not supported")
						}
					}
				}
			case "option-data":
				o, err := c.options(m.Val, k+".options")
				if err != nil {
					return err
				}
				for kk, vv := range o {
					opts[kk] = vv
				}
			case "reservations":
				for _, re := range m.Val.Arr {
					r, ok, err := c.reservation(re, k, p)
					if err != nil {
						return err
					}
					if ok {
						sc.Reservations = append(sc.Reservations, r)
					}
				}
			case "valid-lifetime", "min-valid-lifetime", "max-valid-lifetime":
				t, err := secs(m)
				if err != nil {
					return err
				}
				*map[string]**time.Duration{"valid-lifetime": &sc.DefaultLeaseTime, "min-valid-lifetime": &sc.MinLeaseTime, "max-valid-lifetime": &sc.MaxLeaseTime}[m.Key] = &t
				c.rep.Map(m.Pos, m.Key, k+"."+lifetimeKey(m.Key))
			case "interface":
				c.cfg.DHCP.Interfaces = appendUniq(c.cfg.DHCP.Interfaces, str(m.Val))
				c.rep.Map(m.Pos, "interface "+str(m.Val), "dhcp.interfaces")
			case "relay":
				for _, a := range m.Val.Get("ip-addresses").Arr {
					sc.Relays = append(sc.Relays, str(a))
					c.rep.Map(a.Pos, "relay "+str(a), k+".relays")
				}
			case "renew-timer", "rebind-timer", "calculate-tee-times", "t1-percent", "t2-percent":
				c.rep.Drop(m.Pos, m.Key, "hadhcpd sends T1 = 0.5 and T2 = 0.875 of the lease time")
			case "authoritative":
				c.rep.Unsupported(m.Pos, m.Key, "hadhcpd's authoritative setting is global")
			case "client-class", "require-client-classes":
				c.rep.Unsupported(m.Pos, m.Key, "client classes are not supported")
			case "next-server", "boot-file-name":
				c.rep.Unsupported(m.Pos, m.Key, "network boot is not supported")
			case "reservation-mode", "reservations-global", "reservations-in-subnet", "reservations-out-of-pool", "match-client-id", "user-context", "comment", "store-extended-info":
				c.rep.Drop(m.Pos, m.Key, "Kea-specific subnet setting")
			default:
				return migrate.Errorf(m.Pos, "unknown subnet4 parameter %q", m.Key)
			}
		}
		sc.Options = migrate.FinishOptions(opts)
		c.cfg.DHCP.Subnets = append(c.cfg.DHCP.Subnets, sc)
	}
	return nil
}

// poolRange reads "a - b" and "prefix/len" pool forms.
func poolRange(s string, sub netip.Prefix) (string, error) {
	var lo, hi netip.Addr
	if a, b, ok := strings.Cut(s, "-"); ok {
		var err1, err2 error
		lo, err1 = netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 = netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !lo.Is4() || !hi.Is4() || hi.Less(lo) {
			return "", fmt.Errorf("not FIRST - LAST of IPv4 addresses")
		}
	} else {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return "", fmt.Errorf("not FIRST - LAST or an IPv4 prefix")
		}
		p = p.Masked()
		lo = p.Addr()
		b := lo.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | (1<<(32-p.Bits()) - 1)
		hi = netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		// Kea never hands out the network and broadcast addresses of
		// the subnet even when a CIDR pool covers them.
		if lo == sub.Addr() {
			lo = lo.Next()
		}
		if sub.Contains(hi) && !sub.Contains(hi.Next()) { // the broadcast address
			hi = hi.Prev()
		}
	}
	if !sub.Contains(lo) || !sub.Contains(hi) {
		return "", fmt.Errorf("not inside subnet %s", sub)
	}
	return lo.String() + "-" + hi.String(), nil
}

func (c *conv) reservation(v *Value, k string, sub netip.Prefix) (config.ReservationConfig, bool, error) {
	var r config.ReservationConfig
	for _, m := range v.Obj {
		switch m.Key {
		case "hw-address":
			mac, err := net.ParseMAC(str(m.Val))
			if err != nil || len(mac) != 6 {
				return r, false, migrate.Errorf(m.Pos, "hw-address %q is not an Ethernet address", str(m.Val))
			}
			r.HWAddress = mac.String()
		case "client-id":
			r.ClientID = strings.ToLower(str(m.Val))
		case "ip-address":
			a, err := netip.ParseAddr(str(m.Val))
			if err != nil || !a.Is4() {
				return r, false, migrate.Errorf(m.Pos, "ip-address %q is not an IPv4 address", str(m.Val))
			}
			r.IP = a.String()
		case "hostname":
			r.Hostname = str(m.Val)
		case "option-data":
			o, err := c.options(m.Val, k+".reservations[].options")
			if err != nil {
				return r, false, err
			}
			r.Options = migrate.FinishOptions(o)
		default:
			c.rep.Unsupported(m.Pos, "reservation "+m.Key, "only hw-address, client-id, ip-address, hostname and option-data are carried")
		}
	}
	if r.IP == "" {
		c.rep.Unsupported(v.Pos, "reservation", "a reservation without ip-address (hostname or options only) is not supported")
		return r, false, nil
	}
	c.rep.Map(v.Pos, "reservation "+r.IP, k+".reservations[]")
	_ = sub
	return r, true, nil
}
