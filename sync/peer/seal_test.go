package peer

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Frames after a PSK handshake travel in sealed records (crypto.go).

func testAEAD(t *testing.T) cipher.AEAD {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// records splits a sealed stream into its records.
func splitRecords(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			t.Fatalf("%d bytes after the last record", len(b))
		}
		n := int(binary.BigEndian.Uint32(b)) + recordHeaderLen
		if n > len(b) {
			t.Fatalf("a record of %d bytes with %d left: not a sealed stream", n, len(b))
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out
}

func TestSealOpen(t *testing.T) {
	a := testAEAD(t)
	big := bytes.Repeat([]byte("lease "), maxRecordPlain/3) // spans records
	frames := appendFrame(appendFrame(nil, FrameAck, marshalU64(7)), FrameConfig, big)
	tx := &sealer{aead: a}
	wire := bytes.Clone(tx.seal([]byte("plain"), frames[:100]))
	if !bytes.HasPrefix(wire, []byte("plain")) {
		t.Fatal("the plain prefix is not sent first, as it is")
	}
	wire = append(wire[len("plain"):], tx.seal(nil, frames[100:])...)
	recs := splitRecords(t, wire)
	if len(recs) < 3 {
		t.Fatalf("%d records for %d bytes, want the big frame split", len(recs), len(frames))
	}
	if bytes.Contains(wire, []byte("lease lease")) {
		t.Error("plaintext on the wire")
	}
	open := func(w []byte) ([]byte, error) {
		fr := newHandshakeReader(bytes.NewReader(w))
		fr.open(a)
		var got []byte
		for {
			ft, p, err := fr.readFrame()
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				return got, err
			}
			got = appendFrame(got, ft, p)
		}
	}
	if got, err := open(wire); err != nil || !bytes.Equal(got, frames) {
		t.Fatalf("round trip: %d bytes, %v; want %d bytes", len(got), err, len(frames))
	}
	flipped := bytes.Clone(wire)
	flipped[len(recs[0])+10] ^= 1
	replayed := append(bytes.Clone(wire[:len(recs[0])]), wire...)
	reordered := append(append(append([]byte(nil), recs[1]...), recs[0]...), bytes.Join(recs[2:], nil)...)
	dropped := bytes.Join(recs[1:], nil)
	for name, w := range map[string][]byte{
		"flipped bit": flipped, "replayed record": replayed, "reordered records": reordered, "dropped record": dropped,
		"huge length": {0x7f, 0, 0, 0}, "empty record": {0, 0, 0, 0},
	} {
		if _, err := open(w); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
}

func TestSessionKeysPerSessionAndDirection(t *testing.T) {
	a := &hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{1}}
	b := &hello{Version: ProtocolVersion, Role: Secondary, Name: "gw2", Nonce: [32]byte{2}}
	i2r, r2i, err := sessionKeys(testKey, a, b)
	if err != nil {
		t.Fatal(err)
	}
	c := *b
	c.Nonce[0] = 3
	other, _, err := sessionKeys(testKey, a, &c)
	if err != nil {
		t.Fatal(err)
	}
	sealed := (&sealer{aead: i2r}).seal(nil, []byte("update"))
	for name, aead := range map[string]cipher.AEAD{"other direction": r2i, "other session": other} {
		fr := newHandshakeReader(bytes.NewReader(sealed))
		fr.open(aead)
		if _, _, err := fr.readFrame(); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s's key opened the record: %v", name, err)
		}
	}
}

// mitm relays a session between two loopback TCP connections, records
// what the primary sends, and lets the test inject bytes into the
// secondary's stream between the primary's writes.
type mitm struct {
	mu      sync.Mutex // held while a chunk is written towards the secondary
	toSec   net.Conn
	capture bytes.Buffer // everything the primary sent
}

func newMITM(t *testing.T, p, s *node) *mitm {
	t.Helper()
	pa, pb := tcpPair(t) // primary - proxy
	sa, sb := tcpPair(t) // proxy - secondary
	m := &mitm{toSec: sa}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := pb.Read(buf)
			if n > 0 {
				m.mu.Lock()
				m.capture.Write(buf[:n])
				_, werr := sa.Write(buf[:n])
				m.mu.Unlock()
				if werr != nil {
					return
				}
			}
			if err != nil {
				sa.Close()
				return
			}
		}
	})
	wg.Go(func() { _, _ = io.Copy(pb, sa); pb.Close() })
	cut := connectConns(t, p, s, pa, sb)
	t.Cleanup(func() { cut(); pb.Close(); sa.Close(); wg.Wait() })
	return m
}

func (m *mitm) inject(t *testing.T, b []byte) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.toSec.Write(b); err != nil {
		t.Fatal(err)
	}
}

// lastRecord is the last sealed record the primary sent.
func (m *mitm) lastRecord(t *testing.T) []byte {
	t.Helper()
	m.mu.Lock()
	b := bytes.Clone(m.capture.Bytes())
	m.mu.Unlock()
	for range 2 { // Hello and Auth, unsealed
		b = b[frameHeaderLen+int(binary.BigEndian.Uint32(b[1:])):]
	}
	recs := splitRecords(t, b)
	return recs[len(recs)-1]
}

// TestPSKInjectedRecordRejected: whoever sits on the path of a PSK link
// cannot add a lease record to the partner's database: the injected
// bytes fail to open, the secondary drops the session and counts it.
func TestPSKInjectedRecordRejected(t *testing.T) {
	forged := func(clock time.Time) []byte {
		l := lease.Lease{
			Addr: mustAddr(99), HWAddr: net.HardwareAddr{0xba, 0xd0, 0, 0, 0, 0x99}, State: lease.StateActive,
			Start: clock.Truncate(time.Second), Expiry: clock.Add(time.Hour).Truncate(time.Second), Seq: 1000,
		}
		p, err := l.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return appendFrame(nil, FrameUpdate, appendRecords(nil, clock.UnixNano(), [][]byte{p}))
	}
	for _, tc := range []struct {
		name  string
		bytes func(m *mitm, now time.Time) []byte
	}{
		// What worked before records were sealed: a plain Update frame.
		{"plain update frame", func(_ *mitm, now time.Time) []byte { return forged(now) }},
		// A well-framed record sealed with a key that is not the session's.
		{"record sealed with another key", func(_ *mitm, now time.Time) []byte {
			return bytes.Clone((&sealer{aead: testAEAD(t)}).seal(nil, forged(now)))
		}},
		// The primary's own last record, sent again.
		{"replayed record", func(m *mitm, _ time.Time) []byte { return m.lastRecord(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			p := newNode(t, "gw1", Primary, clock, nil)
			s := newNode(t, "gw2", Secondary, clock, nil)
			m := newMITM(t, p, s)
			waitFor[ResyncDone](t, s.events)
			if err := p.l.Replicate(context.Background(), p.store.commit(t, 7, clock.Now())); err != nil {
				t.Fatal(err)
			}
			waitNothingPending(t, p.l)
			waitNothingPending(t, s.l)
			m.mu.Lock()
			readable := bytes.Contains(m.capture.Bytes(), []byte{0, 0x11, 0x22, 0x33, 0, 7})
			m.mu.Unlock()
			if readable {
				t.Error("a replicated lease's hardware address is readable on the wire")
			}

			m.inject(t, tc.bytes(m, clock.Now()))
			down := waitFor[Down](t, s.events)
			if !errors.Is(down.Reason, ErrIntegrity) {
				t.Errorf("secondary's Down reason %v, want ErrIntegrity", down.Reason)
			}
			if _, ok := s.store.Get(mustAddr(99)); ok {
				t.Error("the injected lease was stored")
			}
			if _, ok := s.store.Get(mustAddr(7)); !ok {
				t.Error("the primary's real lease is missing")
			}
			if got := counterValue(t, s.l.m.Integrity); got != 1 {
				t.Errorf("integrity_failures_total = %v, want 1", got)
			}
		})
	}
}

// TestPSKResponderProvesLast: a dialer without the key gets no proof to
// test guesses against: the secondary sends nothing after its Hello
// until the dialer proved itself, and on a wrong proof it hangs up.
func TestPSKResponderProvesLast(t *testing.T) {
	sec := newNode(t, "gw2", Secondary, newFakeClock(), nil)
	sc, errc := startScripted(t, sec)
	their := hello{}
	if err := their.unmarshal(sc.read(FrameHello)); err != nil {
		t.Fatal(err)
	}
	me := hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{4}}
	sc.write(FrameHello, me.marshal())
	sc.write(FrameAuth, authMAC([]byte("a guess at the key, 32 bytes lng"), &me, &their))
	rest, _ := io.ReadAll(sc.c)
	if len(rest) != 0 {
		t.Errorf("the responder sent %d bytes after its Hello to a dialer with a wrong proof", len(rest))
	}
	if err := recvErr(t, errc); !errors.Is(err, ErrAuth) {
		t.Errorf("HandleConn = %v, want ErrAuth", err)
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("auth")); got != 1 {
		t.Errorf("refused_peers_total{reason=auth} = %v, want 1", got)
	}
}

func TestVersionMismatchRefused(t *testing.T) {
	sec := newNode(t, "gw2", Secondary, newFakeClock(), nil)
	sc, errc := startScripted(t, sec)
	sc.read(FrameHello)
	// A Hello of version 1 (the layout this version shares).
	old := (&hello{Version: 1, Role: Primary, Name: "gw1", Nonce: [32]byte{4}}).marshal()
	sc.write(FrameHello, old)
	err := recvErr(t, errc)
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "same hadhcpd release") {
		t.Errorf("HandleConn = %v, want ErrVersion saying both boxes must run the same release", err)
	}
	if got := counterValue(t, sec.l.m.Refused.WithLabelValues("version")); got != 1 {
		t.Errorf("refused_peers_total{reason=version} = %v, want 1", got)
	}
}

// BenchmarkSealOpen: sealing and opening the replication stream, per
// byte (b.SetBytes): what PSK mode adds to each update frame.
func BenchmarkSealOpen(b *testing.B) {
	k := make([]byte, 32)
	blk, _ := aes.NewCipher(k)
	a, _ := cipher.NewGCM(blk)
	frame := appendFrame(nil, FrameUpdate, make([]byte, 16<<10))
	tx := &sealer{aead: a}
	var wire bytes.Buffer
	o := newOpener(&wire, a)
	buf := make([]byte, len(frame))
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		wire.Write(tx.seal(nil, frame))
		if _, err := io.ReadFull(o, buf); err != nil {
			b.Fatal(err)
		}
	}
}
