package peer

// The payload of each frame type, encoded and decoded (the framing and
// the decoder they share are in frame.go).

import (
	"encoding/binary"
	"fmt"
)

// Role is the configured failover role of a node.
type Role uint8

const (
	Primary   Role = 1
	Secondary Role = 2
)

func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

type hello struct {
	Version uint16
	Role    Role
	Nonce   [nonceLen]byte
	Name    string
}

func (m *hello) marshal() []byte {
	b := binary.BigEndian.AppendUint16(nil, m.Version)
	b = append(b, byte(m.Role))
	b = append(b, m.Nonce[:]...)
	b = append(b, byte(len(m.Name)))
	return append(b, m.Name...)
}

func (m *hello) unmarshal(p []byte) error {
	d := dec{p: p}
	m.Version = d.u16("version")
	if d.err == nil && m.Version != ProtocolVersion {
		// Before the rest: another version may lay its Hello out
		// differently, and the operator must read "version", not
		// "malformed".
		return fmt.Errorf("%w: the partner speaks peer protocol version %d, this box %d: both boxes of a pair must run the same hadhcpd release (upgrade the other box)",
			ErrVersion, m.Version, ProtocolVersion)
	}
	m.Role = Role(d.u8("role"))
	copy(m.Nonce[:], d.bytes(nonceLen, "nonce"))
	m.Name = string(d.short8("name"))
	if err := d.done(); err != nil {
		return err
	}
	if m.Role != Primary && m.Role != Secondary {
		return fmt.Errorf("%w: role %d", ErrBadFrame, m.Role)
	}
	if m.Name == "" {
		return fmt.Errorf("%w: empty node name", ErrBadFrame)
	}
	return nil
}

// sessionMsg is the post-authentication state exchange (FrameSession).
type sessionMsg struct {
	Maintenance bool
	State       uint8  // failover.State value
	Clock       int64  // sender's wall clock, unix ns (skew display only)
	Epoch       uint64 // the sender's stream epoch
	LastSeq     uint64 // the sender's Store.LastSeq
	HeldSeq     uint64 // Store.PartnerSeq: the highest of the receiver's sequence numbers the sender holds
	AckedEpoch  uint64 // the receiver's stream epoch the sender holds completely; 0 = none
	AckedSeq    uint64 // the position in that stream the sender has applied up to
	ConfigHash  []byte
	Params      []byte // Options.Params
}

func (m *sessionMsg) marshal() []byte {
	var fl byte
	if m.Maintenance {
		fl = 1
	}
	b := []byte{fl, m.State}
	b = binary.BigEndian.AppendUint64(b, uint64(m.Clock))
	for _, v := range []uint64{m.Epoch, m.LastSeq, m.HeldSeq, m.AckedEpoch, m.AckedSeq} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = append(b, byte(len(m.ConfigHash)))
	b = append(b, m.ConfigHash...)
	b = append(b, byte(len(m.Params)))
	return append(b, m.Params...)
}

func (m *sessionMsg) unmarshal(p []byte) error {
	d := dec{p: p}
	fl := d.u8("flags")
	m.Maintenance = fl&1 != 0
	m.State = d.u8("state")
	m.Clock = int64(d.u64("clock"))
	m.Epoch = d.u64("epoch")
	m.LastSeq = d.u64("lastSeq")
	m.HeldSeq = d.u64("heldSeq")
	m.AckedEpoch = d.u64("ackedEpoch")
	m.AckedSeq = d.u64("ackedSeq")
	m.ConfigHash = d.short8("config hash")
	m.Params = d.short8("params")
	if err := d.done(); err != nil {
		return err
	}
	if fl&^1 != 0 {
		return fmt.Errorf("%w: unknown session flags %#x", ErrBadFrame, fl)
	}
	if m.Epoch == 0 {
		return fmt.Errorf("%w: stream epoch 0", ErrBadFrame)
	}
	return nil
}

func marshalState(state uint8, maint bool) []byte {
	var fl byte
	if maint {
		fl = 1
	}
	return []byte{state, fl}
}

func unmarshalState(p []byte) (state uint8, maint bool, err error) {
	d := dec{p: p}
	state = d.u8("state")
	fl := d.u8("flags")
	if err := d.done(); err != nil {
		return 0, false, err
	}
	if fl&^1 != 0 {
		return 0, false, fmt.Errorf("%w: unknown state flags %#x", ErrBadFrame, fl)
	}
	return state, fl&1 != 0, nil
}

func marshalU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func unmarshalU64(p []byte, what string) (uint64, error) {
	d := dec{p: p}
	v := d.u64(what)
	return v, d.done()
}

const (
	streamResume   = 0
	streamSnapshot = 1
)

type stream struct {
	Mode  uint8
	Epoch uint64
	Pos   uint64
}

func (m *stream) marshal() []byte {
	b := []byte{m.Mode}
	b = binary.BigEndian.AppendUint64(b, m.Epoch)
	return binary.BigEndian.AppendUint64(b, m.Pos)
}

func (m *stream) unmarshal(p []byte) error {
	d := dec{p: p}
	m.Mode = d.u8("mode")
	m.Epoch = d.u64("epoch")
	m.Pos = d.u64("pos")
	if err := d.done(); err != nil {
		return err
	}
	if m.Mode > streamSnapshot {
		return fmt.Errorf("%w: stream mode %d", ErrBadFrame, m.Mode)
	}
	if m.Epoch == 0 {
		return fmt.Errorf("%w: stream epoch 0", ErrBadFrame)
	}
	return nil
}

// records is the body shared by FrameUpdate and FrameSnapPage.
type records struct {
	Clock int64 // the sender's wall clock when it wrote the frame, unix ns
	Recs  [][]byte
}

func appendRecords(b []byte, clock int64, recs [][]byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(clock))
	b = binary.BigEndian.AppendUint16(b, uint16(len(recs)))
	for _, r := range recs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(r)))
		b = append(b, r...)
	}
	return b
}

func (m *records) decode(d *dec) {
	m.Clock = int64(d.u64("clock"))
	n := d.u16("count")
	if d.err != nil {
		return
	}
	// Each record takes at least 2 bytes: cap the allocation by what the
	// payload can hold, not by the count field.
	m.Recs = make([][]byte, 0, min(int(n), len(d.p)/2))
	for range n {
		l := d.u16("record length")
		if d.err == nil && (l == 0 || l > maxRecordLen) {
			d.err = fmt.Errorf("%w: record of %d bytes", ErrBadFrame, l)
		}
		r := d.bytes(int(l), "record")
		if d.err != nil {
			return
		}
		m.Recs = append(m.Recs, r)
	}
}

func (m *records) unmarshal(p []byte) error {
	d := dec{p: p}
	m.decode(&d)
	return d.done()
}

type snapPage struct {
	Page uint32
	Last bool
	records
}

func appendSnapPage(b []byte, page uint32, last bool, clock int64, recs [][]byte) []byte {
	b = binary.BigEndian.AppendUint32(b, page)
	var fl byte
	if last {
		fl = 1
	}
	b = append(b, fl)
	return appendRecords(b, clock, recs)
}

func (m *snapPage) unmarshal(p []byte) error {
	d := dec{p: p}
	m.Page = d.u32("page")
	fl := d.u8("flags")
	if d.err == nil && fl&^1 != 0 {
		return fmt.Errorf("%w: unknown page flags %#x", ErrBadFrame, fl)
	}
	m.Last = fl&1 != 0
	m.decode(&d)
	return d.done()
}

func unmarshalU32(p []byte, what string) (uint32, error) {
	d := dec{p: p}
	v := d.u32(what)
	return v, d.done()
}

type configMsg struct {
	Hash   []byte
	Config []byte
}

func (m *configMsg) marshal() []byte {
	b := append([]byte{byte(len(m.Hash))}, m.Hash...)
	return append(b, m.Config...)
}

func (m *configMsg) unmarshal(p []byte) error {
	d := dec{p: p}
	m.Hash = d.short8("hash")
	if d.err != nil {
		return d.err
	}
	m.Config = d.p
	return nil
}

type verdict struct {
	Accepted bool
	Hash     []byte
	Reason   string
}

func (m *verdict) marshal() []byte {
	var a byte
	if m.Accepted {
		a = 1
	}
	b := []byte{a, byte(len(m.Hash))}
	b = append(b, m.Hash...)
	r := m.Reason
	if len(r) > 1024 {
		r = r[:1024]
	}
	return append(b, r...)
}

func (m *verdict) unmarshal(p []byte) error {
	d := dec{p: p}
	a := d.u8("accepted")
	m.Hash = d.short8("hash")
	if d.err != nil {
		return d.err
	}
	if a > 1 {
		return fmt.Errorf("%w: accepted %d", ErrBadFrame, a)
	}
	m.Accepted = a == 1
	m.Reason = string(d.p)
	return nil
}
