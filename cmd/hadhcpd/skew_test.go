package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunClockOffsetFlag: the hidden flag refuses what it cannot mean
// before it reads the config (exit 2, a usage error).
func TestRunClockOffsetFlag(t *testing.T) {
	for _, tc := range []struct {
		arg, want string
	}{
		{"25h", "clock offset outside ±24h"},
		{"-24h0m1s", "clock offset outside ±24h"},
		{"soon", "invalid argument"},
	} {
		cmd := exec.Command(binary(t), "run", "-c", filepath.Join(t.TempDir(), "absent.yaml"), "--"+clockOffsetFlag, tc.arg)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("run --%s %s: %v, %q; want an error with %q", clockOffsetFlag, tc.arg, err, out, tc.want)
		}
		if tc.want != "invalid argument" && cmd.ProcessState.ExitCode() != exitConfig {
			t.Errorf("run --%s %s: exit %d, want %d", clockOffsetFlag, tc.arg, cmd.ProcessState.ExitCode(), exitConfig)
		}
	}
	out, err := exec.Command(binary(t), "run", "--help").CombinedOutput()
	if err != nil || strings.Contains(string(out), clockOffsetFlag) {
		t.Errorf("run --help shows the hidden test flag (or failed: %v):\n%s", err, out)
	}
}
