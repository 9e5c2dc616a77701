package lease

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net"
	"net/netip"
	"time"
)

// Payload layout constants (doc.go "Record payload").
const (
	payloadVersion = 1   // the first byte of every payload
	payloadFixed   = 43  // bytes before the variable part
	maxHWLen       = 16  // chaddr is 16 bytes (RFC 2131 §2)
	maxVarLen      = 255 // one length byte: client id (RFC 2132 §9.14) and hostname (RFC 2132 §3.14)

	// MaxPayload bounds a record's payload. A frame whose length field
	// says more is corrupt; the decoder checks it before allocating.
	// The largest valid payload is 43+3+16+255+255 = 572 bytes.
	MaxPayload = 1024

	frameHeader = 8 // length u32 | CRC32C u32
)

// payload flag bits; all others must be zero.
const flagPeer = 0x01

// Indexes of rec.t, in payload order.
const (
	tStart = iota
	tExpiry
	tPotential
	tAcked
	tPartner
	tCLTT
	tStateStart
	nTimes
)

// Codec errors. Decoding errors wrap ErrBadPayload with the detail.
var (
	ErrBadPayload = errors.New("lease: bad record payload")
	// ErrInvalid is returned for a lease or argument the database cannot
	// store (not IPv4, bad state, field too long, time out of range).
	ErrInvalid = errors.New("lease: invalid")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rec is the compact in-memory form of a lease (about 72 bytes plus the
// variable bytes), see doc.go "Memory". Times are seconds since the Unix
// epoch, 0 = unset, as the failover protocol carries them
// (draft-ietf-dhc-failover-12 §5.x: 32-bit times), valid until 2106.
type rec struct {
	seq  uint64
	vars string // hardware address | client id | hostname
	t    [nTimes]uint32
	addr uint32
	// prev/next link the rec into its pool's free or backup list; for an
	// ACTIVE lease in the expiry queue prev is its heap index.
	prev, next int32
	state      State
	hwLen      uint8
	cidLen     uint8
	flags      uint8 // flagPeer, plus memFlag bits never written
}

// memory-only flag bits of rec.flags.
const (
	flagLinked  = 0x80 // in a free/backup list or the expiry heap
	payloadMask = flagPeer
)

func (r *rec) hw() string       { return r.vars[:r.hwLen] }
func (r *rec) cid() string      { return r.vars[r.hwLen : int(r.hwLen)+int(r.cidLen)] }
func (r *rec) hostname() string { return r.vars[int(r.hwLen)+int(r.cidLen):] }

// sameState reports whether two recs hold the same lease state (links and
// memory flags aside).
func (r *rec) sameState(o *rec) bool {
	return r.seq == o.seq && r.vars == o.vars && r.t == o.t && r.addr == o.addr &&
		r.state == o.state && r.hwLen == o.hwLen && r.cidLen == o.cidLen &&
		r.flags&payloadMask == o.flags&payloadMask
}

func validState(s State) bool { return s >= StateFree && s <= StateBackup }

// String names the state as the failover draft does.
func (s State) String() string {
	switch s {
	case StateFree:
		return "FREE"
	case StateActive:
		return "ACTIVE"
	case StateExpired:
		return "EXPIRED"
	case StateReleased:
		return "RELEASED"
	case StateAbandoned:
		return "ABANDONED"
	case StateReset:
		return "RESET"
	case StateBackup:
		return "BACKUP"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u32Addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// timeU32 converts a time to the stored form: zero Time -> 0, otherwise
// whole seconds since the Unix epoch (sub-second parts are dropped).
func timeU32(t time.Time) (uint32, error) {
	return secondsU32(t, false)
}

// endU32 is timeU32 for the end of a binding (expiry, potential, acked
// and partner expiries): a sub-second part rounds up to the next second.
// Dropping it would end the lease in the database up to a second before
// the client's lease ends (RFC 2131 §4.4.1: the client counts from its
// request), so the box would expire, or a partner taking over would lack,
// a lease a client still holds (invariants 2 and 3).
func endU32(t time.Time) (uint32, error) {
	return secondsU32(t, true)
}

func secondsU32(t time.Time, up bool) (uint32, error) {
	if t.IsZero() {
		return 0, nil
	}
	u := t.Unix()
	if up && t.Nanosecond() != 0 {
		u++
	}
	if u < 0 || u > math.MaxUint32 {
		return 0, fmt.Errorf("%w: time %s outside 1970..2106", ErrInvalid, t.UTC().Format(time.RFC3339))
	}
	return uint32(u), nil
}

func u32Time(v uint32) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(int64(v), 0).UTC()
}

// Validate reports whether the database can store l, with the error
// Commit and Apply would return (ErrInvalid): an address that is not
// IPv4, a bad state, a field too long, a time outside 1970..2106. It lets
// a caller that builds a lease from someone else's input (the peer link
// converting a partner's record) refuse it where the fault is known.
func (l *Lease) Validate() error {
	_, err := checkLease(l)
	return err
}

// checkLease validates l and returns its times in the stored form.
func checkLease(l *Lease) ([nTimes]uint32, error) {
	var ts [nTimes]uint32
	if !l.Addr.Is4() {
		return ts, fmt.Errorf("%w: address %v is not IPv4", ErrInvalid, l.Addr)
	}
	if !validState(l.State) {
		return ts, fmt.Errorf("%w: %v: state %d", ErrInvalid, l.Addr, uint8(l.State))
	}
	if len(l.HWAddr) > maxHWLen {
		return ts, fmt.Errorf("%w: %v: hardware address of %d bytes (max %d)", ErrInvalid, l.Addr, len(l.HWAddr), maxHWLen)
	}
	if len(l.ClientID) > maxVarLen || len(l.Hostname) > maxVarLen {
		return ts, fmt.Errorf("%w: %v: client id or hostname longer than %d bytes", ErrInvalid, l.Addr, maxVarLen)
	}
	times := [nTimes]time.Time{l.Start, l.Expiry, l.PotentialExpiry, l.AckedExpiry, l.PartnerExpiry, l.CLTT, l.StateStart}
	for i, t := range times {
		conv := timeU32
		switch i {
		case tExpiry, tPotential, tAcked, tPartner:
			conv = endU32
		}
		v, err := conv(t)
		if err != nil {
			return ts, fmt.Errorf("%v: %w", l.Addr, err)
		}
		ts[i] = v
	}
	return ts, nil
}

// toRec validates a lease and converts it to its stored form.
func toRec(l *Lease) (rec, error) {
	var r rec
	ts, err := checkLease(l)
	if err != nil {
		return r, err
	}
	r.t = ts
	r.addr = addrU32(l.Addr)
	r.state = l.State
	r.seq = l.Seq
	if l.Peer {
		r.flags = flagPeer
	}
	r.hwLen = uint8(len(l.HWAddr))
	r.cidLen = uint8(len(l.ClientID))
	r.vars = string(l.HWAddr) + string(l.ClientID) + l.Hostname
	r.prev, r.next = -1, -1
	return r, nil
}

// lease converts the stored form to the public value.
func (r *rec) lease() Lease {
	l := Lease{
		Addr:            u32Addr(r.addr),
		Hostname:        r.hostname(),
		State:           r.state,
		Start:           u32Time(r.t[tStart]),
		Expiry:          u32Time(r.t[tExpiry]),
		PotentialExpiry: u32Time(r.t[tPotential]),
		AckedExpiry:     u32Time(r.t[tAcked]),
		PartnerExpiry:   u32Time(r.t[tPartner]),
		CLTT:            u32Time(r.t[tCLTT]),
		StateStart:      u32Time(r.t[tStateStart]),
		Seq:             r.seq,
		Peer:            r.flags&flagPeer != 0,
	}
	if r.hwLen > 0 {
		l.HWAddr = net.HardwareAddr(r.hw())
	}
	if r.cidLen > 0 {
		l.ClientID = []byte(r.cid())
	}
	return l
}

// payloadLen is the length of r's payload.
func payloadLen(r *rec) int { return payloadFixed + 3 + len(r.vars) }

// appendPayload appends r's payload (doc.go "Record payload").
func appendPayload(b []byte, r *rec) []byte {
	b = append(b, payloadVersion, r.flags&payloadMask, byte(r.state))
	b = binary.BigEndian.AppendUint32(b, r.addr)
	b = binary.BigEndian.AppendUint64(b, r.seq)
	for _, v := range r.t {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, r.hwLen)
	b = append(b, r.hw()...)
	b = append(b, r.cidLen)
	b = append(b, r.cid()...)
	h := r.hostname()
	b = append(b, byte(len(h)))
	return append(b, h...)
}

// parsePayload decodes a payload into r. It checks every bound before it
// reads and never panics; trailing bytes are an error so that every valid
// payload has exactly one encoding.
func parsePayload(p []byte, r *rec) error {
	if len(p) < payloadFixed+3 {
		return fmt.Errorf("%w: %d bytes, need at least %d", ErrBadPayload, len(p), payloadFixed+3)
	}
	if p[0] != payloadVersion {
		return fmt.Errorf("%w: payload version %d, this build reads %d", ErrBadPayload, p[0], payloadVersion)
	}
	if p[1]&^payloadMask != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrBadPayload, p[1])
	}
	st := State(p[2])
	if !validState(st) {
		return fmt.Errorf("%w: state %d", ErrBadPayload, p[2])
	}
	*r = rec{flags: p[1], state: st, prev: -1, next: -1}
	r.addr = binary.BigEndian.Uint32(p[3:7])
	r.seq = binary.BigEndian.Uint64(p[7:15])
	for i := range r.t {
		r.t[i] = binary.BigEndian.Uint32(p[15+4*i:])
	}
	rest := p[payloadFixed:]
	var fields [3][]byte
	pos := 0
	for i := range fields {
		if pos >= len(rest) {
			return fmt.Errorf("%w: truncated variable part", ErrBadPayload)
		}
		n := int(rest[pos])
		pos++
		if i == 0 && n > maxHWLen {
			return fmt.Errorf("%w: hardware address length %d (max %d)", ErrBadPayload, n, maxHWLen)
		}
		if len(rest)-pos < n {
			return fmt.Errorf("%w: field %d of %d bytes overruns the payload", ErrBadPayload, i, n)
		}
		fields[i] = rest[pos : pos+n]
		pos += n
	}
	if pos != len(rest) {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadPayload, len(rest)-pos)
	}
	r.hwLen, r.cidLen = uint8(len(fields[0])), uint8(len(fields[1]))
	r.vars = string(fields[0]) + string(fields[1]) + string(fields[2])
	return nil
}

// MarshalBinary encodes the lease as a record payload (doc.go "Record
// payload"), the unit of the journal and of the replication stream.
func (l Lease) MarshalBinary() ([]byte, error) {
	r, err := toRec(&l)
	if err != nil {
		return nil, err
	}
	return appendPayload(make([]byte, 0, payloadLen(&r)), &r), nil
}

// NewRecord encodes l as a Record, for a state that did not come from
// CommitRecords or ExpireRecords (tests, tools).
func NewRecord(l Lease) (Record, error) {
	r, err := toRec(&l)
	if err != nil {
		return Record{}, err
	}
	return Record{lease: r.lease(), payload: appendPayload(make([]byte, 0, payloadLen(&r)), &r)}, nil
}

// UnmarshalBinary decodes a record payload. Times come back in UTC at
// one-second resolution.
func (l *Lease) UnmarshalBinary(p []byte) error {
	var r rec
	if err := parsePayload(p, &r); err != nil {
		return err
	}
	*l = r.lease()
	return nil
}

// appendFrame appends length | CRC32C | payload for r.
func appendFrame(b []byte, r *rec) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	return sealFrame(appendPayload(b, r), at)
}

// appendPayloadFrame appends length | CRC32C | p for a payload already
// encoded (a record that also goes to the partner).
func appendPayloadFrame(b, p []byte) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	return sealFrame(append(b, p...), at)
}

// sealFrame fills in the header of the frame that starts at b[at:].
func sealFrame(b []byte, at int) []byte {
	n := len(b) - at - frameHeader
	binary.BigEndian.PutUint32(b[at:], uint32(n))
	binary.BigEndian.PutUint32(b[at+4:], frameCRC(b[at:at+4], b[at+frameHeader:]))
	return b
}

// frameCRC is CRC32C over the length field and the payload, so a damaged
// length cannot pair with a payload that happens to check.
func frameCRC(lenField, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, lenField)
	return crc32.Update(c, castagnoli, payload)
}
