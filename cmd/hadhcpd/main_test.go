package main

import (
	"os"
	"testing"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// The command line's own tests: flags, usage errors, exit codes. The root
// end-to-end tests that drive the built binary against real peers live in
// e2e/.

// hadhcpdBin is the binary under test, built from this tree once per test
// run (never $HADHCPD_BIN: these tests are about this code's command line).
var hadhcpdBin = testnet.Binary{Pkg: "github.com/hadhcpd/hadhcpd/cmd/hadhcpd"}

// binary builds hadhcpd once per test run into a temporary directory.
func binary(t *testing.T) string { return hadhcpdBin.Path(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	hadhcpdBin.Remove()
	os.Exit(code)
}
