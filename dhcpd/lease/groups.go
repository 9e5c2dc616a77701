package lease

import (
	"encoding/binary"
	"fmt"
)

// Sequence groups (Options.SeqGroup, doc.go "Sequence groups"): the
// highest sequence numbers, ours and the partner's, of the records of
// each group's addresses, counted as LastSeq and PartnerSeq are (every
// record written, replayed or applied, replaced ones too) and carried
// through compaction by group records in the snapshot.

// groupVersion is the first byte of a group record's payload; a lease
// record's is payloadVersion.
const groupVersion = 0x81

// maxGroupName bounds a group's name (one length byte).
const maxGroupName = 255

// groupSeq is one group's highest sequence numbers.
type groupSeq struct{ own, peer uint64 }

// noteGroup raises the group of r's address. db.mu held (or recovery).
func (db *DB) noteGroup(r *rec) {
	if db.seqGroup == nil {
		return
	}
	name := db.seqGroup(u32Addr(r.addr))
	if name == "" {
		return
	}
	g := db.groups[name]
	if g == nil {
		g = &groupSeq{}
		db.groups[name] = g
	}
	if r.flags&flagPeer != 0 {
		g.peer = max(g.peer, r.seq)
	} else {
		g.own = max(g.own, r.seq)
	}
}

// GroupSeqs are the highest sequence numbers of the records of the
// group's addresses (Options.SeqGroup): own, of ours (as LastSeq), and
// peer, of the partner's (as PartnerSeq). 0, 0 for a group without any.
func (db *DB) GroupSeqs(group string) (own, peer uint64) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if g := db.groups[group]; g != nil {
		return g.own, g.peer
	}
	return 0, 0
}

// appendGroupFrame appends a group record: groupVersion | own u64 |
// peer u64 | name length u8 | name.
func appendGroupFrame(b []byte, name string, g groupSeq) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, groupVersion)
	b = binary.BigEndian.AppendUint64(b, g.own)
	b = binary.BigEndian.AppendUint64(b, g.peer)
	b = append(b, byte(len(name)))
	b = append(b, name...)
	return sealFrame(b, at)
}

// parseGroup decodes a group record's payload.
func parseGroup(p []byte) (string, groupSeq, error) {
	if len(p) < 18 || p[0] != groupVersion || len(p) != 18+int(p[17]) || p[17] == 0 {
		return "", groupSeq{}, fmt.Errorf("%w: malformed group record (%d bytes)", ErrBadPayload, len(p))
	}
	g := groupSeq{own: binary.BigEndian.Uint64(p[1:]), peer: binary.BigEndian.Uint64(p[9:])}
	return string(p[18:]), g, nil
}

// isGroupRecord says whether a payload is a group record's.
func isGroupRecord(p []byte) bool { return len(p) > 0 && p[0] == groupVersion }

// mergeGroups takes the group records a snapshot held: each raises a
// group some recovered record belongs to (records are never deleted, so
// a group that still covers any address ever written has one); a group
// no current address belongs to is dropped, so that a relationship
// removed from the config does not carry its numbers on.
func (db *DB) mergeGroups(saved map[string]groupSeq) {
	for name, s := range saved {
		if g := db.groups[name]; g != nil {
			g.own, g.peer = max(g.own, s.own), max(g.peer, s.peer)
		}
	}
}

// groupsCopy is the groups at a compaction boundary. db.mu held.
func (db *DB) groupsCopy() map[string]groupSeq {
	if len(db.groups) == 0 {
		return nil
	}
	out := make(map[string]groupSeq, len(db.groups))
	for k, v := range db.groups {
		if len(k) <= maxGroupName {
			out[k] = *v
		}
	}
	return out
}
