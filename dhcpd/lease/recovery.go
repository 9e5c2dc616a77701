package lease

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Recovery at Open: the snapshot, then every journal after it, with torn
// tails truncated and damage moved aside (doc.go "Recovery").

// recover loads the snapshot and replays the journals after it. repair
// says that damage was left inside a file (records after it were good), to
// be compacted away once the database runs.
func (db *DB) recover(rep *OpenReport) (repair bool, err error) {
	ents, err := os.ReadDir(db.dir)
	if err != nil {
		return false, fmt.Errorf("lease: state directory: %w", err)
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
				return false, fmt.Errorf("lease: %w", err)
			}
		case name == snapshotOld:
			// A compaction ended before it had freed the snapshot it
			// replaced: garbage.
			if err := os.Remove(filepath.Join(db.dir, name)); err != nil {
				return false, fmt.Errorf("lease: %w", err)
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
	// A snapshot's group records (doc.go "Sequence groups"), taken once
	// every record is in.
	saved := map[string]groupSeq{}
	groupRecs := 0
	snapReplay := func(p []byte) error {
		if !isGroupRecord(p) {
			return replay(p)
		}
		name, g, err := parseGroup(p)
		if err != nil {
			return err
		}
		s := saved[name]
		saved[name] = groupSeq{own: max(s.own, g.own), peer: max(s.peer, g.peer)}
		groupRecs++
		return nil
	}
	var snapGen uint64
	if haveSnap {
		path := filepath.Join(db.dir, snapshotName)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return false, fmt.Errorf("lease: %w", err)
		}
		h, err := readHeader(f, path, magicSnapshot)
		if err != nil {
			f.Close()
			return false, err
		}
		snapGen, db.lastSeq, db.partnerSeq = h.gen, h.lastSeq, h.partnerSeq
		size, err := fileSize(f)
		if err == nil {
			db.grow(size)
			var bad []span
			rep.SnapshotLeases, bad, err = scanRecords(f, size, snapReplay)
			rep.SnapshotLeases -= groupRecs
			if err == nil {
				// A snapshot is complete before it is renamed into place:
				// any bad record is damage, never a torn write.
				repair, err = db.damaged(rep, path, f, size, bad)
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return false, fmt.Errorf("lease: %s: %w", path, err)
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
				return false, fmt.Errorf("lease: %w", err)
			}
			continue
		}
		live = append(live, g)
	}
	if db.missing(rep, haveSnap, snapGen, live) {
		repair = true
	}
	for i, g := range live {
		r, err := db.replayJournal(rep, g, i == len(live)-1, replay)
		if err != nil {
			return false, err
		}
		repair = repair || r
	}
	if db.jf == nil {
		g := max(snapGen, 1)
		if len(gens) > 0 {
			g = max(g, gens[len(gens)-1]+1)
		}
		f, err := createFile(filepath.Join(db.dir, journalName(g)), journalHeader(g))
		if err != nil {
			return false, fmt.Errorf("lease: create journal: %w", err)
		}
		db.openedJournal(f, g, headerSize, headerSize)
	}
	db.mergeGroups(saved)
	db.heapInit()
	for i := range db.recs {
		db.clientAdd(uint32(i))
	}
	return repair, nil
}

// missing reports, as damage, files that must exist and do not: the
// snapshot, when the oldest journal's generation is above 1 (only a
// compaction, after writing a snapshot, deletes journals), and any
// journal between the snapshot's generation and the newest (a
// compaction creates the next journal before anything can refer to it,
// and deletes only journals older than the snapshot). Nothing says how
// many leases they held; the partner's resync restores them.
func (db *DB) missing(rep *OpenReport, haveSnap bool, snapGen uint64, live []uint64) bool {
	var found []Damage
	if !haveSnap && len(live) > 0 && live[0] > 1 {
		found = append(found, Damage{File: filepath.Join(db.dir, snapshotName), Offset: -1,
			Reason: fmt.Sprintf("missing: the oldest journal, %s, is generation %d, so a compaction wrote a snapshot holding every lease before it", journalName(live[0]), live[0])})
	}
	want := snapGen
	if !haveSnap && len(live) > 0 {
		want = live[0]
	}
	if haveSnap && len(live) == 0 {
		live = []uint64{snapGen + 1} // one past the end: reports snapGen itself
	}
	for _, g := range live {
		for ; want < g; want++ {
			found = append(found, Damage{File: filepath.Join(db.dir, journalName(want)), Offset: -1,
				Reason: fmt.Sprintf("missing: journal generation %d lies between the snapshot (generation %d) and the newest journal", want, snapGen)})
		}
		want = g + 1
	}
	for _, d := range found {
		db.log.Error("lease: MISSING FILE; its leases are lost, a resync from the partner is needed", "file", d.File, "reason", d.Reason)
		rep.Damage = append(rep.Damage, d)
		rep.NeedResync = true
	}
	return len(found) > 0
}

// replayJournal replays one journal; the last one stays open for
// appending. repair: damage was left inside it.
func (db *DB) replayJournal(rep *OpenReport, g uint64, last bool, replay func([]byte) error) (repair bool, err error) {
	path := filepath.Join(db.dir, journalName(g))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("lease: %w", err)
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return false, fmt.Errorf("lease: %s: %w", path, err)
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
			f, err = createFile(path, journalHeader(g))
			if err != nil {
				return false, fmt.Errorf("lease: %s: %w", path, err)
			}
			db.openedJournal(f, g, headerSize, headerSize)
			return false, nil
		}
		return false, err
	}
	db.grow(size)
	n, bad, err := scanRecords(f, size, replay)
	rep.Records += n
	durable := int64(h.durable)
	if err == nil && len(bad) > 0 {
		if s := bad[len(bad)-1]; last && s.end == size && tornTail(f, s, durable, size) {
			db.log.Warn("lease: journal ends in a torn record (written after the last completed fdatasync, never acknowledged); truncating it",
				"file", path, "offset", s.off, "reason", s.reason, "bytes", size-s.off, "durable_length", durable)
			if err = f.Truncate(s.off); err == nil {
				err = f.Sync()
			}
			rep.TruncatedAt = s.off
			size = s.off
			bad = bad[:len(bad)-1]
		}
		// Anything else is damage, also a torn tail in an older journal:
		// it was fsync'd before the next journal got its first record.
		if err == nil {
			repair, err = db.damaged(rep, path, f, size, bad)
		}
		if n := len(bad); n > 0 && bad[n-1].end == size {
			size = bad[n-1].off
		}
	}
	if err == nil && last && durable > size {
		// Cut below its durable length: appends start below it, and one
		// torn there must not pass for damage.
		durable = size
		h := journalHeaderAt(g, size)
		if _, err = f.WriteAt(h.marshal(), 0); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		return false, fmt.Errorf("lease: %s: %w", path, err)
	}
	if !last {
		return repair, f.Close()
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return false, fmt.Errorf("lease: %s: %w", path, err)
	}
	db.openedJournal(f, g, size, durable)
	return repair, nil
}

// damaged handles the bad spans of one file (not a torn tail): each is
// copied aside, logged, reported and skipped; one that reaches the end of
// the file is cut off, so that appends continue after good records.
// repair: a span was left inside the file.
func (db *DB) damaged(rep *OpenReport, path string, f *os.File, size int64, bad []span) (repair bool, err error) {
	if len(bad) == 0 {
		return false, nil
	}
	for _, s := range bad {
		aside, err := db.copyAside(path, f, s)
		if err != nil {
			return false, err
		}
		d := Damage{File: path, Offset: s.off, Bytes: s.end - s.off, Records: s.records, Reason: s.reason, MovedTo: aside}
		db.log.Error("lease: CORRUPT RECORDS skipped; recovery resumed at the next valid record, a resync from the partner is needed",
			"file", path, "offset", s.off, "bytes", d.Bytes, "records", s.records, "reason", s.reason, "copied_to", aside)
		rep.Damage = append(rep.Damage, d)
		if rep.MovedAside != "" {
			rep.MovedAside += "; "
		}
		rep.MovedAside += aside
		rep.NeedResync = true
		repair = repair || s.end < size
	}
	if s := bad[len(bad)-1]; s.end == size {
		if err := f.Truncate(s.off); err != nil {
			return false, err
		}
		if err := f.Sync(); err != nil {
			return false, err
		}
	}
	return repair, syncDir(db.dir)
}

// copyAside copies a bad span to a file of its own, so nothing is
// destroyed: <file>.corrupt-at-<offset>-<time>.
func (db *DB) copyAside(path string, f *os.File, s span) (string, error) {
	base := fmt.Sprintf("%s.corrupt-at-%d-%s", path, s.off, db.clock.Now().UTC().Format("20060102T150405Z"))
	aside := base
	af, err := os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	for i := 1; errors.Is(err, os.ErrExist) && i < 100; i++ {
		// The same damage found again within a second (a repair that
		// did not happen, a copy read by `hadhcpd leases`).
		aside = fmt.Sprintf("%s.%d", base, i)
		af, err = os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return "", err
	}
	_, err = io.Copy(af, io.NewSectionReader(f, s.off, s.end-s.off))
	if err == nil {
		err = af.Sync()
	}
	if cerr := af.Close(); err == nil {
		err = cerr
	}
	return aside, err
}

// journalHeader is a new journal's header: empty, so its durable length
// is the header's own.
func journalHeader(gen uint64) fileHeader { return journalHeaderAt(gen, headerSize) }

func journalHeaderAt(gen uint64, durable int64) fileHeader {
	return fileHeader{magic: magicJournal, version: formatVersion, gen: gen, durable: uint64(durable)}
}

// openedJournal makes f, of generation gen, the journal appended to.
func (db *DB) openedJournal(f *os.File, gen uint64, size, durable int64) {
	db.jf = db.newJournalFile(f)
	db.jsize, db.jsynced, db.gen, db.jgen, db.jmark = size, size, gen, gen, durable
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
