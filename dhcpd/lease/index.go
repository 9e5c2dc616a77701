package lease

import (
	"hash/maphash"
)

// The indexes over db.recs. All functions here run with db.mu held for
// writing (or during Open, before the DB is shared).

// --- client index ---------------------------------------------------------
//
// byClient maps a 32-bit hash of the client key to the slot of that client's
// most recent binding; a key whose hash is taken by another key goes to
// clientOverflow (about 100 of a million keys). Lookups always compare the
// full key, so collisions cost time, never correctness. Keyed by hash rather
// than by string to keep the map at ~10 bytes per lease (doc.go "Memory").

// keyOf returns the kind byte ('i' or 'h') and the identifying bytes of r's
// client, or kind 0 for a lease with no client.
func keyOf(r *rec) (byte, string) {
	if r.cidLen > 0 {
		return 'i', r.cid()
	}
	if r.hwLen > 0 {
		return 'h', r.hw()
	}
	return 0, ""
}

func (db *DB) keyHash(kind byte, id string) uint32 {
	h := maphash.String(db.seed, id)
	if kind == 'i' {
		h = ^h
	}
	return uint32(h ^ h>>32)
}

func (db *DB) slotHasKey(slot uint32, kind byte, id string) bool {
	k, v := keyOf(&db.recs[slot])
	return k == kind && v == id
}

func (db *DB) clientLookup(kind byte, id string) (uint32, bool) {
	h := db.keyHash(kind, id)
	if s, ok := db.byClient[h]; ok && db.slotHasKey(s, kind, id) {
		return s, true
	}
	if len(db.clientOverflow) > 0 {
		if s, ok := db.clientOverflow[string(kind)+id]; ok && db.slotHasKey(s, kind, id) {
			return s, true
		}
	}
	return 0, false
}

func (db *DB) clientSet(kind byte, id string, slot uint32) {
	h := db.keyHash(kind, id)
	if s, ok := db.byClient[h]; ok && s != slot && !db.slotHasKey(s, kind, id) {
		db.clientOverflow[string(kind)+id] = slot
		return
	}
	db.byClient[h] = slot
	if len(db.clientOverflow) > 0 {
		delete(db.clientOverflow, string(kind)+id)
	}
}

// clientDrop removes the entry for r's key if it points at slot. Called
// before recs[slot] changes.
func (db *DB) clientDrop(r *rec, slot uint32) {
	kind, id := keyOf(r)
	if kind == 0 {
		return
	}
	h := db.keyHash(kind, id)
	if s, ok := db.byClient[h]; ok && s == slot {
		delete(db.byClient, h)
	}
	if len(db.clientOverflow) > 0 {
		k := string(kind) + id
		if s, ok := db.clientOverflow[k]; ok && s == slot {
			delete(db.clientOverflow, k)
		}
	}
}

// preferred reports whether a is a better answer to ByClient than b: a
// bound lease beats an unbound one, then the later Start wins, then the
// later state change.
func preferred(a, b *rec) bool {
	aa, ba := a.state == StateActive, b.state == StateActive
	if aa != ba {
		return aa
	}
	if a.t[tStart] != b.t[tStart] {
		return a.t[tStart] > b.t[tStart]
	}
	return a.t[tStateStart] >= b.t[tStateStart]
}

// clientAdd indexes recs[slot] under its key unless the key already points
// at a preferred binding.
func (db *DB) clientAdd(slot uint32) {
	r := &db.recs[slot]
	kind, id := keyOf(r)
	if kind == 0 {
		return
	}
	if cur, ok := db.clientLookup(kind, id); ok && cur != slot && preferred(&db.recs[cur], r) && !preferred(r, &db.recs[cur]) {
		return
	}
	db.clientSet(kind, id, slot)
}

// --- expiry queue -----------------------------------------------------------
//
// A binary min-heap of slots of ACTIVE leases ordered by Expiry; rec.prev
// holds each member's heap index so a renewal or release moves or removes it
// in O(log n). ACTIVE leases without an Expiry (infinite) are not queued.

func (db *DB) heapLess(i, j int) bool {
	return db.recs[db.expq[i]].t[tExpiry] < db.recs[db.expq[j]].t[tExpiry]
}

func (db *DB) heapSwap(i, j int) {
	q := db.expq
	q[i], q[j] = q[j], q[i]
	db.recs[q[i]].prev = int32(i)
	db.recs[q[j]].prev = int32(j)
}

func (db *DB) heapUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !db.heapLess(i, p) {
			return
		}
		db.heapSwap(i, p)
		i = p
	}
}

func (db *DB) heapDown(i int) {
	n := len(db.expq)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && db.heapLess(r, l) {
			m = r
		}
		if !db.heapLess(m, i) {
			return
		}
		db.heapSwap(i, m)
		i = m
	}
}

func (db *DB) heapPush(slot uint32) {
	db.recs[slot].prev = int32(len(db.expq))
	db.recs[slot].flags |= flagLinked
	db.expq = append(db.expq, slot)
	db.heapUp(len(db.expq) - 1)
}

func (db *DB) heapRemove(slot uint32) {
	i := int(db.recs[slot].prev)
	last := len(db.expq) - 1
	if i != last {
		db.heapSwap(i, last)
	}
	db.expq = db.expq[:last]
	if i != last {
		db.heapDown(i)
		db.heapUp(i)
	}
	db.recs[slot].prev = -1
	db.recs[slot].flags &^= flagLinked
}

// heapInit builds the queue from every ACTIVE lease in O(n).
func (db *DB) heapInit() {
	db.expq = db.expq[:0]
	for i := range db.recs {
		r := &db.recs[i]
		if r.state == StateActive && r.t[tExpiry] != 0 {
			r.prev = int32(len(db.expq))
			r.flags |= flagLinked
			db.expq = append(db.expq, uint32(i))
		}
	}
	for i := len(db.expq)/2 - 1; i >= 0; i-- {
		db.heapDown(i)
	}
}
