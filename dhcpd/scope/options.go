package scope

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

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

const (
	typeString  optType = "string"
	typeIP      optType = "ip"
	typeIPs     optType = "ips"
	typeUint8   optType = "uint8"
	typeUint16  optType = "uint16"
	typeUint32  optType = "uint32"
	typeInt32   optType = "int32"
	typeBool    optType = "bool"
	typeHex     optType = "hex"
	typeDomains optType = "domains" // RFC 3397 (option 119), uncompressed labels
	typeRoutes  optType = "routes"  // RFC 3442 (option 121)
)

// namedOptions are the RFC 2132 (and later) options users name in the config.
var namedOptions = map[string]struct {
	code uint8
	typ  optType
}{
	"subnet_mask":             {1, typeIP},
	"time_offset":             {2, typeInt32},
	"routers":                 {3, typeIPs},
	"time_servers":            {4, typeIPs},
	"domain_name_servers":     {6, typeIPs},
	"log_servers":             {7, typeIPs},
	"host_name":               {12, typeString},
	"domain_name":             {15, typeString},
	"root_path":               {17, typeString},
	"interface_mtu":           {26, typeUint16},
	"broadcast_address":       {28, typeIP},
	"ntp_servers":             {42, typeIPs},
	"vendor_specific":         {43, typeHex},
	"netbios_name_servers":    {44, typeIPs},
	"netbios_node_type":       {46, typeUint8},
	"tftp_server_name":        {66, typeString},
	"bootfile_name":           {67, typeString},
	"domain_search":           {119, typeDomains},
	"classless_static_routes": {121, typeRoutes},
}

// serverOwned are options the engine writes itself; the config may not set
// them (RFC 2132 §9: lease time, message type, server id, PRL, max size,
// T1/T2, client id; RFC 3046 relay info).
var serverOwned = map[uint8]string{
	0: "pad", 50: "requested address", 51: "lease time", 52: "overload", 53: "message type",
	54: "server identifier", 55: "parameter request list", 56: "message", 57: "max message size",
	58: "renewal time", 59: "rebinding time", 61: "client identifier", 82: "relay agent information",
	118: "subnet selection", 255: "end",
}

// OptionNames lists the named options, for documentation and errors.
func OptionNames() []string {
	names := make([]string, 0, len(namedOptions))
	for n := range namedOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseOptions encodes an options map from the config file:
//
//	options:
//	  routers: [192.0.2.1]
//	  domain_name: example.com
//	  classless_static_routes: ["198.51.100.0/24 192.0.2.254", "0.0.0.0/0 192.0.2.1"]
//	  custom:
//	    - {code: 252, type: string, value: "http://wpad.example.com/wpad.dat"}
//	    - {code: 150, type: ips, value: [192.0.2.5]}
//
// It returns every problem found, each naming its key.
func ParseOptions(m map[string]any) (Options, []OptionError) {
	out := Options{}
	var errs []OptionError
	bad := func(key, format string, args ...any) {
		errs = append(errs, OptionError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		val := m[name]
		if name == "custom" {
			list, ok := val.([]any)
			if !ok {
				bad(name, "must be a list of {code, type, value}")
				continue
			}
			for i, item := range list {
				k := fmt.Sprintf("custom[%d]", i)
				code, typ, v, e := parseCustom(k, item)
				if e != nil {
					errs = append(errs, e...)
					continue
				}
				if _, dup := out[code]; dup {
					bad(k+".code", "option %d is set twice", code)
					continue
				}
				b, err := encodeOption(typ, v)
				if err != nil {
					bad(k+".value", "%v", err)
					continue
				}
				out[code] = b
			}
			continue
		}
		no, ok := namedOptions[name]
		if !ok {
			bad(name, "unknown option (known: %s, or custom: [{code, type, value}])", strings.Join(OptionNames(), ", "))
			continue
		}
		b, err := encodeOption(no.typ, val)
		if err != nil {
			bad(name, "%v", err)
			continue
		}
		if _, dup := out[no.code]; dup {
			bad(name, "option %d is also set under custom", no.code)
			continue
		}
		out[no.code] = b
	}
	return out, errs
}

func parseCustom(k string, item any) (uint8, optType, any, []OptionError) {
	mm, ok := item.(map[string]any)
	if !ok {
		return 0, "", nil, []OptionError{{k, "must be a map {code, type, value}"}}
	}
	var errs []OptionError
	for key := range mm {
		switch key {
		case "code", "type", "value":
		default:
			errs = append(errs, OptionError{k + "." + key, "unknown key (want code, type, value)"})
		}
	}
	code, err := toInt(mm["code"])
	switch {
	case err != nil:
		errs = append(errs, OptionError{k + ".code", "must be a number 1..254"})
	case code < 1 || code > 254:
		errs = append(errs, OptionError{k + ".code", fmt.Sprintf("%d is outside 1..254", code)})
	default:
		if what, own := serverOwned[uint8(code)]; own {
			errs = append(errs, OptionError{k + ".code", fmt.Sprintf("option %d (%s) is set by the server", code, what)})
		}
	}
	ts, _ := mm["type"].(string)
	typ := optType(ts)
	switch typ {
	case typeString, typeIP, typeIPs, typeUint8, typeUint16, typeUint32, typeInt32, typeBool, typeHex, typeDomains, typeRoutes:
	default:
		errs = append(errs, OptionError{k + ".type", fmt.Sprintf("%q is not one of string, ip, ips, uint8, uint16, uint32, int32, bool, hex, domains, routes", ts)})
	}
	if _, ok := mm["value"]; !ok {
		errs = append(errs, OptionError{k + ".value", "must be set"})
	}
	if errs != nil {
		return 0, "", nil, errs
	}
	return uint8(code), typ, mm["value"], nil
}

// encodeOption turns a config value into option bytes.
func encodeOption(typ optType, v any) ([]byte, error) {
	switch typ {
	case typeString:
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%v is not a non-empty string", v)
		}
		if len(s) > 255 {
			return nil, fmt.Errorf("longer than 255 bytes")
		}
		return []byte(s), nil
	case typeIP:
		a, err := toIPv4(v)
		if err != nil {
			return nil, err
		}
		b := a.As4()
		return b[:], nil
	case typeIPs:
		list := toList(v)
		if len(list) == 0 {
			return nil, fmt.Errorf("needs at least one IPv4 address")
		}
		var out []byte
		for _, x := range list {
			a, err := toIPv4(x)
			if err != nil {
				return nil, err
			}
			b := a.As4()
			out = append(out, b[:]...)
		}
		return out, nil
	case typeUint8, typeUint16, typeUint32, typeInt32:
		n, err := toInt(v)
		if err != nil {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		lo, hi := int64(0), int64(0)
		switch typ {
		case typeUint8:
			hi = 255
		case typeUint16:
			hi = 65535
		case typeUint32:
			hi = 1<<32 - 1
		case typeInt32:
			lo, hi = -1<<31, 1<<31-1
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("%d is outside %d..%d", n, lo, hi)
		}
		switch typ {
		case typeUint8:
			return []byte{byte(n)}, nil
		case typeUint16:
			return binary.BigEndian.AppendUint16(nil, uint16(n)), nil
		default:
			return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
		}
	case typeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not true or false", v)
		}
		if b {
			return []byte{1}, nil
		}
		return []byte{0}, nil
	case typeHex:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a hex string", v)
		}
		b, err := ParseHex(s)
		if err != nil || len(b) == 0 || len(b) > 255 {
			return nil, fmt.Errorf("%q is not 1..255 hex bytes (01:02:ff or 0102ff)", s)
		}
		return b, nil
	case typeDomains:
		list := toList(v)
		if len(list) == 0 {
			return nil, fmt.Errorf("needs at least one domain name")
		}
		var out []byte
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a domain name", x)
			}
			enc, err := encodeDomain(s)
			if err != nil {
				return nil, err
			}
			out = append(out, enc...)
		}
		return out, nil
	case typeRoutes:
		list := toList(v)
		if len(list) == 0 {
			return nil, fmt.Errorf("needs at least one route \"PREFIX ROUTER\"")
		}
		var out []byte
		for _, x := range list {
			s, _ := x.(string)
			enc, err := encodeRoute(s)
			if err != nil {
				return nil, err
			}
			out = append(out, enc...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown type %q", typ)
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

// ParseHex reads hex bytes written plain ("01001122334455") or with
// colons, dashes or spaces between them ("01:00:11:22:33:44:55"), the forms
// people copy from ISC, Kea and ip(8) output. An empty string gives no
// bytes and no error: how many bytes are valid is the caller's to check.
func ParseHex(s string) ([]byte, error) {
	s = strings.NewReplacer(":", "", "-", "", " ", "").Replace(s)
	return hex.DecodeString(s)
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
