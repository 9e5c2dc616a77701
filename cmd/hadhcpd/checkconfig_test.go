package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
