// Package defaults decides which version of the global dhcp: defaults a
// box serves (failover.defaults_from): the named source's own, newest
// first, flooded over the relationships' sync links. It is pure: no I/O,
// no clock; the agent carries the sets over the links, applies the one in
// force and keeps it in node.state_dir.
//
// A set is {source, serial, hash, body}: the source's node name, a serial
// that only grows (the source's generation, bumped whenever its global
// keys change and kept in its state_dir), the SHA-256 of the body, and the
// body (the global keys, encoded by the agent). The rules:
//
//   - a box takes a set only from the source it names, and only a serial
//     newer than the one in force; an older or equal serial is ignored,
//     so a set goes round a ring once: each box forwards a set to its
//     partners only when it adopts it, and adopts each serial once
//     (flooding ends after at most one frame per link and direction per
//     serial);
//   - the source never adopts: its own file's keys are in force. A set
//     naming it with a serial at or past its own (its state_dir was lost,
//     so its count restarted) makes it jump past that serial and send its
//     own again, so the boxes holding the old count take it.
//   - a set whose hash is not its body's, or with no source or serial 0,
//     is ignored.
package defaults

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// Set is one version of the global defaults.
type Set struct {
	Source string `json:"source"`
	Serial uint64 `json:"serial"`
	Hash   []byte `json:"hash"`
	Body   []byte `json:"body"`
}

// HashOf is the hash a set carries for body.
func HashOf(body []byte) []byte {
	h := sha256.Sum256(body)
	return h[:]
}

// ErrInvalid: a set without a source or serial, or whose hash is not its
// body's.
var ErrInvalid = errors.New("defaults: invalid set")

// Check reports why s is not a well-formed set.
func (s Set) Check() error {
	switch {
	case s.Source == "" || len(s.Source) > 255:
		return fmt.Errorf("%w: source name of %d bytes", ErrInvalid, len(s.Source))
	case s.Serial == 0:
		return fmt.Errorf("%w: serial 0", ErrInvalid)
	case !bytes.Equal(HashOf(s.Body), s.Hash):
		return fmt.Errorf("%w: the hash is not its body's", ErrInvalid)
	}
	return nil
}

// Verdict is what Offer did with a set.
type Verdict uint8

const (
	// Adopted: newer, from the source: now in force; forward it to every
	// partner (the one it came from drops it: the same serial).
	Adopted Verdict = iota + 1
	// Same: the serial and hash in force already.
	Same
	// Older: a serial older than the one in force.
	Older
	// WrongSource: not from the node this box names.
	WrongSource
	// Conflict: the serial in force with another hash (a source that lost
	// its state_dir and has not yet heard of its old count); ignored until
	// the source jumps past it.
	Conflict
	// Invalid: Check failed.
	Invalid
	// Reclaimed (on the source): a serial of ours at or past our own; ours
	// now exceeds it: send ours to every partner.
	Reclaimed
)

var verdictNames = [...]string{"", "adopted", "same", "older", "wrong-source", "conflict", "invalid", "reclaimed"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) && v != 0 {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Forward reports whether the set Offer returned goes out to the
// partners.
func (v Verdict) Forward() bool { return v == Adopted || v == Reclaimed }

// Book is one box's view: which node is the source, and the set in force
// (none until the box adopted one: its own file's keys serve then). Not
// safe for concurrent use.
type Book struct {
	self, source string
	cur          *Set
}

// New is the book of node self, which takes defaults from source.
func New(self, source string) *Book { return &Book{self: self, source: source} }

// IsSource reports whether this box is the source.
func (b *Book) IsSource() bool { return b.self == b.source }

// Source is the node named as the source.
func (b *Book) Source() string { return b.source }

// Current is the set in force (the source's own once published).
func (b *Book) Current() (Set, bool) {
	if b.cur == nil {
		return Set{}, false
	}
	return *b.cur, true
}

// Restore puts a set kept in state_dir in force at start: on the source
// its serial (Publish counts on from it), elsewhere the adopted set. A
// set of another source (failover.defaults_from changed since) or not
// well formed is refused.
func (b *Book) Restore(s Set) error {
	if err := s.Check(); err != nil {
		return err
	}
	if s.Source != b.source {
		return fmt.Errorf("defaults: kept set is from %q, failover.defaults_from is %q", s.Source, b.source)
	}
	b.cur = &s
	return nil
}

// Publish (the source) puts its own body in force: a body whose hash
// differs from the one in force gets the next serial; changed says so
// (the set must then be kept and sent).
func (b *Book) Publish(body []byte) (s Set, changed bool) {
	h := HashOf(body)
	if b.cur != nil && bytes.Equal(b.cur.Hash, h) {
		return *b.cur, false
	}
	var serial uint64 = 1
	if b.cur != nil {
		serial = b.cur.Serial + 1
	}
	b.cur = &Set{Source: b.self, Serial: serial, Hash: h, Body: bytes.Clone(body)}
	return *b.cur, true
}

// Offer weighs a set a partner sent. With Adopted the set is in force and
// out is it; with Reclaimed (the source) out is the source's own set with
// its new serial. Either way out goes to the partners (Verdict.Forward);
// every other verdict changes nothing.
func (b *Book) Offer(in Set) (v Verdict, out Set) {
	if in.Check() != nil {
		return Invalid, Set{}
	}
	if in.Source != b.source {
		return WrongSource, Set{}
	}
	if b.IsSource() {
		if b.cur == nil || in.Serial < b.cur.Serial || (in.Serial == b.cur.Serial && bytes.Equal(in.Hash, b.cur.Hash)) {
			return Same, Set{}
		}
		b.cur.Serial = in.Serial + 1
		return Reclaimed, *b.cur
	}
	if b.cur != nil {
		switch {
		case in.Serial < b.cur.Serial:
			return Older, Set{}
		case in.Serial == b.cur.Serial && bytes.Equal(in.Hash, b.cur.Hash):
			return Same, Set{}
		case in.Serial == b.cur.Serial:
			return Conflict, Set{}
		}
	}
	in.Hash, in.Body = bytes.Clone(in.Hash), bytes.Clone(in.Body)
	b.cur = &in
	return Adopted, in
}

// Encode is the state_dir form of a set.
func Encode(s Set) ([]byte, error) { return json.Marshal(s) }

// Decode reads Encode's form; the set must be well formed.
func Decode(b []byte) (Set, error) {
	var s Set
	if err := json.Unmarshal(b, &s); err != nil {
		return Set{}, fmt.Errorf("defaults: %w", err)
	}
	return s, s.Check()
}
