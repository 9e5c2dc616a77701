package lease

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeJournal writes n leases, one record each, and returns the journal's
// path and the record offsets.
func makeJournal(t *testing.T, dir string, n int) (string, []int64) {
	t.Helper()
	db, _ := openT(t, dir, nil)
	for i := range n {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journalName(1))
	return path, frameOffsets(t, path)
}

func frameOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := headerSize; off+frameHeader <= len(b); {
		offs = append(offs, int64(off))
		off += frameHeader + int(binary.BigEndian.Uint32(b[off:]))
	}
	return offs
}

func TestRecoveryTornTail(t *testing.T) {
	dir := t.TempDir()
	path, offs := makeJournal(t, dir, 20)
	last := offs[len(offs)-1]
	if err := os.Truncate(path, last+11); err != nil { // a half-written last record
		t.Fatal(err)
	}
	var logs logBuf
	db, rep := openT(t, dir, &logs)
	if rep.TruncatedAt != last || rep.Records != 19 || rep.NeedResync || rep.MovedAside != "" {
		t.Fatalf("report = %+v, want truncated at %d, 19 records", rep, last)
	}
	if !strings.Contains(logs.String(), "torn") || !strings.Contains(logs.String(), path) {
		t.Fatalf("no warning naming the file:\n%s", logs.String())
	}
	if st, _ := os.Stat(path); st.Size() != last {
		t.Fatalf("journal is %d bytes, want truncated to %d", st.Size(), last)
	}
	// New commits go after the cut and survive.
	mustCommit(t, db, active(ip("198.51.100.1"), 99, t0, time.Hour))
	db.Close()
	db2, rep := openT(t, dir, nil)
	if rep.TruncatedAt != -1 || rep.Records != 20 {
		t.Fatalf("second open report = %+v", rep)
	}
	if _, ok := db2.Get(ip("198.51.100.1")); !ok {
		t.Fatal("commit after a truncation lost")
	}
}

func TestRecoveryZeroFilledTail(t *testing.T) {
	for _, c := range []struct {
		name  string
		zeroN int64 // zero this many bytes at the end of the last record
	}{
		{"appended zeros", 0},
		{"last record zeroed inside", 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path, offs := makeJournal(t, dir, 10)
			st, _ := os.Stat(path)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			// ext4 after a power loss: the size grew, the blocks are zero.
			if _, err := f.WriteAt(make([]byte, 8192+c.zeroN), st.Size()-c.zeroN); err != nil {
				t.Fatal(err)
			}
			f.Close()
			want := st.Size()
			records := 10
			if c.zeroN > 0 {
				want, records = offs[len(offs)-1], 9
			}
			_, rep := openT(t, dir, nil)
			if rep.TruncatedAt != want || rep.Records != records || rep.NeedResync {
				t.Fatalf("report = %+v, want truncated at %d with %d records", rep, want, records)
			}
		})
	}
}

func TestRecoveryFlippedBit(t *testing.T) {
	dir := t.TempDir()
	path, offs := makeJournal(t, dir, 20)
	orig, _ := os.ReadFile(path)
	bad := offs[7]
	b := append([]byte(nil), orig...)
	b[bad+frameHeader+5] ^= 0x10 // inside record 7's payload
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	db, rep := openT(t, dir, &logs)
	if !rep.NeedResync || rep.MovedAside == "" || rep.Records != 19 || rep.TruncatedAt != -1 {
		t.Fatalf("report = %+v, want 19 records, one moved aside, resync", rep)
	}
	if !strings.Contains(rep.MovedAside, fmt.Sprintf("corrupt-at-%d", bad)) {
		t.Fatalf("aside file %q does not name offset %d", rep.MovedAside, bad)
	}
	aside, err := os.ReadFile(rep.MovedAside)
	if err != nil || string(aside) != string(b[bad:offs[8]]) {
		t.Fatalf("aside file holds %d bytes (err %v), want the bad record's %d", len(aside), err, offs[8]-bad)
	}
	l := logs.String()
	if !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "CORRUPT") || !strings.Contains(l, path) || !strings.Contains(l, fmt.Sprintf("offset=%d", bad)) {
		t.Fatalf("log does not name file and offset loudly:\n%s", l)
	}
	if db.Len() != 19 {
		t.Fatalf("Len = %d, want 19", db.Len())
	}
	if _, ok := db.Get(u32Addr(0xc0000200 + 7)); ok {
		t.Fatal("the damaged record's lease was recovered")
	}
	// The database keeps working; the damage was compacted away.
	mustCommit(t, db, active(ip("198.51.100.1"), 99, t0, time.Hour))
	db.Close()
	db2, rep := openT(t, dir, nil)
	// No new damage; the loss itself stays until mended (loss.go).
	if !rep.NeedResync || len(rep.Damage) != 0 || db2.Len() != 20 {
		t.Fatalf("second open = %+v, Len %d", rep, db2.Len())
	}
}

func TestRecoveryBadLengthInMiddle(t *testing.T) {
	dir := t.TempDir()
	path, offs := makeJournal(t, dir, 20)
	b, _ := os.ReadFile(path)
	binary.BigEndian.PutUint32(b[offs[3]:], 1<<30) // a length no allocation should follow
	os.WriteFile(path, b, 0o600)
	_, rep := openT(t, dir, nil)
	if !rep.NeedResync || rep.Records != 19 || len(rep.Damage) != 1 || rep.Damage[0].Records != 1 || rep.Damage[0].Offset != offs[3] {
		t.Fatalf("report = %+v", rep)
	}
}

func TestRecoveryCorruptOlderJournalKeepsNewer(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	for i := range 10 {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour))
	}
	// A compaction that never finished: the boundary moved to journal 2
	// but the snapshot was not written.
	db.mu.Lock()
	nf, err := createFile(filepath.Join(dir, journalName(2)), journalHeader(2))
	if err != nil {
		t.Fatal(err)
	}
	sealed := db.batchLocked()
	sealed.switchTo, sealed.switchGen = nf, 2
	db.gen = 2
	db.mu.Unlock()
	<-sealed.done
	mustCommit(t, db, active(ip("198.51.100.1"), 99, t0, time.Hour))
	db.Close()
	p1 := filepath.Join(dir, journalName(1))
	st, _ := os.Stat(p1)
	os.Truncate(p1, st.Size()-3) // damage, not a torn write: journal 2 exists
	_, rep := openT(t, dir, nil)
	if !rep.NeedResync || rep.Records != 10 {
		t.Fatalf("report = %+v, want 9 + 1 records and a resync", rep)
	}
}

func TestRecoveryCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	for i := range 10 {
		mustCommit(t, db, active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour))
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(ip("198.51.100.1"), 99, t0, time.Hour))
	db.Close()
	sp := filepath.Join(dir, snapshotName)
	offs := frameOffsets(t, sp)
	b, _ := os.ReadFile(sp)
	b[len(b)-1] ^= 1 // the last snapshot record: still damage, snapshots are never torn
	os.WriteFile(sp, b, 0o600)
	db2, rep := openT(t, dir, nil)
	if !rep.NeedResync || rep.SnapshotLeases != 9 || rep.Records != 1 || !strings.Contains(rep.MovedAside, fmt.Sprintf("snapshot.hdl.corrupt-at-%d", offs[9])) {
		t.Fatalf("report = %+v", rep)
	}
	if _, ok := db2.Get(ip("198.51.100.1")); !ok {
		t.Fatal("journal after a damaged snapshot was not replayed")
	}
}

func TestRecoveryHeaderErrors(t *testing.T) {
	good := (&fileHeader{magic: magicJournal, version: formatVersion, gen: 1}).marshal()
	future := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(future[8:], formatVersion+1)
	badCRC := append([]byte(nil), good...)
	badCRC[15] ^= 1
	snapAsJournal := (&fileHeader{magic: magicSnapshot, version: formatVersion, gen: 1}).marshal()
	for _, c := range []struct {
		name    string
		content []byte
		want    error
		msg     string
	}{
		{"truncated header", good[:20], ErrTruncatedHeader, "truncated file header: 20 bytes, need 40"},
		{"wrong magic", []byte("GARBAGE!GARBAGE!GARBAGE!GARBAGE!GARBAGE!"), ErrBadMagic, "wrong magic"},
		{"snapshot magic in a journal", snapAsJournal, ErrBadMagic, "wrong magic"},
		{"future version", future, ErrFutureVersion, "version 2, this build reads up to 1"},
		{"version 0", append([]byte(magicJournal), 0, 0, 0, 0), ErrBadVersion, "invalid format version"},
		{"header checksum", badCRC, ErrCorruptHeader, "checksum"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, journalName(1))
			os.WriteFile(path, c.content, 0o600)
			db, _, err := Open(Options{Dir: dir})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			var fe *FileError
			if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("err = %v, want %v naming %s", err, c.want, path)
			}
			if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("message %q lacks %q or the path", err, c.msg)
			}
			// Refusing must not have changed the file.
			if b, _ := os.ReadFile(path); string(b) != string(c.content) {
				t.Fatal("the refused file was modified")
			}
		})
	}
	// The same checks guard the snapshot.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, snapshotName), future[:30], 0o600)
	if _, _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("journal magic in the snapshot: %v", err)
	}
}

// A crash while the newest journal was being created leaves it empty or
// zero-filled; nothing can have been committed to it.
func TestRecoveryEmptyNewestJournal(t *testing.T) {
	for _, size := range []int{0, 17} {
		dir := t.TempDir()
		makeJournal(t, dir, 5)
		p2 := filepath.Join(dir, journalName(2))
		os.WriteFile(p2, make([]byte, size), 0o600)
		var logs logBuf
		db, rep := openT(t, dir, &logs)
		if rep.Records != 5 || rep.NeedResync || !strings.Contains(logs.String(), "recreating empty journal") {
			t.Fatalf("size %d: report %+v, log %s", size, rep, logs.String())
		}
		mustCommit(t, db, active(ip("198.51.100.1"), 99, t0, time.Hour))
		db.Close()
		if _, rep := openT(t, dir, nil); rep.Records != 6 {
			t.Fatalf("size %d: after recreation %+v", size, rep)
		}
	}
}

// TestRecoverySeqFromSnapshotHeader: after a compaction, the highest
// sequence numbers may be carried by no record at all (the record that
// had one was replaced by the other side's), only by the snapshot's
// header. Recovery must take them from there: a LastSeq that went back
// would hand out a sequence number the partner already holds, and a
// PartnerSeq that went back would replay the partner's stream from the
// wrong place.
func TestRecoverySeqFromSnapshotHeader(t *testing.T) {
	a := ip("192.0.2.7")
	released := active(a, 1, t0, time.Hour)
	released.State, released.Expiry = StateReleased, time.Time{}
	for _, c := range []struct {
		name               string
		fill               func(t *testing.T, db *DB)
		wantLast, wantPeer uint64
	}{
		{"our last record replaced by the partner's", func(t *testing.T, db *DB) {
			mustCommit(t, db, released) // seq 1, then nothing of ours is left
			if err := db.Apply(partner(active(a, 2, t0, time.Hour), 40)); err != nil {
				t.Fatal(err)
			}
		}, 1, 40},
		{"the partner's last record replaced by ours", func(t *testing.T, db *DB) {
			if err := db.Apply(partner(active(a, 2, t0, time.Hour), 40)); err != nil {
				t.Fatal(err)
			}
			mustCommit(t, db, released) // seq 1 replaces partner seq 40
		}, 1, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db, _ := openT(t, dir, nil)
			c.fill(t, db)
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			db.Close()
			db2, rep := openT(t, dir, nil)
			if rep.SnapshotLeases != 1 || rep.Records != 0 || rep.NeedResync {
				t.Fatalf("report = %+v, want one snapshot lease and no journal records", rep)
			}
			if rep.LastSeq != c.wantLast || db2.LastSeq() != c.wantLast || db2.PartnerSeq() != c.wantPeer {
				t.Fatalf("after reopen: report LastSeq %d, LastSeq %d, PartnerSeq %d; want %d, %d",
					rep.LastSeq, db2.LastSeq(), db2.PartnerSeq(), c.wantLast, c.wantPeer)
			}
			out := mustCommit(t, db2, active(ip("192.0.2.8"), 3, t0, time.Hour))
			if out[0].Seq != c.wantLast+1 {
				t.Fatalf("first commit after reopen got seq %d, want %d", out[0].Seq, c.wantLast+1)
			}
		})
	}
}

// testdata/v1 was written by format version 1 (a snapshot and the journal
// after it). It must keep loading, whatever the format becomes.
func TestTestdataV1Loads(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{snapshotName, journalName(2)} {
		b, err := os.ReadFile(filepath.Join("testdata", "v1", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	db, rep := openT(t, dir, nil)
	if rep.SnapshotLeases != 20 || rep.Records != 10 || rep.NeedResync || rep.TruncatedAt != -1 || rep.LastSeq != 30 {
		t.Fatalf("report = %+v", rep)
	}
	if db.Len() != 25 {
		t.Fatalf("Len = %d, want 25", db.Len())
	}
	for i, want := range testdataV1() {
		got, ok := db.Get(want.Addr)
		if !ok || !leaseEqual(got, want) {
			t.Fatalf("lease %d = %+v\nwant %+v", i, got, want)
		}
	}
}

// testdataV1 is the final state testdata/v1 holds.
func testdataV1() []Lease {
	var out []Lease
	for i := range 25 {
		l := active(u32Addr(0xc0000200+uint32(i)), i, t0, time.Hour)
		l.ClientID = []byte{1, byte(i)}
		l.Seq = uint64(i + 1)
		if i >= 15 && i < 20 { // released in the journal
			l.State = StateReleased
			l.Expiry = time.Time{}
			l.StateStart = t0.Add(time.Minute)
			l.Seq = uint64(20 + i - 14)
		}
		if i >= 20 { // new in the journal
			l.Seq = uint64(26 + i - 20)
		}
		out = append(out, l)
	}
	return out
}

// TestWriteTestdataV1 regenerates testdata/v1 when HDL_WRITE_TESTDATA=1.
// Only do that for a new format version (into a new folder).
func TestWriteTestdataV1(t *testing.T) {
	if os.Getenv("HDL_WRITE_TESTDATA") != "1" {
		t.Skip("set HDL_WRITE_TESTDATA=1 to regenerate testdata/v1")
	}
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	want := testdataV1()
	for i := range 20 {
		l := active(want[i].Addr, i, t0, time.Hour)
		l.ClientID = want[i].ClientID
		mustCommit(t, db, l)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i := 15; i < 20; i++ {
		l := want[i]
		l.Seq = 0
		mustCommit(t, db, l)
	}
	for i := 20; i < 25; i++ {
		l := want[i]
		l.Seq = 0
		mustCommit(t, db, l)
	}
	db.Close()
	os.MkdirAll(filepath.Join("testdata", "v1"), 0o755)
	for _, name := range []string{snapshotName, journalName(2)} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "v1", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLossPersistsUntilMended: a recovery that lost records leaves the
// loss on record (dated) through restarts, until LossMended; without it a
// box restarted before its resync would claim a complete database.
func TestLossPersistsUntilMended(t *testing.T) {
	dir := t.TempDir()
	path, offs := makeJournal(t, dir, 20)
	editFile(t, path, func(b []byte) []byte { b[offs[7]+12] ^= 0x10; return b })
	db, rep := openT(t, dir, nil)
	if !rep.NeedResync || !rep.LossAt.Equal(t0) {
		t.Fatalf("open of a damaged journal: %+v, want NeedResync, LossAt %v", rep, t0)
	}
	db.Close()
	for i := range 2 {
		db, rep = openT(t, dir, nil)
		if !rep.NeedResync || !rep.LossAt.Equal(t0) || len(rep.Damage) != 0 {
			t.Fatalf("restart %d: %+v, want the loss of %v still reported, no new damage", i+1, rep, t0)
		}
		db.Close()
	}
	db, _ = openT(t, dir, nil)
	if err := db.LossMended(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, rep = openT(t, dir, nil); rep.NeedResync || !rep.LossAt.IsZero() {
		t.Fatalf("after LossMended: %+v, want no loss", rep)
	}
}
