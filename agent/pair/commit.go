package pair

import (
	"context"
	"errors"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// replicatingDB is the engine's lease database in a pair: Commit and
// Expire are local commits followed by replication to the partner.
type replicatingDB struct {
	*lease.DB
	p *Pair
	// committed, when set (tests), runs between a local commit and the
	// queueing of its records: a goroutine slowed there must not let a
	// later batch into the stream first.
	committed func()
}

// Commit commits locally (durable, group commit), then waits until the
// partner applied the records durably: only then may the engine build the
// ACK (invariant 2). A binding's potential expiry and the one the partner
// acknowledged for its previous record are on its lease (the engine put
// the gate's there, fgate.LeaseTime), so the partner receives them with
// the record (draft §5.2.1: "what to tell the failover partner").
func (r *replicatingDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	// Number and queue under one lock, so records enter the stream in the
	// order the database numbered them; wait for the partner outside it,
	// so the next group commit (the engine keeps several in flight) is
	// made durable here while this one travels (pipelining).
	r.p.order.Lock()
	recs, err := r.DB.CommitRecords(ls...)
	if len(recs) == 0 {
		r.p.order.Unlock()
		return nil, err
	}
	if r.committed != nil {
		r.committed()
	}
	wait := r.p.Queue(recs)
	r.p.order.Unlock()
	if err != nil {
		// The journal write failed; the records are written at its
		// retry, so the partner gets them too (CommitRecords), but the
		// engine hears the failure and sends no ACK.
		return nil, err
	}
	wait()
	return lease.Leases(recs), nil
}

// Expire's records (ACTIVE -> EXPIRED) go to the partner too.
func (r *replicatingDB) Expire(now time.Time, max int) ([]lease.Lease, error) {
	r.p.order.Lock()
	recs, err := r.DB.ExpireRecords(now, max)
	wait := r.p.Queue(recs)
	r.p.order.Unlock()
	wait()
	return lease.Leases(recs), err
}

// acked notes that the partner applied every record of rs durably.
// Every record goes to the stream in sequence order, so the partner's ack
// is cumulative up to the highest.
func (p *Pair) acked(rs []lease.Record) {
	var top uint64
	for i := range rs {
		top = max(top, rs[i].Lease().Seq)
	}
	for {
		cur := p.ackedSeq.Load()
		if top <= cur || p.ackedSeq.CompareAndSwap(cur, top) {
			return
		}
	}
}

// send queues committed records on the link at once and returns the wait
// for the partner's ack (see peer.Link.Send): true when the partner
// applied every one durably. The records carry the payloads the journal
// got, so nothing is encoded again. Every error leaves the records durable
// here and queued for the partner; the engine proceeds (the partner is
// unreachable, and the machine goes COMMUNICATIONS-INTERRUPTED on the
// link's Down).
func (p *Pair) send(rs []lease.Record) (wait func() bool) {
	if p.link == nil || len(rs) == 0 {
		return func() bool { return false }
	}
	w := p.link.Send(rs...)
	return func() bool {
		err := w(p.ctx)
		switch {
		case err == nil:
			return true
		case errors.Is(err, peer.ErrPartnerUnreachable), errors.Is(err, context.Canceled):
			p.met.unreachable.Add(float64(len(rs)))
		default:
			p.log.Error("replicate", "records", len(rs), "err", err)
		}
		return false
	}
}

// A commit path shared by several pairs (a box in several relationships)
// commits on the one database and queues each relationship's records on
// its pair's link. LockOrder is held from the local commit until the
// records are queued (as replicatingDB holds it), so each stream carries
// its records in sequence order; several pairs' locks are taken in one
// fixed order.
func (p *Pair) LockOrder()   { p.order.Lock() }
func (p *Pair) UnlockOrder() { p.order.Unlock() }

// Queue hands committed records to the link (the order lock held) and
// returns the wait: true once the partner applied every one durably
// (invariant 2; noted for the gate, acked), false when it is unreachable
// and the records are durable here only. replicatingDB commits through
// it, and so does a commit path shared by several pairs.
func (p *Pair) Queue(rs []lease.Record) (wait func() bool) {
	w := p.send(rs)
	return func() bool {
		if !w() {
			return false
		}
		p.acked(rs)
		return true
	}
}
