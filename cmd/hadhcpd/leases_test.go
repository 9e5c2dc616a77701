package main

import (
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/control"
)

// TestLeasesDamageFails: a listing of a damaged database ends in an error
// (exit 1) naming each damaged part, one a line, after the list; an intact
// one does not.
func TestLeasesDamageFails(t *testing.T) {
	if err := damageError(nil); err != nil {
		t.Fatalf("no damage: %v", err)
	}
	err := damageError([]control.LeaseDamage{
		{File: "/var/lib/hadhcpd/journal-0000000000000001.hdl", Offset: 2020, Bytes: 66, Records: 1, Reason: "CRC32C mismatch"},
		{File: "/var/lib/hadhcpd/snapshot.hdl", Offset: -1, Reason: "missing"},
	})
	if err == nil || exitCode(err) != exitFailure {
		t.Fatalf("err = %v, want exit %d", err, exitFailure)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "incomplete") ||
		!strings.Contains(lines[1], "journal-0000000000000001.hdl at offset 2020: CRC32C mismatch: 66 bytes, 1 record(s) lost") ||
		!strings.Contains(lines[2], "snapshot.hdl: missing") {
		t.Fatalf("error lines:\n%s", err)
	}
}
