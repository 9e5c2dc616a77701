package migrate

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"go.yaml.in/yaml/v3"
)

// MarshalConfig writes cfg as the YAML file config.Load reads, in canonical
// form: keys in the order of config.Config's fields (their `mapstructure`
// tags), map keys sorted, zero values left out (so the loader's defaults
// apply), durations as Go durations ("2h", "100ms"). Walking config.Config by
// reflection instead of keeping a second set of structs means a key added to
// the contract is written as soon as an importer fills it.
//
// Two configs with equal `dhcp:` sections give byte-identical `dhcp:` text,
// which is what a failover pair needs (the primary syncs that section and
// both sides compare its hash).
func MarshalConfig(cfg *config.Config, header string) ([]byte, error) {
	n, err := toNode(reflect.ValueOf(cfg).Elem())
	if err != nil {
		return nil, err
	}
	if header != "" {
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
			lines = append(lines, "# "+l)
		}
		n.HeadComment = strings.Join(lines, "\n")
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("migrate: encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("migrate: encode yaml: %w", err)
	}
	return b.Bytes(), nil
}

// MarshalSection writes one top-level section of cfg ("dhcp", "failover",
// ...) in the same canonical form, or nil when it is absent.
func MarshalSection(cfg *config.Config, key string) ([]byte, error) {
	v := reflect.ValueOf(cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		if tag(v.Type().Field(i)) != key {
			continue
		}
		if isZero(v.Field(i)) {
			return nil, nil
		}
		n, err := toNode(v.Field(i))
		if err != nil {
			return nil, err
		}
		return yaml.Marshal(n)
	}
	return nil, fmt.Errorf("migrate: no section %q", key)
}

var durationType = reflect.TypeOf(time.Duration(0))

func tag(f reflect.StructField) string {
	t := f.Tag.Get("mapstructure")
	if i := strings.IndexByte(t, ','); i >= 0 {
		t = t[:i]
	}
	return t
}

func isZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !isZero(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return v.IsZero()
}

func scalar(s, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Tag: tag}
}

func toNode(v reflect.Value) (*yaml.Node, error) {
	if v.Type() == durationType {
		return scalar(FormatDuration(time.Duration(v.Int())), "!!str"), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return scalar("null", "!!null"), nil
		}
		return toNode(v.Elem())
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || isZero(v.Field(i)) {
				continue
			}
			c, err := toNode(v.Field(i))
			if err != nil {
				return nil, err
			}
			m.Content = append(m.Content, scalar(tag(f), "!!str"), c)
		}
		return m, nil
	case reflect.Map:
		m := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			c, err := toNode(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			m.Content = append(m.Content, scalar(k.String(), "!!str"), c)
		}
		return m, nil
	case reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			c, err := toNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, c)
		}
		// Short lists of scalars read better on one line.
		if v.Len() > 0 && v.Len() <= 8 && allScalar(s.Content) {
			s.Style = yaml.FlowStyle
		}
		return s, nil
	case reflect.String:
		return scalar(v.String(), "!!str"), nil
	case reflect.Bool:
		return scalar(fmt.Sprint(v.Bool()), "!!bool"), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(fmt.Sprint(v.Int()), "!!int"), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalar(fmt.Sprint(v.Uint()), "!!int"), nil
	case reflect.Float32, reflect.Float64:
		return scalar(fmt.Sprint(v.Float()), "!!float"), nil
	}
	return nil, fmt.Errorf("migrate: cannot write a %s as YAML", v.Type())
}

func allScalar(ns []*yaml.Node) bool {
	for _, n := range ns {
		if n.Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// FormatDuration writes d the short way a person would ("1h", "90m" stays
// "1h30m", "100ms"), which time.ParseDuration reads back to the same value.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Seconds converts a count of seconds (ISC, keepalived) to a Duration.
func Seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// Ptr returns a pointer to v (for the optional keys of config.Config).
func Ptr[T any](v T) *T { return &v }
