package kea

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

func strOrNum(v *Value) string {
	if v == nil {
		return ""
	}
	return v.Str
}

// optionDefs maps option-def: the packet's own options and sub-options of
// spaces, converted by the importers' shared table (migrate.KeaDefinition).
func (c *conv) optionDefs(v *Value) {
	for _, e := range arr(v) {
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
	if err != nil {
		c.rep.Invalid(e.Pos, src, "no code")
		return
	}
	if n == 0 && space != "dhcp4" {
		c.rep.Invalid(e.Pos, src, "sub-option code 0 is the pad option (RFC 2132 §3.1) and cannot carry data")
		return
	}
	array := false
	if a := e.Get("array"); a != nil && a.Kind == Bool {
		array = a.Bool
	}
	encap := str(e.Get("encapsulate"))
	if n == 43 && space == "dhcp4" && encap != "" {
		// Option 43 is hadhcpd's vendor_specific: it carries a space
		// without a definition.
		k := migrate.SpaceKey(encap)
		c.defs[space+"/"+name] = optDef{def: migrate.Definition{Opt: migrate.OptDef{Code: 43, Key: "vendor_specific", Type: migrate.OptEncapsulate, Encapsulate: k, Space: "dhcp4"}}}
		c.encap["vendor_specific"] = k
		c.rep.MapNote(e.Pos, src, "options.vendor_specific", "option 43 carries space "+k)
		return
	}
	sp := space
	if sp == "dhcp4" {
		sp = ""
	}
	d, err := migrate.KeaDefinition(sp, name, n, typ, array, str(e.Get("record-types")), encap)
	if err != nil {
		c.rep.Unsupported(e.Pos, src, err.Error())
		return
	}
	c.defs[space+"/"+name] = optDef{def: d}
	if d.Opt.Type == migrate.OptEncapsulate {
		c.encap[d.Opt.Key] = d.Opt.Encapsulate
	}
	if d.Entry == nil {
		c.rep.MapNote(e.Pos, src, "(option definition)", "hadhcpd knows "+d.Opt.Key+" already")
		return
	}
	c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, *d.Entry)
	c.rep.Map(e.Pos, src, "dhcp.option_definitions["+d.Entry.Name+"]")
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
			if int(d.def.Opt.Code) == n && strings.HasPrefix(k, space+"/") {
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
		sk := migrate.SpaceKey(space)
		if ent, ok := migrate.KeaVendorSpace(space); ok {
			// Kea's vendor-N space: option 125's sub-options of
			// enterprise N (RFC 3925 §4).
			c.vivso[sk] = ent
		}
		var od migrate.OptDef
		if d, ok := c.defs[space+"/"+name]; ok {
			od = d.def.Opt
		} else if std, ok := migrate.SubOption(space, name); ok {
			od = std
		} else if d, ok := c.keaBuiltin(space, name, e); ok {
			od = d
		} else {
			c.rep.Invalid(e.Pos, src, "a sub-option of space "+space+" with no option-def")
			return
		}
		v, err := value(od, data, e)
		if err != nil {
			c.rep.Invalid(e.Pos, src, err.Error())
			return
		}
		if so.sub[sk] == nil {
			so.sub[sk] = map[string]any{}
		}
		k := od.Key
		if h, ok := v.(rawHex); ok {
			k, v = migrate.OptionEntry(int(od.Code), "", migrate.OptHex, string(h))
			c.rep.MapNote(e.Pos, src, key, fmt.Sprintf("sub-option %s of space %s, as custom code %d of type hex: the bytes Kea sends", od.Key, sk, od.Code))
		} else {
			c.rep.MapNote(e.Pos, src, key, "sub-option "+od.Key+" of space "+sk)
		}
		so.sub[sk][k] = v
		return
	}
	if name == "vivso-suboptions" && hasData {
		// Kea sends option 125 with the sub-options of space vendor-N
		// set for the client; the data is the enterprise number.
		c.rep.MapNote(e.Pos, src, key+".vivso_suboptions", "filled with the sub-options of space vendor-"+data)
		return
	}
	if name == "dhcp-renewal-time" || name == "dhcp-rebinding-time" {
		c.rep.Unsupported(e.Pos, src, "T1/T2 as option-data: write renew-timer/rebind-timer")
		return
	}
	var od migrate.OptDef
	var def *migrate.Definition
	if d, ok := c.defs["dhcp4/"+name]; ok {
		od, def = d.def.Opt, &d.def
	} else if why, ok := migrate.DerivedOptions[name]; ok {
		c.rep.Drop(e.Pos, src, why)
		return
	} else if std, ok := migrate.KeaOption(name); ok {
		od = std
	} else {
		c.rep.Unsupported(e.Pos, src, fmt.Sprintf("option %q is not one hadhcpd knows by name: add an option-def", name))
		return
	}
	if sp, ok := c.encap[od.Key]; ok && (!hasData || data == "") {
		// Kea fills an encapsulating option given without data with its
		// space's sub-options (Kea ARM "Nested DHCPv4 Options").
		so.carry = append(so.carry, od.Key)
		c.rep.MapNote(e.Pos, src, key+"."+od.Key, "carries the options of space "+sp)
		return
	}
	if !hasData && od.Type != migrate.OptEmpty {
		c.rep.Invalid(e.Pos, src, "no data")
		return
	}
	v, err := value(od, data, e)
	if err != nil {
		c.rep.Invalid(e.Pos, src, err.Error())
		return
	}
	var k string
	switch h, hex := v.(rawHex); {
	case hex:
		k, v = migrate.OptionEntry(int(od.Code), "", migrate.OptHex, string(h))
		so.opts[k] = v
		c.rep.MapNote(e.Pos, src, key+"."+migrate.ReportKey(k), fmt.Sprintf("%s in hex (csv-format false): custom code %d of type hex, the bytes Kea sends", od.Key, od.Code))
		return
	case def != nil:
		k, v = def.OptionEntry(v)
	default:
		k, v = migrate.OptionEntry(int(od.Code), od.Key, od.Type, v)
	}
	so.opts[k] = v
	c.rep.Map(e.Pos, src, key+"."+migrate.ReportKey(k))
}

// keaSpaces are the sub-options Kea defines itself (Kea ARM "DHCPv4
// Vendor-Specific Options": DOCSIS 3.0's vendor-4491 and docsis3-v4).
var keaSpaces = map[string]map[string]struct {
	code  int
	typ   string
	array bool
}{
	"vendor-4491": {"oro": {1, "uint8", true}, "tftp-servers": {2, "ipv4-address", true}},
	"docsis3-v4":  {"oro": {1, "uint8", true}, "tftp-servers": {2, "ipv4-address", true}},
}

// keaBuiltin defines a sub-option Kea knows without an option-def, the
// first time the source uses it.
func (c *conv) keaBuiltin(space, name string, e *Value) (migrate.OptDef, bool) {
	b, ok := keaSpaces[strings.ToLower(space)][strings.ToLower(name)]
	if !ok {
		return migrate.OptDef{}, false
	}
	d, err := migrate.KeaDefinition(space, name, b.code, b.typ, b.array, "", "")
	if err != nil {
		return migrate.OptDef{}, false
	}
	c.defs[space+"/"+name] = optDef{def: d}
	if d.Entry != nil {
		c.cfg.DHCP.OptionDefinitions = append(c.cfg.DHCP.OptionDefinitions, *d.Entry)
		c.rep.MapNote(e.Pos, space+"/"+name, "dhcp.option_definitions["+d.Entry.Name+"]", "Kea's own definition of it, written out")
	}
	return d.Opt, true
}

// value reads an option's data: Kea's csv-format text by the option's
// type, or hex with csv-format false.
func value(od migrate.OptDef, data string, e *Value) (any, error) {
	if cf := e.Get("csv-format"); cf != nil && cf.Kind == Bool && !cf.Bool {
		h := strings.NewReplacer(" ", "", ":", "").Replace(data)
		if len(h)%2 != 0 || len(h) == 0 {
			return nil, fmt.Errorf("hex data of odd length, or none")
		}
		raw, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("%q is not hex", data)
		}
		colon := net.HardwareAddr(raw).String()
		var text []string // the value as text, when its type reads it back
		switch od.Type {
		case migrate.OptHex, migrate.OptVendor, migrate.OptEncapsulate, migrate.OptVIVCO, migrate.OptVIVSO:
			return colon, nil
		case migrate.OptIP, migrate.OptIPList:
			if len(raw)%4 == 0 && len(raw) > 0 {
				for i := 0; i < len(raw); i += 4 {
					text = append(text, fmt.Sprintf("%d.%d.%d.%d", raw[i], raw[i+1], raw[i+2], raw[i+3]))
				}
			}
		case migrate.OptUint8, migrate.OptUint16, migrate.OptUint32:
			if len(raw) == od.Type.Width() {
				var n uint64
				for _, x := range raw {
					n = n<<8 | uint64(x)
				}
				text = []string{strconv.FormatUint(n, 10)}
			}
		case migrate.OptRoutes:
			if routes, masked, err := migrate.DecodeRoutes(raw); err == nil && !masked {
				text = routes
			}
		}
		if text != nil {
			if v, err := od.Value(text); err == nil {
				return v, nil
			}
		}
		// Kea sends the bytes as they are (Kea ARM "Standard DHCPv4
		// Options", csv-format): so does a custom entry of type hex with
		// the option's code.
		return rawHex(colon), nil
	}
	vals := splitCSV(data)
	// Kea reads integers in hex too (0xf0).
	isInt := func(t migrate.OptType) bool {
		switch t {
		case migrate.OptUint8, migrate.OptUint16, migrate.OptUint32, migrate.OptInt8, migrate.OptInt16, migrate.OptInt32:
			return true
		}
		return false
	}
	for i, v := range vals {
		t := od.Type
		if t == migrate.OptRecord && len(od.Fields) > 0 {
			t = od.Fields[min(i, len(od.Fields)-1)]
		}
		if isInt(t) && (strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X")) {
			if n, err := strconv.ParseUint(v[2:], 16, 64); err == nil {
				vals[i] = strconv.FormatUint(n, 10)
			}
		}
	}
	switch od.Type {
	case migrate.OptRoutes:
		// Kea writes "198.51.100.0/24 - 192.0.2.1".
		for i, r := range vals {
			vals[i] = strings.Join(strings.Fields(strings.ReplaceAll(r, " - ", " ")), " ")
		}
	case migrate.OptString:
		return data, nil
	case migrate.OptEmpty:
		return true, nil
	}
	return od.Value(vals)
}

// rawHex is an option's data in hex that its type cannot write as text
// (or not byte for byte): sent as a custom entry of type hex.
type rawHex string

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
	var vivso []any
	var vs []string
	for sk := range so.sub {
		if _, ok := c.vivso[sk]; ok {
			vs = append(vs, sk)
		}
	}
	sort.Strings(vs)
	for _, sk := range vs {
		vivso = append(vivso, migrate.VIVSOEntry(c.vivso[sk], sk, migrate.FinishOptions(so.sub[sk]), ""))
	}
	if len(vivso) > 0 {
		opts["vivso_suboptions"] = vivso
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
		maps.Copy(subs, c.global.sub[sp])
		maps.Copy(subs, so.sub[sp])
		if len(subs) == 0 {
			c.rep.Drop(migrate.Pos{}, key+".options."+k, "no sub-option of space "+sp+" is set: Kea sends nothing either")
			continue
		}
		opts[k] = map[string]any{"space": sp, "options": migrate.FinishOptions(subs)}
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
