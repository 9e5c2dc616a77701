package scope

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// encodeVendor encodes option 43 (RFC 2132 §8.4): hex as it goes on the
// wire, or {space: NAME, options: {sub: value}}, the sub-options of a
// space (pxe, or one of dhcp.option_definitions).
func (d *Definitions) encodeVendor(key string, v any) ([]byte, []OptionError) {
	if s, ok := v.(string); ok {
		b, err := encodeScalar(typeHex, s)
		if err != nil {
			return nil, []OptionError{{key, err.Error()}}
		}
		return b, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []OptionError{{key, "must be hex (01:04:c0:00:02:0a) or {space: NAME, options: {SUB: VALUE}}"}}
	}
	sp, opts, errs := spaceAndOptions(key, m, nil)
	if errs != nil {
		return nil, errs
	}
	return d.encodeSubOptions(sp, key+".options.", opts)
}

// spaceAndOptions reads {space, options} (and the further keys allowed)
// of a vendor entry.
func spaceAndOptions(key string, m map[string]any, more []string) (string, map[string]any, []OptionError) {
	var errs []OptionError
	for k := range m {
		known := k == "space" || k == "options"
		for _, x := range more {
			known = known || k == x
		}
		if !known {
			errs = append(errs, OptionError{key + "." + k, "unknown key (want space, options)"})
		}
	}
	sp, _ := m["space"].(string)
	switch {
	case sp == "":
		errs = append(errs, OptionError{key + ".space", "must name the option space of the sub-options"})
	case strings.EqualFold(sp, SpaceDHCP4):
		errs = append(errs, OptionError{key + ".space", "dhcp4 is the space of the options themselves, not of sub-options"})
	}
	opts, ok := m["options"].(map[string]any)
	if !ok {
		errs = append(errs, OptionError{key + ".options", "must be a map of sub-options {NAME: VALUE}"})
	}
	return sp, opts, errs
}

// encodeVIVSO encodes option 125 (RFC 3925 §4): hex, or a list of
// {enterprise, space, options} / {enterprise, data}; each becomes the
// enterprise number, a length byte and its sub-options.
func (d *Definitions) encodeVIVSO(key string, v any) ([]byte, []OptionError) {
	return d.encodeVendorList(key, v, "options", func(k string, m map[string]any) ([]byte, []OptionError) {
		sp, opts, errs := spaceAndOptions(k, m, []string{"enterprise"})
		if errs != nil {
			return nil, errs
		}
		return d.encodeSubOptions(sp, k+".options.", opts)
	})
}

// encodeVIVCO encodes option 124 (RFC 3925 §3): hex, or a list of
// {enterprise, classes: [text, ...]} / {enterprise, data}; each becomes
// the enterprise number, a length byte and its classes, each after its own
// length byte.
func (d *Definitions) encodeVIVCO(key string, v any) ([]byte, []OptionError) {
	return d.encodeVendorList(key, v, "classes", func(k string, m map[string]any) ([]byte, []OptionError) {
		list, _ := m["classes"].([]any)
		if len(list) == 0 {
			return nil, []OptionError{{k + ".classes", "must be a list of vendor classes (text)"}}
		}
		var out []byte
		for i, c := range list {
			s, ok := c.(string)
			if !ok || s == "" || len(s) > 255 {
				return nil, []OptionError{{fmt.Sprintf("%s.classes[%d]", k, i), fmt.Sprintf("%v is not a text of 1..255 bytes", c)}}
			}
			out = append(append(out, byte(len(s))), s...)
		}
		return out, nil
	})
}

// encodeVendorList is RFC 3925's common form: per enterprise number, the
// number (4 bytes), the data length (1 byte), the data. field names the
// structured form; data (hex) is the raw alternative.
func (d *Definitions) encodeVendorList(key string, v any, field string, structured func(string, map[string]any) ([]byte, []OptionError)) ([]byte, []OptionError) {
	if s, ok := v.(string); ok {
		b, err := encodeScalar(typeHex, s)
		if err != nil {
			return nil, []OptionError{{key, err.Error()}}
		}
		return b, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, []OptionError{{key, fmt.Sprintf("must be hex, or a list of {enterprise: N, %s: ...} or {enterprise: N, data: HEX}", field)}}
	}
	var out []byte
	var errs []OptionError
	seen := map[int64]int{}
	for i, item := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, OptionError{k, fmt.Sprintf("must be {enterprise: N, %s: ...} or {enterprise: N, data: HEX}", field)})
			continue
		}
		ent, err := toInt(m["enterprise"])
		switch {
		case m["enterprise"] == nil || err != nil || ent < 0 || ent > 1<<32-1:
			errs = append(errs, OptionError{k + ".enterprise", "must be an IANA enterprise number 0..4294967295"})
			continue
		case seen[ent] > 0:
			errs = append(errs, OptionError{k + ".enterprise", fmt.Sprintf("%d is also %s[%d]", ent, key, seen[ent]-1)})
			continue
		}
		seen[ent] = i + 1
		var data []byte
		var e []OptionError
		if raw, ok := m["data"]; ok {
			for kk := range m {
				if kk != "enterprise" && kk != "data" {
					e = append(e, OptionError{k + "." + kk, "unknown key beside data (want enterprise, data)"})
				}
			}
			s, _ := raw.(string)
			if data, err = ParseHex(s); err != nil || len(data) == 0 {
				e = append(e, OptionError{k + ".data", fmt.Sprintf("%v is not hex bytes (01:02:ff)", raw)})
			}
		} else {
			data, e = structured(k, m)
		}
		if e != nil {
			errs = append(errs, e...)
			continue
		}
		if len(data) > 255 {
			errs = append(errs, OptionError{k, fmt.Sprintf("%d bytes of data: one enterprise's data is at most 255 (RFC 3925)", len(data))})
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(ent))
		out = append(append(out, byte(len(data))), data...)
	}
	return out, errs
}
