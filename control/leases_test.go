package control

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// TestReadLeasesDamaged: a listing of a damaged database holds every lease
// that survived and says what was lost, with the file named in the state
// directory (not in the copy it read), and the state directory is left as
// it was.
func TestReadLeasesDamaged(t *testing.T) {
	dir := t.TempDir()
	db, _, err := lease.Open(lease.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 20 {
		l := lease.Lease{
			Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)},
			State: lease.StateActive, Start: t0, Expiry: t0.Add(time.Hour), StateStart: t0, CLTT: t0,
		}
		if _, err := db.Commit(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var journal string
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".hdl" {
			journal = filepath.Join(dir, e.Name())
		}
	}
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	// Record 5: skip the 40-byte header and five frames (length | CRC | payload).
	off := 40
	for range 5 {
		off += 8 + int(binary.BigEndian.Uint32(b[off:]))
	}
	b[off+8+4] ^= 0x01
	if err := os.WriteFile(journal, b, 0o600); err != nil {
		t.Fatal(err)
	}

	ls, damage, err := ReadLeases(dir, LeaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 19 {
		t.Fatalf("%d leases listed, want the 19 that survived", len(ls))
	}
	if len(damage) != 1 || damage[0].File != journal || damage[0].Offset != int64(off) || damage[0].Records != 1 {
		t.Fatalf("damage = %+v, want record 5 of %s at offset %d", damage, journal, off)
	}
	if s := damage[0].String(); !bytes.Contains([]byte(s), []byte(fmt.Sprintf("%s at offset %d", journal, off))) {
		t.Fatalf("damage reads %q", s)
	}
	after, _ := os.ReadFile(journal)
	if !bytes.Equal(after, b) {
		t.Fatal("ReadLeases changed the journal")
	}
	if ents2, _ := os.ReadDir(dir); len(ents2) != len(ents) {
		t.Fatalf("ReadLeases changed the state directory: %d files, were %d", len(ents2), len(ents))
	}

	// An intact database lists everything and reports nothing.
	clean := t.TempDir()
	db, _, err = lease.Open(lease.Options{Dir: clean})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, damage, err := ReadLeases(clean, LeaseFilter{}); err != nil || damage != nil {
		t.Fatalf("clean database: damage %v, err %v", damage, err)
	}
}
