package lease

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// Online compaction: a snapshot of every lease plus a fresh journal, then
// the replaced files freed a slice at a time (doc.go "Compaction").

// DefaultCompactBytes is the journal size that starts an automatic
// compaction when Options.CompactBytes is 0.
const DefaultCompactBytes = 64 << 20

// snapshotSyncEvery is how much snapshot data compaction writes between
// fsyncs (see writeSnapshot).
const snapshotSyncEvery = 256 << 10

// compact is Compact. A repair (after recovery found damage inside a
// file, see Open) runs to its end even when Close begins meanwhile, so
// that a short-lived open (a listing) still leaves the damage repaired.
func (db *DB) compact(repair bool) error {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	start := db.clock.Now()
	db.mu.RLock()
	gen := db.gen + 1
	db.mu.RUnlock()

	// 1. The next journal, durable and empty, before the boundary.
	jpath := filepath.Join(db.dir, journalName(gen))
	nf, err := createFile(jpath, journalHeader(gen))
	if err != nil {
		return fmt.Errorf("lease: compaction: %w", err)
	}
	// 2. The boundary: records queued so far go to the old journal, all
	// later ones to the new one.
	db.mu.Lock()
	err = db.usableLocked()
	if repair && errors.Is(err, ErrClosed) {
		err = db.failed // Close waits for it (db.bg); the flusher still runs
	}
	if err != nil {
		db.mu.Unlock()
		nf.Close()
		os.Remove(jpath)
		return err
	}
	sealed := db.batchLocked()
	sealed.switchTo, sealed.switchGen = nf, gen
	db.gen = gen
	hdr := fileHeader{magic: magicSnapshot, version: formatVersion, gen: gen, lastSeq: db.lastSeq, partnerSeq: db.partnerSeq}
	groups := db.groupsCopy()
	db.cond.Signal()
	db.mu.Unlock()

	// 3. The snapshot, copied a chunk at a time under the read lock. Each
	// lease is in a state at or after the boundary, and every change after
	// the boundary is in the new journal, so snapshot + replay of the new
	// journal is the current state (doc.go "Compaction").
	n, size, err := db.writeSnapshot(hdr, groups)
	if err != nil {
		return fmt.Errorf("lease: compaction: %w", err)
	}
	// 4. The old journals are covered once the snapshot is in place.
	<-sealed.done
	if sealed.err != nil {
		return sealed.err
	}
	db.dropReplaced(gen)
	db.log.Info("lease: compaction done", "leases", n, "snapshot_bytes", size, "journal", jpath,
		"took", db.clock.Now().Sub(start).Round(time.Millisecond))
	return nil
}

func (db *DB) writeSnapshot(hdr fileHeader, groups map[string]groupSeq) (n int, size int64, err error) {
	tmp := filepath.Join(db.dir, snapshotTmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err = bw.Write(hdr.marshal()); err != nil {
		return 0, 0, err
	}
	size = headerSize
	// The groups' numbers at the boundary, ahead of the leases (doc.go
	// "Sequence groups"): a record a later one replaced is not in the
	// snapshot, its sequence number must still count.
	var buf []byte
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		buf = appendGroupFrame(buf, name, groups[name])
	}
	if _, err = bw.Write(buf); err != nil {
		return 0, 0, err
	}
	size += int64(len(buf))
	chunk := make([]rec, 0, 4096)
	unsynced := 0
	for i := 0; ; {
		db.mu.RLock()
		j := min(i+cap(chunk), len(db.recs))
		chunk = append(chunk[:0], db.recs[i:j]...)
		db.mu.RUnlock()
		if len(chunk) == 0 {
			break
		}
		buf = buf[:0]
		for k := range chunk {
			buf = appendFrame(buf, &chunk[k])
		}
		if _, err = bw.Write(buf); err != nil {
			return 0, 0, err
		}
		n += len(chunk)
		size += int64(len(buf))
		i = j
		// Flush to the disk in slices: one fsync of the whole snapshot at
		// the end would queue tens of MB ahead of the journal's
		// fdatasyncs and stall every commit behind it. Each slice is
		// paced (idle twice as long as it took): written flat out, the
		// slices kept the disk so busy that the journal's fdatasyncs took
		// 4-20 ms, and the p99 commit latency during a compaction was ~20
		// times the p99 without one. The snapshot now takes ~3 times
		// longer; it is background work.
		if unsynced += len(buf); unsynced >= snapshotSyncEvery {
			err = paced(func() error {
				if err := bw.Flush(); err != nil {
					return err
				}
				return f.Sync()
			})
			if err != nil {
				return 0, 0, err
			}
			unsynced = 0
		}
		// Give the committers the CPU between chunks: the snapshot is
		// background work (2-core boxes).
		runtime.Gosched()
	}
	if err = bw.Flush(); err != nil {
		return 0, 0, err
	}
	if err = f.Sync(); err != nil {
		return 0, 0, err
	}
	if err = f.Close(); err != nil {
		return 0, 0, err
	}
	// The snapshot being replaced keeps a second name through the rename,
	// so that the rename frees nothing; dropReplaced frees it. There is
	// none before the first compaction (Link fails; nothing to keep).
	final, old := filepath.Join(db.dir, snapshotName), filepath.Join(db.dir, snapshotOld)
	if err = os.Remove(old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	_ = os.Link(final, old)
	if err = os.Rename(tmp, final); err != nil {
		return 0, 0, err
	}
	return n, size, syncDir(db.dir)
}

// dropStep is how much of a file dropFile frees per file-system commit.
const dropStep = 1 << 20

// dropFile removes a large file a slice at a time. Freeing tens of MB at
// once (an unlink, or a rename over the file) made the file system's next
// commit, which every journal fdatasync of the committers waits for, take
// 12-16 ms here (ext4 mounted with discard trims the freed blocks in it).
// Truncated and synced a slice at a time (paced, as writeSnapshot's
// slices), each commit frees only dropStep.
func dropFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	for freed := int64(0); err == nil && freed < fi.Size(); {
		freed = min(freed+dropStep, fi.Size())
		err = paced(func() error {
			if err := f.Truncate(fi.Size() - freed); err != nil {
				return err
			}
			return f.Sync()
		})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// dropReplaced frees what the snapshot of generation gen replaced: the
// previous snapshot (snapshot.hdl.old) and the journals before gen.
func (db *DB) dropReplaced(gen uint64) {
	ents, err := os.ReadDir(db.dir)
	if err != nil {
		db.log.Warn("lease: compaction: listing replaced files", "err", err)
		return
	}
	for _, e := range ents {
		if g, ok := parseJournalName(e.Name()); (ok && g < gen) || e.Name() == snapshotOld {
			if err := dropFile(filepath.Join(db.dir, e.Name())); err != nil {
				db.log.Warn("lease: compaction: removing a replaced file", "file", e.Name(), "err", err)
			}
		}
	}
	if err := syncDir(db.dir); err != nil {
		db.log.Warn("lease: compaction: syncing the directory", "err", err)
	}
}
