package dhcpd

import (
	"runtime"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// pendingCommit is a lease waiting for the committer, and what to do once
// its commit returned: finish builds the reply (ACK) or the error.
type pendingCommit struct {
	lease  lease.Lease
	cls    classified // the client's classes, for the ACK's options
	finish func(err error) (Reply, error)
	done   func(Reply, error)
}

// DefaultCommitSpacing paces group commits to at most 200 fsyncs a second.
// An fdatasync costs this process CPU (the journal commit runs in its
// context) whatever it carries; under a load of a few thousand ACKs a
// second, back-to-back fsyncs carried 3–4 leases each and cost a fifth of
// the server's CPU. Spaced 5 ms apart they carry ~20 and the server needs
// ~30 % less CPU per DORA (scripts/bench-dhcp.sh). A commit after a quiet
// spell (the last one started longer ago than this) does not wait, so an
// idle server's ACK latency is unchanged; under load an ACK waits at most
// this much more, invisible next to a client's 4 s retransmission timer
// (RFC 2131 §4.1).
const DefaultCommitSpacing = 5 * time.Millisecond

// enqueueCommit queues p for the committer, starting one when none is
// waiting to take the queue and fewer than maxFlight commits are under way.
func (e *Engine) enqueueCommit(p *pendingCommit) {
	e.cmu.Lock()
	e.cq = append(e.cq, p)
	start := e.startTakerLocked()
	e.cmu.Unlock()
	if start {
		go e.commitLoop()
	}
}

// startTakerLocked reports whether the caller must start a committer (and
// marks one as taking). e.cmu held.
func (e *Engine) startTakerLocked() bool {
	if len(e.cq) == 0 || e.taking || e.inflight >= e.maxFlight {
		return false
	}
	e.taking = true
	return true
}

// commitLoop takes everything queued (after the commit spacing) and
// commits it in one db.Commit (one fsync for the lot: group commit), then
// finishes its batch (builds the ACKs, calls done). One committer at a
// time waits to take the queue; up to maxFlight batches are committed at
// once, so a batch is whatever arrived during the spacing: large under
// load, one lease when idle. No goroutine lives while nothing is queued.
func (e *Engine) commitLoop() {
	e.cmu.Lock()
	// Pacing is plumbing, not protocol: monotonic time, not e.clock (a
	// test's fake clock must not stall or skip it).
	if wait := e.spacing - time.Since(e.lastCommit); wait > 0 && len(e.cq) < maxBatch {
		e.cmu.Unlock()
		time.Sleep(wait)
		e.cmu.Lock()
	}
	e.lastCommit = time.Now()
	batch := e.cq
	e.cq = nil
	e.taking = false
	if len(batch) == 0 {
		e.cmu.Unlock()
		return
	}
	e.inflight++
	e.cmu.Unlock()
	errs := e.commitBatch(batch)
	e.cmu.Lock()
	e.inflight--
	next := e.startTakerLocked()
	e.cmu.Unlock()
	if next {
		go e.commitLoop()
	}
	for i, p := range batch {
		rep, err := p.finish(errs[i])
		p.done(rep, err)
		if i%8 == 7 {
			runtime.Gosched() // let the next committer and the flusher run (see Server.readLoop)
		}
	}
}

// maxBatch is the queue length at which a committer stops waiting out
// the commit spacing.
const maxBatch = 256

// commitBatch commits the leases of batch and returns each one's error.
// A lease the database cannot store (lease.Lease.Validate) fails alone
// before the group commit. A batch that fails is retried lease by lease,
// so that one lease the database refuses does not fail the others' ACKs.
func (e *Engine) commitBatch(batch []*pendingCommit) []error {
	errs := make([]error, len(batch))
	ls := make([]lease.Lease, 0, len(batch))
	for i, p := range batch {
		if err := p.lease.Validate(); err != nil {
			errs[i] = err
			continue
		}
		ls = append(ls, p.lease)
	}
	t0 := e.clock.Now()
	var err error
	if len(ls) > 0 {
		_, err = e.db.Commit(ls...)
	}
	for i, p := range batch {
		switch {
		case errs[i] != nil:
		case err != nil && len(ls) > 1:
			_, errs[i] = e.db.Commit(p.lease)
		default:
			errs[i] = err
		}
	}
	d := e.clock.Now().Sub(t0).Seconds()
	e.m.Batch.Observe(float64(len(batch)))
	for range batch {
		e.m.Commit.Observe(d)
	}
	return errs
}
