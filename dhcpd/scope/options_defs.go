package scope

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// OptionDefinition is one entry of dhcp.option_definitions: an option (or a
// sub-option of another space) known by name, as ISC dhcpd's `option NAME
// code N = TYPE` and Kea's option-def declare them.
type OptionDefinition struct {
	Name        string   `mapstructure:"name"`
	Code        int      `mapstructure:"code"`
	Space       string   `mapstructure:"space"` // default dhcp4
	Type        string   `mapstructure:"type"`
	Array       bool     `mapstructure:"array"`
	Fields      []string `mapstructure:"fields"`      // type record
	Encapsulate string   `mapstructure:"encapsulate"` // type encapsulate: the space of its sub-options
}

// Definitions are the option names an options map may use, by space: the
// standard ones and those of dhcp.option_definitions. Compiled once per
// config; read-only afterwards.
type Definitions struct {
	spaces map[string]*optSpace
}

type optSpace struct {
	byName map[string]*optDef
}

// standardDefs are the built-in spaces alone.
var standardDefs = func() *Definitions {
	d := &Definitions{spaces: map[string]*optSpace{}}
	for sp, list := range builtinSpaces {
		s := d.space(sp)
		for _, o := range list {
			def := &optDef{name: o.name, code: o.code, typ: o.typ, array: o.array, fields: o.fields, pairs: o.pairs}
			s.byName[o.name] = def
			for _, a := range o.aliases {
				s.byName[a] = def
			}
		}
	}
	return d
}()

func (d *Definitions) space(name string) *optSpace {
	name = strings.ToLower(name)
	s, ok := d.spaces[name]
	if !ok {
		s = &optSpace{byName: map[string]*optDef{}}
		d.spaces[name] = s
	}
	return s
}

// validName is an option or space name: what Kea and ISC allow, with '-'
// and '.' too so imported names survive.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// NewDefinitions compiles dhcp.option_definitions on top of the standard
// options. Errors name the entry relative to the list ("[2].type"). A
// definition may give a second name to a code already known (ISC
// configurations define rfc3442-classless-static-routes as 121); a name
// already known in its space is an error.
func NewDefinitions(list []OptionDefinition) (*Definitions, []OptionError) {
	d := &Definitions{spaces: map[string]*optSpace{}}
	for sp, s := range standardDefs.spaces {
		c := d.space(sp)
		for n, def := range s.byName {
			c.byName[n] = def
		}
	}
	var errs []OptionError
	// Names are case-insensitive, as in ISC dhcpd (and the config loader
	// lowercases map keys).
	list = append([]OptionDefinition(nil), list...)
	for i := range list {
		list[i].Name = strings.ToLower(list[i].Name)
		list[i].Space = strings.ToLower(list[i].Space)
		list[i].Encapsulate = strings.ToLower(list[i].Encapsulate)
	}
	// Spaces first, so that a definition may encapsulate a space whose
	// sub-options are defined further down the list.
	for _, od := range list {
		if od.Space != "" && validName.MatchString(od.Space) {
			d.space(od.Space)
		}
	}
	for i, od := range list {
		k := fmt.Sprintf("[%d]", i)
		sp := od.Space
		if sp == "" {
			sp = SpaceDHCP4
		}
		m := map[string]any{"code": od.Code, "type": od.Type, "array": od.Array, "encapsulate": od.Encapsulate}
		if od.Fields != nil {
			f := make([]any, len(od.Fields))
			for j, s := range od.Fields {
				f[j] = s
			}
			m["fields"] = f
		}
		var e []OptionError
		switch {
		case !validName.MatchString(sp):
			e = append(e, OptionError{k + ".space", fmt.Sprintf("%q is not a space name (letters, digits, _ - .)", od.Space)})
		case od.Name == "":
			e = append(e, OptionError{k + ".name", "must be set"})
		case !validName.MatchString(od.Name) || od.Name == "custom":
			e = append(e, OptionError{k + ".name", fmt.Sprintf("%q is not an option name (letters, digits, _ - .)", od.Name)})
		case d.space(sp).byName[od.Name] != nil:
			e = append(e, OptionError{k + ".name", fmt.Sprintf("%s is already an option of space %s", od.Name, sp)})
		}
		def, de := d.compileDef(k, sp, od.Name, m)
		e = append(e, de...)
		if len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		d.space(sp).byName[od.Name] = def
	}
	// An encapsulation cycle would not end.
	for i, od := range list {
		if od.Encapsulate != "" && d.reaches(od.Encapsulate, od.Space, map[string]bool{}) {
			errs = append(errs, OptionError{fmt.Sprintf("[%d].encapsulate", i), fmt.Sprintf("space %s encapsulates back into %s", od.Encapsulate, od.Space)})
		}
	}
	return d, errs
}

// reaches tells whether space from encapsulates (directly or not) space to.
func (d *Definitions) reaches(from, to string, seen map[string]bool) bool {
	if to == "" {
		to = SpaceDHCP4
	}
	if from == to {
		return true
	}
	if seen[from] {
		return false
	}
	seen[from] = true
	s := d.spaces[from]
	if s == nil {
		return false
	}
	for _, def := range s.byName {
		if def.encapsulate != "" && d.reaches(def.encapsulate, to, seen) {
			return true
		}
	}
	return false
}

// compileDef checks the code, type, array, fields and encapsulate of a
// definition or custom entry of space sp; k is its key.
func (d *Definitions) compileDef(k, sp, name string, m map[string]any) (*optDef, []OptionError) {
	var errs []OptionError
	bad := func(key, format string, args ...any) {
		errs = append(errs, OptionError{Key: k + key, Reason: fmt.Sprintf(format, args...)})
	}
	def := &optDef{name: name}
	code, err := toInt(m["code"])
	lo, hi := int64(0), int64(254)
	if sp == SpaceDHCP4 {
		lo = 1
	}
	switch {
	case m["code"] == nil || err != nil:
		bad(".code", "must be a number %d..%d", lo, hi)
	case code < lo || code > hi:
		bad(".code", "%d is outside %d..%d", code, lo, hi)
	default:
		def.code = uint8(code)
		if what, own := serverOwned[uint8(code)]; own && sp == SpaceDHCP4 {
			bad(".code", "option %d (%s) is set by the server", code, what)
		}
	}
	ts, _ := m["type"].(string)
	def.typ = optType(ts)
	if !isDefType(def.typ) {
		bad(".type", "%q is not one of %s", ts, typeList(defTypes))
		return def, errs
	}
	if a, ok := m["array"]; ok && a != nil {
		b, err := toBool(a)
		if err != nil {
			bad(".array", "must be true or false")
		}
		def.array = b
	}
	if def.array {
		switch def.typ {
		case typeIP, typeUint8, typeUint16, typeUint32, typeInt8, typeInt16, typeInt32, typeBool, typeFQDN, typeRecord:
		case typeIPs, typeDomains, typeRoutes:
			bad(".array", "type %s is a list already", def.typ)
		default:
			bad(".array", "type %s cannot be an array (its values have no length of their own)", def.typ)
		}
	}
	fields, _ := m["fields"].([]any)
	if def.typ == typeRecord {
		if len(fields) == 0 {
			bad(".fields", "a record needs its fields (e.g. [uint8, ip, string])")
		}
		for j, f := range fields {
			fs, _ := f.(string)
			ft := optType(fs)
			switch ft {
			case typeIP, typeUint8, typeUint16, typeUint32, typeInt8, typeInt16, typeInt32, typeBool, typeFQDN:
			case typeString, typeHex:
				if j != len(fields)-1 || def.array {
					bad(fmt.Sprintf(".fields[%d]", j), "%s has no length of its own: only the last field of a record that is not an array may be %s", ft, ft)
				}
			default:
				bad(fmt.Sprintf(".fields[%d]", j), "%q is not a field type (ip, uint8, uint16, uint32, int8, int16, int32, bool, fqdn, string, hex)", fs)
			}
			def.fields = append(def.fields, ft)
		}
	} else if len(fields) > 0 {
		bad(".fields", "only a record has fields")
	}
	enc, _ := m["encapsulate"].(string)
	enc = strings.ToLower(enc)
	switch {
	case def.typ == typeEncapsulate && enc == "":
		bad(".encapsulate", "type encapsulate needs the space of its sub-options")
	case def.typ == typeEncapsulate && d.spaces[enc] == nil:
		bad(".encapsulate", "no space %q (a space is made by defining an option in it)", enc)
	case def.typ != typeEncapsulate && enc != "":
		bad(".encapsulate", "only type encapsulate encapsulates a space")
	}
	def.encapsulate = enc
	return def, errs
}

func isDefType(t optType) bool {
	for _, x := range defTypes {
		if x == t {
			return true
		}
	}
	return false
}

func typeList(ts []optType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Code is the code of option name in space sp (a standard name, an
// alias, or one of dhcp.option_definitions), as the options maps read it;
// '-' and '_' are the same, as in Kea's names. A client class test's
// option[NAME] resolves through it.
func (d *Definitions) Code(sp, name string) (uint8, bool) {
	if d == nil {
		d = standardDefs
	}
	s := d.spaces[strings.ToLower(sp)]
	if s == nil {
		return 0, false
	}
	name = strings.ToLower(name)
	def, ok := s.byName[name]
	if !ok {
		def, ok = s.byName[strings.ReplaceAll(name, "-", "_")]
	}
	if !ok {
		return 0, false
	}
	return def.code, true
}

// Names lists the option names (with aliases) of space sp.
func (d *Definitions) Names(sp string) []string {
	if d == nil {
		d = standardDefs
	}
	s := d.spaces[strings.ToLower(sp)]
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// OptionNames lists the standard option names of space dhcp4 (aliases
// included), for documentation and errors.
func OptionNames() []string { return standardDefs.Names(SpaceDHCP4) }

// StandardOption describes one standard option for documentation and for
// the importers' table: its name in the config, code, and type as a
// definition would write it.
type StandardOption struct {
	Space   string
	Name    string
	Aliases []string
	Code    uint8
	Type    string // a definition type, or vendor, vivco, vivso, tuples16 (own forms)
	Array   bool
	Fields  []string
}

// StandardOptions lists the standard options of every built-in space, by
// space then code.
func StandardOptions() []StandardOption {
	var out []StandardOption
	for sp, list := range builtinSpaces {
		for _, o := range list {
			so := StandardOption{Space: sp, Name: o.name, Aliases: o.aliases, Code: o.code, Type: string(o.typ), Array: o.array}
			for _, f := range o.fields {
				so.Fields = append(so.Fields, string(f))
			}
			out = append(out, so)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Space != out[j].Space {
			return out[i].Space < out[j].Space
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// LookupOption finds a standard option of a built-in space by name or
// alias (case-insensitive).
func LookupOption(space, name string) (StandardOption, bool) {
	space, name = strings.ToLower(space), strings.ToLower(name)
	for _, o := range StandardOptions() {
		if o.Space != space {
			continue
		}
		if o.Name == name {
			return o, true
		}
		for _, a := range o.Aliases {
			if a == name {
				return o, true
			}
		}
	}
	return StandardOption{}, false
}
