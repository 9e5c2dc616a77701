package lease

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// diskFault makes the journal's appends or fdatasyncs fail while set, as
// a full disk or a failing one does.
type diskFault struct{ write, sync atomic.Bool }

func (d *diskFault) wrap(f *os.File) journalFile { return &faultyFile{journalFile: osJournal{f}, d: d} }

type faultyFile struct {
	journalFile
	d *diskFault
}

// WriteAt fails appends (off > 0; rewriting the header's block needs no
// space) after half of the bytes went in: a short write.
func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	if off > 0 && f.d.write.Load() {
		n, _ := f.journalFile.WriteAt(p[:len(p)/2], off)
		return n, syscall.ENOSPC
	}
	return f.journalFile.WriteAt(p, off)
}

func (f *faultyFile) Datasync() error {
	if f.d.sync.Load() {
		return syscall.EIO
	}
	return f.journalFile.Datasync()
}

// TestWriteFailureRecovers: after a failed journal write the database
// refuses changes, and once the backoff has passed the next change
// retries: it succeeds as soon as the disk does, without a restart. Err
// clears, the counters say what happened, and what memory holds is what
// the next Open finds.
func TestWriteFailureRecovers(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(d *diskFault, on bool)
		want error
	}{
		{"write fails: disk full", func(d *diskFault, on bool) { d.write.Store(on) }, syscall.ENOSPC},
		{"fdatasync fails", func(d *diskFault, on bool) { d.sync.Store(on) }, syscall.EIO},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &fakeClock{t: t0}
			var logs logBuf
			d := &diskFault{}
			db, _, err := Open(Options{Dir: dir, Clock: clk, Logger: slog.New(slog.NewTextHandler(&logs, nil)), journalFile: d.wrap})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			lease := func(i int) Lease { return active(corruptAddr(i), i, t0, time.Hour) }
			mustCommit(t, db, lease(0))

			c.set(d, true)
			if _, err := db.Commit(lease(1)); !errors.Is(err, c.want) {
				t.Fatalf("Commit on a failing disk: %v, want %v", err, c.want)
			}
			if err := db.Err(); !errors.Is(err, c.want) || db.WriteFailures() != 1 {
				t.Fatalf("Err = %v, %d failures; want %v, 1", err, db.WriteFailures(), c.want)
			}
			// Space is freed, but the backoff has not passed: refused.
			c.set(d, false)
			if _, err := db.Commit(lease(2)); err == nil {
				t.Fatal("Commit accepted before the backoff passed")
			}
			clk.mu.Lock()
			clk.t = clk.t.Add(retryFirst)
			clk.mu.Unlock()
			mustCommit(t, db, lease(3))
			if err := db.Err(); err != nil || db.WriteRecoveries() != 1 {
				t.Fatalf("after a good write: Err = %v, %d recoveries; want nil, 1", err, db.WriteRecoveries())
			}
			l := logs.String()
			if !strings.Contains(l, "journal write failed") || !strings.Contains(l, "writable again") {
				t.Fatalf("the failure and the recovery are not both logged:\n%s", l)
			}
			mustCommit(t, db, lease(4))

			// The failed record was written again (memory held it); the
			// refused one never was.
			want := map[int]bool{0: true, 1: true, 2: false, 3: true, 4: true}
			for i, ok := range want {
				if _, got := db.Get(corruptAddr(i)); got != ok {
					t.Fatalf("before reopening, lease %d present = %v, want %v", i, got, ok)
				}
			}
			db.Close()
			db2, rep := openT(t, dir, nil)
			if rep.NeedResync || rep.TruncatedAt != -1 || len(rep.Damage) != 0 {
				t.Fatalf("reopen report = %+v, want clean", rep)
			}
			for i, ok := range want {
				if _, got := db2.Get(corruptAddr(i)); got != ok {
					t.Fatalf("after reopening, lease %d present = %v, want %v", i, got, ok)
				}
			}
		})
	}
}

// TestApplyAfterWriteFailure: the partner resends a record whose write
// failed; memory already holds its state, but Apply must not report it
// applied (durable) before a retry has written it.
func TestApplyAfterWriteFailure(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0}
	d := &diskFault{}
	db, _, err := Open(Options{Dir: dir, Clock: clk, journalFile: d.wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := partner(active(corruptAddr(1), 1, t0, time.Hour), 7)
	d.write.Store(true)
	if err := db.Apply(rec); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Apply on a full disk: %v", err)
	}
	clk.mu.Lock()
	clk.t = clk.t.Add(retryFirst)
	clk.mu.Unlock()
	if err := db.Apply(rec); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Apply again, the disk still full: %v, want the retry's failure", err)
	}
	d.write.Store(false)
	clk.mu.Lock()
	clk.t = clk.t.Add(retryMax)
	clk.mu.Unlock()
	if err := db.Apply(rec); err != nil {
		t.Fatalf("Apply once the disk takes writes: %v", err)
	}
	db.Close()
	db2, _ := openT(t, dir, nil)
	if _, ok := db2.Get(corruptAddr(1)); !ok {
		t.Fatal("the applied record is not on disk")
	}
}

// TestCommitRecordsOnWriteFailure: the records of a failed journal write
// come back with the error, numbered, because the journal writes them at
// its retry all the same: a replicating caller must send them, or this
// box ends up holding a binding its partner never hears of.
func TestCommitRecordsOnWriteFailure(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: t0}
	d := &diskFault{}
	db, _, err := Open(Options{Dir: dir, Clock: clk, Logger: slog.New(slog.DiscardHandler), journalFile: d.wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lease := func(i int) Lease { return active(corruptAddr(i), i, t0, time.Hour) }
	mustCommit(t, db, lease(0))
	d.write.Store(true)
	rs, err := db.CommitRecords(lease(1))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CommitRecords on a full disk: %v, want ENOSPC", err)
	}
	if len(rs) != 1 || rs[0].Lease().Addr != corruptAddr(1) || rs[0].Lease().Seq != db.LastSeq() {
		t.Fatalf("CommitRecords on a full disk returned %d records, want the one the retry writes (seq %d)", len(rs), db.LastSeq())
	}
	d.write.Store(false)
	clk.mu.Lock()
	clk.t = clk.t.Add(retryFirst)
	clk.mu.Unlock()
	mustCommit(t, db, lease(2))
	db.Close()
	db2, _ := openT(t, dir, nil)
	if l, ok := db2.Get(corruptAddr(1)); !ok || l.Seq != rs[0].Lease().Seq {
		t.Fatalf("after the retry and a reopen: %+v %v, want the returned record durable", l, ok)
	}
}
