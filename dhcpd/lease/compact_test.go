package lease

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestCompactOnline(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	const n = 2000
	for i := range n {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var acked sync.Map
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := u32Addr(0xc6336400 + uint32(g*100000+i))
				out, err := db.Commit(active(a, i, t0, time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				acked.Store(a, out[0].Seq)
			}
		}()
	}
	for range 3 {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	db.Close()
	db2, rep := openT(t, dir, nil)
	if rep.SnapshotLeases < n || rep.NeedResync {
		t.Fatalf("report = %+v", rep)
	}
	lost := 0
	acked.Range(func(k, v any) bool {
		if l, ok := db2.Get(k.(netip.Addr)); !ok || l.Seq < v.(uint64) {
			lost++
		}
		return true
	})
	if lost > 0 {
		t.Fatalf("%d acknowledged commits lost across compactions", lost)
	}
	if db2.Len() < n {
		t.Fatalf("Len = %d", db2.Len())
	}
}

// TestCompactionLeavesOnlyItsFiles: a compaction that replaces a snapshot
// frees the old one (through snapshot.hdl.old, see dropFile) and the
// journals the new one covers; nothing else is left in the directory.
func TestCompactionLeavesOnlyItsFiles(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	for round := range 3 {
		for i := range 500 {
			mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), round*500+i, t0, time.Hour))
		}
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{lockName, journalName(4), snapshotName} // ReadDir's order
	if !slices.Equal(names, want) {
		t.Fatalf("state directory after three compactions: %v, want %v", names, want)
	}
	db.Close()
	db2, rep := openT(t, dir, nil)
	if db2.Len() != 500 || rep.SnapshotLeases != 500 || db2.LastSeq() != 1500 {
		t.Fatalf("after reopen: Len %d, report %+v, LastSeq %d", db2.Len(), rep, db2.LastSeq())
	}
}

// TestOpenRemovesReplacedSnapshot: a crash during dropFile leaves
// snapshot.hdl.old (part of the snapshot before the last one); Open
// removes it and reads only snapshot.hdl and the journals.
func TestOpenRemovesReplacedSnapshot(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	for i := range 100 {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour))
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	old := filepath.Join(dir, snapshotOld)
	if err := os.WriteFile(old, []byte("HDLSNAP\x00 half of an old snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	db2, rep := openT(t, dir, nil)
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s after Open: %v, want it removed", snapshotOld, err)
	}
	if db2.Len() != 100 || rep.NeedResync {
		t.Fatalf("after Open: Len %d, report %+v", db2.Len(), rep)
	}
}

func TestDropFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, make([]byte, 2*dropStep+17), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dropFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after dropFile: %v, want the file gone", err)
	}
	if err := dropFile(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dropFile of a missing file: %v, want ErrNotExist", err)
	}
}

func TestAutoCompaction(t *testing.T) {
	dir := t.TempDir()
	db, _, err := Open(Options{Dir: dir, CompactBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i%50)), i, t0, time.Hour))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, rep := openT(t, dir, nil)
	if rep.SnapshotLeases == 0 || rep.Records >= 300 {
		t.Fatalf("no automatic compaction happened: %+v", rep)
	}
	if db2.Len() != 50 || db2.LastSeq() != 300 {
		t.Fatalf("Len %d LastSeq %d", db2.Len(), db2.LastSeq())
	}
}
