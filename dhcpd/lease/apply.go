package lease

// The partner's records: applied durably, in order, without shortening a
// binding of our own that is still running.

import ()

// Apply stores the partner's lease states durably, in order, in one group
// commit: when it returns nil all are on stable storage; after a crash
// what is stored is a prefix of them. Each lease is as the partner wrote
// it, after the clock conversion (peer.Options.FromPartner): its Seq is
// the partner's, and Peer says it from the partner's side, so Apply flips
// it. Every lease is validated before anything is stored, so an invalid
// one (ErrInvalid) stores none. Applying the same state again is a no-op
// that still waits for everything queued before it to be durable.
//
// A partner record does not replace a binding of our own (one we
// committed) that is ACTIVE and unexpired and ends later than the
// partner's state, unless it is the same client's later transaction (a
// newer CLTT, e.g. its RELEASE at the partner). That is the case of a
// renewal we granted while the link was down, met by the partner's older
// state of the address (its EXPIRED, or an older binding) after the heal:
// storing it would make an address free while its client still holds it
// (no address is given to two clients at once; draft-ietf-dhc-failover-12 §7.1.2: a binding
// update that would shorten a lease we granted is rejected). The partner
// receives our record in our own stream, so both converge on the longer
// binding. The partner's sequence number still counts as held
// (PartnerSeq), so the stream does not stall on it.
func (db *DB) Apply(ls ...Lease) error {
	if len(ls) == 0 {
		return nil
	}
	rs := make([]rec, len(ls))
	for i := range ls {
		r, err := toRec(&ls[i])
		if err != nil {
			return err
		}
		r.flags ^= flagPeer
		rs[i] = r
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
		// "applied" always means durable. After a failed write the
		// states in memory may be the ones that failed: wait for the
		// retry this call started (usableLocked) to write them.
		if n := len(db.queue); n > 0 {
			b = db.queue[n-1]
		} else if db.failed != nil {
			b = db.batchLocked()
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
// partner's record in (see Apply). now is Unix seconds.
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
