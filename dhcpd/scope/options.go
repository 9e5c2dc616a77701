package scope

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// encodedLen is the length of an option of n value bytes on the wire, in
// pieces of 255 (RFC 3396).
func encodedLen(n int) int { return n + 2*max(1, (n+254)/255) }

// Options are encoded DHCP option values by code, ready to copy into a reply
// (RFC 2132 wire format, without code and length).
type Options map[uint8][]byte

// Merge returns a copy of o with every option of over replacing o's.
func (o Options) Merge(over Options) Options {
	out := make(Options, len(o)+len(over))
	for c, v := range o {
		out[c] = v
	}
	for c, v := range over {
		out[c] = v
	}
	return out
}

// OptionError is one bad option value; Key is relative to the options map
// ("routers", "custom[1].value").
type OptionError struct {
	Key    string
	Reason string
}

func (e OptionError) Error() string { return e.Key + ": " + e.Reason }

// optType is how a value is written in the config and encoded on the wire.
type optType string

// The types of option_definitions and custom entries.
const (
	typeString      optType = "string"
	typeIP          optType = "ip"
	typeIPs         optType = "ips"
	typeUint8       optType = "uint8"
	typeUint16      optType = "uint16"
	typeUint32      optType = "uint32"
	typeInt8        optType = "int8"
	typeInt16       optType = "int16"
	typeInt32       optType = "int32"
	typeBool        optType = "bool"
	typeHex         optType = "hex"
	typeEmpty       optType = "empty"       // no value: the option's presence is the information
	typeFQDN        optType = "fqdn"        // one domain name, RFC 1035 §3.1 labels
	typeDomains     optType = "domains"     // RFC 3397 (option 119), uncompressed labels
	typeRoutes      optType = "routes"      // RFC 3442 (option 121)
	typeRecord      optType = "record"      // fields one after another
	typeEncapsulate optType = "encapsulate" // sub-options of another space
)

// Types of standard options only, with their own value forms.
const (
	typeIPv6     optType = "ipv6"     // a record field of option_6rd
	typeVendor   optType = "vendor"   // option 43: hex or {space, options}
	typeVIVCO    optType = "vivco"    // option 124 (RFC 3925 §3)
	typeVIVSO    optType = "vivso"    // option 125 (RFC 3925 §4)
	typeTuples16 optType = "tuples16" // strings after a 2-byte length (RFC 8572 §8.3)
)

// defTypes are the types a definition or a custom entry may name.
var defTypes = []optType{typeString, typeIP, typeIPs, typeUint8, typeUint16, typeUint32, typeInt8, typeInt16, typeInt32,
	typeBool, typeHex, typeEmpty, typeFQDN, typeDomains, typeRoutes, typeRecord, typeEncapsulate}

// SpaceDHCP4 is the space of the DHCPv4 options themselves (Kea's name).
const SpaceDHCP4 = "dhcp4"

// maxOptionLen is the longest value an option may have: what fits in the
// options field of a reply in one 1500-byte Ethernet frame (IP 20, UDP 8,
// BOOTP fixed fields 236, magic cookie 4, end 1), counted with the code and
// length bytes of each 255-byte piece (RFC 3396 splits longer values; the
// wire encoder does it).
const maxOptionLen = 1500 - 20 - 8 - 236 - 4 - 1

// optDef is one option known by name in a space.
type optDef struct {
	name        string
	code        uint8
	typ         optType
	array       bool
	fields      []optType
	pairs       bool
	encapsulate string // typ == typeEncapsulate: the space of its sub-options
}

// ParseOptions encodes an options map from the config file with the
// standard options only (no dhcp.option_definitions):
//
//	options:
//	  routers: [192.0.2.1]
//	  domain_name: example.com
//	  classless_static_routes: ["198.51.100.0/24 192.0.2.254", "0.0.0.0/0 192.0.2.1"]
//	  vendor_specific: {space: pxe, options: {discovery_control: 3}}
//	  custom:
//	    - {code: 252, type: string, value: "http://wpad.example.com/wpad.dat"}
//	    - {code: 150, type: ips, value: [192.0.2.5]}
//
// It returns every problem found, each naming its key.
func ParseOptions(m map[string]any) (Options, []OptionError) {
	return standardDefs.Parse(m)
}

// Parse encodes an options map (global, shared network, subnet, pool,
// class or reservation) with the standard options and d's definitions.
func (d *Definitions) Parse(m map[string]any) (Options, []OptionError) {
	if d == nil {
		d = standardDefs
	}
	enc, errs := d.parseSpace(SpaceDHCP4, "", m)
	out := make(Options, len(enc))
	for c, v := range enc {
		out[c] = v
	}
	return out, errs
}

// parseSpace encodes the options map m of space sp; prefix is the key of m
// ("" at the top, "vendor_specific.options." below).
func (d *Definitions) parseSpace(sp, prefix string, m map[string]any) (map[uint8][]byte, []OptionError) {
	out := map[uint8][]byte{}
	from := map[uint8]string{}
	var errs []OptionError
	bad := func(key, format string, args ...any) {
		errs = append(errs, OptionError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	space := d.spaces[strings.ToLower(sp)]
	set := func(key string, code uint8, b []byte) {
		if other, dup := from[code]; dup {
			bad(key, "option %d is also set as %s", code, other)
			return
		}
		switch {
		case sp != SpaceDHCP4 && len(b) > 255:
			bad(key, "%d bytes: a sub-option holds at most 255", len(b))
			return
		case encodedLen(len(b)) > maxOptionLen:
			bad(key, "%d bytes: more than fits in a reply", len(b))
			return
		}
		from[code] = key
		out[code] = b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		val := m[name]
		key := prefix + name
		if name == "custom" {
			list, ok := val.([]any)
			if !ok {
				bad(key, "must be a list of {code, type, value}")
				continue
			}
			for i, item := range list {
				k := fmt.Sprintf("%s[%d]", key, i)
				def, v, e := d.parseCustom(sp, k, item)
				if e != nil {
					errs = append(errs, e...)
					continue
				}
				b, e := d.encode(def, k+".value", v)
				if e != nil {
					errs = append(errs, e...)
					continue
				}
				set(k+".code", def.code, b)
			}
			continue
		}
		def, ok := space.byName[strings.ToLower(name)]
		if !ok {
			if sp == SpaceDHCP4 {
				bad(key, "unknown option (see the README's option list, define it in dhcp.option_definitions, or use custom: [{code, type, value}])")
			} else {
				known := "it has none"
				if names := d.Names(sp); len(names) > 0 {
					known = "known: " + strings.Join(names, ", ")
				}
				bad(key, "no option %q in space %s (%s; define it in dhcp.option_definitions)", name, sp, known)
			}
			continue
		}
		b, e := d.encode(def, key, val)
		if e != nil {
			errs = append(errs, e...)
			continue
		}
		set(key, def.code, b)
	}
	return out, errs
}

// parseCustom reads a {code, type, value} entry (with array, fields and
// encapsulate as in a definition) of space sp.
func (d *Definitions) parseCustom(sp, k string, item any) (*optDef, any, []OptionError) {
	mm, ok := item.(map[string]any)
	if !ok {
		return nil, nil, []OptionError{{k, "must be a map {code, type, value}"}}
	}
	var errs []OptionError
	for key := range mm {
		switch key {
		case "code", "type", "value", "array", "fields", "encapsulate":
		default:
			errs = append(errs, OptionError{k + "." + key, "unknown key (want code, type, value; array, fields, encapsulate)"})
		}
	}
	def, e := d.compileDef(k, sp, "", mm)
	errs = append(errs, e...)
	if _, ok := mm["value"]; !ok {
		errs = append(errs, OptionError{k + ".value", "must be set"})
	}
	if errs != nil {
		return nil, nil, errs
	}
	return def, mm["value"], nil
}

// encodeRoute encodes "198.51.100.0/24 192.0.2.254" (optionally "… via …")
// per RFC 3442 §3: width, significant octets of the destination, router.
func encodeRoute(s string) ([]byte, error) {
	f := strings.Fields(s)
	if len(f) == 3 && f[1] == "via" {
		f = []string{f[0], f[2]}
	}
	if len(f) != 2 {
		return nil, fmt.Errorf("%q is not \"PREFIX ROUTER\" (198.51.100.0/24 192.0.2.254)", s)
	}
	p, err := netip.ParsePrefix(f[0])
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("%q: %q is not an IPv4 prefix", s, f[0])
	}
	if p.Masked() != p {
		return nil, fmt.Errorf("%q: %s has host bits set", s, f[0])
	}
	gw, err := netip.ParseAddr(f[1])
	if err != nil || !gw.Is4() {
		return nil, fmt.Errorf("%q: %q is not an IPv4 router address", s, f[1])
	}
	dst := p.Addr().As4()
	out := []byte{byte(p.Bits())}
	out = append(out, dst[:(p.Bits()+7)/8]...)
	g := gw.As4()
	return append(out, g[:]...), nil
}

// encodeDomain writes one name as DNS labels (RFC 1035 §3.1), uncompressed,
// as RFC 3397 allows.
func encodeDomain(s string) ([]byte, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return nil, fmt.Errorf("%q is not a domain name", s)
	}
	var out []byte
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return nil, fmt.Errorf("%q is not a domain name", s)
		}
		out = append(out, byte(len(l)))
		out = append(out, l...)
	}
	return append(out, 0), nil
}

// ParseHex is the tree's one hex reader. It reads bytes written plain
// ("01001122334455") or in groups of one or two digits between colons,
// dashes or spaces ("01:00:11:22:33:44:55", and "1:0:2a" as ISC dhcpd
// writes its lease files): the forms people copy from ISC, Kea and ip(8)
// output. An empty string gives no bytes and no error: how many bytes are
// valid is the caller's to check. It takes a string or the bytes of a
// token, so a lease-file reader need not convert each one.
func ParseHex[T ~string | ~[]byte](s T) ([]byte, error) {
	sep := func(c byte) bool { return c == ':' || c == '-' || c == ' ' }
	grouped := false
	for i := 0; i < len(s); i++ {
		grouped = grouped || sep(s[i])
	}
	if !grouped {
		if len(s)%2 != 0 {
			return nil, fmt.Errorf("%q: odd number of hex digits", s)
		}
		out := make([]byte, len(s)/2)
		for i := range out {
			hi, lo := hexDigit(s[2*i]), hexDigit(s[2*i+1])
			if hi < 0 || lo < 0 {
				return nil, fmt.Errorf("%q: not hex", s)
			}
			out[i] = byte(hi<<4 | lo)
		}
		return out, nil
	}
	out := make([]byte, 0, (len(s)+1)/3)
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && !sep(s[end]) {
			end++
		}
		p := s[start:end]
		if len(p) == 0 || len(p) > 2 {
			return nil, fmt.Errorf("%q: bad hex byte %q", s, p)
		}
		v := 0
		for i := 0; i < len(p); i++ {
			d := hexDigit(p[i])
			if d < 0 {
				return nil, fmt.Errorf("%q: bad hex byte %q", s, p)
			}
			v = v<<4 | d
		}
		out = append(out, byte(v))
		start = end + 1
	}
	return out, nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func toList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case string:
		// A single value or a comma-separated list (what an environment
		// override gives).
		var out []any
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	return nil
}

func toIPv4(v any) (netip.Addr, error) {
	s, ok := v.(string)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%v is not an IPv4 address", v)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		return int64(x), nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 0, 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
