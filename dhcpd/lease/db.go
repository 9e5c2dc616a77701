package lease

import (
	"bufio"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultCompactBytes is the journal size that starts an automatic
// compaction when Options.CompactBytes is 0.
const DefaultCompactBytes = 64 << 20

// snapshotSyncEvery is how much snapshot data compaction writes between
// fsyncs (see writeSnapshot).
const snapshotSyncEvery = 256 << 10

// File names in the state directory (doc.go "Files").
const (
	snapshotName  = "snapshot.hdl"
	snapshotTmp   = "snapshot.hdl.tmp"
	snapshotOld   = "snapshot.hdl.old" // the replaced snapshot while dropFile frees it
	lockName      = "LOCK"
	journalPrefix = "journal-"
	journalSuffix = ".hdl"
)

func journalName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, gen, journalSuffix)
}

// parseJournalName returns the generation of a journal file name.
func parseJournalName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, journalPrefix) || !strings.HasSuffix(name, journalSuffix) {
		return 0, false
	}
	hex := name[len(journalPrefix) : len(name)-len(journalSuffix)]
	if len(hex) != 16 {
		return 0, false
	}
	g, err := strconv.ParseUint(hex, 16, 64)
	return g, err == nil
}

// DB is the lease database. All methods are safe for concurrent use.
//
// Lock order: compactMu, then mu. mu guards everything below it except the
// fields marked "flusher"; never wait for a batch while holding mu.
type DB struct {
	dir          string
	clock        Clock
	log          *slog.Logger
	compactBytes int64
	lockFile     *os.File

	compactMu sync.Mutex     // one compaction at a time
	bg        sync.WaitGroup // running Compact calls, waited for by Close

	mu             sync.RWMutex
	cond           *sync.Cond // on &mu: the flusher waits for work
	closed         bool       // no new operations
	closing        bool       // the flusher drains and exits
	compacting     bool       // an automatic compaction is running
	failed         error      // a write or fsync failed: the journal no longer matches memory
	recs           []rec
	byAddr         map[uint32]uint32
	byClient       map[uint32]uint32
	clientOverflow map[string]uint32
	seed           maphash.Seed
	expq           []uint32
	pools          []*poolState
	poolByName     map[string]*poolState
	held           map[uint32]hold
	lastSeq        uint64 // highest sequence assigned here
	partnerSeq     uint64 // highest partner sequence applied
	queue          []*batch
	gen            uint64 // journal generation new batches go to

	fsyncs    atomic.Uint64 // journal fdatasyncs done, for metrics and benchmarks
	flushDone chan struct{}
	jf        *os.File // flusher: the journal being appended
	jsize     int64    // flusher: its size
}

// batch is a group of records written with one fsync. switchTo seals it:
// after it the flusher continues in a new journal file.
type batch struct {
	buf      []byte
	switchTo *os.File
	done     chan struct{} // closed when buf is on stable storage (or err is set)
	err      error
}

// Open opens (creating if needed) the database in opts.Dir and recovers it:
// snapshot, then journal replay (doc.go "Recovery"). It refuses to open only
// for the header errors doc.go lists, always with the file named.
func Open(opts Options) (*DB, OpenReport, error) {
	rep := OpenReport{TruncatedAt: -1}
	if opts.Dir == "" {
		return nil, rep, fmt.Errorf("%w: Options.Dir is empty", ErrInvalid)
	}
	db := &DB{
		dir:            opts.Dir,
		clock:          opts.Clock,
		log:            opts.Logger,
		compactBytes:   opts.CompactBytes,
		byAddr:         map[uint32]uint32{},
		byClient:       map[uint32]uint32{},
		clientOverflow: map[string]uint32{},
		seed:           maphash.MakeSeed(),
		poolByName:     map[string]*poolState{},
		held:           map[uint32]hold{},
		flushDone:      make(chan struct{}),
	}
	db.cond = sync.NewCond(&db.mu)
	if db.clock == nil {
		db.clock = wallClock{}
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.compactBytes == 0 {
		db.compactBytes = DefaultCompactBytes
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, rep, fmt.Errorf("lease: state directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(opts.Dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, rep, fmt.Errorf("lease: lock file: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, rep, fmt.Errorf("lease: %s is in use by another process: %w", opts.Dir, err)
	}
	db.lockFile = lf
	if err := db.recover(&rep); err != nil {
		if db.jf != nil {
			db.jf.Close()
		}
		lf.Close()
		return nil, rep, err
	}
	rep.LastSeq = db.lastSeq
	go db.flusher()
	return db, rep, nil
}

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

func (db *DB) noteSeq(r *rec) {
	if r.flags&flagPeer != 0 {
		db.partnerSeq = max(db.partnerSeq, r.seq)
	} else {
		db.lastSeq = max(db.lastSeq, r.seq)
	}
}

// store puts a new state into memory and every index. db.mu held.
func (db *DB) store(r rec) {
	r.prev, r.next = -1, -1
	r.flags &= payloadMask
	p := db.poolOf(r.addr)
	slot, ok := db.byAddr[r.addr]
	if ok {
		old := &db.recs[slot]
		db.unlink(slot, p)
		db.clientDrop(old, slot)
		if p != nil {
			p.count[old.state]--
		}
		db.recs[slot] = r
	} else {
		slot = uint32(len(db.recs))
		db.recs = append(db.recs, r)
		db.byAddr[r.addr] = slot
		if p != nil {
			p.setUsed(r.addr - p.first)
		}
	}
	if p != nil {
		p.count[r.state]++
	}
	db.dropHold(r.addr, p)
	db.link(slot, p)
	db.clientAdd(slot)
	db.noteSeq(&r)
}

func (db *DB) usableLocked() error {
	if db.closed {
		return ErrClosed
	}
	return db.failed
}

// batchLocked returns the batch new records go into.
func (db *DB) batchLocked() *batch {
	if n := len(db.queue); n > 0 && db.queue[n-1].switchTo == nil {
		return db.queue[n-1]
	}
	b := &batch{done: make(chan struct{})}
	db.queue = append(db.queue, b)
	db.cond.Signal()
	return b
}

// flusher writes queued batches, one fdatasync for all that queued up while
// the previous one ran: that is the group commit. It is the only writer of
// the journal file.
func (db *DB) flusher() {
	defer close(db.flushDone)
	for {
		db.mu.Lock()
		for len(db.queue) == 0 && !db.closing {
			db.cond.Wait()
		}
		if len(db.queue) == 0 {
			db.mu.Unlock()
			return
		}
		q := db.queue
		db.queue = nil
		db.mu.Unlock()

		err := db.write(q)
		if err != nil {
			// Sticky before any waiter hears of the failure: a caller
			// retrying at once must be refused, never written after
			// the hole the failed batch left in the journal.
			db.mu.Lock()
			if db.failed == nil {
				db.failed = fmt.Errorf("lease: journal write failed, the database must be reopened: %w", err)
				db.log.Error("lease: journal write failed; refusing further commits", "file", db.jf.Name(), "err", err)
			}
			db.mu.Unlock()
		}
		for _, b := range q {
			b.err = err
			close(b.done)
		}
		db.mu.Lock()
		if db.compactBytes > 0 && db.jsize > db.compactBytes && !db.compacting && !db.closed && db.failed == nil {
			db.compacting = true
			db.bg.Add(1)
			go func() {
				defer db.bg.Done()
				if err := db.compact(); err != nil && !errors.Is(err, ErrClosed) {
					db.log.Error("lease: automatic compaction failed", "err", err)
				}
				db.mu.Lock()
				db.compacting = false
				db.mu.Unlock()
			}()
		}
		db.mu.Unlock()
	}
}

// write appends the batches to the journal (switching files where a batch
// says so) and syncs. An error is sticky: nothing is written after it.
func (db *DB) write(q []*batch) error {
	db.mu.RLock()
	err := db.failed
	db.mu.RUnlock()
	dirty := false
	for _, b := range q {
		if err == nil && len(b.buf) > 0 {
			_, err = db.jf.Write(b.buf)
			db.jsize += int64(len(b.buf))
			dirty = true
		}
		if b.switchTo != nil {
			if err == nil && dirty {
				err = syscall.Fdatasync(int(db.jf.Fd()))
				db.fsyncs.Add(1)
				dirty = false
			}
			if err != nil {
				b.switchTo.Close()
				continue
			}
			db.jf.Close()
			db.jf, db.jsize = b.switchTo, headerSize
		}
	}
	if err == nil && dirty {
		err = syscall.Fdatasync(int(db.jf.Fd()))
		db.fsyncs.Add(1)
	}
	return err
}

// Close waits for running compactions, writes what is queued and closes the
// files. Operations after Close return ErrClosed.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.mu.Unlock()
	db.bg.Wait()
	db.mu.Lock()
	db.closing = true
	db.cond.Broadcast()
	db.mu.Unlock()
	<-db.flushDone
	err := db.jf.Close()
	if cerr := db.lockFile.Close(); err == nil {
		err = cerr // closing the file releases the flock
	}
	return err
}

// SetPools replaces the pool set (on reload). Leases are kept, also those
// outside every pool; holds inside the new pools are kept.
func (db *DB) SetPools(pools []Pool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.usableLocked(); err != nil {
		return err
	}
	if err := db.rebuildPools(pools); err != nil {
		return err
	}
	for _, s := range db.stats() {
		db.log.Info(fmt.Sprintf("lease: pool %s total %d free %d backup %d active %d", s.Name, s.Total, s.Free, s.Backup, s.Active),
			"pool", s.Name, "expired", s.Expired, "released", s.Released, "abandoned", s.Abandoned, "reset", s.Reset)
	}
	return nil
}

// Get returns the lease of an address. The state may be one whose Commit
// has not returned yet (it is visible as soon as it is queued).
func (db *DB) Get(addr netip.Addr) (Lease, bool) {
	if !addr.Is4() {
		return Lease{}, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	slot, ok := db.byAddr[addrU32(addr)]
	if !ok {
		return Lease{}, false
	}
	return db.recs[slot].lease(), true
}

// ByClient returns the client's most recent binding: an ACTIVE one over
// any other, then the latest Start. If that address is later given to
// another client, the older bindings of the first are not searched.
func (db *DB) ByClient(key string) (Lease, bool) {
	if len(key) < 2 || (key[0] != 'i' && key[0] != 'h') {
		return Lease{}, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	slot, ok := db.clientLookup(key[0], key[1:])
	if !ok {
		return Lease{}, false
	}
	return db.recs[slot].lease(), true
}

// Allocate takes a free address of the pool out of the free set (doc.go
// "Allocation"). from is StateFree (never-used addresses, then FREE,
// EXPIRED, RELEASED, RESET records, longest free first) or StateBackup
// (BACKUP records). The hint is returned when it is in the pool and free
// for from. The address stays held until a Commit for it or Unhold.
func (db *DB) Allocate(pool string, hint netip.Addr, from State) (netip.Addr, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.usableLocked(); err != nil {
		return netip.Addr{}, err
	}
	return db.allocate(pool, hint, from)
}

// Unhold puts an address taken by Allocate back.
func (db *DB) Unhold(addr netip.Addr) {
	if !addr.Is4() {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.unhold(addrU32(addr))
}

// Commit stores new lease states. It returns after their record is on
// stable storage; concurrent commits share one fdatasync. It assigns Seq
// (and clears Peer) and returns the stored states, with times at
// one-second resolution in UTC.
func (db *DB) Commit(ls ...Lease) ([]Lease, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	rs := make([]rec, len(ls))
	for i := range ls {
		r, err := toRec(&ls[i])
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return nil, err
	}
	b := db.batchLocked()
	for i := range rs {
		db.lastSeq++
		rs[i].seq = db.lastSeq
		rs[i].flags = 0
		b.buf = appendFrame(b.buf, &rs[i])
		db.store(rs[i])
	}
	db.mu.Unlock()
	<-b.done
	if b.err != nil {
		return nil, b.err
	}
	out := make([]Lease, len(rs))
	for i := range rs {
		out[i] = rs[i].lease()
	}
	return out, nil
}

// Apply stores a record payload from the partner (MarshalBinary's form),
// durably. Its Seq is the partner's; Peer is flipped, because the payload
// says it from the partner's side. Applying the same payload again is a
// no-op that still waits for everything queued before it to be durable.
// See ApplyBatch for the one case where a partner record is not stored.
func (db *DB) Apply(payload []byte) error { return db.ApplyBatch(payload) }

// ApplyBatch is Apply for several payloads, in order, in one group commit:
// when it returns nil all are on stable storage; after a crash what is
// stored is a prefix of them. Every payload is decoded before anything is
// stored, so a bad one (ErrBadPayload) stores none.
//
// A partner record does not replace a binding of our own (one we
// committed) that is ACTIVE and unexpired and ends later than the
// partner's state, unless it is the same client's later transaction (a
// newer CLTT, e.g. its RELEASE at the partner). That is the case of a
// renewal we granted while the link was down, met by the partner's older
// state of the address (its EXPIRED, or an older binding) after the heal:
// storing it would make an address free while its client still holds it
// (DESIGN.md invariant 1; draft-ietf-dhc-failover-12 §7.1.2: a binding
// update that would shorten a lease we granted is rejected). The partner
// receives our record in our own stream, so both converge on the longer
// binding. The partner's sequence number still counts as held
// (PartnerSeq), so the stream does not stall on it.
func (db *DB) ApplyBatch(payloads ...[]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	rs := make([]rec, len(payloads))
	for i, p := range payloads {
		if err := parsePayload(p, &rs[i]); err != nil {
			return err
		}
		rs[i].flags ^= flagPeer
	}
	now := db.clock.Now().Unix()
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return err
	}
	var b *batch
	for i := range rs {
		r := &rs[i]
		slot, ok := db.byAddr[r.addr]
		switch {
		case ok && db.recs[slot].sameState(r):
			continue
		case ok && r.flags&flagPeer != 0 && keepOurs(&db.recs[slot], r, now):
			db.noteSeq(r)
			continue
		}
		if b == nil {
			b = db.batchLocked()
		}
		b.buf = appendFrame(b.buf, r)
		db.store(*r)
	}
	if b == nil {
		// Nothing new: still wait for what is queued before us, so that
		// "applied" always means durable.
		if n := len(db.queue); n > 0 {
			b = db.queue[n-1]
		}
	}
	db.mu.Unlock()
	if b == nil {
		return nil
	}
	<-b.done
	return b.err
}

// keepOurs reports whether our record cur must stay instead of the
// partner's record in (see ApplyBatch). now is Unix seconds.
func keepOurs(cur, in *rec, now int64) bool {
	if cur.flags&flagPeer != 0 || cur.state != StateActive || int64(cur.t[tExpiry]) <= now {
		return false // the partner's own stream, or nothing live to protect
	}
	if in.state == StateActive && in.t[tExpiry] >= cur.t[tExpiry] {
		return false // the partner's binding ends as late or later
	}
	ck, cid := keyOf(cur)
	ik, iid := keyOf(in)
	if ck == ik && cid == iid && in.t[tCLTT] > cur.t[tCLTT] {
		return false // the same client's later transaction with the partner
	}
	return true
}

// Range calls fn for every lease with a record, until fn returns false.
// fn runs without the database lock (it may call the DB); each lease is a
// consistent state, the whole is not one instant.
func (db *DB) Range(fn func(Lease) bool) {
	chunk := make([]Lease, 0, 1024)
	for i := 0; ; {
		chunk = chunk[:0]
		db.mu.RLock()
		j := min(i+cap(chunk), len(db.recs))
		for k := i; k < j; k++ {
			chunk = append(chunk, db.recs[k].lease())
		}
		db.mu.RUnlock()
		if len(chunk) == 0 {
			return
		}
		for _, l := range chunk {
			if !fn(l) {
				return
			}
		}
		i = j
	}
}

// Expire moves up to max (all if max <= 0) ACTIVE leases whose Expiry is
// not after now to EXPIRED (Expiry cleared, StateStart = now), commits them
// in one group and returns the new states, oldest expiry first.
func (db *DB) Expire(now time.Time, max int) ([]Lease, error) {
	nowU, err := timeU32(now)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return nil, err
	}
	var out []rec
	var b *batch
	for len(db.expq) > 0 && (max <= 0 || len(out) < max) {
		r := db.recs[db.expq[0]]
		if r.t[tExpiry] > nowU {
			break
		}
		r.state = StateExpired
		r.t[tExpiry] = 0
		r.t[tStateStart] = nowU
		r.flags = 0
		db.lastSeq++
		r.seq = db.lastSeq
		if b == nil {
			b = db.batchLocked()
		}
		b.buf = appendFrame(b.buf, &r)
		db.store(r)
		out = append(out, r)
	}
	db.mu.Unlock()
	if b == nil {
		return nil, nil
	}
	<-b.done
	if b.err != nil {
		return nil, b.err
	}
	ls := make([]Lease, len(out))
	for i := range out {
		ls[i] = out[i].lease()
	}
	return ls, nil
}

// Stats counts each pool's addresses by state.
func (db *DB) Stats() []PoolStats {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.stats()
}

// LastSeq is the highest sequence number this database assigned.
func (db *DB) LastSeq() uint64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.lastSeq
}

// PartnerSeq is the highest partner sequence number stored through Apply,
// where a resumed replication stream can start.
func (db *DB) PartnerSeq() uint64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.partnerSeq
}

// Err is the database's sticky write failure, nil while it is healthy:
// after a failed journal write or fdatasync every change is refused until
// the database is reopened (a restart), whoever's write failed (the
// engine's commits, the partner's records, pool moves). For liveness
// checks (the agent's systemd watchdog).
func (db *DB) Err() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.failed
}

// Fsyncs is the number of journal fdatasyncs so far; Commits per Fsync
// shows the group commit at work.
func (db *DB) Fsyncs() uint64 { return db.fsyncs.Load() }

// Len is the number of leases with a record.
func (db *DB) Len() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.recs)
}

// Compact writes a snapshot of every lease and starts a fresh journal
// (doc.go "Compaction"); commits keep flowing while it runs.
func (db *DB) Compact() error {
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return err
	}
	db.bg.Add(1)
	db.mu.Unlock()
	defer db.bg.Done()
	return db.compact()
}

func (db *DB) compact() error {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	start := db.clock.Now()
	db.mu.RLock()
	gen := db.gen + 1
	db.mu.RUnlock()

	// 1. The next journal, durable and empty, before the boundary.
	jpath := filepath.Join(db.dir, journalName(gen))
	nf, err := createFile(jpath, fileHeader{magic: magicJournal, version: formatVersion, gen: gen})
	if err != nil {
		return fmt.Errorf("lease: compaction: %w", err)
	}
	// 2. The boundary: records queued so far go to the old journal, all
	// later ones to the new one.
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		nf.Close()
		os.Remove(jpath)
		return err
	}
	sealed := db.batchLocked()
	sealed.switchTo = nf
	db.gen = gen
	hdr := fileHeader{magic: magicSnapshot, version: formatVersion, gen: gen, lastSeq: db.lastSeq, partnerSeq: db.partnerSeq}
	db.cond.Signal()
	db.mu.Unlock()

	// 3. The snapshot, copied a chunk at a time under the read lock. Each
	// lease is in a state at or after the boundary, and every change after
	// the boundary is in the new journal, so snapshot + replay of the new
	// journal is the current state (doc.go "Compaction").
	n, size, err := db.writeSnapshot(hdr)
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

func (db *DB) writeSnapshot(hdr fileHeader) (n int, size int64, err error) {
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
	chunk := make([]rec, 0, 4096)
	var buf []byte
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
