package lease

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// twoGroups puts 192.0.2.0/25 in group "a", 192.0.2.128/25 in "b" and
// every other address in none.
func twoGroups(a netip.Addr) string {
	switch {
	case netip.MustParsePrefix("192.0.2.0/25").Contains(a):
		return "a"
	case netip.MustParsePrefix("192.0.2.128/25").Contains(a):
		return "b"
	}
	return ""
}

func openGroups(t *testing.T, dir string, group func(netip.Addr) string) (*DB, OpenReport) {
	t.Helper()
	db, rep, err := Open(Options{Dir: dir, Clock: &fakeClock{t: t0}, SeqGroup: group, CompactBytes: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, rep
}

type groupWant struct {
	name      string
	own, peer uint64
}

func checkGroups(t *testing.T, when string, db *DB, want ...groupWant) {
	t.Helper()
	for _, w := range want {
		if own, peer := db.GroupSeqs(w.name); own != w.own || peer != w.peer {
			t.Errorf("%s: GroupSeqs(%q) = own %d peer %d, want own %d peer %d", when, w.name, own, peer, w.own, w.peer)
		}
	}
}

// TestSeqGroupsCountReplacedRecords: a group's numbers are those of
// every record of its addresses ever written or applied, also one a
// later record replaced (ours replaced by the partner's, the partner's
// by ours), and they stay so across reopen (journal replay), compaction
// (the snapshot no longer holds the replaced records) and reopen of the
// compacted directory.
func TestSeqGroupsCountReplacedRecords(t *testing.T) {
	dir := t.TempDir()
	db, _ := openGroups(t, dir, twoGroups)
	a1, a2, b1, b2 := ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.129"), ip("192.0.2.130")
	mustCommit(t, db, active(a1, 1, t0, time.Hour)) // seq 1
	mustCommit(t, db, active(b1, 2, t0, time.Hour)) // seq 2
	mustCommit(t, db, active(a2, 3, t0, time.Hour)) // seq 3
	// The partner's record of b2, then ours replacing it (seq 4).
	if err := db.Apply(partner(active(b2, 4, t0, 2*time.Hour), 70)); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(b2, 4, t0, 3*time.Hour))
	// The partner's records replacing ours of a2 (seq 3): ours no longer
	// held anywhere in group a but a1's seq 1.
	if err := db.Apply(partner(active(a2, 5, t0, 2*time.Hour), 100)); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(ip("198.51.100.1"), 6, t0, time.Hour)) // seq 5: no group
	want := []groupWant{{"a", 3, 100}, {"b", 4, 70}, {"", 0, 0}}
	checkGroups(t, "live", db, want...)
	db.Close()

	db, _ = openGroups(t, dir, twoGroups)
	checkGroups(t, "journal replayed", db, want...)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	checkGroups(t, "compacted", db, want...)
	db.Close()

	db, rep := openGroups(t, dir, twoGroups)
	if rep.SnapshotLeases != 5 || rep.Records != 0 || rep.NeedResync {
		t.Fatalf("report = %+v, want 5 snapshot leases, no journal record, no damage", rep)
	}
	checkGroups(t, "snapshot reopened", db, want...)
	// Past the snapshot: a journal record raises it; a second compaction
	// carries the snapshot's own group records on.
	mustCommit(t, db, active(b1, 2, t0, 2*time.Hour)) // seq 6
	want[1].own = 6
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, _ = openGroups(t, dir, twoGroups)
	checkGroups(t, "second snapshot reopened", db, want...)
	db.Close()

	// Without SeqGroup (a listing's copy): the group records are skipped,
	// neither leases nor damage.
	db, rep = openGroups(t, dir, nil)
	if rep.SnapshotLeases != 5 || rep.NeedResync || db.Len() != 5 {
		t.Fatalf("without SeqGroup: report = %+v, Len %d", rep, db.Len())
	}
	checkGroups(t, "without SeqGroup", db, groupWant{"a", 0, 0})
}

// TestSeqGroupsLostTailLowers: the numbers are what the journal holds: a
// journal that lost its last record (seq 8) comes back with
// the record before it (seq 7), as
// LastSeq does; the snapshot's group records count up to its boundary.
func TestSeqGroupsLostTailLowers(t *testing.T) {
	dir := t.TempDir()
	db, _ := openGroups(t, dir, twoGroups)
	for i := range 5 {
		mustCommit(t, db, active(u32Addr(0xc0000201+uint32(i)), i, t0, time.Hour)) // seqs 1..5, group a
	}
	if err := db.Apply(partner(active(ip("192.0.2.5"), 9, t0, 2*time.Hour), 40)); err != nil {
		t.Fatal(err) // replaces our seq 5: the snapshot holds ours up to 4
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(ip("192.0.2.9"), 6, t0, time.Hour))  // seq 6
	mustCommit(t, db, active(ip("192.0.2.9"), 7, t0, time.Hour))  // seq 7, replaces 6
	mustCommit(t, db, active(ip("192.0.2.10"), 8, t0, time.Hour)) // seq 8: the tail lost
	checkGroups(t, "live", db, groupWant{"a", 8, 40})
	db.Close()
	path := filepath.Join(dir, journalName(2))
	offs := frameOffsets(t, path)
	if len(offs) != 3 {
		t.Fatalf("journal 2 has %d records, want 3", len(offs))
	}
	editFile(t, path, func(b []byte) []byte {
		b[offs[2]+frameHeader+10] ^= 0xff // the last record's seq: CRC mismatch
		return b
	})
	db, _ = openGroups(t, dir, twoGroups)
	if db.LastSeq() != 7 {
		t.Fatalf("LastSeq %d after losing the last record, want 7", db.LastSeq())
	}
	checkGroups(t, "tail lost", db, groupWant{"a", 7, 40})
	db.Close()

	// The whole journal after the snapshot lost: the snapshot's group
	// records still count our seq 5, the record the partner replaced.
	editFile(t, path, func(b []byte) []byte { return b[:headerSize] })
	db, _ = openGroups(t, dir, twoGroups)
	checkGroups(t, "journal empty", db, groupWant{"a", 5, 40})
}

// TestSeqGroupsOldSnapshot: a snapshot without group records (written
// before they existed, or without SeqGroup) opens as before, its groups
// counted from its leases and the journal; a group the config no longer
// names is not carried on.
func TestSeqGroupsOldSnapshot(t *testing.T) {
	dir := t.TempDir()
	db, _ := openGroups(t, dir, nil)
	mustCommit(t, db, active(ip("192.0.2.1"), 1, t0, time.Hour))   // seq 1
	mustCommit(t, db, active(ip("192.0.2.1"), 1, t0, time.Hour))   // seq 2
	mustCommit(t, db, active(ip("192.0.2.129"), 2, t0, time.Hour)) // seq 3
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(ip("192.0.2.2"), 3, t0, time.Hour)) // seq 4
	db.Close()
	db, rep := openGroups(t, dir, twoGroups)
	if rep.SnapshotLeases != 2 || rep.NeedResync {
		t.Fatalf("report = %+v", rep)
	}
	checkGroups(t, "old snapshot", db, groupWant{"a", 4, 0}, groupWant{"b", 3, 0})
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	onlyA := func(a netip.Addr) string {
		if g := twoGroups(a); g == "a" {
			return g
		}
		return ""
	}
	db, _ = openGroups(t, dir, onlyA)
	checkGroups(t, "group b no longer named", db, groupWant{"a", 4, 0}, groupWant{"b", 0, 0})
}
