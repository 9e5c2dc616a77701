package peer

import (
	"bufio"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version of the peer protocol carried in Hello.
// Both ends must speak the same one; a mismatch is refused with
// ErrVersion (there is no downgrade: the two boxes of a pair run the same
// release, and a rolling upgrade restarts one box at a time with the
// other serving alone).
//
// History:
//
//	1: the first version.
//	2: the PSK handshake's initiator (the dialer) proves its key first,
//	   and every byte after the handshake travels in sealed records
//	   (crypto.go); the TLS mode is unchanged.
//	3: the session frame carries the pair parameters (Options.Params);
//	   FrameParams.
//	4: FrameDefaults (global dhcp defaults from a named source, flooded
//	   over every relationship's link, from either end).
const ProtocolVersion = 4

// FrameType is the first byte of every frame.
type FrameType uint8

// Frame types and their payload layouts (all integers big-endian; doc.go
// "Frames" has the protocol flow). A frame is
//
//	type u8 | length u32 | payload (length bytes)
const (
	// FrameHello opens a connection, from both ends, before anything else.
	//   version u16 | role u8 | nonce [32] | nameLen u8 | name
	FrameHello FrameType = 1
	// FrameAuth is the PSK proof of the sender (absent with TLS), the
	// initiator's first; every byte after both is in sealed records.
	//   mac [32]  HMAC-SHA256(key, authTranscript(sender, receiver))
	FrameAuth FrameType = 2
	// FrameSession follows authentication, from both ends.
	//   flags u8 (bit 0 maintenance) | state u8 | clock i64 (unix ns)
	//   | epoch u64 | lastSeq u64 | heldSeq u64 | ackedEpoch u64 | ackedSeq u64
	//   | hashLen u8 | configHash
	FrameSession FrameType = 3
	// FrameHeartbeat keeps the link alive.
	//   clock i64 (sender's unix ns, for the skew display only)
	FrameHeartbeat FrameType = 4
	// FrameState announces a new failover state.
	//   state u8 | flags u8 (bit 0 maintenance)
	FrameState FrameType = 5
	// FrameStream says how the sender's stream continues in this session.
	//   mode u8 (0 resume, 1 snapshot) | epoch u64 | pos u64
	FrameStream FrameType = 6
	// FrameUpdate carries lease records of the sender's stream.
	//   clock i64 | count u16 | count × (len u16 | lease record payload)
	FrameUpdate FrameType = 7
	// FrameAck acknowledges, cumulatively, every update of the receiver's
	// stream up to and including the one with this sequence number.
	//   seq u64
	FrameAck FrameType = 8
	// FrameSnapPage is one page of a snapshot.
	//   page u32 | flags u8 (bit 0 last) | clock i64 | count u16
	//   | count × (len u16 | lease record payload)
	FrameSnapPage FrameType = 9
	// FrameSnapAck acknowledges a snapshot page once it is applied.
	//   page u32
	FrameSnapAck FrameType = 10
	// FrameSyncDone: every record the sender held when the session began
	// is now before this frame in the stream.
	//   (empty)
	FrameSyncDone FrameType = 11
	// FrameConfig carries the primary's dhcp: section.
	//   hashLen u8 | hash | config (the rest)
	FrameConfig FrameType = 12
	// FrameConfigVerdict answers FrameConfig.
	//   accepted u8 | hashLen u8 | hash | reason (the rest, UTF-8)
	FrameConfigVerdict FrameType = 13
	// FrameParams carries the primary's pair parameters again after a
	// reload changed them (Options.Params; the handshake carries them
	// first); the secondary checks and takes them (Options.CheckParams).
	//   params (the whole payload, at most 255 bytes)
	FrameParams FrameType = 14
	// FrameDefaults carries the global dhcp defaults of a named source
	// (failover.defaults_from), from either end, on connect and whenever
	// the sender adopts or publishes a newer set (defaults.go).
	//   serial u64 | sourceLen u8 | source | hashLen u8 | hash | body (the rest)
	FrameDefaults FrameType = 15
)

var frameNames = map[FrameType]string{
	FrameHello: "hello", FrameAuth: "auth", FrameSession: "session", FrameHeartbeat: "heartbeat",
	FrameState: "state", FrameStream: "stream", FrameUpdate: "update", FrameAck: "ack",
	FrameSnapPage: "snap-page", FrameSnapAck: "snap-ack", FrameSyncDone: "sync-done",
	FrameConfig: "config", FrameConfigVerdict: "config-verdict", FrameParams: "params",
	FrameDefaults: "defaults",
}

func (t FrameType) String() string {
	if n, ok := frameNames[t]; ok {
		return n
	}
	return fmt.Sprintf("frame(%d)", uint8(t))
}

const (
	frameHeaderLen = 5
	// MaxFrameLen bounds a frame's payload; the reader checks the length
	// field against it (and against the type's own bound) before it
	// allocates anything (derp readFrame).
	MaxFrameLen = 1 << 20
	// maxConfigLen bounds a config frame (a dhcp: section of thousands of
	// reservations fits easily).
	maxConfigLen = MaxFrameLen
	// maxRecordLen is lease.MaxPayload; a record longer than that cannot
	// decode.
	maxRecordLen = 1024
	// nonceLen and macLen: 256-bit nonces and HMAC-SHA256 outputs.
	nonceLen = 32
	macLen   = 32
	maxHash  = 255
	// maxParams bounds Options.Params.
	maxParams = 255
)

// Errors of the frame codec. Decoding errors wrap ErrBadFrame.
var (
	ErrBadFrame  = errors.New("peer: malformed frame")
	ErrFrameSize = errors.New("peer: frame too large")
	ErrVersion   = errors.New("peer: protocol version mismatch")
)

// maxLen is the largest payload a frame of type t may carry; 0 for a type
// this version does not know (refused on its header, see readFrame).
func maxLen(t FrameType) uint32 {
	switch t {
	case FrameHello:
		return 2 + 1 + nonceLen + 1 + 255
	case FrameAuth:
		return macLen
	case FrameSession:
		return 1 + 1 + 8 + 5*8 + 1 + maxHash + 1 + maxParams
	case FrameHeartbeat:
		return 8
	case FrameState:
		return 2
	case FrameStream:
		return 1 + 8 + 8
	case FrameUpdate, FrameSnapPage:
		return MaxFrameLen
	case FrameAck:
		return 8
	case FrameSnapAck:
		return 4
	case FrameSyncDone:
		return 0
	case FrameConfig:
		return maxConfigLen
	case FrameConfigVerdict:
		return 1 + 1 + maxHash + 1024
	case FrameParams:
		return maxParams
	case FrameDefaults:
		return maxConfigLen
	}
	return 0
}

// frameReader reads frames with a sticky error: after the first failure
// every call returns it (insomniacslk's uio buffer, derp's reader).
//
// Until open is called it reads straight from the connection, without a
// buffer: before the partner has proved its key, a connection may cost
// no more than the handshake frame it is expected to send (invariant 8),
// and unbuffered reads take nothing beyond that frame, so the buffered
// reader that open puts in place (opening sealed records after a PSK
// handshake, crypto.go) loses nothing.
type frameReader struct {
	src  io.Reader
	r    io.Reader   // nil until open
	more func() bool // whether r holds input already read
	err  error
	h    [frameHeaderLen]byte
}

// newFrameReader returns an open reader (the tests' scripted partners).
func newFrameReader(r io.Reader) *frameReader {
	fr := newHandshakeReader(r)
	fr.open(nil)
	return fr
}

// newHandshakeReader returns a reader for a connection whose partner has
// not proved its key yet; open it once it has.
func newHandshakeReader(r io.Reader) *frameReader { return &frameReader{src: r} }

// open puts the read buffer in place: the partner is authenticated, and
// the replication stream wants few large reads. With aead (PSK) the rest
// of the stream is sealed records, opened with it.
func (fr *frameReader) open(aead cipher.AEAD) {
	if fr.r != nil {
		return
	}
	if aead != nil {
		o := newOpener(fr.src, aead)
		fr.r, fr.more = o, o.buffered
		return
	}
	b := bufio.NewReaderSize(fr.src, 64<<10)
	fr.r, fr.more = b, func() bool { return b.Buffered() > 0 }
}

func (fr *frameReader) in() io.Reader {
	if fr.r != nil {
		return fr.r
	}
	return fr.src
}

// readFrame returns the next frame. The payload is freshly allocated, after
// its length was checked against the type's bound.
func (fr *frameReader) readFrame() (FrameType, []byte, error) { return fr.next(0) }

// readExpected returns the payload of the next frame, which must be of
// type want: a length over want's bound (ErrFrameSize), or any other type
// (ErrProtocol), is refused on the header, before anything is allocated
// for the payload. The handshake reads with it, so an unauthenticated
// peer cannot make us allocate more than the frame we expect from it.
func (fr *frameReader) readExpected(want FrameType) ([]byte, error) {
	_, p, err := fr.next(want)
	return p, err
}

// next reads one frame; want 0 takes any type.
func (fr *frameReader) next(want FrameType) (FrameType, []byte, error) {
	if fr.err != nil {
		return 0, nil, fr.err
	}
	h := fr.h[:]
	if _, err := io.ReadFull(fr.in(), h); err != nil {
		fr.err = err
		return 0, nil, err
	}
	t := FrameType(h[0])
	n := binary.BigEndian.Uint32(h[1:])
	switch {
	case want != 0 && n > maxLen(want):
		fr.err = fmt.Errorf("%w: %v frame of %d bytes where a %v frame of at most %d is due", ErrFrameSize, t, n, want, maxLen(want))
		return 0, nil, fr.err
	case want != 0 && t != want:
		fr.err = fmt.Errorf("%w: got %v frame, want %v", ErrProtocol, t, want)
		return 0, nil, fr.err
	case n > MaxFrameLen || n > maxLen(t):
		fr.err = fmt.Errorf("%w: %v frame of %d bytes", ErrFrameSize, t, n)
		return 0, nil, fr.err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(fr.in(), p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		fr.err = err
		return 0, nil, err
	}
	return t, p, nil
}

// buffered reports whether more input is already buffered: the receiver
// acks once per read burst, when this is false.
func (fr *frameReader) buffered() bool { return fr.more != nil && fr.more() }

// appendFrame appends a frame header and payload.
func appendFrame(b []byte, t FrameType, payload []byte) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// dec is a bounds-checked payload decoder with a sticky error.
type dec struct {
	p   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: short %s", ErrBadFrame, what)
	}
	d.p = nil
}

func (d *dec) bytes(n int, what string) []byte {
	if d.err != nil || n > len(d.p) {
		d.fail(what)
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}

func (d *dec) u8(what string) uint8 {
	if b := d.bytes(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *dec) u16(what string) uint16 {
	if b := d.bytes(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *dec) u32(what string) uint32 {
	if b := d.bytes(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *dec) u64(what string) uint64 {
	if b := d.bytes(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// short8 reads a u8 length and that many bytes.
func (d *dec) short8(what string) []byte {
	n := d.u8(what)
	return d.bytes(int(n), what)
}

// done fails on trailing bytes: every message has one encoding.
func (d *dec) done() error {
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrBadFrame, len(d.p))
	}
	return d.err
}
