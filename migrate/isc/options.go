package isc

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// optDef is an option (or sub-option) defined in the file, converted by
// the importers' shared table (migrate.ISCDefinition).
type optDef struct {
	def   migrate.Definition
	space string // the space's key ("" = the packet's own options)
}

// space is an `option space NAME;`, by its key (migrate.SpaceKey).
type space struct {
	name string // as the source writes it
	pos  migrate.Pos
	// carrier is the option key that encapsulates the space ("" = only
	// as the vendor option space).
	carrier string
	// enterprise: the space holds option 125's sub-options of this
	// enterprise number (`option vendor.NAME code N = encapsulate SPACE;`).
	enterprise uint32
}

// option handles `option space`, `option NAME code N = TYPE;` and
// `option NAME VALUE;`.
func (c *conv) option(s *Stmt, sc *scope) error {
	name := s.word(1)
	if name == "" {
		return migrate.Errorf(s.Pos, "option without a name")
	}
	if name == "space" {
		return c.optionSpace(s)
	}
	if strings.HasPrefix(strings.ToLower(name), "dhcp6.") {
		if sc.host != nil {
			sc.host.v6 = true
		}
		c.rep.Drop(s.Pos, s.String(), "DHCPv6: hadhcpd serves DHCPv4")
		return nil
	}
	if s.word(2) == "code" {
		return c.optionDef(s)
	}
	if len(s.Words) > 2 && s.Words[2].is('=') {
		c.rep.Unsupported(s.Pos, s.String(), "an option computed by an expression: write its value, or a class per value")
		return nil
	}
	if sp, sub, ok := strings.Cut(name, "."); ok && !strings.EqualFold(sp, c.siteSp) {
		return c.subOption(s, sc, sp, sub)
	} else if ok {
		name = sub
	}
	if len(s.Words) < 3 {
		return migrate.Errorf(s.Pos, "option %s has no value", name)
	}
	switch name {
	case "dhcp-renewal-time", "dhcp-rebinding-time":
		n, err := strconv.ParseUint(s.word(2), 10, 32)
		if err != nil || len(s.Words) != 3 {
			return migrate.Errorf(s.Pos, "option %s: %q is not a number of seconds", name, s.word(2))
		}
		i := 3
		if name == "dhcp-rebinding-time" {
			i = 4
		}
		return c.setTime(s, sc, i, migrate.Seconds(int64(n)), true)
	case "subnet-mask":
		m, err := netip.ParseAddr(s.word(2))
		if err != nil || maskBits(m) < 0 {
			return migrate.Errorf(s.Pos, "option subnet-mask: %q is not a netmask", s.word(2))
		}
		if sc.sub != nil && maskBits(m) == sc.sub.prefix.Bits() {
			c.rep.MapNote(s.Pos, s.String(), "(derived)", "hadhcpd sends the mask of the subnet's prefix")
			return nil
		}
		return c.setOption(s, sc, "subnet_mask", m.String())
	case "dhcp-client-identifier":
		if sc.kind == "host" {
			return nil // handled by hostStmt
		}
	}
	var od migrate.OptDef
	var def *migrate.Definition
	if d, ok := c.defs[name]; ok && d.space == "" {
		od, def = d.def.Opt, &d.def
	} else if why, ok := migrate.DerivedOptions[name]; ok {
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	} else if std, ok := migrate.ISCOption(name); ok {
		od = std
	} else {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option %q is not one hadhcpd knows by name, and the file does not define it (option %s code N = TYPE)", name, name))
		return nil
	}
	v, err := c.optValue(od, s.Words[2:])
	if err != nil {
		return migrate.Errorf(s.Pos, "option %s: %v", name, err)
	}
	var key string
	if def != nil {
		key, v = def.OptionEntry(v)
	} else {
		key, v = migrate.OptionEntry(int(od.Code), od.Key, od.Type, v)
	}
	if key == "host_name" && sc.kind == "host" {
		sv, _ := v.(string)
		sc.host.res.Hostname = sv
		c.rep.Map(s.Pos, s.String(), sc.reportKey()+".hostname")
		return nil
	}
	return c.setOption(s, sc, key, v)
}

// optValue reads an option's value tokens for its definition: values
// split at commas, a record's fields at words.
func (c *conv) optValue(od migrate.OptDef, ts []token) (any, error) {
	var vals []string
	switch {
	case od.Type == migrate.OptRoutes:
		return routesFromBytes(joinGroups(ts))
	case od.Type == migrate.OptRecord:
		for _, t := range ts {
			if !t.is(',') {
				vals = append(vals, t.str())
			}
		}
	case od.Type == migrate.OptHex || od.Type == migrate.OptVendor || od.Type == migrate.OptEncapsulate:
		return hexValue(ts)
	default:
		vals = joinGroups(ts)
	}
	return od.Value(vals)
}

// joinGroups splits value tokens at commas; a group of several words is
// joined with spaces.
func joinGroups(ts []token) []string {
	var out []string
	cur := []string{}
	for _, t := range ts {
		if t.is(',') {
			out = append(out, strings.Join(cur, " "))
			cur = cur[:0]
			continue
		}
		cur = append(cur, t.str())
	}
	return append(out, strings.Join(cur, " "))
}

func (c *conv) setOption(s *Stmt, sc *scope, key string, v any) error {
	if sc.par == nil {
		c.rep.Unsupported(s.Pos, s.String(), "options inside "+sc.kind)
		return nil
	}
	sc.par.opts[key] = v
	note := ""
	switch sc.kind {
	case "group":
		note = "applied to each declaration of the group that does not set it"
	case "if":
		note = "the condition became a client class"
	}
	if note != "" {
		c.rep.MapNote(s.Pos, s.String(), sc.reportKey()+".options."+migrate.ReportKey(key), note)
	} else {
		c.rep.Map(s.Pos, s.String(), sc.reportKey()+".options."+migrate.ReportKey(key))
	}
	return nil
}

// subOption handles `option SPACE.NAME VALUE;`: a sub-option of a
// space, carried in option 43 (vendor-option-space) or an encapsulating
// option.
func (c *conv) subOption(s *Stmt, sc *scope, sp, name string) error {
	switch strings.ToLower(sp) {
	case "agent", "server", "fqdn", "nwip":
		c.rep.Unsupported(s.Pos, s.String(), "options of ISC's built-in "+sp+" space are not set from the configuration in hadhcpd")
		return nil
	}
	key := migrate.SpaceKey(sp)
	var od migrate.OptDef
	if d, ok := c.defs[sp+"."+name]; ok {
		od = d.def.Opt
	} else if std, ok := migrate.SubOption(sp, name); ok {
		od = std
		if c.spaces[key] == nil {
			c.spaces[key] = &space{name: sp, pos: s.Pos}
		}
	} else if c.spaces[key] == nil {
		return migrate.Errorf(s.Pos, "option %s.%s: no `option space %s;` before it", sp, name, sp)
	} else {
		return migrate.Errorf(s.Pos, "option %s.%s: no definition (option %s.%s code N = TYPE;) before it", sp, name, sp, name)
	}
	v, err := c.optValue(od, s.Words[2:])
	if err != nil {
		return migrate.Errorf(s.Pos, "option %s.%s: %v", sp, name, err)
	}
	if sc.par == nil {
		c.rep.Unsupported(s.Pos, s.String(), "options inside "+sc.kind)
		return nil
	}
	if sc.par.sub[key] == nil {
		sc.par.sub[key] = map[string]any{}
	}
	sc.par.sub[key][od.Key] = v
	c.rep.MapNote(s.Pos, s.String(), sc.reportKey()+".options", "sub-option "+od.Key+" of space "+key)
	return nil
}

// optionSpace: `option space NAME [code width 1] [length width 1] [hash size N];`.
func (c *conv) optionSpace(s *Stmt) error {
	name := s.word(2)
	if name == "" {
		return migrate.Errorf(s.Pos, "want `option space NAME;`")
	}
	for i := 3; i+2 < len(s.Words)+1; i++ {
		w := s.word(i)
		if (w == "code" || w == "length") && s.word(i+1) == "width" {
			if s.word(i+2) != "1" {
				c.rep.Unsupported(s.Pos, s.String(), "a space with "+w+" width "+s.word(i+2)+": hadhcpd's sub-options have one-byte codes and lengths (RFC 2132 §8.4)")
			}
			i += 2
		}
	}
	key := migrate.SpaceKey(name)
	if c.spaces[key] == nil {
		c.spaces[key] = &space{name: name, pos: s.Pos}
	}
	c.rep.MapNote(s.Pos, s.String(), "dhcp.option_definitions[].space", "the space's sub-options are defined with space: "+key)
	return nil
}

// optionDef records `option NAME code N = TYPE;` (NAME may be SPACE.NAME).
func (c *conv) optionDef(s *Stmt) error {
	name := s.word(1)
	code, err := strconv.Atoi(s.word(3))
	sp, sub, inSpace := strings.Cut(name, ".")
	if inSpace && strings.EqualFold(sp, c.siteSp) {
		inSpace, name = false, sub
	}
	if err != nil || len(s.Words) < 6 || !s.Words[4].is('=') {
		return migrate.Errorf(s.Pos, "option %s: want `option NAME code N = TYPE;`", name)
	}
	if inSpace && code == 0 {
		// Code 0 is the pad option (RFC 2132 §3.1) in every space
		// that follows RFC 2132's format: it cannot carry data.
		return migrate.Errorf(s.Pos, "option %s: sub-option code 0 is the pad option and cannot carry data", name)
	}
	if !inSpace {
		sp, sub = "", name
	} else if c.spaces[migrate.SpaceKey(sp)] == nil && !strings.EqualFold(sp, "vendor") {
		return migrate.Errorf(s.Pos, "option %s: no `option space %s;` before it", name, sp)
	}
	typ := strings.Join(wordsText(s.Words[5:]), " ")
	if f := strings.Fields(typ); len(f) == 2 && f[0] == "encapsulate" && c.spaces[migrate.SpaceKey(f[1])] == nil {
		return migrate.Errorf(s.Pos, "option %s: encapsulate %s: no `option space %s;` before it", name, f[1], f[1])
	}
	if inSpace && strings.EqualFold(sp, "vendor") && strings.HasPrefix(typ, "encapsulate ") {
		// ISC's vendor space is option 125 (RFC 3925 §4): its codes are
		// enterprise numbers, each carrying a space of sub-options.
		k := migrate.SpaceKey(strings.TrimPrefix(typ, "encapsulate "))
		if c.spaces[k] == nil {
			return migrate.Errorf(s.Pos, "option %s: encapsulate %s: no `option space` of that name before it", name, strings.TrimPrefix(typ, "encapsulate "))
		}
		if code < 1 {
			return migrate.Errorf(s.Pos, "option %s: enterprise number %d", name, code)
		}
		c.spaces[k].enterprise = uint32(code)
		c.rep.MapNote(s.Pos, s.String(), "dhcp.options.vivso_suboptions", fmt.Sprintf("option 125 carries space %s for enterprise %d", k, code))
		return nil
	}
	if inSpace && strings.EqualFold(sp, "vendor") {
		c.rep.Unsupported(s.Pos, s.String(), "an option of ISC's vendor space (125) that does not encapsulate a space of sub-options")
		return nil
	}
	if code == 43 && !inSpace && strings.HasPrefix(typ, "encapsulate ") {
		// Option 43 is hadhcpd's vendor_specific: it carries a space
		// without a definition.
		k := migrate.SpaceKey(strings.TrimPrefix(typ, "encapsulate "))
		c.spaces[k].carrier = "vendor_specific"
		c.rep.MapNote(s.Pos, s.String(), "dhcp.options.vendor_specific", "option 43 carries space "+k)
		return nil
	}
	d, err := migrate.ISCDefinition(sp, sub, code, typ)
	if err != nil {
		c.rep.Unsupported(s.Pos, s.String(), err.Error())
		return nil
	}
	od := optDef{def: d}
	if inSpace {
		od.space = migrate.SpaceKey(sp)
	}
	c.defs[name] = od
	if d.Opt.Type == migrate.OptEncapsulate {
		c.spaces[d.Opt.Encapsulate].carrier = d.Opt.Key
	}
	if d.Entry == nil {
		c.rep.MapNote(s.Pos, s.String(), "(option definition)", "hadhcpd knows "+d.Opt.Key+" already")
		return nil
	}
	c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, *d.Entry)
	c.rep.Map(s.Pos, s.String(), "dhcp.option_definitions["+d.Entry.Name+"]")
	return nil
}

// hexValue reads ISC's `string` data: a quoted text or colon hex, written
// as colon hex.
func hexValue(ts []token) (any, error) {
	var b []byte
	for _, t := range ts {
		switch {
		case t.is(','):
			continue
		case t.kind == tString:
			b = append(b, t.b...)
		default:
			x, err := dhcpscope.ParseHex(t.str())
			if err != nil {
				return nil, fmt.Errorf("%q is neither a quoted string nor colon hex", t.str())
			}
			b = append(b, x...)
		}
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("no value")
	}
	return net.HardwareAddr(b).String(), nil
}

// routesFromBytes reads RFC 3442 classless routes written as ISC's usual
// `array of integer 8` (width, significant destination octets, router),
// or as "prefix router" pairs.
func routesFromBytes(vals []string) (any, error) {
	if len(vals) > 0 && strings.Contains(vals[0], "/") {
		return migrate.OptionValue(migrate.OptRoutes, vals)
	}
	var b []byte
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not a byte", f)
			}
			b = append(b, byte(n))
		}
	}
	routes, _, err := migrate.DecodeRoutes(b)
	if err != nil {
		return nil, err
	}
	return routes, nil
}
