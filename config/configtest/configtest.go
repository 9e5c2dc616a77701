// Package configtest writes and loads config files for the tests of the
// packages that take a config.
package configtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
)

// File writes text to hadhcpd.yaml in a fresh temporary directory and
// returns its path.
func File(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hadhcpd.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Load writes text as File does and loads it; a config that does not
// load fails the test.
func Load(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Load(File(t, text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// DHCPNode is a DHCP-only node (gw2) serving 192.0.2.0/24 from pool on
// ifaces (a YAML list's items, "eth0" or "lan1, lan2"), with a fresh
// temporary state directory.
func DHCPNode(t testing.TB, ifaces, pool string) *config.Config {
	t.Helper()
	return Load(t, fmt.Sprintf(`
node: {name: gw2, state_dir: %s}
dhcp:
  interfaces: [%s]
  options: {domain_name_servers: [192.0.2.53]}
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: %s}]
      options: {routers: [192.0.2.1]}
`, t.TempDir(), ifaces, pool))
}
