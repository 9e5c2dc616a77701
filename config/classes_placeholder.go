package config

import "time"

// ClientClassConfig is one of dhcp.client_classes (the shared
// spec). PLACEHOLDER for the importers until the engine's config/classes.go
// lands on main: delete this file then (that file declares the same type).
type ClientClassConfig struct {
	Name    string         `mapstructure:"name"`
	Test    string         `mapstructure:"test"`
	Match   string         `mapstructure:"match"`
	Members []string       `mapstructure:"members"`
	Options map[string]any `mapstructure:"options"`

	NextServer string `mapstructure:"next_server"`
	ServerName string `mapstructure:"server_name"`
	BootFile   string `mapstructure:"boot_file"`

	DefaultLeaseTime *time.Duration `mapstructure:"default_lease_time"`
	MinLeaseTime     *time.Duration `mapstructure:"min_lease_time"`
	MaxLeaseTime     *time.Duration `mapstructure:"max_lease_time"`
	RenewTime        *time.Duration `mapstructure:"renew_time"`
	RebindTime       *time.Duration `mapstructure:"rebind_time"`
}
