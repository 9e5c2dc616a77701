package isc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

type optDef struct {
	code int
	typ  migrate.OptType
	ok   bool // a type hadhcpd can write
}

// option handles `option NAME VALUE;` and `option NAME code N = TYPE;`.
func (c *conv) option(s *Stmt, sc *scope) error {
	name := s.word(1)
	if name == "" {
		return migrate.Errorf(s.Pos, "option without a name")
	}
	if s.word(2) == "code" {
		return c.optionDef(s)
	}
	if name == "space" || strings.Contains(name, ".") {
		c.rep.Unsupported(s.Pos, s.String(), "option spaces and encapsulated options are not supported")
		return nil
	}
	vals, err := optionValues(s)
	if err != nil {
		return err
	}
	if why, ok := migrate.DerivedOptions[name]; ok {
		if name == "subnet-mask" && sc.sub != nil {
			if m, err := netip.ParseAddr(s.word(2)); err == nil && maskBits(m) == sc.sub.prefix.Bits() {
				c.rep.MapNote(s.Pos, s.String(), "(derived)", why)
				return nil
			}
			c.rep.Unsupported(s.Pos, s.String(), "a subnet mask other than the subnet's own prefix")
			return nil
		}
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	}
	var key string
	var v any
	if d, ok := c.defs[name]; ok {
		if !d.ok {
			c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option code %d has a type hadhcpd cannot write", d.code))
			return nil
		}
		if d.code == 121 || d.code == 249 {
			v, err = routesFromBytes(vals)
		} else {
			v, err = migrate.OptionValue(d.typ, vals)
		}
		if err != nil {
			return migrate.Errorf(s.Pos, "option %s: %v", name, err)
		}
		k := migrate.OptionKey(name)
		if std, ok := migrate.StandardOptions[name]; ok && int(std.Code) == d.code {
			k = std.Key
		}
		key, v = migrate.OptionEntry(d.code, k, d.typ, v)
	} else if std, ok := migrate.StandardOptions[name]; ok {
		if std.Type == migrate.OptRoutes {
			v, err = routesFromBytes(vals)
		} else {
			v, err = migrate.OptionValue(std.Type, vals)
		}
		if err != nil {
			return migrate.Errorf(s.Pos, "option %s: %v", name, err)
		}
		key, v = migrate.OptionEntry(int(std.Code), std.Key, std.Type, v)
	} else if name == "dhcp-client-identifier" && sc.kind == "host" {
		return nil // handled by hostStmt
	} else {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option %q is not one hadhcpd knows by name; define it by code in hadhcpd.yaml", name))
		return nil
	}
	rk := migrate.ReportKey(key)
	switch sc.kind {
	case "global":
		c.cfg.DHCP.Options[key] = v
		c.rep.Map(s.Pos, s.String(), "dhcp.options."+rk)
	case "subnet":
		sc.sub.cfg.Options[key] = v
		sc.sub.set[key] = true
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("dhcp.subnets[%s].options.%s", sc.sub.cfg.Subnet, rk))
	case "shared-network", "group":
		sc.inherit[key] = v
		c.rep.MapNote(s.Pos, s.String(), "options."+rk, "applied to each subnet and host of "+sc.kind+" "+sc.name)
	case "host":
		if key == "host_name" {
			sv, _ := v.(string)
			sc.host.res.Hostname = sv
			c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].hostname", sc.host.name))
			return nil
		}
		sc.host.options[key] = v
		c.rep.Map(s.Pos, s.String(), fmt.Sprintf("reservations[%s].options.%s", sc.host.name, rk))
	default:
		c.rep.Unsupported(s.Pos, s.String(), "options per "+sc.kind+" are not supported (only global, subnet and reservation)")
	}
	return nil
}

// optionValues splits an option's values at commas; quoted strings lose
// their quotes. A value of several words (a route "24 192.0.2.1" in
// byte form) is joined with spaces.
func optionValues(s *Stmt) ([]string, error) {
	var out []string
	cur := []string{}
	for _, t := range s.Words[2:] {
		if t.kind == tPunct && t.is(',') {
			if len(cur) == 0 {
				return nil, migrate.Errorf(s.Pos, "option %s: empty value before ','", s.word(1))
			}
			out = append(out, strings.Join(cur, " "))
			cur = cur[:0]
			continue
		}
		cur = append(cur, t.str())
	}
	if len(cur) == 0 {
		return nil, migrate.Errorf(s.Pos, "option %s has no value", s.word(1))
	}
	return append(out, strings.Join(cur, " ")), nil
}

// routesFromBytes reads RFC 3442 classless routes written as ISC's usual
// `array of integer 8` (width, significant destination octets, router),
// or as "prefix router" pairs.
func routesFromBytes(vals []string) (any, error) {
	if len(vals) > 0 && strings.Contains(vals[0], "/") {
		return migrate.OptionValue(migrate.OptRoutes, vals)
	}
	var b []int
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not a byte", f)
			}
			b = append(b, int(n))
		}
	}
	var out []string
	for len(b) > 0 {
		w := b[0]
		if w > 32 {
			return nil, fmt.Errorf("prefix length %d", w)
		}
		n := (w + 7) / 8
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("route truncated")
		}
		var d [4]byte
		for i := 0; i < n; i++ {
			d[i] = byte(b[1+i])
		}
		r := b[1+n : 1+n+4]
		out = append(out, fmt.Sprintf("%s %d.%d.%d.%d", netip.PrefixFrom(netip.AddrFrom4(d), w).Masked(), r[0], r[1], r[2], r[3]))
		b = b[1+n+4:]
	}
	return out, nil
}

// optionDef records `option NAME code N = TYPE;`.
func (c *conv) optionDef(s *Stmt) error {
	name := s.word(1)
	code, err := strconv.Atoi(s.word(3))
	if err != nil || code < 1 || code > 254 || s.word(4) != "=" {
		return migrate.Errorf(s.Pos, "option %s: want `option NAME code N = TYPE;` with N in 1..254", name)
	}
	typ := strings.Join(wordsText(s.Words[5:]), " ")
	t, ok := map[string]migrate.OptType{
		"ip-address":                  migrate.OptIP,
		"array of ip-address":         migrate.OptIPList,
		"text":                        migrate.OptString,
		"string":                      migrate.OptString,
		"integer 8":                   migrate.OptUint8,
		"unsigned integer 8":          migrate.OptUint8,
		"unsigned integer 16":         migrate.OptUint16,
		"unsigned integer 32":         migrate.OptUint32,
		"integer 32":                  migrate.OptInt32,
		"signed integer 32":           migrate.OptInt32,
		"boolean":                     migrate.OptBool,
		"domain-list":                 migrate.OptDomainList,
		"domain-list compressed":      migrate.OptDomainList,
		"array of integer 8":          migrate.OptRoutes,
		"array of unsigned integer 8": migrate.OptRoutes,
	}[typ]
	if t == migrate.OptRoutes && code != 121 && code != 249 {
		ok = false
	}
	c.defs[name] = optDef{code: code, typ: t, ok: ok}
	if ok {
		c.rep.MapNote(s.Pos, s.String(), "(option definition)", "used where the option is set")
	} else {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option type %q cannot be written in hadhcpd.yaml", typ))
	}
	return nil
}
