package migrate

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// OptionValue turns the textual values of an option (already split at the
// source's separators, quotes removed) into the value hadhcpd's config
// holds for type t. Several values of a number or boolean type are a list
// (the array options: client-system, path-mtu-plateau-table); a record's
// values stay text, which the server reads field by field (OptDef.Value
// converts them by the fields' types).
func OptionValue(t OptType, vals []string) (any, error) {
	if t == OptEmpty {
		return true, nil
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("no value")
	}
	switch t {
	case OptUint8, OptUint16, OptUint32, OptInt32, OptInt8, OptInt16, OptBool:
		if len(vals) > 1 {
			out := make([]any, 0, len(vals))
			for _, s := range vals {
				v, err := OptionValue(t, []string{s})
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		}
	}
	switch t {
	case OptInt8, OptInt16, OptFQDN, OptIPv6:
		if len(vals) != 1 {
			return nil, fmt.Errorf("%d values where one is expected", len(vals))
		}
		return scalarValue(t, vals[0])
	case OptRecord:
		out := make([]any, len(vals))
		for i, s := range vals {
			out[i] = strings.TrimSpace(s)
		}
		return out, nil
	case OptEncapsulate, OptVendor, OptVIVCO, OptVIVSO:
		return hexValue(vals)
	case OptTuples16:
		return append([]string(nil), vals...), nil
	}
	one := func() (string, error) {
		if len(vals) != 1 {
			return "", fmt.Errorf("%d values where one is expected", len(vals))
		}
		return vals[0], nil
	}
	switch t {
	case OptIP:
		s, err := one()
		if err != nil {
			return nil, err
		}
		return ParseIPv4(s)
	case OptIPList:
		out := make([]string, 0, len(vals))
		for _, s := range vals {
			a, err := ParseIPv4(s)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	case OptString:
		return strings.Join(vals, ","), nil
	case OptDomainList:
		return append([]string(nil), vals...), nil
	case OptUint8, OptUint16, OptUint32, OptInt32:
		s, err := one()
		if err != nil {
			return nil, err
		}
		bits := map[OptType]int{OptUint8: 8, OptUint16: 16, OptUint32: 32, OptInt32: 32}[t]
		if t == OptInt32 {
			n, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return nil, fmt.Errorf("%q is not a %s", s, t)
			}
			return int(n), nil
		}
		n, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %s", s, t)
		}
		return int(n), nil
	case OptBool:
		s, err := one()
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(s) {
		case "true", "on", "1":
			return true, nil
		case "false", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case OptRoutes:
		// "198.51.100.0/24 192.0.2.1" pairs; the caller joins ISC's
		// comma-separated byte form beforehand when it can.
		out := make([]string, 0, len(vals))
		for _, s := range vals {
			f := strings.Fields(s)
			if len(f) != 2 {
				return nil, fmt.Errorf("%q is not \"prefix router\"", s)
			}
			p, err := netip.ParsePrefix(f[0])
			if err != nil || !p.Addr().Is4() {
				return nil, fmt.Errorf("%q is not an IPv4 prefix", f[0])
			}
			r, err := ParseIPv4(f[1])
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked().String()+" "+r)
		}
		return out, nil
	case OptHex:
		return strings.Join(vals, ":"), nil
	}
	return nil, fmt.Errorf("unknown option type")
}

// ParseIPv4 checks that s is a dotted-quad IPv4 address and returns it in
// canonical form.
func ParseIPv4(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a.String(), nil
}

// namedOptions are the option keys hadhcpd's config accepts by name, taken
// from the DHCP server itself (scope.OptionNames) so an option the server
// learns to name is imported by name at once, and the two lists cannot
// drift. Any other option is written under `custom:` as {code, type, value}.
var namedOptions = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range scope.OptionNames() {
		m[n] = true
	}
	return m
}()

// IsNamedOption reports whether hadhcpd's config accepts key under
// `options:` by name.
func IsNamedOption(key string) bool { return namedOptions[key] }

// customPrefix marks an option known only by code while an importer
// collects options; FinishOptions moves them into the `custom:` list.
const customPrefix = "custom:"

// OptionEntry returns the key and value an option takes in an importer's
// options map: its name when hadhcpd knows it, else a code entry that
// FinishOptions turns into `custom: [{code, type, value}]`. The returned
// key is also what the report names.
func OptionEntry(code int, key string, t OptType, v any) (string, any) {
	if namedOptions[key] {
		return key, v
	}
	return fmt.Sprintf("%s%d", customPrefix, code), map[string]any{"code": code, "type": t.String(), "value": v}
}

// FinishOptions turns an importer's options map into the config's form
// (code entries into the `custom:` list, by code), or nil when empty.
func FinishOptions(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := map[string]any{}
	var custom []any
	var codes []int
	byCode := map[int]any{}
	for k, v := range m {
		if c, ok := strings.CutPrefix(k, customPrefix); ok {
			n, _ := strconv.Atoi(c)
			codes = append(codes, n)
			byCode[n] = v
			continue
		}
		out[k] = v
	}
	sort.Ints(codes)
	for _, c := range codes {
		custom = append(custom, byCode[c])
	}
	if len(custom) > 0 {
		out["custom"] = custom
	}
	return out
}

// OptionKey turns a source option name into a key for hadhcpd's config
// (dashes and dots become underscores).
func OptionKey(name string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(name))
}

// ReportKey names an OptionEntry key for the report ("custom[code 224]").
func ReportKey(key string) string {
	if c, ok := strings.CutPrefix(key, customPrefix); ok {
		return "custom[code " + c + "]"
	}
	return key
}

// DecodeRoutes reads RFC 3442 §3 classless routes (width, the
// destination's significant octets, router) as "PREFIX ROUTER" text.
// masked reports a destination with bits beyond its width (dropped here:
// hadhcpd would not encode the same bytes back).
func DecodeRoutes(raw []byte) (routes []string, masked bool, err error) {
	for len(raw) > 0 {
		w := int(raw[0])
		if w > 32 {
			return nil, false, fmt.Errorf("prefix length %d", w)
		}
		n := (w + 7) / 8
		if len(raw) < 1+n+4 {
			return nil, false, fmt.Errorf("route truncated")
		}
		var dst [4]byte
		copy(dst[:], raw[1:1+n])
		p := netip.PrefixFrom(netip.AddrFrom4(dst), w)
		masked = masked || p.Masked() != p
		gw := netip.AddrFrom4([4]byte(raw[1+n : 1+n+4]))
		routes = append(routes, p.Masked().String()+" "+gw.String())
		raw = raw[1+n+4:]
	}
	return routes, masked, nil
}
