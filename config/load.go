package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// DefaultConfigPath is where packages install the config file.
const DefaultConfigPath = "/etc/hadhcpd/hadhcpd.yaml"

// ErrConfig marks every error that comes from a bad configuration file, so
// the command line can exit with code 2 (not 1) for it.
var ErrConfig = errors.New("invalid configuration")

// ConfigError is one problem in the file, named by its key path
// (`vrrp.instances[0].priority`), as `hadhcpd check-config` prints it.
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Reason }
func (e *ConfigError) Is(target error) bool {
	return target == ErrConfig
}

// Load reads, decodes and validates a config file. Unknown keys are errors.
// HADHCPD_<SECTION>_<KEY> environment variables override scalar keys (for
// example HADHCPD_NODE_NAME). Every problem is returned at once, joined; each
// matches errors.Is(err, ErrConfig). Load touches nothing on the host but
// reading the file.
func Load(path string) (*Config, error) {
	v := newViper(path)
	if err := v.ReadInConfig(); err != nil {
		// A file that is missing or unreadable is a configuration error
		// too (exit 2): restarting will not make it appear.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &ConfigError{Key: path, Reason: "cannot read the configuration file: " + pe.Err.Error()}
		}
		return nil, &ConfigError{Key: path, Reason: "not valid YAML: " + err.Error()}
	}
	var cfg Config
	hooks := decodeHooks()
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(hooks))
	if err != nil {
		// The decoder fills what it can: validate that too, so one run
		// shows every problem, but leave out what follows from a value
		// that did not decode (its key's checks would only repeat it).
		derr := decodeError(err)
		var bad []string
		for _, e := range Errors(derr) {
			var ce *ConfigError
			if errors.As(e, &ce) {
				bad = append(bad, ce.Key)
			}
		}
		// The decoder drops a whole section when one of its values fails:
		// decode again without the bad keys, so the rest is validated.
		settings := v.AllSettings()
		for _, k := range bad {
			deletePath(settings, k)
		}
		var again Config
		if dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &again, DecodeHook: hooks}); err == nil && dec.Decode(settings) == nil {
			cfg = again
		}
		errs := []error{derr}
		for _, e := range Errors(cfg.Validate()) {
			var ce *ConfigError
			if errors.As(e, &ce) && !underAny(ce.Key, bad) {
				errs = append(errs, e)
			}
		}
		return nil, errors.Join(errs...)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Node.Name == "" {
		// Documented default; reading the host name changes nothing.
		if h, err := os.Hostname(); err == nil {
			cfg.Node.Name = h
		}
	}
	return &cfg, nil
}

// newViper is the file at path with HADHCPD_<SECTION>_<KEY> environment
// overrides and the defaults, not yet read.
func newViper(path string) *viper.Viper {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix("HADHCPD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	return v
}

// setDefaults registers every scalar key with its default, which also lets
// AutomaticEnv override it (viper only consults the environment for keys it
// knows).
func setDefaults(v *viper.Viper) {
	v.SetDefault("node.state_dir", "/var/lib/hadhcpd")
	v.SetDefault("node.control_socket", "/run/hadhcpd/hadhcpd.sock")
	v.SetDefault("node.metrics_listen", "127.0.0.1:9767")
	v.SetDefault("node.log_format", "text")
	v.SetDefault("node.log_level", "info")
	v.SetDefault("node.name", "")
	v.SetDefault("firewall.manage", false)
}

// decodeHooks turns the file's values into the schema's types (Load and
// Read decode alike).
func decodeHooks() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(durationHook, trackHook, mapstructure.StringToSliceHookFunc(","))
}

// durationHook decodes the duration keys from Go duration strings
// ("90s", "1h30m"). YAML reads a bare 3600 as a number, which would
// decode as 3600 nanoseconds: every number but 0 is refused with the
// spelling that was probably meant. (viper decodes weakly, so without
// this a bool would also become a duration.)
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	val := reflect.ValueOf(data)
	switch from.Kind() {
	case reflect.String:
		s := strings.TrimSpace(val.String())
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return numberDuration(f, s)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (90s, 10m, 1h30m)", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numberDuration(float64(val.Int()), strconv.FormatInt(val.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return numberDuration(float64(val.Uint()), strconv.FormatUint(val.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		return numberDuration(val.Float(), strconv.FormatFloat(val.Float(), 'f', -1, 64))
	case reflect.Bool:
		return nil, fmt.Errorf("%v is not a duration (90s, 10m, 1h30m)", data)
	}
	return data, nil
}

// numberDuration is the duration of a number written without a unit
// (text is how it reads): 0, or an error suggesting seconds.
func numberDuration(n float64, text string) (any, error) {
	if n == 0 {
		return time.Duration(0), nil
	}
	return nil, fmt.Errorf("%s has no unit: write %q for seconds (or use ms, m, h)", text, text+"s")
}

// decodeError turns mapstructure's messages into key-named config errors.
func decodeError(err error) error {
	// mapstructure names the top level of the file by its Go type
	// ("config.Config"), having no key for it.
	root := reflect.TypeFor[Config]().String()
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed due to") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		key, reason := "config", line
		// mapstructure: `'vrrp.instances[0].priority' expected type 'int', got ...`
		// or `'config.Config' has invalid keys: foo` / `'node' has invalid keys: bar`.
		if strings.HasPrefix(line, "'") {
			if i := strings.Index(line[1:], "'"); i >= 0 {
				key, reason = line[1:1+i], strings.TrimSpace(line[2+i:])
			}
		}
		if key == root {
			key = ""
		}
		if rest, ok := strings.CutPrefix(reason, "has invalid keys: "); ok {
			for _, k := range strings.Split(rest, ", ") {
				errs = append(errs, &ConfigError{Key: joinKey(key, k), Reason: "unknown key"})
			}
			continue
		}
		if key == "" {
			key = "config"
		}
		errs = append(errs, &ConfigError{Key: key, Reason: reason})
	}
	if len(errs) == 0 {
		return &ConfigError{Key: "config", Reason: err.Error()}
	}
	return errors.Join(errs...)
}

// deletePath removes a key path ("dhcp.subnets[0].pools[1].range") from
// decoded settings.
func deletePath(m map[string]any, path string) {
	var cur any = m
	parts := strings.Split(path, ".")
	for i, p := range parts {
		name, idx := p, []int{}
		for {
			open := strings.LastIndex(name, "[")
			if open < 0 || !strings.HasSuffix(name, "]") {
				break
			}
			n, err := strconv.Atoi(name[open+1 : len(name)-1])
			if err != nil {
				return
			}
			idx = append([]int{n}, idx...)
			name = name[:open]
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			return
		}
		if i == len(parts)-1 && len(idx) == 0 {
			delete(mm, name)
			return
		}
		cur = mm[name]
		for _, n := range idx {
			l, ok := cur.([]any)
			if !ok || n >= len(l) {
				return
			}
			cur = l[n]
		}
	}
}

// Errors lists the errors of an errors.Join tree, such as Load's: each
// ConfigError on its own, for callers that report them one by one.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}

// underAny reports whether key is one of keys, or below or above one of
// them (a zero value in a section that failed to decode).
func underAny(key string, keys []string) bool {
	for _, k := range keys {
		if k == "config" || key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[") || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			return true
		}
	}
	return false
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

// durationOr returns d, or def when d is zero (unset).
func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Read decodes the file as Load does but checks nothing beyond what
// decoding needs (unknown keys and bad values are skipped, not refused).
// It is for `hadhcpd cleanup` alone: ExecStopPost must remove the virtual
// IPs a box holds even when an upgrade made its file invalid, since the
// agent then refuses to start and a VIP left behind answers ARP for a box
// that does not serve (invariant 4).
func Read(path string) (*Config, error) {
	v := newViper(path)
	if err := v.ReadInConfig(); err != nil {
		return nil, &ConfigError{Key: path, Reason: err.Error()}
	}
	var cfg Config
	dc, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &cfg,
		WeaklyTypedInput: true,
		DecodeHook:       decodeHooks(),
	})
	if err != nil {
		return nil, err
	}
	// A value that does not decode leaves its field zero; what did
	// decode is what cleanup can act on.
	_ = dc.Decode(v.AllSettings())
	return &cfg, nil
}
