package lease

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

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
	failed         error      // a write or fsync failed: changes are refused until a retry succeeds
	failedAt       time.Time  // when failed was set
	retryAt        time.Time  // the first change attempted from then on starts a retry
	backoff        time.Duration
	retrying       bool // a retry is asked of the flusher
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
	seqGroup       func(netip.Addr) string
	groups         map[string]*groupSeq // per Options.SeqGroup: lastSeq and partnerSeq of its addresses
	queue          []*batch
	gen            uint64 // journal generation new batches go to

	fsyncs          atomic.Uint64 // journal fdatasyncs done, for metrics and benchmarks
	writeFailures   atomic.Uint64 // healthy → failed transitions
	writeRecoveries atomic.Uint64 // failed → healthy transitions
	flushDone       chan struct{}
	newJournalFile  func(*os.File) journalFile
	jf              journalFile // flusher: the journal being appended
	jsize           int64       // flusher: its size
	jsynced         int64       // flusher: its size after the last completed fdatasync
	jgen            uint64      // flusher: its generation
	jmark           int64       // flusher: the durable length its header holds
	retryQ          []*batch    // flusher: batches a failed write left to write again
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
		seqGroup:       opts.SeqGroup,
		groups:         map[string]*groupSeq{},
		flushDone:      make(chan struct{}),
		newJournalFile: opts.journalFile,
	}
	if db.newJournalFile == nil {
		db.newJournalFile = func(f *os.File) journalFile { return osJournal{f} }
	}
	db.cond = sync.NewCond(&db.mu)
	if db.clock == nil {
		db.clock = clock.Wall()
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
	repair, err := db.recover(&rep)
	if err != nil {
		if db.jf != nil {
			db.jf.Close()
		}
		lf.Close()
		return nil, rep, err
	}
	rep.LastSeq = db.lastSeq
	if err := db.persistLoss(&rep); err != nil {
		if db.jf != nil {
			db.jf.Close()
		}
		lf.Close()
		return nil, rep, err
	}
	go db.flusher()
	if repair {
		// Damage inside a file stays there (its bytes were copied aside):
		// a compaction, online like any other, writes what survived to a
		// fresh snapshot and journal and drops the damaged files, so that
		// the next Open does not find it, report it and ask for a resync
		// again. If it fails, the damage is found again next time;
		// nothing is lost.
		db.mu.Lock()
		db.compacting = true
		db.bg.Add(1)
		db.mu.Unlock()
		go func() {
			defer db.bg.Done()
			if err := db.compact(true); err != nil && !errors.Is(err, ErrClosed) {
				db.log.Warn("lease: compaction after recovering from damage failed; the damage will be reported again at the next open", "err", err)
			}
			db.mu.Lock()
			db.compacting = false
			db.mu.Unlock()
		}()
	}
	return db, rep, nil
}

func (db *DB) noteSeq(r *rec) {
	if r.flags&flagPeer != 0 {
		db.partnerSeq = max(db.partnerSeq, r.seq)
	} else {
		db.lastSeq = max(db.lastSeq, r.seq)
	}
	db.noteGroup(r)
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
			if p.isReserved(r.addr) {
				p.resCount[old.state]--
			}
		}
		db.recs[slot] = r
	} else {
		slot = uint32(len(db.recs))
		db.recs = append(db.recs, r)
		db.byAddr[r.addr] = slot
		if p != nil {
			p.setUsed(r.addr - p.first)
			if p.isReserved(r.addr) {
				p.resRecs++
			}
		}
	}
	if p != nil {
		p.count[r.state]++
		if p.isReserved(r.addr) {
			p.resCount[r.state]++
		}
	}
	db.dropHold(r.addr, p)
	db.link(slot, p)
	db.clientAdd(slot)
	db.noteSeq(&r)
}

// usableLocked is nil when a change may be made. After a failed write,
// the first caller once the backoff has passed is let through and asks
// the flusher to retry; its change is written after what failed. db.mu
// held for writing.
func (db *DB) usableLocked() error {
	if db.closed {
		return ErrClosed
	}
	if db.failed != nil && !db.retrying && !db.clock.Now().Before(db.retryAt) {
		db.retrying = true
		db.cond.Signal()
		return nil
	}
	return db.failed
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

// ByClient returns the most recent binding of the client whose ClientKey
// is key: an ACTIVE one over any other, then the latest Start. If that
// address is later given to another client, the older bindings of the
// first are not searched.
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
// Errors: ErrNoPool (no pool of that name), ErrPoolExhausted.
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
	rs, _, err := db.commit(ls, false)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	out := make([]Lease, len(rs))
	for i := range rs {
		out[i] = rs[i].lease()
	}
	return out, nil
}

// CommitRecords is Commit returning each stored state with its record
// payload, for a caller that replicates them: the payload is the one the
// journal got, encoded once.
//
// When the journal write fails, the records are returned with the error:
// they are in memory and in the batch the journal writes again at its
// retry, so they become durable here without their caller. A caller that
// replicates must still send them, so the partner never holds less than
// this box will: a record the partner holds and we later lose is the safe
// direction (the sequence numbers show our journal lost records and the
// pair recovers, invariant 7); one we hold and the partner never gets
// leaves the two boxes' active sets apart for good.
func (db *DB) CommitRecords(ls ...Lease) ([]Record, error) {
	rs, ps, err := db.commit(ls, true)
	if len(rs) == 0 {
		return nil, err
	}
	return records(rs, ps), err
}

// commit is Commit; with keep it also returns each record's payload.
func (db *DB) commit(ls []Lease, keep bool) ([]rec, [][]byte, error) {
	if len(ls) == 0 {
		return nil, nil, nil
	}
	rs := make([]rec, len(ls))
	n := 0
	for i := range ls {
		r, err := toRec(&ls[i])
		if err != nil {
			return nil, nil, err
		}
		rs[i] = r
		n += payloadLen(&r)
	}
	var ps [][]byte
	var pbuf []byte
	if keep {
		// Allocated here so that nothing is allocated under the lock.
		ps, pbuf = make([][]byte, len(rs)), make([]byte, 0, n)
	}
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return nil, nil, err
	}
	b := db.batchLocked()
	for i := range rs {
		db.lastSeq++
		rs[i].seq = db.lastSeq
		rs[i].flags = 0
		if keep {
			pbuf, ps[i] = cutPayload(pbuf, &rs[i])
			b.buf = appendPayloadFrame(b.buf, ps[i])
		} else {
			b.buf = appendFrame(b.buf, &rs[i])
		}
		db.store(rs[i])
	}
	db.mu.Unlock()
	<-b.done
	if b.err != nil {
		// Stored and queued for the journal's retry (CommitRecords).
		return rs, ps, b.err
	}
	return rs, ps, nil
}

// cutPayload appends r's payload to buf and returns buf and the payload,
// capped so that later appends to buf never reach it.
func cutPayload(buf []byte, r *rec) ([]byte, []byte) {
	at := len(buf)
	buf = appendPayload(buf, r)
	return buf, buf[at:len(buf):len(buf)]
}

func records(rs []rec, ps [][]byte) []Record {
	out := make([]Record, len(rs))
	for i := range rs {
		out[i] = Record{lease: rs[i].lease(), payload: ps[i]}
	}
	return out
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
	rs, _, err := db.expire(now, max, false)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	ls := make([]Lease, len(rs))
	for i := range rs {
		ls[i] = rs[i].lease()
	}
	return ls, nil
}

// ExpireRecords is Expire returning each new state with its record
// payload, as CommitRecords does.
// On a journal write failure the records come with the error, as
// CommitRecords' do.
func (db *DB) ExpireRecords(now time.Time, max int) ([]Record, error) {
	rs, ps, err := db.expire(now, max, true)
	if len(rs) == 0 {
		return nil, err
	}
	return records(rs, ps), err
}

// expire is Expire; with keep it also returns each record's payload.
func (db *DB) expire(now time.Time, max int, keep bool) ([]rec, [][]byte, error) {
	nowU, err := timeU32(now)
	if err != nil {
		return nil, nil, err
	}
	db.mu.Lock()
	if err := db.usableLocked(); err != nil {
		db.mu.Unlock()
		return nil, nil, err
	}
	var out []rec
	var ps [][]byte
	var pbuf []byte
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
		if keep {
			var p []byte
			pbuf, p = cutPayload(pbuf, &r)
			ps = append(ps, p)
			b.buf = appendPayloadFrame(b.buf, p)
		} else {
			b.buf = appendFrame(b.buf, &r)
		}
		db.store(r)
		out = append(out, r)
	}
	db.mu.Unlock()
	if b == nil {
		return nil, nil, nil
	}
	<-b.done
	if b.err != nil {
		return out, ps, b.err // stored, and written again at the retry
	}
	return out, ps, nil
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

// Err is the database's write failure, nil while it is healthy: after a
// failed journal write or fdatasync every change is refused (the engine's
// commits, the partner's records, pool moves), until a retry succeeds.
// The first change attempted after a backoff (1 s, doubling up to a
// minute) starts the retry: what failed is written again, then that
// change. For liveness checks (the agent's systemd watchdog).
func (db *DB) Err() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.failed
}

// WriteFailures is how many times the journal went from healthy to
// failing (Err set).
func (db *DB) WriteFailures() uint64 { return db.writeFailures.Load() }

// WriteRecoveries is how many times a retry wrote the journal again after
// a failure (Err cleared).
func (db *DB) WriteRecoveries() uint64 { return db.writeRecoveries.Load() }

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
	return db.compact(false)
}
