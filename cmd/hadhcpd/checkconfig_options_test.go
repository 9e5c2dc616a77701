package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// optionConfig defines a vendor space and uses it in option 43; %s is the
// sub-option's value.
const optionConfig = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  option_definitions: [{name: unifi_controller, code: 1, space: ubnt, type: ip}]
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options: {vendor_specific: {space: ubnt, options: {unifi_controller: %s}}}
`

// TestCheckConfigOptions: check-config accepts option definitions and a
// vendor space, and refuses a bad sub-option value with exit 2 and its key.
func TestCheckConfigOptions(t *testing.T) {
	for _, tc := range []struct {
		value string
		code  int
		want  string
	}{
		{"192.0.2.10", 0, ": ok"},
		{"192.0.2.300", exitConfig, `dhcp.subnets[0].options.vendor_specific.options.unifi_controller: "192.0.2.300" is not an IPv4 address`},
	} {
		p := filepath.Join(t.TempDir(), "hadhcpd.yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(optionConfig, "%s", tc.value, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		root, err := newRootCmd()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		root.SetArgs([]string{"check-config", "--no-files", "-c", p})
		root.SetOut(&out)
		root.SetErr(io.Discard)
		err = root.Execute()
		code, msg := 0, out.String()
		if err != nil {
			code, msg = exitCode(err), err.Error()
		}
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: exit %d, %q; want %d with %q", tc.value, code, msg, tc.code, tc.want)
		}
	}
}
