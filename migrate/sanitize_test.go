package migrate

import (
	"reflect"
	"slices"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
)

// TestSanitize: text that is not UTF-8 in a struct field, an options
// value (also inside a list) or a list of strings is written with U+FFFD
// and reported at its key; a map key that is not UTF-8 is left out.
func TestSanitize(t *testing.T) {
	bad := "a\x83b"
	cfg := &config.Config{DHCP: &config.DHCPConfig{
		ServerName: bad,
		Options:    map[string]any{"domain_name": bad, "domain_search": []any{"ok", bad}, "x\xff": "v", "host_name": "fine"},
		Subnets:    []config.SubnetConfig{{Subnet: "192.0.2.0/24", BootFile: bad, Relays: []string{bad}}},
	}}
	var rep Report
	Sanitize(cfg, &rep)
	const fixed = "a\uFFFDb"
	d := cfg.DHCP
	want := &config.DHCPConfig{
		ServerName: fixed,
		Options:    map[string]any{"domain_name": fixed, "domain_search": []any{"ok", fixed}, "host_name": "fine"},
		Subnets:    []config.SubnetConfig{{Subnet: "192.0.2.0/24", BootFile: fixed, Relays: []string{fixed}}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("sanitized\n%+v\nwant\n%+v", d, want)
	}
	var keys []string
	for _, it := range rep.Items {
		if it.Kind != Invalid {
			t.Errorf("%+v: want Invalid", it)
		}
		keys = append(keys, it.Source)
	}
	slices.Sort(keys)
	wantKeys := []string{".dhcp.options.domain_name", ".dhcp.options.domain_search[]", ".dhcp.options.x\xff", ".dhcp.server_name", ".dhcp.subnets[].boot_file", ".dhcp.subnets[].relays[]"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("reported %q, want %q", keys, wantKeys)
	}
}
