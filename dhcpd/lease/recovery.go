package lease

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Recovery at Open: the snapshot, then every journal after it, with torn
// tails truncated and damage moved aside (doc.go "Recovery").

// recover loads the snapshot and replays the journals after it.
func (db *DB) recover(rep *OpenReport) error {
	ents, err := os.ReadDir(db.dir)
	if err != nil {
		return fmt.Errorf("lease: state directory: %w", err)
	}
	var gens []uint64
	haveSnap := false
	for _, e := range ents {
		switch name := e.Name(); {
		case name == snapshotName:
			haveSnap = true
		case name == snapshotTmp:
			// An interrupted compaction: the journals it would have
			// replaced are all still there.
			db.log.Info("lease: removing unfinished snapshot", "file", filepath.Join(db.dir, name))
			if err := os.Remove(filepath.Join(db.dir, name)); err != nil {
				return fmt.Errorf("lease: %w", err)
			}
		case name == snapshotOld:
			// A compaction ended before it had freed the snapshot it
			// replaced: garbage.
			if err := os.Remove(filepath.Join(db.dir, name)); err != nil {
				return fmt.Errorf("lease: %w", err)
			}
		default:
			if g, ok := parseJournalName(name); ok {
				gens = append(gens, g)
			}
		}
	}
	slices.Sort(gens)
	var scratch rec
	replay := func(p []byte) error {
		if err := parsePayload(p, &scratch); err != nil {
			return err
		}
		db.replay(scratch)
		return nil
	}
	var snapGen uint64
	if haveSnap {
		path := filepath.Join(db.dir, snapshotName)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		h, err := readHeader(f, path, magicSnapshot)
		if err != nil {
			f.Close()
			return err
		}
		snapGen, db.lastSeq, db.partnerSeq = h.gen, h.lastSeq, h.partnerSeq
		size, err := fileSize(f)
		if err == nil {
			db.grow(size)
			var bad *badRecord
			rep.SnapshotLeases, bad, err = scanRecords(f, size, replay)
			if err == nil && bad != nil {
				// A snapshot is complete before it is renamed into place:
				// any bad record is damage, never a torn write.
				err = db.moveAside(rep, path, f, size, bad)
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("lease: %s: %w", path, err)
		}
	}
	var live []uint64
	for _, g := range gens {
		if g < snapGen {
			// Covered by the snapshot; left by a compaction interrupted
			// after its rename.
			path := filepath.Join(db.dir, journalName(g))
			db.log.Info("lease: removing journal covered by the snapshot", "file", path)
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("lease: %w", err)
			}
			continue
		}
		live = append(live, g)
	}
	for i, g := range live {
		if err := db.replayJournal(rep, g, i == len(live)-1, replay); err != nil {
			return err
		}
	}
	if db.jf == nil {
		g := max(snapGen, 1)
		if len(gens) > 0 {
			g = max(g, gens[len(gens)-1]+1)
		}
		f, err := createFile(filepath.Join(db.dir, journalName(g)), fileHeader{magic: magicJournal, version: formatVersion, gen: g})
		if err != nil {
			return fmt.Errorf("lease: create journal: %w", err)
		}
		db.jf, db.jsize, db.gen = f, headerSize, g
	}
	db.heapInit()
	for i := range db.recs {
		db.clientAdd(uint32(i))
	}
	return nil
}

// replayJournal replays one journal; the last one stays open for appending.
func (db *DB) replayJournal(rep *OpenReport, g uint64, last bool, replay func([]byte) error) error {
	path := filepath.Join(db.dir, journalName(g))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("lease: %s: %w", path, err)
	}
	h, err := readHeader(f, path, magicJournal)
	if err == nil && h.gen != g {
		err = &FileError{Path: path, Err: fmt.Errorf("%w: header says generation %d, the name %d", ErrCorruptHeader, h.gen, g)}
	}
	if err != nil {
		f.Close()
		// A journal is created with its header fsync'd before any record
		// goes in, so the newest journal with an empty or all-zero header
		// was being created at a crash and held nothing.
		if last && size < headerSize && allZeroFile(path, size) {
			db.log.Warn("lease: recreating empty journal whose creation was interrupted", "file", path, "size", size)
			f, err = createFile(path, fileHeader{magic: magicJournal, version: formatVersion, gen: g})
			if err != nil {
				return fmt.Errorf("lease: %s: %w", path, err)
			}
			db.jf, db.jsize, db.gen = f, headerSize, g
			return nil
		}
		return err
	}
	db.grow(size)
	n, bad, err := scanRecords(f, size, replay)
	rep.Records += n
	if err == nil && bad != nil {
		if bad.torn && last {
			db.log.Warn("lease: journal ends in a torn record; truncating it",
				"file", path, "offset", bad.off, "reason", bad.reason, "bytes", size-bad.off)
			if err = f.Truncate(bad.off); err == nil {
				err = f.Sync()
			}
			rep.TruncatedAt = bad.off
			size = bad.off
		} else {
			// A torn tail in an older journal is damage too: it was
			// fsync'd before the next journal got its first record.
			err = db.moveAside(rep, path, f, size, bad)
			size = bad.off
		}
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("lease: %s: %w", path, err)
	}
	if !last {
		return f.Close()
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("lease: %s: %w", path, err)
	}
	db.jf, db.jsize, db.gen = f, size, g
	return nil
}

// moveAside moves the bad record and everything after it to a file of its
// own, so nothing is destroyed, and truncates f there.
func (db *DB) moveAside(rep *OpenReport, path string, f *os.File, size int64, bad *badRecord) error {
	aside := fmt.Sprintf("%s.corrupt-at-%d-%s", path, bad.off, db.clock.Now().UTC().Format("20060102T150405Z"))
	db.log.Error("lease: CORRUPT RECORD; moving it and everything after it aside, a resync from the partner is needed",
		"file", path, "offset", bad.off, "reason", bad.reason, "bytes", size-bad.off, "moved_to", aside)
	af, err := os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(af, io.NewSectionReader(f, bad.off, size-bad.off))
	if err == nil {
		err = af.Sync()
	}
	if cerr := af.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.Truncate(bad.off)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(db.dir)
	}
	if err != nil {
		return err
	}
	if rep.MovedAside != "" {
		rep.MovedAside += "; "
	}
	rep.MovedAside += aside
	rep.NeedResync = true
	return nil
}

func fileSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func allZeroFile(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return allZero(f, 0, size)
}

// grow sizes the address map ahead of a file of size bytes (records are at
// least ~55 bytes), which keeps replay from rehashing.
func (db *DB) grow(size int64) {
	if len(db.byAddr) == 0 && size > 1<<20 {
		db.byAddr = make(map[uint32]uint32, size/64)
		db.recs = make([]rec, 0, size/64)
	}
}

// replay stores a recovered record without touching the indexes, which
// recover builds once at the end.
func (db *DB) replay(r rec) {
	if slot, ok := db.byAddr[r.addr]; ok {
		db.recs[slot] = r
	} else {
		db.byAddr[r.addr] = uint32(len(db.recs))
		db.recs = append(db.recs, r)
	}
	db.noteSeq(&r)
}
