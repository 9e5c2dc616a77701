package config

import (
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// Config is the whole configuration file (the README's configuration
// reference: the product's contract with its users; keep the key names). The `mapstructure`
// tags are the YAML keys viper decodes; decoding is strict (unknown keys are
// errors) and Validate names every bad key by its path.
//
// Values stay close to the file's text here (strings for addresses, ranges and
// prefixes) so that Validate can name the key of a value that does not parse;
// the parts (dhcpd, vrrp, sync) get typed values built from a validated
// Config, never strings.
type Config struct {
	Node     NodeConfig      `mapstructure:"node"`
	VRRP     VRRPConfig      `mapstructure:"vrrp"`
	DHCP     *DHCPConfig     `mapstructure:"dhcp"`     // nil: no DHCP service (a VRRP-only box)
	Failover *FailoverConfig `mapstructure:"failover"` // nil: a single server
	Firewall FirewallConfig  `mapstructure:"firewall"`
}

type NodeConfig struct {
	Name          string        `mapstructure:"name"`
	StateDir      string        `mapstructure:"state_dir"`      // default /var/lib/hadhcpd
	ControlSocket string        `mapstructure:"control_socket"` // default /run/hadhcpd/hadhcpd.sock
	MetricsListen string        `mapstructure:"metrics_listen"` // default 127.0.0.1:9767; "" = off
	LogFormat     string        `mapstructure:"log_format"`     // text | json
	LogLevel      string        `mapstructure:"log_level"`      // debug | info | warn | error (default info)
	APIListen     string        `mapstructure:"api_listen"`     // HTTP API; "" = off; no host = loopback
	APITokenFile  string        `mapstructure:"api_token_file"` // bearer token, mode 0600; required beyond loopback (or api_tls.client_ca)
	APITLS        *APITLSConfig `mapstructure:"api_tls"`        // HTTPS on api_listen; client certificates with client_ca
}

type VRRPConfig struct {
	Instances  []VRRPInstance  `mapstructure:"instances"`
	SyncGroups []VRRPSyncGroup `mapstructure:"sync_groups"`
	// Checks the instances track (keepalived's vrrp_script; config/track.go).
	Scripts []VRRPScript `mapstructure:"scripts"`
}

// VRRPScript is a health check run at an interval (keepalived's
// vrrp_script): exit status 0 is success.
type VRRPScript struct {
	Name     string        `mapstructure:"name"`
	Script   string        `mapstructure:"script"`    // command line, split like notify_* (no shell)
	Interval time.Duration `mapstructure:"interval"`  // default 1s
	Timeout  time.Duration `mapstructure:"timeout"`   // default: the interval
	Rise     int           `mapstructure:"rise"`      // successes in a row to come up; default 1
	Fall     int           `mapstructure:"fall"`      // failures in a row to go down; default 1
	Weight   int           `mapstructure:"weight"`    // -253..253; 0 = Fault while down
	InitFail bool          `mapstructure:"init_fail"` // start down rather than unknown
}

// TrackScript is one entry of an instance's track_scripts: the name of a
// vrrp.scripts entry, or {name, weight} to override its weight.
type TrackScript struct {
	Name   string `mapstructure:"name"`
	Weight *int   `mapstructure:"weight"` // nil: the script's weight
}

// TrackInterface is one entry of an instance's track_interfaces: an
// interface name (weight 0: Fault while it has no carrier), or {name,
// weight}.
type TrackInterface struct {
	Name   string `mapstructure:"name"`
	Weight int    `mapstructure:"weight"`
}

type VRRPInstance struct {
	Name            string           `mapstructure:"name"`
	Interface       string           `mapstructure:"interface"`
	VRID            int              `mapstructure:"vrid"`     // 1..255
	Priority        int              `mapstructure:"priority"` // 1..254; 255 = address owner
	AdvertInterval  time.Duration    `mapstructure:"advert_interval"`
	Preempt         *bool            `mapstructure:"preempt"` // default true
	PreemptDelay    time.Duration    `mapstructure:"preempt_delay"`
	VirtualIPs      []string         `mapstructure:"virtual_ips"`   // CIDR, e.g. 192.0.2.1/24
	UnicastPeers    []string         `mapstructure:"unicast_peers"` // empty = multicast 224.0.0.18
	TrackInterfaces []TrackInterface `mapstructure:"track_interfaces"`
	TrackScripts    []TrackScript    `mapstructure:"track_scripts"`
	GARP            GARPConfig       `mapstructure:"garp"`
	VirtualMAC      bool             `mapstructure:"virtual_mac"` // 00:00:5e:00:01:VRID on a macvlan
	// Scripts run on transitions, as keepalived's notify_* (config/notify.go).
	NotifyMaster  string        `mapstructure:"notify_master"`
	NotifyBackup  string        `mapstructure:"notify_backup"`
	NotifyFault   string        `mapstructure:"notify_fault"`
	Notify        string        `mapstructure:"notify"`
	NotifyTimeout time.Duration `mapstructure:"notify_timeout"` // default 10s
}

type GARPConfig struct {
	Repeat   int           `mapstructure:"repeat"`   // default 3
	Interval time.Duration `mapstructure:"interval"` // default 100ms
	Refresh  time.Duration `mapstructure:"refresh"`  // 0 = no periodic refresh
}

type VRRPSyncGroup struct {
	Name      string   `mapstructure:"name"`
	Instances []string `mapstructure:"instances"`
}

// DHCPConfig is the `dhcp:` section: the part the primary syncs to the
// secondary, so it holds nothing node-local except Interfaces.
type DHCPConfig struct {
	Interfaces       []string       `mapstructure:"interfaces"`
	Authoritative    *bool          `mapstructure:"authoritative"` // default true
	DefaultLeaseTime time.Duration  `mapstructure:"default_lease_time"`
	MaxLeaseTime     time.Duration  `mapstructure:"max_lease_time"`
	MinLeaseTime     time.Duration  `mapstructure:"min_lease_time"`
	DeclineProbation time.Duration  `mapstructure:"decline_probation"` // default 1h: how long a declined address stays ABANDONED
	OfferHold        time.Duration  `mapstructure:"offer_hold"`        // default 10s: how long an OFFER keeps its address
	PingCheck        bool           `mapstructure:"ping_check"`        // default false: probe an address (ARP, ICMP echo) before offering it
	PingTimeout      time.Duration  `mapstructure:"ping_timeout"`      // default 500ms: how long a probe waits for an answer
	TrustedRelays    []string       `mapstructure:"trusted_relays"`    // when set: the only sources relayed requests are accepted from
	Options          map[string]any `mapstructure:"options"`
	// OptionDefinitions name further options and sub-option spaces.
	OptionDefinitions []scope.OptionDefinition `mapstructure:"option_definitions"`
	Subnets           []SubnetConfig           `mapstructure:"subnets"`
	// T1 and T2 (RFC 2131 §4.4.5); 0: 0.5 and 0.875 of the lease.
	RenewTime      time.Duration         `mapstructure:"renew_time"`
	RebindTime     time.Duration         `mapstructure:"rebind_time"`
	SharedNetworks []SharedNetworkConfig `mapstructure:"shared_networks"` // config/shared.go

	// Network boot, classes, reservations (config/classes.go).
	NextServer             string              `mapstructure:"next_server"`
	ServerName             string              `mapstructure:"server_name"`
	BootFile               string              `mapstructure:"boot_file"`
	BOOTP                  string              `mapstructure:"bootp"` // reserved (default) | off
	ReservationIdentifiers []string            `mapstructure:"reservation_identifiers"`
	ClientClasses          []ClientClassConfig `mapstructure:"client_classes"`
}

type SubnetConfig struct {
	Subnet       string              `mapstructure:"subnet"` // 192.0.2.0/24
	Pools        []PoolConfig        `mapstructure:"pools"`
	Options      map[string]any      `mapstructure:"options"`
	Reservations []ReservationConfig `mapstructure:"reservations"`
	// Relays whose giaddr is outside Subnet but that serve it (shared
	// network segments); optional.
	Relays           []string       `mapstructure:"relays"`
	DefaultLeaseTime *time.Duration `mapstructure:"default_lease_time"` // per-subnet overrides
	MaxLeaseTime     *time.Duration `mapstructure:"max_lease_time"`
	MinLeaseTime     *time.Duration `mapstructure:"min_lease_time"`
	RenewTime        *time.Duration `mapstructure:"renew_time"`
	RebindTime       *time.Duration `mapstructure:"rebind_time"`

	NextServer string `mapstructure:"next_server"`
	ServerName string `mapstructure:"server_name"`
	BootFile   string `mapstructure:"boot_file"`
}

type PoolConfig struct {
	Range   string         `mapstructure:"range"` // 192.0.2.100-192.0.2.200
	Allow   []string       `mapstructure:"allow"` // class names, known, unknown
	Deny    []string       `mapstructure:"deny"`
	Options map[string]any `mapstructure:"options"`
}

type ReservationConfig struct {
	HWAddress string         `mapstructure:"hw_address"`
	ClientID  string         `mapstructure:"client_id"` // hex, e.g. 01:00:11:22:33:44:55
	IP        string         `mapstructure:"ip"`
	Hostname  string         `mapstructure:"hostname"`
	Options   map[string]any `mapstructure:"options"`

	CircuitID     string   `mapstructure:"circuit_id"` // hex or 'quoted text'
	RemoteID      string   `mapstructure:"remote_id"`
	NextServer    string   `mapstructure:"next_server"`
	ServerName    string   `mapstructure:"server_name"`
	BootFile      string   `mapstructure:"boot_file"`
	ClientClasses []string `mapstructure:"client_classes"`
}

type FailoverConfig struct {
	Role                  string         `mapstructure:"role"` // primary | secondary
	Mode                  string         `mapstructure:"mode"` // hot-standby | load-balance
	Listen                string         `mapstructure:"listen"`
	Peer                  string         `mapstructure:"peer"`
	VRRPInstance          string         `mapstructure:"vrrp_instance"`
	MCLT                  time.Duration  `mapstructure:"mclt"`
	MaxResponseDelay      time.Duration  `mapstructure:"max_response_delay"`
	MaxUnackedUpdates     int            `mapstructure:"max_unacked_updates"`
	Split                 *int           `mapstructure:"split"`
	LoadBalanceMaxSeconds int            `mapstructure:"load_balance_max_seconds"`
	StandbyShare          string         `mapstructure:"standby_share"` // percent, e.g. "10%"
	AutoPartnerDown       *time.Duration `mapstructure:"auto_partner_down"`
	Auth                  AuthConfig     `mapstructure:"auth"`
	// Notify runs on every failover state transition, keepalived's
	// notify convention adapted (config/notify.go).
	Notify        string        `mapstructure:"notify"`
	NotifyTimeout time.Duration `mapstructure:"notify_timeout"` // default 10s
	// DefaultsFrom names the node whose global dhcp: keys (GlobalKeys)
	// every box of the relationships serves (config/globals.go); "":
	// each box its own file's.
	DefaultsFrom string `mapstructure:"defaults_from"`
	// Relationships: this box is in several failover relationships
	// (config/relationships.go); the keys above are then every
	// relationship's defaults. Empty: the section is one relationship.
	Relationships []RelationshipConfig `mapstructure:"relationships"`
}

type AuthConfig struct {
	PSKFile string     `mapstructure:"psk_file"`
	TLS     *TLSConfig `mapstructure:"tls"`
}

type TLSConfig struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
	CA   string `mapstructure:"ca"`
}

type FirewallConfig struct {
	Manage bool `mapstructure:"manage"`
}
