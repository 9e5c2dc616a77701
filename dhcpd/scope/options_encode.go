package scope

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// encode turns the config value v of option def into its wire bytes; key
// names v in errors.
func (d *Definitions) encode(def *optDef, key string, v any) ([]byte, []OptionError) {
	one := func(b []byte, err error) ([]byte, []OptionError) {
		if err != nil {
			return nil, []OptionError{{key, err.Error()}}
		}
		return b, nil
	}
	switch def.typ {
	case typeVendor:
		return d.encodeVendor(key, v)
	case typeVIVSO:
		return d.encodeVIVSO(key, v)
	case typeVIVCO:
		return d.encodeVIVCO(key, v)
	case typeEncapsulate:
		if s, ok := v.(string); ok {
			return one(encodeScalar(typeHex, s))
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, []OptionError{{key, fmt.Sprintf("must be a map of sub-options of space %s, or hex", def.encapsulate)}}
		}
		return d.encodeSubOptions(def.encapsulate, key+".", m)
	case typeRecord:
		return one(encodeRecord(def.fields, def.array, v))
	case typeRoutes:
		return one(encodeList(v, "a route \"PREFIX ROUTER\"", func(x any) ([]byte, error) {
			s, _ := x.(string)
			return encodeRoute(s)
		}))
	case typeIPs, typeDomains, typeTuples16:
		elem := map[optType]optType{typeIPs: typeIP, typeDomains: typeFQDN, typeTuples16: typeTuples16}[def.typ]
		what := map[optType]string{typeIPs: "IPv4 address", typeDomains: "domain name", typeTuples16: "string"}[def.typ]
		b, err := encodeList(v, what, func(x any) ([]byte, error) {
			if elem == typeTuples16 {
				s, ok := x.(string)
				if !ok || s == "" || len(s) > 65535 {
					return nil, fmt.Errorf("%v is not a non-empty string", x)
				}
				return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...), nil
			}
			return encodeScalar(elem, x)
		})
		if err == nil && def.pairs && len(b)%8 != 0 {
			err = fmt.Errorf("needs pairs of IPv4 addresses (destination and router, or address and mask)")
		}
		return one(b, err)
	}
	if def.array {
		return one(encodeList(v, "value", func(x any) ([]byte, error) { return encodeScalar(def.typ, x) }))
	}
	return one(encodeScalar(def.typ, v))
}

// encodeList encodes each value of the list v (or a comma-separated
// string, what an environment override gives) with enc, one after another.
func encodeList(v any, what string, enc func(any) ([]byte, error)) ([]byte, error) {
	list := toList(v)
	if len(list) == 0 {
		if v != nil && !isListish(v) {
			list = []any{v}
		} else {
			return nil, fmt.Errorf("needs at least one %s", what)
		}
	}
	var out []byte
	for _, x := range list {
		b, err := enc(x)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func isListish(v any) bool {
	switch v.(type) {
	case []any, []string, string:
		return true
	}
	return false
}

// encodeRecord encodes a record's values, a list or Kea's comma-separated
// text ("1, 192.0.2.1, text"); with array, the last field repeats (zero or
// more times). A last string field takes the rest of the text, commas
// included.
func encodeRecord(fields []optType, array bool, v any) ([]byte, error) {
	var vals []any
	switch x := v.(type) {
	case []any:
		vals = x
	case string:
		parts := strings.Split(x, ",")
		last := fields[len(fields)-1]
		if !array && (last == typeString || last == typeHex) && len(parts) > len(fields) {
			parts = append(parts[:len(fields)-1], strings.Join(parts[len(fields)-1:], ","))
		}
		for _, p := range parts {
			vals = append(vals, strings.TrimSpace(p))
		}
	default:
		return nil, fmt.Errorf("must be a list of the record's fields (%s)", typeList(fields))
	}
	if len(vals) < len(fields) && !(array && len(vals) == len(fields)-1) || len(vals) > len(fields) && !array {
		n := fmt.Sprint(len(fields))
		if array {
			n = fmt.Sprintf("at least %d", len(fields)-1)
		}
		return nil, fmt.Errorf("%d values for a record of %s fields (%s)", len(vals), n, typeList(fields))
	}
	var out []byte
	for i, x := range vals {
		ft := fields[min(i, len(fields)-1)]
		var b []byte
		var err error
		if (ft == typeString || ft == typeHex) && x == "" {
			b = nil // an empty last field: allowed (slp_service_scope's scope list)
		} else {
			b, err = encodeScalar(ft, x)
		}
		if err != nil {
			return nil, fmt.Errorf("field %d: %v", i, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

// encodeScalar encodes one value of a scalar type.
func encodeScalar(typ optType, v any) ([]byte, error) {
	switch typ {
	case typeString:
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%v is not a non-empty string", v)
		}
		return []byte(s), nil
	case typeIP:
		a, err := toIPv4(v)
		if err != nil {
			return nil, err
		}
		b := a.As4()
		return b[:], nil
	case typeIPv6:
		s, _ := v.(string)
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("%v is not an IPv6 address", v)
		}
		b := a.As16()
		return b[:], nil
	case typeUint8, typeUint16, typeUint32, typeInt8, typeInt16, typeInt32:
		n, err := toInt(v)
		if err != nil {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		bits := map[optType]int{typeUint8: 8, typeUint16: 16, typeUint32: 32, typeInt8: 8, typeInt16: 16, typeInt32: 32}[typ]
		lo, hi := int64(0), int64(1)<<bits-1
		if typ == typeInt8 || typ == typeInt16 || typ == typeInt32 {
			lo, hi = -1<<(bits-1), 1<<(bits-1)-1
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("%d is outside %d..%d", n, lo, hi)
		}
		switch bits {
		case 8:
			return []byte{byte(n)}, nil
		case 16:
			return binary.BigEndian.AppendUint16(nil, uint16(n)), nil
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
	case typeBool:
		b, err := toBool(v)
		if err != nil {
			return nil, err
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
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%q is not hex bytes (01:02:ff or 0102ff)", s)
		}
		return b, nil
	case typeEmpty:
		if b, ok := v.(bool); v != nil && (!ok || !b) {
			return nil, fmt.Errorf("an option of type empty has no value: set it to true")
		}
		return []byte{}, nil
	case typeFQDN:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a domain name", v)
		}
		return encodeDomain(s)
	}
	return nil, fmt.Errorf("type %s has no single value", typ)
}

// encodeSubOptions encodes m, the sub-options of space sp, as code, length,
// value (RFC 2132 §8.4's form, which ISC dhcpd and Kea use for every
// encapsulated space), by code. No end sub-option is added (neither ISC
// dhcpd nor Kea adds one).
func (d *Definitions) encodeSubOptions(sp, prefix string, m map[string]any) ([]byte, []OptionError) {
	if d.spaces[strings.ToLower(sp)] == nil {
		return nil, []OptionError{{strings.TrimSuffix(prefix, "."), fmt.Sprintf("no option space %q (define its options in dhcp.option_definitions)", sp)}}
	}
	subs, errs := d.parseSpace(sp, prefix, m)
	codes := make([]int, 0, len(subs))
	for c := range subs {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	out := []byte{}
	for _, c := range codes {
		out = append(out, byte(c), byte(len(subs[uint8(c)])))
		out = append(out, subs[uint8(c)]...)
	}
	return out, errs
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "on", "yes", "1":
			return true, nil
		case "false", "off", "no", "0":
			return false, nil
		}
	case int:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	}
	return false, fmt.Errorf("%v is not true or false", v)
}
