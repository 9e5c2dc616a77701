package migrate

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// Definition is an imported option definition (ISC's `option NAME code N =
// TYPE;` or Kea's option-def): the entry for dhcp.option_definitions, and
// how the importer writes the option's values (Opt.Key, Opt.Value).
type Definition struct {
	// Entry is nil when the source defines an option hadhcpd already knows
	// under that name and code (ISC configurations define
	// rfc3442-classless-static-routes as 121, and `option space PXE`'s
	// mtftp-ip): nothing to write, the standard option is used.
	Entry *scope.OptionDefinition
	Opt   OptDef
}

// SpaceKey is hadhcpd's name of a source's option space: ISC's "dhcp" and
// Kea's "dhcp4" are dhcp4; others lowercased with '-' and '.' → '_' (ISC
// and Kea names are case-insensitive; ISC's PXE is hadhcpd's built-in pxe).
func SpaceKey(space string) string {
	switch strings.ToLower(space) {
	case "", "dhcp", "dhcp4":
		return scope.SpaceDHCP4
	}
	return OptionKey(space)
}

// KeaVendorSpace reads Kea's "vendor-N" space name (the sub-options of
// enterprise N in option 125).
func KeaVendorSpace(space string) (uint32, bool) {
	n, ok := strings.CutPrefix(strings.ToLower(space), "vendor-")
	if !ok {
		return 0, false
	}
	e, err := strconv.ParseUint(n, 10, 32)
	return uint32(e), err == nil
}

// VendorSpecific is option 43's value in hadhcpd.yaml for sub-options of
// a space (sub-option keys as the space's definitions name them).
func VendorSpecific(space string, subs map[string]any) map[string]any {
	return map[string]any{"space": SpaceKey(space), "options": subs}
}

// VIVSOEntry is one enterprise of option 125 (vivso_suboptions: a list of
// these): its sub-options of space, or raw data when space is "" (subs is
// then ignored and data is colon hex).
func VIVSOEntry(enterprise uint32, space string, subs map[string]any, data string) map[string]any {
	if space == "" {
		return map[string]any{"enterprise": int(enterprise), "data": data}
	}
	return map[string]any{"enterprise": int(enterprise), "space": SpaceKey(space), "options": subs}
}

// newDefinition checks a converted definition against the built-in
// names: the same name and code in the same space is the standard option
// (no entry); the same name with another code or type cannot be defined.
func newDefinition(space, name string, code int, d OptDef) (Definition, error) {
	d.Space, d.Key, d.Code = SpaceKey(space), OptionKey(name), uint8(code)
	lo := 1
	if d.Space != scope.SpaceDHCP4 {
		lo = 0
	}
	if code < lo || code > 254 {
		return Definition{}, fmt.Errorf("option %s: code %d is outside %d..254", name, code, lo)
	}
	if std, ok := scope.LookupOption(d.Space, d.Key); ok {
		sd := optDefOf(std)
		sd.Key = std.Name
		if int(std.Code) != code {
			return Definition{}, fmt.Errorf("option %s: code %d, but hadhcpd knows %s as code %d", name, code, std.Name, std.Code)
		}
		return Definition{Opt: sd}, nil
	}
	e := &scope.OptionDefinition{Name: d.Key, Code: code, Type: d.Type.String(), Array: d.Array, Encapsulate: d.Encapsulate}
	if d.Space != scope.SpaceDHCP4 {
		e.Space = d.Space
	}
	for _, f := range d.Fields {
		e.Fields = append(e.Fields, f.String())
	}
	// The server's own checks: what it refuses, the importer reports.
	if _, errs := scope.NewDefinitions([]scope.OptionDefinition{*e}); len(errs) > 0 && !onlyMissingSpace(errs) {
		return Definition{}, fmt.Errorf("option %s: %s", name, errs[0].Reason)
	}
	return Definition{Entry: e, Opt: d}, nil
}

// onlyMissingSpace: the one error of a definition checked alone is that
// the space it encapsulates is defined elsewhere in the source.
func onlyMissingSpace(errs []scope.OptionError) bool {
	return len(errs) == 1 && strings.HasSuffix(errs[0].Key, ".encapsulate") && strings.HasPrefix(errs[0].Reason, "no space")
}

// iscTypes are ISC dhcpd's option type words (dhcp-options(5), "Defining
// new options"). ISC's plain "integer" is signed.
var iscTypes = map[string]OptType{
	"boolean": OptBool, "ip-address": OptIP, "text": OptString, "string": OptHex,
	"domain-name": OptFQDN, "domain-list": OptDomainList, "zerolen": OptEmpty,
	"integer 8": OptInt8, "integer 16": OptInt16, "integer 32": OptInt32,
	"signed integer 8": OptInt8, "signed integer 16": OptInt16, "signed integer 32": OptInt32,
	"unsigned integer 8": OptUint8, "unsigned integer 16": OptUint16, "unsigned integer 32": OptUint32,
}

// ISCDefinition converts `option SPACE.NAME code CODE = TYPE;` (space ""
// for the options themselves); typ is the text after '=' without the
// semicolon: "ip-address", "array of unsigned integer 16", "{ unsigned
// integer 8, ip-address, text }", "encapsulate PXE", "domain-list
// compressed".
func ISCDefinition(space, name string, code int, typ string) (Definition, error) {
	t := strings.Join(strings.Fields(strings.ToLower(typ)), " ")
	var d OptDef
	if a, ok := strings.CutPrefix(t, "array of "); ok {
		d.Array, t = true, a
	}
	switch {
	case strings.HasPrefix(t, "{"):
		if d.Array {
			return Definition{}, fmt.Errorf("option %s: an array of records is not supported (only a record whose last field repeats)", name)
		}
		inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}"))
		parts := strings.Split(inner, ",")
		d.Type = OptRecord
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if a, ok := strings.CutPrefix(p, "array of "); ok && i == len(parts)-1 {
				d.Array, p = true, a
			}
			ft, ok := iscTypes[strings.TrimSuffix(p, " compressed")]
			if !ok || ft == OptEmpty || ft == OptDomainList {
				return Definition{}, fmt.Errorf("option %s: record field %q is not a type hadhcpd can write", name, p)
			}
			d.Fields = append(d.Fields, ft)
		}
	case strings.HasPrefix(t, "encapsulate "):
		if d.Array {
			return Definition{}, fmt.Errorf("option %s: an array of encapsulations is not an option type", name)
		}
		d.Type, d.Encapsulate = OptEncapsulate, SpaceKey(strings.TrimPrefix(t, "encapsulate "))
	default:
		ft, ok := iscTypes[strings.TrimSuffix(t, " compressed")]
		if !ok {
			return Definition{}, fmt.Errorf("option %s: type %q is not one hadhcpd can write", name, typ)
		}
		d.Type = ft
		switch {
		case d.Array && ft == OptIP:
			d.Type, d.Array = OptIPList, false
		case d.Array && (ft == OptFQDN || ft == OptDomainList):
			d.Type, d.Array = OptDomainList, false
		case d.Array && (ft == OptString || ft == OptHex || ft == OptEmpty):
			return Definition{}, fmt.Errorf("option %s: an array of %s is not an option type hadhcpd can write", name, strings.TrimPrefix(t, "array of "))
		}
	}
	return newDefinition(space, name, code, d)
}

// keaTypes are Kea's option-def types (Kea ARM, "Custom DHCPv4 Options").
var keaTypes = map[string]OptType{
	"binary": OptHex, "boolean": OptBool, "empty": OptEmpty, "fqdn": OptFQDN,
	"int8": OptInt8, "int16": OptInt16, "int32": OptInt32, "ipv4-address": OptIP,
	"string": OptString, "uint8": OptUint8, "uint16": OptUint16, "uint32": OptUint32,
}

// KeaDefinition converts one option-def entry: space ("" is dhcp4), name,
// code, type, array, record-types (comma-separated) and encapsulate.
func KeaDefinition(space, name string, code int, typ string, array bool, recordTypes, encapsulate string) (Definition, error) {
	d := OptDef{Array: array}
	typ = strings.ToLower(strings.TrimSpace(typ))
	switch {
	case typ == "record":
		d.Type = OptRecord
		for _, f := range strings.Split(recordTypes, ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			ft, ok := keaTypes[f]
			if !ok || ft == OptEmpty {
				return Definition{}, fmt.Errorf("option %s: record field %q is not a type hadhcpd can write", name, f)
			}
			d.Fields = append(d.Fields, ft)
		}
	case typ == "empty" && encapsulate != "":
		d.Type, d.Encapsulate = OptEncapsulate, SpaceKey(encapsulate)
		if array {
			return Definition{}, fmt.Errorf("option %s: an array of encapsulations is not an option type", name)
		}
	case encapsulate != "":
		return Definition{}, fmt.Errorf("option %s: a %s followed by sub-options of %s is not an option type hadhcpd can write (only type empty with encapsulate)", name, typ, encapsulate)
	default:
		ft, ok := keaTypes[typ]
		if !ok {
			return Definition{}, fmt.Errorf("option %s: type %q is not one hadhcpd can write", name, typ)
		}
		d.Type = ft
		switch {
		case array && ft == OptIP:
			d.Type, d.Array = OptIPList, false
		case array && ft == OptFQDN:
			d.Type, d.Array = OptDomainList, false
		case array && (ft == OptString || ft == OptHex || ft == OptEmpty):
			return Definition{}, fmt.Errorf("option %s: an array of %s is not an option type hadhcpd can write", name, typ)
		}
	}
	return newDefinition(space, name, code, d)
}

// Value turns the textual values of an option of this definition (split
// at the source's commas, quotes removed) into its value in hadhcpd.yaml:
// what OptionValue gives for the simple types, a list for an array, a list
// of the fields for a record, hex for encapsulated and vendor options
// given as bytes.
func (d OptDef) Value(vals []string) (any, error) {
	if len(vals) == 0 && d.Type != OptEmpty {
		return nil, fmt.Errorf("no value")
	}
	switch {
	case d.Type == OptEmpty:
		return true, nil
	case d.Type == OptRecord:
		n := len(d.Fields)
		if len(vals) < n && !(d.Array && len(vals) == n-1) || len(vals) > n && !d.Array {
			last := d.Fields[n-1]
			if len(vals) > n && (last == OptString || last == OptHex) {
				vals = append(vals[:n-1:n-1], strings.Join(vals[n-1:], ","))
			} else {
				return nil, fmt.Errorf("%d values for a record of %d fields", len(vals), n)
			}
		}
		out := make([]any, 0, len(vals))
		for i, s := range vals {
			v, err := scalarValue(d.Fields[min(i, n-1)], s)
			if err != nil {
				return nil, fmt.Errorf("field %d: %v", i, err)
			}
			out = append(out, v)
		}
		return out, nil
	case d.Array:
		out := make([]any, 0, len(vals))
		for _, s := range vals {
			v, err := scalarValue(d.Type, s)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case d.Type == OptEncapsulate || d.Type == OptVendor || d.Type == OptVIVCO || d.Type == OptVIVSO:
		return hexValue(vals)
	}
	if len(vals) == 1 {
		if v, ok, err := scalarOnly(d.Type, vals[0]); ok {
			return v, err
		}
	}
	return OptionValue(d.Type, vals)
}

// scalarOnly converts the types OptionValue does not know.
func scalarOnly(t OptType, s string) (any, bool, error) {
	switch t {
	case OptInt8, OptInt16, OptFQDN, OptIPv6, OptHex:
		v, err := scalarValue(t, s)
		return v, true, err
	}
	return nil, false, nil
}

// scalarValue converts one value of a scalar type. A signed integer may be
// written as its unsigned bit pattern (ISC dhcpd's `integer 8` holds 192
// in routes written byte by byte): it is stored as the negative number
// with the same bytes.
func scalarValue(t OptType, s string) (any, error) {
	switch t {
	case OptInt8, OptInt16, OptInt32:
		bits := map[OptType]int{OptInt8: 8, OptInt16: 16, OptInt32: 32}[t]
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil || n < -(1<<(bits-1)) || n >= 1<<bits {
			return nil, fmt.Errorf("%q is not a %d-bit integer", s, bits)
		}
		if n >= 1<<(bits-1) {
			n -= 1 << bits
		}
		return int(n), nil
	case OptFQDN:
		return strings.TrimSuffix(s, "."), nil
	case OptIPv6:
		return s, nil
	case OptHex:
		return hexValue([]string{s})
	}
	return OptionValue(t, []string{s})
}

// hexValue is bytes for hadhcpd's hex type: colon hex as given, or, for a
// value that is not hex (ISC's `string` type takes quoted text too), the
// text's bytes.
func hexValue(vals []string) (any, error) {
	j := strings.Join(vals, ":")
	if b, err := scope.ParseHex(j); err == nil && len(b) > 0 && (strings.Contains(j, ":") || len(vals) == 1 && len(j) == 2) {
		return j, nil
	}
	s := strings.Join(vals, ",")
	if s == "" {
		return nil, fmt.Errorf("no value")
	}
	return net.HardwareAddr(s).String(), nil
}

// OptionEntry returns the key and value the option of this definition
// takes in an importer's options map: its name when hadhcpd knows it (a
// standard option, or one this definition adds to dhcp.option_definitions),
// else what the package's OptionEntry gives.
func (d Definition) OptionEntry(v any) (string, any) {
	if d.Entry != nil || d.Opt.Space != scope.SpaceDHCP4 {
		return d.Opt.Key, v
	}
	return OptionEntry(int(d.Opt.Code), d.Opt.Key, d.Opt.Type, v)
}
