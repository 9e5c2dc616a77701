package lease

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The corruption suite: each case writes a database, damages it as a disk
// or a file system can, and checks what invariant 7 promises: the damage
// costs only the records that cannot be read (no more leases are lost
// than records were damaged), it is reported and logged with the file and
// the offset, a resync is asked for, no address an intact record says is
// leased can be allocated, and the next Open finds nothing again.

// corruptAddr is the address of the i-th lease a corruption case writes.
func corruptAddr(i int) netip.Addr { return u32Addr(0xc0000200 + uint32(i)) }

// corruptPool covers every address the cases write, and more.
var corruptPool = Pool{Name: "192.0.2.0/25", First: ip("192.0.2.0"), Last: ip("192.0.2.127")}

// writeLeases commits leases from..to-1 (one Commit, so one group commit,
// each: the journal's durable length follows every record).
func writeLeases(t *testing.T, db *DB, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		mustCommit(t, db, active(corruptAddr(i), i, t0, time.Hour))
	}
}

// journal60 writes 60 leases into journal 1 and returns its path and
// record offsets.
func journal60(t *testing.T, dir string) (string, []int64) {
	t.Helper()
	db, _ := openT(t, dir, nil)
	writeLeases(t, db, 0, 60)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journalName(1))
	return path, frameOffsets(t, path)
}

// snapshot40 writes 40 leases, compacts (snapshot record k is lease k) and
// writes 20 more into the journal after the snapshot.
func snapshot40(t *testing.T, dir string) (string, []int64) {
	t.Helper()
	db, _ := openT(t, dir, nil)
	writeLeases(t, db, 0, 40)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	writeLeases(t, db, 40, 60)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotName)
	return path, frameOffsets(t, path)
}

func editFile(t *testing.T, path string, edit func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func indexes(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestCorruption(t *testing.T) {
	for _, c := range []struct {
		name string
		// damage writes and damages a database in dir; it returns the
		// damaged file and offset (-1: the file is gone) and the leases
		// whose records it destroyed.
		damage func(t *testing.T, dir string) (file string, off int64, lost []int)
		// records is the count the report must give (0: it cannot know;
		// then bytes says how much it must report).
		records int
		bytes   func(dir string, off int64) int64
	}{
		{"journal: one flipped bit in record 30 of 60", func(t *testing.T, dir string) (string, int64, []int) {
			path, offs := journal60(t, dir)
			editFile(t, path, func(b []byte) []byte { b[offs[30]+frameHeader+9] ^= 0x04; return b })
			return path, offs[30], []int{30}
		}, 1, nil},
		{"journal: flipped bit in record 30's length field", func(t *testing.T, dir string) (string, int64, []int) {
			path, offs := journal60(t, dir)
			editFile(t, path, func(b []byte) []byte { b[offs[30]+3] ^= 0x02; return b })
			return path, offs[30], []int{30}
		}, 1, nil},
		{"journal: record 50's length points past the end of the file", func(t *testing.T, dir string) (string, int64, []int) {
			path, offs := journal60(t, dir)
			editFile(t, path, func(b []byte) []byte { binary.BigEndian.PutUint32(b[offs[50]:], MaxPayload); return b })
			return path, offs[50], []int{50}
		}, 1, nil},
		{"journal: two damaged records in a row", func(t *testing.T, dir string) (string, int64, []int) {
			path, offs := journal60(t, dir)
			editFile(t, path, func(b []byte) []byte {
				b[offs[30]+frameHeader+9] ^= 0x04
				b[offs[31]+frameHeader+20] ^= 0x80
				return b
			})
			return path, offs[30], []int{30, 31}
		}, 2, nil},
		{"journal: zeroed from record 30 to its end", func(t *testing.T, dir string) (string, int64, []int) {
			// A file system in writeback mode after a crash: every
			// record here was fsync'd (one Commit each), so this is
			// damage, not a torn tail.
			path, offs := journal60(t, dir)
			editFile(t, path, func(b []byte) []byte { clear(b[offs[30]:]); return b })
			return path, offs[30], indexes(30, 60)
		}, 0, func(dir string, off int64) int64 {
			st, _ := os.Stat(filepath.Join(dir, journalName(1)))
			return st.Size() - off
		}},
		{"snapshot: one flipped bit in record 20 of 40", func(t *testing.T, dir string) (string, int64, []int) {
			path, offs := snapshot40(t, dir)
			editFile(t, path, func(b []byte) []byte { b[offs[20]+frameHeader+12] ^= 0x01; return b })
			return path, offs[20], []int{20}
		}, 1, nil},
		{"snapshot: deleted after a compaction", func(t *testing.T, dir string) (string, int64, []int) {
			path, _ := snapshot40(t, dir)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return path, -1, indexes(0, 40)
		}, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file, off, lost := c.damage(t, dir)
			var wantBytes int64
			if c.bytes != nil {
				wantBytes = c.bytes(dir, off)
			}
			var logs logBuf
			db, rep := openT(t, dir, &logs)

			if !rep.NeedResync || rep.TruncatedAt != -1 || len(rep.Damage) != 1 {
				t.Fatalf("report = %+v, want one damage, a resync and no torn tail", rep)
			}
			d := rep.Damage[0]
			if d.File != file || d.Offset != off || d.Records != c.records || c.bytes != nil && d.Bytes != wantBytes {
				t.Fatalf("damage = %+v, want file %s, offset %d, %d records, %d bytes", d, file, off, c.records, wantBytes)
			}
			l := logs.String()
			if !strings.Contains(l, "level=ERROR") || !strings.Contains(l, file) ||
				off >= 0 && !strings.Contains(l, fmt.Sprintf("offset=%d", off)) {
				t.Fatalf("the log does not name file and offset loudly:\n%s", l)
			}

			// Exactly the damaged records' leases are gone; every other
			// lease is as its record says.
			isLost := map[int]bool{}
			for _, i := range lost {
				isLost[i] = true
			}
			if c.records > 0 && c.records != len(lost) {
				t.Fatalf("bad case: %d records reported for %d lost", c.records, len(lost))
			}
			for i := range 60 {
				got, ok := db.Get(corruptAddr(i))
				switch {
				case isLost[i] && ok:
					t.Errorf("lease %d survived the damage of its record: %+v", i, got)
				case !isLost[i] && (!ok || got.State != StateActive || got.HWAddr.String() != mac(i).String()):
					t.Errorf("lease %d, whose record is intact, is %+v (found %v)", i, got, ok)
				}
			}
			if db.Len() != 60-len(lost) {
				t.Fatalf("Len = %d, want %d", db.Len(), 60-len(lost))
			}

			// No address an intact record says is leased comes out of
			// the pool, however far it is drained.
			if err := db.SetPools([]Pool{corruptPool}); err != nil {
				t.Fatal(err)
			}
			n := 0
			for ; ; n++ {
				a, err := db.Allocate(corruptPool.Name, netip.Addr{}, StateFree)
				if errors.Is(err, ErrPoolExhausted) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if i := int(addrU32(a) - addrU32(corruptAddr(0))); i >= 0 && i < 60 && !isLost[i] {
					t.Fatalf("allocated %v, which intact record %d says is leased", a, i)
				}
			}
			if want := 128 - (60 - len(lost)); n != want {
				t.Fatalf("allocated %d addresses, want %d", n, want)
			}

			// What was recovered is what the next Open finds, without the
			// damage: it is reported once. The loss itself is reported
			// until it is mended (a resync, or time).
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db2, rep2 := openT(t, dir, nil)
			if !rep2.NeedResync || rep2.LossAt.IsZero() || len(rep2.Damage) != 0 || rep2.TruncatedAt != -1 || db2.Len() != 60-len(lost) {
				t.Fatalf("second open: %+v, Len %d, want the loss still unmended, no damage, %d leases", rep2, db2.Len(), 60-len(lost))
			}
			if err := db2.LossMended(); err != nil {
				t.Fatal(err)
			}
			if err := db2.Close(); err != nil {
				t.Fatal(err)
			}
			db3, rep3 := openT(t, dir, nil)
			if rep3.NeedResync || !rep3.LossAt.IsZero() || db3.Len() != 60-len(lost) {
				t.Fatalf("open after LossMended: %+v, Len %d, want clean", rep3, db3.Len())
			}
		})
	}
}

// TestJournalDurableLength: the header of the journal being appended
// holds the size the previous group commit made durable, so recovery can
// tell what may be torn.
func TestJournalDurableLength(t *testing.T) {
	dir := t.TempDir()
	path, offs := journal60(t, dir)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := readHeader(f, path, magicJournal)
	if err != nil {
		t.Fatal(err)
	}
	if int64(h.durable) != offs[59] {
		t.Fatalf("durable length %d, want %d (the size before the last group commit)", h.durable, offs[59])
	}
}

// TestRecoveryTornAfterDurableLength: a bad tail at or after the durable
// length is a torn write even when it is longer than a frame and not zero
// (writeback mode can show stale blocks in an unsynced extension).
func TestRecoveryTornAfterDurableLength(t *testing.T) {
	dir := t.TempDir()
	path, offs := journal60(t, dir)
	editFile(t, path, func(b []byte) []byte {
		b = append(b, make([]byte, 3*maxFrame)...)
		for i := offs[59] + 3; i < int64(len(b)); i++ {
			b[i] = 0xa5
		}
		return b
	})
	db, rep := openT(t, dir, nil)
	if rep.TruncatedAt != offs[59] || rep.NeedResync || len(rep.Damage) != 0 || db.Len() != 59 {
		t.Fatalf("report = %+v, Len %d; want a torn tail at %d", rep, db.Len(), offs[59])
	}
}

// TestRecoveryCutLowersDurableLength: a journal cut below its durable
// length (damage at its end) gets the cut as its durable length at once,
// so that a record torn after the cut, before any group commit rewrote the
// header, is a torn write, not damage.
func TestRecoveryCutLowersDurableLength(t *testing.T) {
	dir := t.TempDir()
	path, offs := journal60(t, dir)
	editFile(t, path, func(b []byte) []byte { clear(b[offs[30]:]); return b })
	db, rep := openT(t, dir, nil)
	if !rep.NeedResync || len(rep.Damage) != 1 {
		t.Fatalf("report = %+v, want the zeroed run as damage", rep)
	}
	db.Close()
	// The first append after the cut, torn, its header rewrite lost.
	r, _ := toRec(&Lease{Addr: ip("198.51.100.1"), State: StateActive, Hostname: "x"})
	frame := appendFrame(nil, &r)
	editFile(t, path, func(b []byte) []byte { return append(b, frame[:len(frame)-5]...) })
	_, rep = openT(t, dir, nil)
	// NeedResync stays: the first open's loss is not mended yet (loss.go).
	if rep.TruncatedAt != offs[30] || !rep.NeedResync || len(rep.Damage) != 0 {
		t.Fatalf("second report = %+v, want a tear at %d", rep, offs[30])
	}
}

// TestRecoveryManyDamagedRecords: every tenth record of a journal damaged,
// alternately in its payload and in its length field: each costs itself.
func TestRecoveryManyDamagedRecords(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	const n = 1000
	for i := 0; i < n; i += 100 {
		var ls []Lease
		for j := i; j < i+100; j++ {
			ls = append(ls, active(u32Addr(0xc6120000+uint32(j)), j, t0, time.Hour))
		}
		mustCommit(t, db, ls...)
	}
	db.Close()
	path := filepath.Join(dir, journalName(1))
	offs := frameOffsets(t, path)
	editFile(t, path, func(b []byte) []byte {
		for i := 5; i < n; i += 10 {
			if i%20 == 5 {
				b[offs[i]+frameHeader+9] ^= 0x20
			} else {
				b[offs[i]+2] ^= 0x01 // the length, now past the record
			}
		}
		return b
	})
	db, rep := openT(t, dir, nil)
	if len(rep.Damage) != n/10 || db.Len() != n-n/10 || !rep.NeedResync {
		t.Fatalf("%d damaged parts, Len %d; want %d and %d", len(rep.Damage), db.Len(), n/10, n-n/10)
	}
	for k, d := range rep.Damage {
		if i := 5 + 10*k; d.Offset != offs[i] || d.Records != 1 || d.Bytes != offs[i+1]-offs[i] {
			t.Fatalf("damage %d = %+v, want record %d at %d", k, d, i, offs[i])
		}
	}
}
