package kea

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// keaTypes maps Kea's option-def types to hadhcpd's definition types.
var keaTypes = map[string]string{
	"ipv4-address": "ip", "string": "string", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
	"int8": "int8", "int16": "int16", "int32": "int32", "boolean": "bool", "fqdn": "fqdn", "binary": "hex",
	"empty": "empty", "record": "record",
}

func strOrNum(v *Value) string {
	if v == nil {
		return ""
	}
	return v.Str
}

// optionDefs maps option-def: the packet's own options and sub-options of
// spaces, of every type hadhcpd's definitions have.
func (c *conv) optionDefs(v *Value) {
	for _, e := range v.Arr {
		c.optionDef(e)
	}
}

func (c *conv) optionDef(e *Value) {
	name, typ := str(e.Get("name")), str(e.Get("type"))
	space := str(e.Get("space"))
	if space == "" {
		space = "dhcp4"
	}
	src := "option-def " + name
	n, err := strconv.Atoi(strOrNum(e.Get("code")))
	lo := 1
	if space != "dhcp4" {
		lo = 0
	}
	if err != nil || n < lo || n > 254 {
		c.rep.Invalid(e.Pos, src, fmt.Sprintf("code must be %d..254", lo))
		return
	}
	if n == 0 {
		c.rep.Invalid(e.Pos, src, "sub-option code 0 is the pad option (RFC 2132 §3.1) and cannot carry data")
		return
	}
	t, ok := keaTypes[typ]
	if !ok {
		c.rep.Unsupported(e.Pos, src, fmt.Sprintf("option type %q has no hadhcpd equivalent", typ))
		return
	}
	d := optDef{code: n, typ: t, key: migrate.OptionKey(name)}
	if space != "dhcp4" {
		d.space = space
	}
	if a := e.Get("array"); a != nil && a.Kind == Bool && a.Bool {
		d.array = true
		if t == "fqdn" {
			d.typ, d.array = "domains", false
		}
	}
	if t == "record" {
		for _, f := range strings.Split(str(e.Get("record-types")), ",") {
			ft, ok := keaTypes[strings.TrimSpace(f)]
			if !ok || ft == "record" || ft == "empty" {
				c.rep.Unsupported(e.Pos, src, fmt.Sprintf("record field type %q has no hadhcpd equivalent", strings.TrimSpace(f)))
				return
			}
			d.field = append(d.field, ft)
		}
	}
	if en := str(e.Get("encapsulate")); en != "" {
		if t != "empty" {
			c.rep.Unsupported(e.Pos, src, "an option with data and encapsulated sub-options")
			return
		}
		d.typ, d.encap = "encapsulate", en
	}
	if d.space == "" {
		for _, std := range migrate.StandardOptions {
			if int(std.Code) == n {
				std := std
				d.std = &std
				break
			}
		}
	}
	if d.encap != "" && n == 43 && d.space == "" {
		d.key, d.std = "vendor_specific", nil
	}
	c.defs[space+"/"+name] = d
	switch {
	case d.encap != "" && n == 43 && d.space == "":
		c.encap["vendor_specific"] = d.encap
		c.rep.MapNote(e.Pos, src, "options.vendor_specific", "option 43 carries space "+d.encap)
	case d.std != nil && d.encap == "":
		d.key = d.std.Key
		c.defs[space+"/"+name] = d
		c.rep.MapNote(e.Pos, src, "(option definition)", fmt.Sprintf("code %d is hadhcpd's %s: written by that name", n, d.std.Key))
	default:
		if d.encap != "" {
			c.encap[d.key] = d.encap
		}
		c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, config.OptionDefinition{
			Name: d.key, Code: d.code, Space: d.space, Type: d.typ, Array: d.array, Fields: d.field, Encapsulate: d.encap})
		c.rep.Map(e.Pos, src, "dhcp.option_definitions["+d.key+"]")
	}
}

// codeNames maps standard option codes to their names.
func codeName(n int) string {
	best := ""
	for name, d := range migrate.StandardOptions {
		if int(d.Code) == n && (best == "" || name < best) {
			best = name
		}
	}
	return best
}

// optionData maps an option-data list into a scope's options.
func (c *conv) optionData(v *Value, key string) *scopeOpts {
	so := &scopeOpts{opts: map[string]any{}, sub: map[string]map[string]any{}}
	if v.Kind != Arr {
		c.rep.Invalid(v.Pos, "option-data", "option-data must be a list")
		return so
	}
	for _, e := range v.Arr {
		c.optionDatum(e, key, so)
	}
	return so
}

func (c *conv) optionDatum(e *Value, key string, so *scopeOpts) {
	name := str(e.Get("name"))
	space := str(e.Get("space"))
	if space == "" {
		space = "dhcp4"
	}
	if name == "" && e.Get("code") != nil {
		n, _ := strconv.Atoi(strOrNum(e.Get("code")))
		for k, d := range c.defs {
			if d.code == n && strings.HasPrefix(k, space+"/") {
				name = strings.TrimPrefix(k, space+"/")
			}
		}
		if name == "" && space == "dhcp4" {
			name = codeName(n)
		}
		if name == "" {
			c.rep.Unsupported(e.Pos, "option-data code "+strOrNum(e.Get("code")), "an option with no definition: add an option-def")
			return
		}
	}
	data, hasData := str(e.Get("data")), e.Get("data") != nil
	src := fmt.Sprintf("option-data %s %q", name, data)
	if ns := e.Get("never-send"); ns != nil && ns.Kind == Bool && ns.Bool {
		c.rep.Unsupported(e.Pos, src, "never-send: hadhcpd cannot suppress an option by scope")
		return
	}
	if space != "dhcp4" {
		d, ok := c.defs[space+"/"+name]
		if !ok {
			c.rep.Invalid(e.Pos, src, "a sub-option of space "+space+" with no option-def")
			return
		}
		v, err := c.value(d, data, e)
		if err != nil {
			c.rep.Invalid(e.Pos, src, err.Error())
			return
		}
		if so.sub[space] == nil {
			so.sub[space] = map[string]any{}
		}
		so.sub[space][d.key] = v
		c.rep.MapNote(e.Pos, src, key, "sub-option "+d.key+" of space "+space)
		return
	}
	if name == "dhcp-renewal-time" || name == "dhcp-rebinding-time" {
		c.rep.Unsupported(e.Pos, src, "T1/T2 as option-data: write renew-timer/rebind-timer")
		return
	}
	if why, ok := migrate.DerivedOptions[name]; ok && name != "subnet-mask" {
		c.rep.Drop(e.Pos, src, why)
		return
	}
	d, ok := c.defs["dhcp4/"+name]
	if !ok {
		std, sok := migrate.StandardOptions[name]
		if name == "subnet-mask" {
			std, sok = migrate.OptDef{Code: 1, Key: "subnet_mask", Type: migrate.OptIP}, true
		}
		if name == "vendor-encapsulated-options" {
			std, sok = migrate.OptDef{Code: 43, Key: "vendor_specific", Type: migrate.OptHex}, true
		}
		if !sok {
			c.rep.Unsupported(e.Pos, src, fmt.Sprintf("option %q is not one hadhcpd knows by name: add an option-def", name))
			return
		}
		d = optDef{code: int(std.Code), key: std.Key, std: &std}
	}
	if sp, ok := c.encap[d.key]; ok && (!hasData || data == "") && d.typ != "hex" {
		// Kea fills an encapsulating option given without data with its
		// space's sub-options (Kea ARM "Nested DHCPv4 Options").
		so.carry = append(so.carry, d.key)
		c.rep.MapNote(e.Pos, src, key+"."+d.key, "carries the options of space "+sp)
		return
	}
	if !hasData {
		c.rep.Invalid(e.Pos, src, "no data")
		return
	}
	v, err := c.value(d, data, e)
	if err != nil {
		c.rep.Invalid(e.Pos, src, err.Error())
		return
	}
	k := d.key
	if d.std != nil {
		k, v = migrate.OptionEntry(int(d.std.Code), d.std.Key, d.std.Type, v)
	}
	so.opts[k] = v
	c.rep.Map(e.Pos, src, key+"."+migrate.ReportKey(k))
}

// value reads an option's data: Kea's csv-format text by the option's
// type, or hex with csv-format false.
func (c *conv) value(d optDef, data string, e *Value) (any, error) {
	if cf := e.Get("csv-format"); cf != nil && cf.Kind == Bool && !cf.Bool {
		h := strings.NewReplacer(" ", "", ":", "").Replace(data)
		if len(h)%2 != 0 {
			return nil, fmt.Errorf("hex data of odd length")
		}
		var b strings.Builder
		for i := 0; i < len(h); i += 2 {
			if i > 0 {
				b.WriteByte(':')
			}
			b.WriteString(strings.ToLower(h[i : i+2]))
		}
		if _, err := strconv.ParseUint(strings.ReplaceAll(b.String(), ":", "")+"0", 16, 64); err != nil && len(h) <= 14 {
			return nil, fmt.Errorf("%q is not hex", data)
		}
		if d.std != nil && d.std.Type != migrate.OptHex {
			return map[string]any{"code": d.code, "type": "hex", "value": b.String()}, nil
		}
		return b.String(), nil
	}
	if d.std != nil {
		vals := splitCSV(data)
		if d.std.Type == migrate.OptRoutes {
			// Kea writes "198.51.100.0/24 - 192.0.2.1".
			for i, r := range vals {
				vals[i] = strings.Join(strings.Fields(strings.ReplaceAll(r, " - ", " ")), " ")
			}
		}
		if d.std.Type == migrate.OptString {
			return data, nil
		}
		return migrate.OptionValue(d.std.Type, vals)
	}
	vals := splitCSV(data)
	one := func(typ, s string) (any, error) {
		switch typ {
		case "ip":
			return migrate.ParseIPv4(s)
		case "string", "fqdn":
			return s, nil
		case "hex":
			return s, nil
		case "bool":
			switch strings.ToLower(s) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return nil, fmt.Errorf("%q is not a boolean", s)
		case "uint8", "uint16", "uint32":
			n, err := strconv.ParseUint(s, 0, map[string]int{"uint8": 8, "uint16": 16, "uint32": 32}[typ])
			if err != nil {
				return nil, fmt.Errorf("%q is not a %s", s, typ)
			}
			return int(n), nil
		case "int8", "int16", "int32":
			n, err := strconv.ParseInt(s, 0, map[string]int{"int8": 8, "int16": 16, "int32": 32}[typ])
			if err != nil {
				return nil, fmt.Errorf("%q is not a %s", s, typ)
			}
			return int(n), nil
		}
		return nil, fmt.Errorf("type %s", typ)
	}
	switch {
	case d.typ == "empty":
		return true, nil
	case d.typ == "string" && !d.array:
		return data, nil
	case d.typ == "domains":
		return vals, nil
	case d.typ == "record":
		if len(vals) < len(d.field) || (!d.array && len(vals) != len(d.field)) {
			return nil, fmt.Errorf("%d values for a record of %d fields", len(vals), len(d.field))
		}
		out := make([]any, len(vals))
		for i, s := range vals {
			ft := d.field[min(i, len(d.field)-1)]
			v, err := one(ft, s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case d.array:
		out := make([]any, 0, len(vals))
		for _, s := range vals {
			v, err := one(d.typ, s)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("%d values where one is expected", len(vals))
	}
	return one(d.typ, vals[0])
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

// finishOpts writes a scope's options, with each carrier option (43, or
// one defined to encapsulate a space) filled with the space's options
// set in this scope, or else globally.
func (c *conv) finishOpts(so *scopeOpts, key string) map[string]any {
	if so == nil {
		return nil
	}
	opts := map[string]any{}
	for k, v := range so.opts {
		opts[k] = v
	}
	carry := append([]string(nil), so.carry...)
	// Sub-options set here for a space the global level carries.
	for _, k := range c.global.carry {
		if len(so.sub[c.encap[k]]) > 0 && !contains(carry, k) {
			carry = append(carry, k)
		}
	}
	for _, k := range carry {
		sp := c.encap[k]
		subs := map[string]any{}
		for sk, v := range c.global.sub[sp] {
			subs[sk] = v
		}
		for sk, v := range so.sub[sp] {
			subs[sk] = v
		}
		if len(subs) == 0 {
			c.rep.Drop(migrate.Pos{}, key+".options."+k, "no sub-option of space "+sp+" is set: Kea sends nothing either")
			continue
		}
		opts[k] = map[string]any{"space": sp, "options": subs}
	}
	return migrate.FinishOptions(opts)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
