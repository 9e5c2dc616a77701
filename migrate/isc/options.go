package isc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// optDef is an option (or sub-option) defined in the file.
type optDef struct {
	code  int
	space string // "" = the packet's own options
	key   string // the options key in hadhcpd.yaml
	typ   string // hadhcpd's definition type
	array bool
	field []string // record fields
	encap string   // encapsulated space
	std   *migrate.OptDef
}

// space is an `option space NAME;`.
type space struct {
	name string
	pos  migrate.Pos
	// encapsulated by: the option key that carries it ("" = only as the
	// vendor option space).
	carrier string
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
	if s.word(2) == "code" {
		return c.optionDef(s)
	}
	if len(s.Words) > 2 && s.Words[2].is('=') {
		c.rep.Unsupported(s.Pos, s.String(), "an option computed by an expression: write its value, or a class per value")
		return nil
	}
	if sp, sub, ok := strings.Cut(name, "."); ok && sp != c.siteSp {
		return c.subOption(s, sc, sp, sub)
	} else if ok {
		name = sub
	}
	vals, err := optionValues(s)
	if err != nil {
		return err
	}
	switch name {
	case "dhcp-renewal-time", "dhcp-rebinding-time":
		n, err := strconv.ParseUint(s.word(2), 10, 32)
		if err != nil || len(vals) != 1 {
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
	}
	if d, ok := c.defs[name]; ok && d.std == nil {
		v, err := c.defValue(d, s.Words[2:])
		if err != nil {
			return migrate.Errorf(s.Pos, "option %s: %v", name, err)
		}
		return c.setOption(s, sc, d.key, v)
	}
	if why, ok := migrate.DerivedOptions[name]; ok {
		c.rep.Drop(s.Pos, s.String(), why)
		return nil
	}
	std, ok := migrate.StandardOptions[name]
	if d, dok := c.defs[name]; dok && d.std != nil {
		std, ok = *d.std, true
	}
	if !ok {
		if name == "dhcp-client-identifier" && sc.kind == "host" {
			return nil // handled by hostStmt
		}
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option %q is not one hadhcpd knows by name, and the file does not define it (option %s code N = TYPE)", name, name))
		return nil
	}
	var v any
	if std.Type == migrate.OptRoutes {
		v, err = routesFromBytes(vals)
	} else if std.Type == migrate.OptHex {
		v, err = hexValue(s.Words[2:])
	} else {
		v, err = migrate.OptionValue(std.Type, vals)
	}
	if err != nil {
		return migrate.Errorf(s.Pos, "option %s: %v", name, err)
	}
	key, v := migrate.OptionEntry(int(std.Code), std.Key, std.Type, v)
	if key == "host_name" && sc.kind == "host" {
		sv, _ := v.(string)
		sc.host.res.Hostname = sv
		c.rep.Map(s.Pos, s.String(), sc.reportKey()+".hostname")
		return nil
	}
	return c.setOption(s, sc, key, v)
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
	if sp == "agent" || sp == "server" || sp == "fqdn" || sp == "nwip" {
		c.rep.Unsupported(s.Pos, s.String(), "options of ISC's built-in "+sp+" space are not set from the configuration in hadhcpd")
		return nil
	}
	if _, ok := c.spaces[sp]; !ok {
		return migrate.Errorf(s.Pos, "option %s.%s: no `option space %s;` before it", sp, name, sp)
	}
	d, ok := c.defs[sp+"."+name]
	if !ok {
		return migrate.Errorf(s.Pos, "option %s.%s: no definition (option %s.%s code N = TYPE;) before it", sp, name, sp, name)
	}
	v, err := c.defValue(d, s.Words[2:])
	if err != nil {
		return migrate.Errorf(s.Pos, "option %s.%s: %v", sp, name, err)
	}
	if sc.par == nil {
		c.rep.Unsupported(s.Pos, s.String(), "options inside "+sc.kind)
		return nil
	}
	if sc.par.sub[sp] == nil {
		sc.par.sub[sp] = map[string]any{}
	}
	sc.par.sub[sp][d.key] = v
	c.rep.MapNote(s.Pos, s.String(), sc.reportKey()+".options", "sub-option "+d.key+" of space "+sp)
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
	c.spaces[name] = &space{name: name, pos: s.Pos}
	c.rep.MapNote(s.Pos, s.String(), "dhcp.option_definitions[].space", "the space's sub-options are defined with space: "+name)
	return nil
}

// iscTypes maps dhcpd.conf(5)'s option type names to hadhcpd's definition
// types. ISC's `integer N` is signed; `string` is bytes (quoted text or
// colon hex).
var iscTypes = map[string]string{
	"ip-address":             "ip",
	"text":                   "string",
	"string":                 "hex",
	"integer 8":              "int8",
	"integer 16":             "int16",
	"integer 32":             "int32",
	"signed integer 8":       "int8",
	"signed integer 16":      "int16",
	"signed integer 32":      "int32",
	"unsigned integer 8":     "uint8",
	"unsigned integer 16":    "uint16",
	"unsigned integer 32":    "uint32",
	"boolean":                "bool",
	"domain-name":            "fqdn",
	"domain-list":            "domains",
	"domain-list compressed": "domains",
	"zerolen":                "empty",
}

// optionDef records `option NAME code N = TYPE;`.
func (c *conv) optionDef(s *Stmt) error {
	name := s.word(1)
	code, err := strconv.Atoi(s.word(3))
	sp, sub, inSpace := strings.Cut(name, ".")
	if inSpace && sp == c.siteSp {
		inSpace, name = false, sub
	}
	lo := 1
	if inSpace {
		lo = 0
	}
	if err != nil || code < lo || code > 254 || !s.Words[min(4, len(s.Words)-1)].is('=') || len(s.Words) < 6 {
		return migrate.Errorf(s.Pos, "option %s: want `option NAME code N = TYPE;` with N in %d..254", name, lo)
	}
	if inSpace && code == 0 {
		// Code 0 is the pad option (RFC 2132 §3.1) in every space
		// that follows RFC 2132's format: it cannot carry data.
		return migrate.Errorf(s.Pos, "option %s: sub-option code 0 is the pad option and cannot carry data", name)
	}
	d := optDef{code: code}
	w := s.Words[5:]
	if len(w) > 1 && w[0].str() == "array" && w[1].str() == "of" {
		d.array = true
		w = w[2:]
	}
	tw := strings.Join(wordsText(w), " ")
	switch {
	case len(w) > 0 && w[0].is('{'):
		d.typ = "record"
		var f []string
		for _, t := range w[1:] {
			if t.is(',') || t.is('}') {
				if len(f) > 0 {
					ft, ok := iscTypes[strings.Join(f, " ")]
					if !ok {
						c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("record field type %q has no hadhcpd equivalent", strings.Join(f, " ")))
						return nil
					}
					d.field = append(d.field, ft)
				}
				f = f[:0]
				continue
			}
			f = append(f, t.str())
		}
		if len(d.field) == 0 {
			return migrate.Errorf(s.Pos, "option %s: an empty record", name)
		}
	case len(w) == 2 && w[0].str() == "encapsulate":
		d.typ, d.encap = "encapsulate", w[1].str()
		sp, ok := c.spaces[d.encap]
		if !ok {
			return migrate.Errorf(s.Pos, "option %s: encapsulate %s: no `option space %s;` before it", name, d.encap, d.encap)
		}
		sp.carrier = migrate.OptionKey(name)
	default:
		t, ok := iscTypes[tw]
		if !ok {
			c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("option type %q has no hadhcpd equivalent", tw))
			return nil
		}
		d.typ = t
	}
	if (code == 121 || code == 249) && !inSpace && d.array && (d.typ == "uint8" || d.typ == "int8") {
		// RFC 3442 routes written as bytes: hadhcpd knows the option.
		std := migrate.OptDef{Code: uint8(code), Key: map[int]string{121: "classless_static_routes", 249: "ms_classless_static_routes"}[code], Type: migrate.OptRoutes}
		d.std = &std
	}
	if inSpace {
		if _, ok := c.spaces[sp]; !ok {
			return migrate.Errorf(s.Pos, "option %s: no `option space %s;` before it", name, sp)
		}
		d.space, d.key = sp, migrate.OptionKey(sub)
		c.defs[name] = d
		c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, d.config())
		c.rep.Map(s.Pos, s.String(), "dhcp.option_definitions["+d.key+"]")
		return nil
	}
	d.key = migrate.OptionKey(name)
	if d.std == nil {
		for n, std := range migrate.StandardOptions {
			if int(std.Code) == code {
				std := std
				if n == name || d.typ == "encapsulate" {
					d.key = std.Key
					break
				}
				d.std = &std
				break
			}
		}
	}
	if d.std != nil && d.typ != "encapsulate" {
		c.defs[name] = d
		c.rep.MapNote(s.Pos, s.String(), "(option definition)", fmt.Sprintf("code %d is hadhcpd's %s: the option is written by that name", code, d.std.Key))
		return nil
	}
	if d.typ == "encapsulate" && d.code == 43 {
		d.key = "vendor_specific" // already hadhcpd's: no definition needed
		c.spaces[d.encap].carrier = d.key
		c.defs[name] = d
		c.rep.MapNote(s.Pos, s.String(), "dhcp.options.vendor_specific", "option 43 carries space "+d.encap)
		return nil
	}
	c.defs[name] = d
	c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, d.config())
	c.rep.Map(s.Pos, s.String(), "dhcp.option_definitions["+d.key+"]")
	return nil
}

func (d optDef) config() config.OptionDefinition {
	return config.OptionDefinition{Name: d.key, Code: d.code, Space: d.space, Type: d.typ, Array: d.array, Fields: d.field, Encapsulate: d.encap}
}

// defValue reads the value tokens of an option defined in the file.
func (c *conv) defValue(d optDef, ts []token) (any, error) {
	var groups [][]token
	cur := []token{}
	for _, t := range ts {
		if t.is(',') {
			groups = append(groups, cur)
			cur = []token{}
			continue
		}
		cur = append(cur, t)
	}
	groups = append(groups, cur)
	one := func(g []token) (any, error) {
		if d.typ == "record" {
			if len(g) != len(d.field) {
				return nil, fmt.Errorf("a record of %d fields, want %d", len(g), len(d.field))
			}
			out := make([]any, len(g))
			for i, t := range g {
				v, err := scalarValue(d.field[i], []token{t})
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}
		return scalarValue(d.typ, g)
	}
	switch {
	case d.typ == "encapsulate":
		return nil, fmt.Errorf("an encapsulating option is set through its space's options")
	case d.typ == "domains":
		var out []string
		for _, g := range groups {
			if len(g) != 1 {
				return nil, fmt.Errorf("want one name between commas")
			}
			out = append(out, g[0].str())
		}
		return out, nil
	case d.array:
		out := make([]any, 0, len(groups))
		for _, g := range groups {
			v, err := one(g)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case d.typ == "hex":
		return hexValue(ts)
	case len(groups) != 1:
		return nil, fmt.Errorf("%d values where one is expected", len(groups))
	}
	return one(groups[0])
}

// scalarValue reads one value of a definition type.
func scalarValue(typ string, g []token) (any, error) {
	if typ == "hex" {
		return hexValue(g)
	}
	if typ == "empty" {
		if len(g) != 0 {
			return nil, fmt.Errorf("an empty option takes no value")
		}
		return true, nil
	}
	if len(g) != 1 {
		return nil, fmt.Errorf("want one value, not %d words", len(g))
	}
	w := g[0].str()
	switch typ {
	case "ip":
		return migrate.ParseIPv4(w)
	case "string", "fqdn":
		return w, nil
	case "bool":
		switch strings.ToLower(w) {
		case "true", "on", "1":
			return true, nil
		case "false", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", w)
	case "uint8", "uint16", "uint32":
		n, err := strconv.ParseUint(w, 10, map[string]int{"uint8": 8, "uint16": 16, "uint32": 32}[typ])
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s", w, typ)
		}
		return int(n), nil
	case "int8", "int16", "int32":
		n, err := strconv.ParseInt(w, 10, map[string]int{"int8": 8, "int16": 16, "int32": 32}[typ])
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s", w, typ)
		}
		return int(n), nil
	}
	return nil, fmt.Errorf("type %s", typ)
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
	return hexColon(b), nil
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
