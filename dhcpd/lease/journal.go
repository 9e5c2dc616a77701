package lease

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// The journal writer: one flusher goroutine appends the queued batches and
// syncs once for all of them (doc.go "Commit and group commit").

// batch is a group of records written with one fsync. switchTo seals it:
// after it the flusher continues in a new journal file.
type batch struct {
	buf       []byte
	switchTo  *os.File
	switchGen uint64        // switchTo's generation
	done      chan struct{} // closed when buf is on stable storage (or err is set)
	err       error
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

// journalFile is what the flusher needs of the journal file: an
// *os.File (osJournal), or in tests one whose writes fail on demand.
type journalFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Datasync() error
	Close() error
	Name() string
}

type osJournal struct{ *os.File }

func (f osJournal) Datasync() error { return syscall.Fdatasync(int(f.Fd())) }

// Retrying after a failed write: the first change attempted once the
// backoff has passed starts a retry, which doubles up to the maximum.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// flusher writes queued batches, one fdatasync for all that queued up while
// the previous one ran: that is the group commit. It is the only writer of
// the journal file.
func (db *DB) flusher() {
	defer close(db.flushDone)
	for {
		db.mu.Lock()
		for len(db.queue) == 0 && !db.closing && !db.retrying {
			db.cond.Wait()
		}
		if len(db.queue) == 0 && !db.retrying {
			db.mu.Unlock()
			for _, b := range db.retryQ {
				if b.switchTo != nil {
					b.switchTo.Close()
				}
			}
			return
		}
		q := db.queue
		db.queue = nil
		retry := db.retrying
		db.retrying = false
		db.mu.Unlock()

		var err error
		if len(db.retryQ) > 0 || retry {
			// What follows the last completed fdatasync is unknown after
			// a failure (a short write; after a failed fdatasync the
			// kernel may have dropped the pages, so syncing again proves
			// nothing): cut it off and write it all again.
			err = db.jf.Truncate(db.jsynced)
			db.jsize = db.jsynced
			q = append(db.retryQ, q...)
			db.retryQ = nil
		}
		done := 0
		if err == nil {
			done, err = db.write(q)
		}
		db.mu.Lock()
		switch {
		case err != nil:
			// Set before any waiter hears of the failure: a caller
			// retrying at once is refused, never written after the hole
			// the failed batch left in the journal.
			db.retryQ = retryCopies(q[done:])
			db.jsize = db.jsynced
			if db.failed == nil {
				db.backoff = retryFirst
				db.failedAt = db.clock.Now()
				db.writeFailures.Add(1)
				db.log.Error("lease: journal write failed; refusing changes until a retry succeeds", "file", db.jf.Name(), "err", err, "retry_in", db.backoff)
			} else {
				db.backoff = min(2*db.backoff, retryMax)
				db.log.Warn("lease: journal write failed again", "file", db.jf.Name(), "err", err, "retry_in", db.backoff)
			}
			db.failed = fmt.Errorf("lease: journal write failed (retried after a backoff): %w", err)
			db.retryAt = db.clock.Now().Add(db.backoff)
		case db.failed != nil:
			db.log.Warn("lease: journal writable again; changes accepted", "file", db.jf.Name(),
				"failed_for", db.clock.Now().Sub(db.failedAt).Round(time.Millisecond))
			db.failed = nil
			db.writeRecoveries.Add(1)
		}
		db.mu.Unlock()
		for i, b := range q {
			if b.done == nil {
				continue // a retried copy: its waiters heard of the failure
			}
			if i >= done {
				b.err = err
			}
			close(b.done)
		}
		db.mu.Lock()
		if db.compactBytes > 0 && db.jsize > db.compactBytes && !db.compacting && !db.closed && db.failed == nil {
			db.compacting = true
			db.bg.Add(1)
			go func() {
				defer db.bg.Done()
				if err := db.compact(false); err != nil && !errors.Is(err, ErrClosed) {
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

// retryCopies are the batches a failed write left to write again, without
// their waiters (who are told of the failure).
func retryCopies(q []*batch) []*batch {
	out := make([]*batch, len(q))
	for i, b := range q {
		out[i] = &batch{buf: b.buf, switchTo: b.switchTo, switchGen: b.switchGen}
	}
	return out
}

// write appends the batches to the journal (switching files where a batch
// says so) and syncs. It returns how many batches, from the first, are on
// stable storage; on an error it stops there.
//
// Before the first bytes go into a file, its header's durable length is
// brought up to the size the last completed fdatasync made durable
// (jsynced). It rides in the same fdatasync as the records; whether or not
// it lands, the header never claims more than is on stable storage, which
// is what recovery needs to tell a torn tail from damage (tornTail).
func (db *DB) write(q []*batch) (done int, err error) {
	dirty := false
	for i, b := range q {
		if len(b.buf) > 0 {
			if db.jmark != db.jsynced {
				h := journalHeaderAt(db.jgen, db.jsynced)
				if _, err := db.jf.WriteAt(h.marshal(), 0); err != nil {
					return done, err
				}
				db.jmark = db.jsynced
			}
			n, err := db.jf.WriteAt(b.buf, db.jsize)
			db.jsize += int64(n)
			if err != nil {
				return done, err
			}
			dirty = true
		}
		if b.switchTo != nil {
			if dirty {
				db.fsyncs.Add(1)
				if err := db.jf.Datasync(); err != nil {
					return done, err
				}
				dirty = false
			}
			db.jf.Close()
			db.jf = db.newJournalFile(b.switchTo)
			db.jsize, db.jsynced, db.jgen, db.jmark = headerSize, headerSize, b.switchGen, headerSize
			done = i + 1
		}
	}
	if dirty {
		db.fsyncs.Add(1)
		if err := db.jf.Datasync(); err != nil {
			return done, err
		}
	}
	db.jsynced = db.jsize
	return len(q), nil
}
