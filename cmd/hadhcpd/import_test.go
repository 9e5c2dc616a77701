package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hadhcpd import isc with --root and --vip writes a file check-config
// accepts; without --root the absolute include is an error of the source
// and nothing is written (exit 2).
func TestImportRootAndVIP(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hadhcpd.yaml")
	root := "../../migrate/isc/testdata/root"
	conf := root + "/etc/dhcp/dhcpd.conf"
	if code := run([]string{"import", "isc", "--conf", conf, "--root", root, "--vip", "192.0.2.126/25", "--state-dir", dir, "-o", out, "--report", filepath.Join(dir, "report.txt")}); code != 0 {
		rep, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
		t.Fatalf("import exit %d\n%s", code, rep)
	}
	y, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(y), "virtual_ips: [192.0.2.126/25]") || !strings.Contains(string(y), "circuit_id:") {
		t.Fatalf("written config (%v):\n%s", err, y)
	}
	if code := run([]string{"check-config", "-c", out}); code != 0 {
		t.Errorf("check-config exit %d on the imported file", code)
	}
	out2 := filepath.Join(dir, "b.yaml")
	if code := run([]string{"import", "isc", "--conf", conf, "--state-dir", dir, "-o", out2}); code != 2 {
		t.Errorf("import without --root: exit %d, want 2", code)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Errorf("written although the include could not be read")
	}
}

// hadhcpd import isc --partner-conf gives the ISC secondary the primary's
// mclt and split; kea has no such flag (its HA settings are on both boxes).
func TestImportPartnerConf(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hadhcpd.yaml")
	td := "../../migrate/isc/testdata/"
	if code := run([]string{"import", "isc", "--conf", td + "secondary.conf", "--partner-conf", td + "primary.conf", "--interface", "eth0",
		"--state-dir", dir, "-o", out, "--report", filepath.Join(dir, "report.txt")}); code != 0 {
		rep, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
		t.Fatalf("import exit %d\n%s", code, rep)
	}
	y, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(y), "mclt: 30m") || !strings.Contains(string(y), "mode: load-balance") {
		t.Fatalf("written config (%v):\n%s", err, y)
	}
	if code := run([]string{"import", "kea", "--conf", td + "secondary.conf", "--partner-conf", td + "primary.conf", "-o", filepath.Join(dir, "k.yaml")}); code != 2 {
		t.Errorf("import kea --partner-conf: exit %d, want 2 (unknown flag)", code)
	}
}
