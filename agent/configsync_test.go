package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
)

// TestConfigHashIgnoresInterfaces: the hash both boxes report covers the
// synced section only: interfaces are node-local.
func TestConfigHashIgnoresInterfaces(t *testing.T) {
	a, _ := sectionHash(configtest.DHCPNode(t, "eth0", "192.0.2.100-192.0.2.200").DHCP)
	b, _ := sectionHash(configtest.DHCPNode(t, "lan1, lan2", "192.0.2.100-192.0.2.200").DHCP)
	c, _ := sectionHash(configtest.DHCPNode(t, "eth0", "192.0.2.150-192.0.2.200").DHCP)
	if string(a) != string(b) {
		t.Error("sections that differ only in dhcp.interfaces hash differently")
	}
	if string(a) == string(c) {
		t.Error("a pool change does not change the hash")
	}
}

// TestApplyRejects: a section that is not valid with this node's config
// (a pool outside its subnet) is refused with the key that is wrong, and
// the section in force stays (its hash unchanged). A secondary's config
// sync (agent/pair) relies on it to refuse what its primary sends.
func TestApplyRejects(t *testing.T) {
	base := configtest.DHCPNode(t, "eth0", "192.0.2.100-192.0.2.200")
	dh := &dhcpPart{log: slog.New(slog.DiscardHandler)}
	outside := configtest.DHCPNode(t, "x", "192.0.2.100-192.0.2.200").DHCP
	outside.Subnets[0].Pools[0].Range = "203.0.113.1-203.0.113.9"
	if _, err := dh.Apply(base, outside, "primary"); err == nil || !strings.Contains(err.Error(), "dhcp.subnets[0].pools[0]") {
		t.Errorf("Apply = %v, want an error naming dhcp.subnets[0].pools[0]", err)
	}
	if h := dh.ConfigHash(); h != "" {
		t.Errorf("a rejected section changed the hash in force to %s", h)
	}
}

// TestSyncedFileRoundTrip: what a secondary keeps is what it uses after a
// restart, with its own interfaces; a damaged file is ignored.
func TestSyncedFileRoundTrip(t *testing.T) {
	base := configtest.DHCPNode(t, "eth0", "192.0.2.100-192.0.2.200")
	b, err := config.SectionBytes(configtest.DHCPNode(t, "other", "192.0.2.150-192.0.2.200").DHCP)
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteSynced(base.Node.StateDir, b); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	c, got := loadSynced(base, log)
	if c == nil || string(got) != string(b) {
		t.Fatalf("loadSynced = %v, %q; want the written section", c, got)
	}
	if c.File.DHCP.Subnets[0].Pools[0].Range != "192.0.2.150-192.0.2.200" || strings.Join(c.File.DHCP.Interfaces, ",") != "eth0" {
		t.Errorf("loaded section %+v: want the synced pool with this node's interfaces", c.File.DHCP)
	}
	if base.DHCP.Subnets[0].Pools[0].Range != "192.0.2.100-192.0.2.200" {
		t.Error("loadSynced changed the node's own config")
	}
	if err := os.WriteFile(filepath.Join(base.Node.StateDir, config.SyncedFile), b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _ := loadSynced(base, log); c != nil {
		t.Error("a torn synced file was used")
	}
}

// sectionHash is the hash both ends report for a section.
func sectionHash(d *config.DHCPConfig) ([]byte, error) {
	b, err := config.SectionBytes(d)
	if err != nil {
		return nil, err
	}
	return config.SectionHash(b), nil
}
