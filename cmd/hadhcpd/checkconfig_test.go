package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pairConfig is a primary whose failover.auth.psk_file is %s.
const pairConfig = `
node: {name: gw1, state_dir: /var/lib/hadhcpd}
vrrp:
  instances: [{name: lan, interface: eth0, vrid: 51, priority: 200, virtual_ips: [192.0.2.1/24]}]
dhcp:
  interfaces: [eth0]
  subnets: [{subnet: 192.0.2.0/24, pools: [{range: 192.0.2.100-192.0.2.200}]}]
failover:
  role: primary
  listen: 198.51.100.1:647
  peer: 198.51.100.2:647
  vrrp_instance: lan
  auth: {psk_file: %s}
`

// TestCheckConfigFiles: check-config (the unit's ExecStartPre) refuses,
// with exit 2 and the key named, a config whose key file the agent would
// refuse at start, and a config file that does not exist.
func TestCheckConfigFiles(t *testing.T) {
	dir := t.TempDir()
	psk := func(name string, n int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		key := make([]byte, n)
		rand.Read(key)
		if err := os.WriteFile(p, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgFile := func(name, keyFile string) string {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(fmt.Sprintf(pairConfig, keyFile)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	absentKey := filepath.Join(dir, "absent.key")
	weakKey := filepath.Join(dir, "weak.key")
	if err := os.WriteFile(weakKey, []byte("hadhcpd-hadhcpd-hadhcpd-hadhcpd!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"good key", []string{"-c", cfgFile("good", psk("good.key", 32, 0o600))}, 0, "good.yaml: ok"},
		{"missing key", []string{"-c", cfgFile("missing", absentKey)}, exitConfig, "failover.auth.psk_file: bad pre-shared key file: stat " + absentKey + ": no such file"},
		{"world-readable key", []string{"-c", cfgFile("world", psk("world.key", 32, 0o644))}, exitConfig, "failover.auth.psk_file: bad pre-shared key file: " + filepath.Join(dir, "world.key") + " has mode 0644"},
		{"short key", []string{"-c", cfgFile("short", psk("short.key", 10, 0o600))}, exitConfig, "failover.auth.psk_file: bad pre-shared key file: " + filepath.Join(dir, "short.key") + ": pre-shared key too weak: 10 bytes"},
		{"weak key", []string{"-c", cfgFile("weak", weakKey)}, exitConfig, "failover.auth.psk_file: bad pre-shared key file: " + weakKey + ": pre-shared key too weak"},
		{"missing config", []string{"-c", filepath.Join(dir, "absent.yaml")}, exitConfig, filepath.Join(dir, "absent.yaml") + ": cannot read the configuration file: no such file"},
		{"--no-files: the config alone", []string{"--no-files", "-c", cfgFile("offline", absentKey)}, 0, "offline.yaml: ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := newRootCmd()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			root.SetArgs(append([]string{"check-config"}, tc.args...))
			root.SetOut(&out)
			root.SetErr(io.Discard)
			err = root.Execute()
			code, msg := 0, out.String()
			if err != nil {
				code, msg = exitCode(err), err.Error()
			}
			if code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, %q; want %d with %q", code, msg, tc.code, tc.want)
			}
		})
	}
}

// TestGenPSK: gen-psk writes a key check-config accepts, mode 0600, and
// keeps an existing one unless forced.
func TestGenPSK(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "peer.key")
	cfg := filepath.Join(dir, "pair.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(pairConfig, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	runCmd := func(args ...string) (int, string) {
		root, err := newRootCmd()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(io.Discard)
		if err := root.Execute(); err != nil {
			return exitCode(err), err.Error()
		}
		return 0, out.String()
	}
	if code, msg := runCmd("gen-psk", key); code != 0 {
		t.Fatalf("gen-psk: exit %d, %s", code, msg)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	first, _ := os.ReadFile(key)
	if code, msg := runCmd("check-config", "-c", cfg); code != 0 {
		t.Errorf("check-config of a generated key: exit %d, %s", code, msg)
	}
	if code, msg := runCmd("gen-psk", key); code != exitFailure || !strings.Contains(msg, "exists") {
		t.Errorf("gen-psk over a key: exit %d, %s; want 1, exists", code, msg)
	}
	if again, _ := os.ReadFile(key); !bytes.Equal(again, first) {
		t.Error("a refused gen-psk changed the key")
	}
	if code, msg := runCmd("gen-psk", "--force", key); code != 0 {
		t.Errorf("gen-psk --force: exit %d, %s", code, msg)
	}
	if again, _ := os.ReadFile(key); bytes.Equal(again, first) {
		t.Error("gen-psk --force kept the old key")
	}
	if code, _ := runCmd("gen-psk"); code != exitConfig {
		t.Errorf("gen-psk without FILE: exit %d, want %d", code, exitConfig)
	}
}

// TestMissingConfigExitCodeProcess: the process exits 2 for a config file
// that does not exist, whichever command reads it.
func TestMissingConfigExitCodeProcess(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent.yaml")
	for _, args := range [][]string{{"check-config"}, {"run"}, {"leases"}} {
		cmd := exec.Command(binary(t), append(args, "-c", absent)...)
		out, err := cmd.CombinedOutput()
		if err == nil || cmd.ProcessState.ExitCode() != exitConfig || !strings.Contains(string(out), "hadhcpd: "+absent+": cannot read the configuration file") {
			t.Errorf("%s: exit %d, %q; want %d and the file named", args[0], cmd.ProcessState.ExitCode(), out, exitConfig)
		}
	}
}
