package config

import (
	"time"

	"errors"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodDHCP = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  options: {domain_name_servers: [192.0.2.53], domain_name: example.com}
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options: {routers: [192.0.2.1], custom: [{code: 252, type: string, value: "http://wpad/wpad.dat"}]}
      reservations:
        - {hw_address: "00:11:22:33:44:55", ip: 192.0.2.50, hostname: printer}
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hadhcpd.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadGoodDHCPConfig(t *testing.T) {
	cfg, err := Load(writeConfig(t, goodDHCP))
	if err != nil {
		t.Fatal(err)
	}
	var v validator
	dc := cfg.dhcpConfig(&v, nil)
	if v.err() != nil || len(dc.Subnets) != 1 || len(dc.Subnets[0].Pools) != 1 || dc.Subnets[0].Pools[0].Name != "192.0.2.100-192.0.2.200" {
		t.Fatalf("built %+v, %v", dc, v.err())
	}
	s := dc.Subnets[0]
	if string(s.Options[252]) != "http://wpad/wpad.dat" || len(s.Options[6]) != 4 || s.Times.Default.String() != "2h0m0s" || !dc.Authoritative {
		t.Fatalf("options/times not built: %+v", s)
	}
}

// subnetConfig is a DHCP-only config serving one pool; extra is appended
// (indented as a subnet's keys or, unindented, as a new section).
func subnetConfig(extra string) string {
	return `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
` + extra
}

// dhcpKeys is subnetConfig with keys (lines of the dhcp: section, each
// after the first indented by two spaces) set in the dhcp: section.
func dhcpKeys(keys string) string {
	return strings.Replace(subnetConfig(""), "interfaces: [eth0]", "interfaces: [eth0]\n  "+keys, 1)
}

// failoverConfig is a failover box (its vrrp instance lan has the VIP
// 192.0.2.1/24); extra is appended to the failover section.
func failoverConfig(extra string) string {
	return `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  instances: [{name: lan, interface: eth0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24]}]
dhcp:
  interfaces: [eth0]
  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.100-192.0.2.200}]}]
failover:
  listen: 198.51.100.1:647
  peer: 198.51.100.2:647
  vrrp_instance: lan
  auth: {psk_file: /etc/hadhcpd/peer.key}
` + extra
}

// badConfig is a config Load must refuse with an error for key whose
// reason contains reason.
type badConfig struct {
	name, cfg, key, reason string
}

func refused(t *testing.T, cases []badConfig) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, c.cfg))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error is not ErrConfig: %v", err)
			}
			var hit bool
			for _, e := range Errors(err) {
				var ce *ConfigError
				if errors.As(e, &ce) && ce.Key == c.key && strings.Contains(ce.Reason, c.reason) {
					hit = true
				}
			}
			if !hit {
				t.Fatalf("no error for %s containing %q; got:\n%v", c.key, c.reason, err)
			}
		})
	}
}

// TestBadConfigs: each bad config is refused with an error naming the key.
func TestBadConfigs(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"range backwards", strings.Replace(sub(""), "192.0.2.100-192.0.2.200", "192.0.2.250-192.0.2.10", 1), "dhcp.subnets[0].pools[0].range", "ends before it starts"},
		{"range garbage", strings.Replace(sub(""), "192.0.2.100-192.0.2.200", "lots", 1), "dhcp.subnets[0].pools[0].range", "FIRST-LAST"},
		{"pool outside subnet", strings.Replace(sub(""), "192.0.2.100-192.0.2.200", "198.51.100.1-198.51.100.9", 1), "dhcp.subnets[0].pools[0].range", "not inside subnet"},
		{"overlapping pools", strings.Replace(sub(""), "[{range: 192.0.2.100-192.0.2.200}]", "[{range: 192.0.2.100-192.0.2.200}, {range: 192.0.2.150-192.0.2.160}]", 1), "dhcp.subnets[0].pools[1].range", "overlaps"},
		{"subnet host bits", strings.Replace(sub(""), "subnet: 192.0.2.0/24", "subnet: 192.0.2.5/24", 1), "dhcp.subnets[0].subnet", "host bits"},
		{"subnet not a prefix", strings.Replace(sub(""), "subnet: 192.0.2.0/24", "subnet: lan", 1), "dhcp.subnets[0].subnet", "not an IPv4 network"},
		{"overlapping subnets", sub("    - {subnet: 192.0.2.128/25, reservations: [{hw_address: '00:11:22:33:44:66', ip: 192.0.2.130}]}\n"), "dhcp.subnets[1].subnet", "overlaps"},
		{"no interfaces", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: []", 1), "dhcp.interfaces", "at least one"},
		{"duplicate interface", strings.Replace(sub(""), "interfaces: [eth0]", "interfaces: [eth0, eth0]", 1), "dhcp.interfaces[1]", "also"},
		{"reservation outside subnet", sub("      reservations: [{hw_address: '00:11:22:33:44:55', ip: 203.0.113.5}]\n"), "dhcp.subnets[0].reservations[0].ip", "not a host address"},
		{"reservation duplicate ip", sub("      reservations: [{hw_address: '00:11:22:33:44:55', ip: 192.0.2.5}, {hw_address: '00:11:22:33:44:56', ip: 192.0.2.5}]\n"), "dhcp.subnets[0].reservations[1].ip", "also reserved"},
		{"reservation duplicate mac", sub("      reservations: [{hw_address: '00:11:22:33:44:55', ip: 192.0.2.5}, {hw_address: '00:11:22:33:44:55', ip: 192.0.2.6}]\n"), "dhcp.subnets[0].reservations[1].hw_address", "also reserved"},
		{"reservation bad mac", sub("      reservations: [{hw_address: 'zz:11', ip: 192.0.2.5}]\n"), "dhcp.subnets[0].reservations[0].hw_address", "not an Ethernet address"},
		{"reservation without identity", sub("      reservations: [{ip: 192.0.2.5}]\n"), "dhcp.subnets[0].reservations[0]", "needs exactly one of hw_address, client_id, circuit_id, remote_id"},
		{"unknown option name", sub("      options: {routerz: [192.0.2.1]}\n"), "dhcp.subnets[0].options.routerz", "unknown option"},
		{"bad option value", sub("      options: {routers: [192.0.2.300]}\n"), "dhcp.subnets[0].options.routers", "not an IPv4 address"},
		{"bad mtu", sub("      options: {interface_mtu: 70000}\n"), "dhcp.subnets[0].options.interface_mtu", "outside 0..65535"},
		{"bad static route", sub("      options: {classless_static_routes: ['198.51.100.0/24']}\n"), "dhcp.subnets[0].options.classless_static_routes", "PREFIX ROUTER"},
		{"custom server-owned code", sub("      options: {custom: [{code: 51, type: uint32, value: 60}]}\n"), "dhcp.subnets[0].options.custom[0].code", "set by the server"},
		{"custom bad type", sub("      options: {custom: [{code: 252, type: text, value: x}]}\n"), "dhcp.subnets[0].options.custom[0].type", "not one of"},
		{"custom bad hex", sub("      options: {custom: [{code: 252, type: hex, value: 'xyz'}]}\n"), "dhcp.subnets[0].options.custom[0].value", "hex"},
		{"min above default", dhcpKeys("min_lease_time: 3h"), "dhcp.min_lease_time", "longer than the default"},
		{"max below default", dhcpKeys("default_lease_time: 2h\n  max_lease_time: 1h"), "dhcp.max_lease_time", "shorter than the default"},
		{"subnet lease time", sub("      max_lease_time: 1m\n"), "dhcp.subnets[0].max_lease_time", "shorter than the default"},
		{"negative probation", dhcpKeys("decline_probation: -1s"), "dhcp.decline_probation", "negative"},
		{"lease time not a duration", dhcpKeys("default_lease_time: forever"), "dhcp.default_lease_time", ""},
		{"unknown dhcp key", dhcpKeys("lease_tme: 1h"), "dhcp.lease_tme", "unknown key"},
		{"bad relay", sub("      relays: [relay1]\n"), "dhcp.subnets[0].relays[0]", "not an IPv4 address"},
		{"bad trusted relay", dhcpKeys("trusted_relays: [192.0.2.254, gw]"), "dhcp.trusted_relays[1]", "not an IPv4 address or network"},
		{"trusted relay host bits", dhcpKeys("trusted_relays: [198.51.100.7/24]"), "dhcp.trusted_relays[0]", "host bits"},
		{"failover role", fo("  role: master\n"), "failover.role", "primary or secondary"},
		{"failover mode", fo("  role: primary\n  mode: active-active\n"), "failover.mode", "hot-standby or load-balance"},
		{"failover split", fo("  role: primary\n  split: 300\n"), "failover.split", "0..256"},
		{"failover standby share", fo("  role: primary\n  standby_share: 150%\n"), "failover.standby_share", "percentage"},
		{"failover standby share no percent", fo("  role: primary\n  standby_share: '10'\n"), "failover.standby_share", "percentage"},
		{"failover peer", strings.Replace(fo("  role: primary\n"), "peer: 198.51.100.2:647", "peer: partner", 1), "failover.peer", "IPv4ADDRESS:PORT"},
		{"failover vrrp instance", strings.Replace(fo("  role: primary\n"), "vrrp_instance: lan", "vrrp_instance: wan", 1), "failover.vrrp_instance", "not a vrrp instance"},
		{"failover auth both", strings.Replace(fo("  role: primary\n"), "auth: {psk_file: /etc/hadhcpd/peer.key}", "auth: {psk_file: /k, tls: {cert: a, key: b, ca: c}}", 1), "failover.auth", "not both"},
	})
}

// Decode errors and validation errors come together in one run.
func TestLoadReportsDecodeAndValidationTogether(t *testing.T) {
	_, err := Load(writeConfig(t, `
node: {name: gw1, state_dir: /var/lib/hadhcpd, log_format: xml}
dhcp:
  interfaces: [eth0]
  default_lease_time: forever
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.250-192.0.2.10}]
`))
	msg := err.Error()
	for _, want := range []string{"dhcp.default_lease_time", "dhcp.subnets[0].pools[0].range: 192.0.2.250-192.0.2.10 ends before it starts", "node.log_format"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

// TestLoadMissingFile: a missing file is a configuration error (exit 2),
// named by its path.
func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(p)
	var ce *ConfigError
	if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Key != p || !strings.Contains(ce.Reason, "no such file") {
		t.Fatalf("Load of a missing file: %v, want a ConfigError for %s", err, p)
	}
}

// TestUnknownKeys: an unknown key is named by its path, at every level.
func TestUnknownKeys(t *testing.T) {
	sub, fo := subnetConfig, failoverConfig
	refused(t, []badConfig{
		{"unknown top-level key", sub("lease_time: 1h\n"), "lease_time", "unknown key"},
		{"unknown section", sub("failvoer: {role: primary}\n"), "failvoer", "unknown key"},
		{"unknown failover key", fo("  role: primary\n  mcl: 1h\n"), "failover.mcl", "unknown key"},
		{"unknown subnet key", sub("      pool: []\n"), "dhcp.subnets[0].pool", "unknown key"},
	})
}

// TestUnknownTopLevelKeyMessage: the line check-config prints names the
// key alone, not the decoder's Go type for the file's top level.
func TestUnknownTopLevelKeyMessage(t *testing.T) {
	_, err := Load(writeConfig(t, goodDHCP+"lease_time: 1h\n"))
	if err == nil || err.Error() != "lease_time: unknown key" {
		t.Fatalf("got %v, want exactly %q", err, "lease_time: unknown key")
	}
}

func TestFailoverConfigDefaults(t *testing.T) {
	c, err := FailoverMachine(&FailoverConfig{Role: "secondary"})
	if err != nil {
		t.Fatal(err)
	}
	want := failover.Config{Role: failover.Secondary, Mode: failover.HotStandby, MCLT: time.Hour, Split: 128,
		LoadBalanceMaxSeconds: 3, StandbyShare: 0.10, AutoPartnerDown: 60 * time.Second}
	if c != want {
		t.Errorf("defaults: got %+v, want %+v", c, want)
	}
	zero, split := time.Duration(0), 256
	c, err = FailoverMachine(&FailoverConfig{Role: "primary", Mode: "load-balance", MCLT: 2 * time.Hour,
		Split: &split, StandbyShare: "25%", AutoPartnerDown: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != failover.LoadBalance || c.MCLT != 2*time.Hour || c.Split != 256 || c.StandbyShare != 0.25 || c.AutoPartnerDown != 0 {
		t.Errorf("explicit values not kept: %+v", c)
	}
	if _, err := FailoverMachine(&FailoverConfig{Role: "primary", StandbyShare: "25"}); err == nil {
		t.Error("standby_share without % accepted")
	}
}
