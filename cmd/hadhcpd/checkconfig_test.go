package main

import (
	"bytes"
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
		if err := os.WriteFile(p, bytes.Repeat([]byte{0x5a}, n), 0o600); err != nil {
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
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"good key", []string{"-c", cfgFile("good", psk("good.key", 32, 0o600))}, 0, "good.yaml: ok"},
		{"missing key", []string{"-c", cfgFile("missing", absentKey)}, exitConfig, "failover.auth.psk_file: stat " + absentKey + ": no such file"},
		{"world-readable key", []string{"-c", cfgFile("world", psk("world.key", 32, 0o644))}, exitConfig, "failover.auth.psk_file: " + filepath.Join(dir, "world.key") + " has mode 0644"},
		{"short key", []string{"-c", cfgFile("short", psk("short.key", 10, 0o600))}, exitConfig, "failover.auth.psk_file: " + filepath.Join(dir, "short.key") + " holds 10 bytes"},
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
