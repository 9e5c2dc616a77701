package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageExitCodes: every command-line mistake is a usage error (exit
// 2, like a bad config: systemd's RestartPreventExitStatus=2 does not
// retry it) with a message naming what is wrong, and it is found before
// the config is read (the config here does not exist: reading it would
// name absent.yaml instead). Valid values still get through to the
// command, which then refuses the missing config.
func TestUsageExitCodes(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent.yaml")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--clock-offset", "soon"}, exitConfig, `invalid argument "soon" for "--clock-offset"`},
		{[]string{"run", "--clock-offset", "25h"}, exitConfig, "clock offset outside"},
		{[]string{"leases", "--state", "bogus"}, exitConfig, `invalid argument "bogus" for "--state" flag: unknown lease state`},
		{[]string{"leases", "--ip", "x"}, exitConfig, `for "--ip" flag: not an address or network`},
		{[]string{"leases", "--hw", "zz"}, exitConfig, `for "--hw" flag`},
		{[]string{"status", "--bogus"}, exitConfig, "unknown flag: --bogus"},
		{[]string{"status", "-x"}, exitConfig, "unknown shorthand flag"},
		{[]string{"stauts"}, exitConfig, `unknown command "stauts" for "hadhcpd" (did you mean status?)`},
		{[]string{"run", "extra"}, exitConfig, `unknown command "extra" for "hadhcpd run"`},
		{[]string{"maintenance"}, exitConfig, "accepts 1 arg(s), received 0"},
		{[]string{"maintenance", "on"}, exitConfig, `"on", want start or stop`},
		{[]string{"check-config", "a", "b"}, exitConfig, "unknown command"},
		{[]string{"events", "--recent", "5000"}, exitConfig, "--recent: want 0 to 1000"},
		{[]string{"events", "--since", "x"}, exitConfig, `invalid argument "x" for "--since"`},
		{[]string{"events", "--follow", "--socket", "/nonexistent/hadhcpd.sock"}, exitFailure, "connect to hadhcpd at /nonexistent/hadhcpd.sock"},
		// Valid flags: the command runs and refuses the missing config.
		{[]string{"leases", "--state", "active", "--ip", "192.0.2.0/25", "--hw", "00:11:22:33:44:55"}, exitConfig, "absent.yaml"},
		{[]string{"leases", "--state", "BACKUP", "--ip", "192.0.2.7"}, exitConfig, "absent.yaml"},
		{[]string{"run", "--clock-offset", "-1h"}, exitConfig, "absent.yaml"},
		{[]string{"version"}, 0, ""},
		{[]string{}, 0, ""}, // the help
	} {
		root, err := newRootCmd()
		if err != nil {
			t.Fatal(err)
		}
		root.SetArgs(append(tc.args, "-c", absent))
		if len(tc.args) == 0 {
			root.SetArgs(nil)
		}
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		err = root.Execute()
		code := 0
		if err != nil {
			code = exitCode(err)
		}
		if code != tc.code || (tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("hadhcpd %s: exit %d (%v), want %d with %q", strings.Join(tc.args, " "), code, err, tc.code, tc.want)
		}
		if tc.want != "absent.yaml" && err != nil && strings.Contains(err.Error(), "absent.yaml") {
			t.Errorf("hadhcpd %s: %v: the config was read before the command line was checked", strings.Join(tc.args, " "), err)
		}
	}
}

// TestUsageExitCodeProcess: the process itself exits 2 and says why on
// stderr.
func TestUsageExitCodeProcess(t *testing.T) {
	cmd := exec.Command(binary(t), "leases", "--state", "bogus", "-c", filepath.Join(t.TempDir(), "absent.yaml"))
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != exitConfig || !strings.Contains(string(out), `hadhcpd: invalid argument "bogus" for "--state" flag`) {
		t.Errorf("leases --state bogus: exit %d, %q; want %d and the flag named", cmd.ProcessState.ExitCode(), out, exitConfig)
	}
}
