package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigWarnings: a key served differently from what it says (a
// pool written as the whole subnet) passes check-config, with a warning
// naming the key on stderr.
func TestCheckConfigWarnings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h.yaml")
	cfg := `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
dhcp:
  interfaces: [eth0]
  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.0-192.0.2.255}]}]
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := newRootCmd()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"check-config", "-c", p})
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		t.Fatalf("check-config: %v", err)
	}
	for _, w := range []string{
		"warning: dhcp.subnets[0].pools[0].range: 192.0.2.0 is the network address of 192.0.2.0/24",
		"warning: dhcp.subnets[0].pools[0].range: 192.0.2.255 is the broadcast address of 192.0.2.0/24",
	} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("stderr %q lacks %q", errOut.String(), w)
		}
	}
	if !strings.Contains(out.String(), "h.yaml: ok") {
		t.Errorf("stdout %q", out.String())
	}
}
