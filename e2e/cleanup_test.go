package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// TestIntegrationCleanupInvalidConfig: `hadhcpd cleanup` (the unit's
// ExecStopPost) removes the virtual IP a box holds even when its file no
// longer validates (an upgrade made a value invalid): the agent refuses to
// start then, and a VIP left behind would answer ARP for a box that does
// not serve (invariant 4). It still reports the file (exit 2).
func TestIntegrationCleanupInvalidConfig(t *testing.T) {
	testnet.RequireRoot(t)
	n := testnet.New(t, "hcl")
	br := n.Switch("lan")
	h := n.Host("gw")
	h.Connect(br, "eth0", "192.0.2.2/24")
	h.MustIP("addr", "add", "192.0.2.1/24", "dev", "eth0") // the VIP a crashed agent left
	cfg := filepath.Join(t.TempDir(), "hadhcpd.yaml")
	lab.WriteFile(t, cfg, fmt.Sprintf(`
node: {name: gw, state_dir: %s, control_socket: %s}
vrrp:
  instances:
    - {name: lan, interface: eth0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24]}
dhcp:
  interfaces: [eth0]
  default_lease_time: 876000h
  max_lease_time: 876000h
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
`, t.TempDir(), filepath.Join(t.TempDir(), "ctl.sock")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Output(ctx, binary(t), "cleanup", "-c", cfg)
	if err == nil || !strings.Contains(out, "dhcp.default_lease_time") {
		t.Fatalf("cleanup with an invalid file: err %v, want exit 2 naming the key\n%s", err, out)
	}
	if lab.HasAddr(h, "eth0", "192.0.2.1") {
		t.Fatalf("the VIP outlived cleanup of an invalid file:\n%s", out)
	}
	if !lab.HasAddr(h, "eth0", "192.0.2.2") {
		t.Fatal("cleanup removed the box's own address")
	}
}
