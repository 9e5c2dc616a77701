package lease

import (
	"errors"
	"fmt"
	"os"
	"syscall"
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

// write appends the batches to the journal (switching files where a batch
// says so) and syncs. An error is sticky: nothing is written after it.
//
// Before the first bytes go into a file, its header's durable length is
// brought up to the size the last completed fdatasync made durable (the
// size when write began, or the header alone in a new file). It rides in
// the same fdatasync as the records; whether or not it lands, the header
// never claims more than is on stable storage, which is what recovery
// needs to tell a torn tail from damage (tornTail).
func (db *DB) write(q []*batch) error {
	db.mu.RLock()
	err := db.failed
	db.mu.RUnlock()
	dirty := false
	synced := db.jsize
	for _, b := range q {
		if err == nil && len(b.buf) > 0 {
			if db.jmark != synced {
				h := journalHeaderAt(db.jgen, synced)
				_, err = db.jf.WriteAt(h.marshal(), 0)
				db.jmark = synced
			}
			if err == nil {
				_, err = db.jf.Write(b.buf)
				db.jsize += int64(len(b.buf))
				dirty = true
			}
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
			db.jf, db.jsize, db.jgen, db.jmark = b.switchTo, headerSize, b.switchGen, headerSize
			synced = headerSize
		}
	}
	if err == nil && dirty {
		err = syscall.Fdatasync(int(db.jf.Fd()))
		db.fsyncs.Add(1)
	}
	return err
}
