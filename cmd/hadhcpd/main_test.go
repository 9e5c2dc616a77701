package main

import (
	"os"
	"testing"

	"github.com/hadhcpd/hadhcpd/internal/lab"
)

// The command line's own tests. The root end-to-end tests that drive the
// built binary against real peers live in e2e/.

// binary is the hadhcpd under test, built once per test run (lab.Bin).
func binary(t *testing.T) string { return lab.Bin.Path(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	lab.Bin.Remove()
	os.Exit(code)
}
