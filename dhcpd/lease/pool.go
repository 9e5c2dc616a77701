package lease

import (
	"cmp"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
)

// maxPoolSize bounds one pool (a /8); its bitmap is then 2 MiB.
const maxPoolSize = 1 << 24

// poolState holds one pool's free structures (doc.go "Allocation"):
//
//   - used: one bit per address, set when the address has a record or is
//     held. Never-used addresses are found by a cursor that only moves
//     forward (records are never deleted), so finding one costs O(1)
//     amortised: each bitmap word is passed once over the pool's lifetime.
//     returned is a stack of never-used addresses given back by Unhold.
//   - free list: a FIFO, linked through rec.prev/next, of records in state
//     FREE, EXPIRED, RELEASED or RESET, oldest free first, so the address a
//     client had last stays untouched as long as possible.
//   - backup list: the same for BACKUP records (allocated only with
//     from = StateBackup).
//
// ABANDONED records are in neither list: not allocatable. Nor are
// reserved addresses (Pool.Reserved), whatever their state: they are
// marked used from the start and never linked.
type poolState struct {
	Pool
	first, size uint32
	used        []uint64
	cursor      uint32
	returned    []uint32

	free, backup list

	count    [StateBackup + 1]int // records in the pool by state
	heldRec  [StateBackup + 1]int // of those, held by Allocate
	heldNone int                  // held addresses without a record

	reserved map[uint32]struct{}  // nil: none
	resRecs  int                  // reserved addresses that have a record
	resCount [StateBackup + 1]int // their records by state
}

func (p *poolState) isReserved(a uint32) bool {
	if p.reserved == nil {
		return false
	}
	_, ok := p.reserved[a]
	return ok
}

type list struct{ head, tail int32 }

func freeish(s State) bool {
	return s == StateFree || s == StateExpired || s == StateReleased || s == StateReset
}

// hold is what Allocate took: the pool (by name, since SetPools may swap
// the structures) and whether the address had a record.
type hold struct {
	slot   uint32 // the record's slot when hadRec (spares Unhold a lookup in byAddr)
	hadRec bool
	state  State
}

func newPoolState(p Pool) (*poolState, error) {
	if p.Name == "" {
		return nil, fmt.Errorf("%w: pool without a name", ErrInvalid)
	}
	if !p.First.Is4() || !p.Last.Is4() {
		return nil, fmt.Errorf("%w: pool %s: %v-%v is not an IPv4 range", ErrInvalid, p.Name, p.First, p.Last)
	}
	f, l := addrU32(p.First), addrU32(p.Last)
	if l < f {
		return nil, fmt.Errorf("%w: pool %s: last %v before first %v", ErrInvalid, p.Name, p.Last, p.First)
	}
	if l-f >= maxPoolSize {
		return nil, fmt.Errorf("%w: pool %s: %d addresses, at most %d", ErrInvalid, p.Name, uint64(l-f)+1, maxPoolSize)
	}
	ps := &poolState{Pool: p, first: f, size: l - f + 1, free: list{-1, -1}, backup: list{-1, -1}}
	words := (ps.size + 63) / 64
	ps.used = make([]uint64, words)
	if extra := words*64 - ps.size; extra > 0 {
		// Bits past the end are "used" so the cursor never returns them.
		ps.used[words-1] = ^uint64(0) << (64 - extra)
	}
	for _, r := range p.Reserved {
		if a := addrU32(r); r.Is4() && ps.contains(a) {
			if ps.reserved == nil {
				ps.reserved = make(map[uint32]struct{}, len(p.Reserved))
			}
			ps.reserved[a] = struct{}{}
			ps.setUsed(a - f) // the never-used cursor passes it by
		}
	}
	return ps, nil
}

func (p *poolState) contains(a uint32) bool { return a >= p.first && a-p.first < p.size }

func (p *poolState) setUsed(off uint32)   { p.used[off/64] |= 1 << (off % 64) }
func (p *poolState) clearUsed(off uint32) { p.used[off/64] &^= 1 << (off % 64) }
func (p *poolState) isUsed(off uint32) bool {
	return p.used[off/64]&(1<<(off%64)) != 0
}

// takeNeverUsed returns a never-used offset and marks it used.
func (p *poolState) takeNeverUsed() (uint32, bool) {
	for len(p.returned) > 0 {
		off := p.returned[len(p.returned)-1]
		p.returned = p.returned[:len(p.returned)-1]
		if !p.isUsed(off) {
			p.setUsed(off)
			return off, true
		}
	}
	for w := p.cursor / 64; int(w) < len(p.used); w++ {
		x := ^p.used[w]
		if w == p.cursor/64 {
			x &= ^uint64(0) << (p.cursor % 64)
		}
		if x != 0 {
			off := w*64 + uint32(bits.TrailingZeros64(x))
			p.setUsed(off)
			p.cursor = off + 1
			return off, true
		}
	}
	p.cursor = uint32(len(p.used)) * 64
	return 0, false
}

func (p *poolState) listFor(s State) *list {
	switch {
	case freeish(s):
		return &p.free
	case s == StateBackup:
		return &p.backup
	}
	return nil
}

// --- list operations on db.recs ---------------------------------------------

func (db *DB) listAppend(l *list, slot uint32) {
	r := &db.recs[slot]
	r.prev, r.next = l.tail, -1
	r.flags |= flagLinked
	if l.tail >= 0 {
		db.recs[l.tail].next = int32(slot)
	} else {
		l.head = int32(slot)
	}
	l.tail = int32(slot)
}

func (db *DB) listRemove(l *list, slot uint32) {
	r := &db.recs[slot]
	if r.prev >= 0 {
		db.recs[r.prev].next = r.next
	} else {
		l.head = r.next
	}
	if r.next >= 0 {
		db.recs[r.next].prev = r.prev
	} else {
		l.tail = r.prev
	}
	r.prev, r.next = -1, -1
	r.flags &^= flagLinked
}

// poolOf finds the pool holding a (pools are sorted and disjoint).
func (db *DB) poolOf(a uint32) *poolState {
	i, _ := slices.BinarySearchFunc(db.pools, a, func(p *poolState, a uint32) int {
		if a < p.first {
			return 1
		}
		if p.contains(a) {
			return 0
		}
		return -1
	})
	if i < len(db.pools) && db.pools[i].contains(a) {
		return db.pools[i]
	}
	return nil
}

// link puts recs[slot] into the structure its state calls for: the expiry
// queue, its pool's free or backup list, or nothing.
func (db *DB) link(slot uint32, p *poolState) {
	r := &db.recs[slot]
	if r.state == StateActive {
		if r.t[tExpiry] != 0 {
			db.heapPush(slot)
		}
		return
	}
	if p != nil && !p.isReserved(r.addr) {
		if l := p.listFor(r.state); l != nil {
			db.listAppend(l, slot)
		}
	}
}

// unlink is link's inverse.
func (db *DB) unlink(slot uint32, p *poolState) {
	r := &db.recs[slot]
	if r.flags&flagLinked == 0 {
		return
	}
	if r.state == StateActive {
		db.heapRemove(slot)
		return
	}
	if p != nil {
		if l := p.listFor(r.state); l != nil {
			db.listRemove(l, slot)
		}
	}
}

// rebuildPools replaces the pool set and rebuilds every pool structure from
// the records and the current holds.
func (db *DB) rebuildPools(pools []Pool) error {
	ps := make([]*poolState, 0, len(pools))
	byName := make(map[string]*poolState, len(pools))
	for _, p := range pools {
		s, err := newPoolState(p)
		if err != nil {
			return err
		}
		if _, dup := byName[p.Name]; dup {
			return fmt.Errorf("%w: pool name %q used twice", ErrInvalid, p.Name)
		}
		byName[p.Name] = s
		ps = append(ps, s)
	}
	slices.SortFunc(ps, func(a, b *poolState) int { return cmp.Compare(a.first, b.first) })
	for i := 1; i < len(ps); i++ {
		if ps[i].first <= ps[i-1].first+ps[i-1].size-1 {
			return fmt.Errorf("%w: pools %s and %s overlap", ErrInvalid, ps[i-1].Name, ps[i].Name)
		}
	}
	// Take every rec out of the old lists (the expiry queue stays).
	for i := range db.recs {
		r := &db.recs[i]
		if r.state != StateActive {
			r.prev, r.next = -1, -1
			r.flags &^= flagLinked
		}
	}
	db.pools, db.poolByName = ps, byName
	if len(ps) == 0 {
		return nil
	}
	// Holds stay valid if their address is still in a pool.
	for a, h := range db.held {
		p := db.poolOf(a)
		if p == nil {
			delete(db.held, a) // outside every pool now: nothing to put back
			continue
		}
		p.setUsed(a - p.first)
		if h.hadRec {
			p.heldRec[h.state]++
		} else {
			p.heldNone++
		}
	}
	type cand struct {
		since uint32
		addr  uint32
		slot  uint32
		p     *poolState
	}
	var cands []cand
	for i := range db.recs {
		r := &db.recs[i]
		p := db.poolOf(r.addr)
		if p == nil {
			continue
		}
		p.setUsed(r.addr - p.first)
		p.count[r.state]++
		if p.isReserved(r.addr) {
			p.resRecs++
			p.resCount[r.state]++
			continue
		}
		if _, isHeld := db.held[r.addr]; isHeld {
			continue
		}
		if p.listFor(r.state) != nil {
			cands = append(cands, cand{r.t[tStateStart], r.addr, uint32(i), p})
		}
	}
	// Longest free first: by the time the state was entered, then address.
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(a.since, b.since); c != 0 {
			return c
		}
		return cmp.Compare(a.addr, b.addr)
	})
	for _, c := range cands {
		db.listAppend(c.p.listFor(db.recs[c.slot].state), c.slot)
	}
	return nil
}

// allocate implements Allocate with db.mu held.
func (db *DB) allocate(pool string, hint netip.Addr, from State) (netip.Addr, error) {
	p := db.poolByName[pool]
	if p == nil {
		return netip.Addr{}, fmt.Errorf("%w: no pool named %q", ErrNoPool, pool)
	}
	var l *list
	switch from {
	case StateFree:
		l = &p.free
	case StateBackup:
		l = &p.backup
	default:
		return netip.Addr{}, fmt.Errorf("%w: allocate from %v (want FREE or BACKUP)", ErrInvalid, from)
	}
	if hint.Is4() {
		a := addrU32(hint)
		if _, isHeld := db.held[a]; p.contains(a) && !isHeld && !p.isReserved(a) {
			slot, has := db.byAddr[a]
			switch {
			case !has && from == StateFree:
				p.setUsed(a - p.first)
				db.holdNone(a, p)
				return hint, nil
			case has && db.recs[slot].flags&flagLinked != 0 && p.listFor(db.recs[slot].state) == l:
				db.holdRec(slot, l, p)
				return hint, nil
			}
		}
	}
	if from == StateFree {
		if off, ok := p.takeNeverUsed(); ok {
			a := p.first + off
			db.holdNone(a, p)
			return u32Addr(a), nil
		}
	}
	if l.head >= 0 {
		slot := uint32(l.head)
		db.holdRec(slot, l, p)
		return u32Addr(db.recs[slot].addr), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: %s (%v)", ErrPoolExhausted, pool, from)
}

func (db *DB) holdNone(a uint32, p *poolState) {
	db.held[a] = hold{}
	p.heldNone++
}

func (db *DB) holdRec(slot uint32, l *list, p *poolState) {
	r := &db.recs[slot]
	db.listRemove(l, slot)
	db.held[r.addr] = hold{slot: slot, hadRec: true, state: r.state}
	p.heldRec[r.state]++
}

// unhold implements Unhold with db.mu held.
func (db *DB) unhold(a uint32) {
	h, ok := db.held[a]
	if !ok {
		return
	}
	delete(db.held, a)
	p := db.poolOf(a)
	if p == nil {
		return
	}
	if !h.hadRec {
		p.heldNone--
		p.clearUsed(a - p.first)
		p.returned = append(p.returned, a-p.first)
		return
	}
	p.heldRec[h.state]--
	slot := h.slot
	// Back at the tail: an offer that was not taken should not be the next
	// offer too (the client may have found it in use, RFC 2131 §4.4.1).
	if l := p.listFor(db.recs[slot].state); l != nil && !p.isReserved(a) {
		db.listAppend(l, slot)
	}
}

// dropHold forgets a hold because a commit now decides the address.
func (db *DB) dropHold(a uint32, p *poolState) {
	h, ok := db.held[a]
	if !ok {
		return
	}
	delete(db.held, a)
	if p == nil {
		return
	}
	if h.hadRec {
		p.heldRec[h.state]--
	} else {
		p.heldNone--
	}
}

func (db *DB) stats() []PoolStats {
	out := make([]PoolStats, 0, len(db.pools))
	for _, p := range db.pools {
		c := func(s State) int { return p.count[s] - p.heldRec[s] }
		recs := 0
		held := p.heldNone
		for s := StateFree; s <= StateBackup; s++ {
			recs += p.count[s]
			held += p.heldRec[s]
		}
		// Reserved addresses without a record or with a FREE or BACKUP
		// one are nobody's to allocate.
		resFree := len(p.reserved) - p.resRecs + p.resCount[StateFree]
		out = append(out, PoolStats{
			Name:      p.Name,
			Total:     int(p.size),
			Free:      int(p.size) - recs - p.heldNone + c(StateFree) - resFree,
			Backup:    c(StateBackup) - p.resCount[StateBackup],
			Reserved:  len(p.reserved),
			Active:    c(StateActive),
			Expired:   c(StateExpired),
			Released:  c(StateReleased),
			Abandoned: c(StateAbandoned),
			Reset:     c(StateReset),
			Held:      held,
		})
	}
	return out
}
