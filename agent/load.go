package agent

import (
	"errors"
	"fmt"
	"os"
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
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix("HADHCPD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v)
	if err := v.ReadInConfig(); err != nil {
		var nf viper.ConfigFileNotFoundError
		if errors.As(err, &nf) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, &ConfigError{Key: path, Reason: "not valid YAML: " + err.Error()}
	}
	var cfg Config
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)))
	if err != nil {
		return nil, decodeError(err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
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

// decodeError turns mapstructure's messages into key-named config errors.
func decodeError(err error) error {
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed due to") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		key, reason := "config", line
		// mapstructure: `'vrrp.instances[0].priority' expected type 'int', got ...`
		// or `'' has invalid keys: foo` / `'node' has invalid keys: bar`.
		if strings.HasPrefix(line, "'") {
			if i := strings.Index(line[1:], "'"); i >= 0 {
				key, reason = line[1:1+i], strings.TrimSpace(line[2+i:])
			}
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
