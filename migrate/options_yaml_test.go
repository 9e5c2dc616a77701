package migrate_test

import (
	"bytes"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/migratetest"
)

// TestDefinitionsInYAML: imported definitions and vendor values written
// as YAML load and build (what check-config does), sub-option code 0 and
// signed values included.
func TestDefinitionsInYAML(t *testing.T) {
	must := func(d migrate.Definition, err error) migrate.Definition {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	zero := must(migrate.ISCDefinition("acme", "zero", 0, "signed integer 8"))
	rec := must(migrate.KeaDefinition("dhcp4", "my-rec", 224, "record", false, "uint8, ipv4-address, string", ""))
	zv, _ := zero.Opt.Value([]string{"255"})
	rv, _ := rec.Opt.Value([]string{"1", "192.0.2.1", "x"})
	rk, rv := rec.OptionEntry(rv)
	cfg := &config.Config{
		Node: config.NodeConfig{Name: "gw1", StateDir: "/var/lib/hadhcpd"},
		DHCP: &config.DHCPConfig{
			Interfaces:        []string{"eth0"},
			OptionDefinitions: []scope.OptionDefinition{*zero.Entry, *rec.Entry},
			Options: migrate.FinishOptions(map[string]any{
				rk:                rv,
				"vendor_specific": migrate.VendorSpecific("ACME", map[string]any{zero.Opt.Key: zv}),
			}),
			Subnets: []config.SubnetConfig{{Subnet: "192.0.2.0/24", Pools: []config.PoolConfig{{Range: "192.0.2.100-192.0.2.200"}}}},
		},
	}
	loaded := migratetest.Load(t, &migrate.Result{Config: cfg})
	b, err := config.Build(loaded)
	if err != nil {
		t.Fatal(err)
	}
	o := b.DHCP.Subnets[0].Options
	if !bytes.Equal(o[43], []byte{0, 1, 0xff}) || !bytes.Equal(o[224], []byte{1, 192, 0, 2, 1, 'x'}) {
		t.Errorf("options 43 = % x, 224 = % x", o[43], o[224])
	}
}
