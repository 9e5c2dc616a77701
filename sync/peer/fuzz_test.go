package peer

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func FuzzFrameReader(f *testing.F) {
	f.Add(appendFrame(appendFrame(nil, FrameAck, marshalU64(3)), FrameSyncDone, nil))
	f.Add([]byte{byte(FrameUpdate), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := newFrameReader(bytes.NewReader(b))
		for range 100 {
			ft, p, err := fr.readFrame()
			if err != nil {
				if _, _, err2 := fr.readFrame(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if uint32(len(p)) > maxLen(ft) {
				t.Fatalf("%v frame of %d bytes passed", ft, len(p))
			}
		}
	})
}

func FuzzFrameHello(f *testing.F) {
	f.Add((&hello{Version: ProtocolVersion, Role: Primary, Name: "gw1"}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h hello
		if h.unmarshal(b) != nil {
			return
		}
		if got := h.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}

func FuzzFrameSession(f *testing.F) {
	f.Add((&sessionMsg{Epoch: 1, State: 2, ConfigHash: []byte("h")}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m sessionMsg
		if m.unmarshal(b) != nil {
			return
		}
		if got := m.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}

func FuzzFrameStream(f *testing.F) {
	f.Add((&stream{Mode: streamSnapshot, Epoch: 1, Pos: 9}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m stream
		if m.unmarshal(b) != nil {
			return
		}
		if got := m.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}

func FuzzFrameUpdate(f *testing.F) {
	f.Add(appendRecords(nil, 5, [][]byte{{1, 2}, {3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m records
		if m.unmarshal(b) != nil {
			return
		}
		if got := appendRecords(nil, m.Clock, m.Recs); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}

func FuzzFrameSnapPage(f *testing.F) {
	f.Add(appendSnapPage(nil, 3, true, 5, [][]byte{{1, 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m snapPage
		if m.unmarshal(b) != nil {
			return
		}
		if got := appendSnapPage(nil, m.Page, m.Last, m.Clock, m.Recs); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}

func FuzzFrameState(f *testing.F) {
	f.Add(marshalState(2, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, m, err := unmarshalState(b)
		if err == nil && !bytes.Equal(marshalState(s, m), b) {
			t.Fatalf("round trip %x", b)
		}
	})
}

func FuzzFrameConfig(f *testing.F) {
	f.Add((&configMsg{Hash: []byte("h"), Config: []byte("dhcp: {}")}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m configMsg
		if m.unmarshal(b) == nil && !bytes.Equal(m.marshal(), b) {
			t.Fatalf("round trip %x", b)
		}
	})
}

func FuzzFrameConfigVerdict(f *testing.F) {
	f.Add((&verdict{Accepted: true, Hash: []byte("h"), Reason: "ok"}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m verdict
		if m.unmarshal(b) != nil {
			return
		}
		if len(m.Reason) <= 1024 && !bytes.Equal(m.marshal(), b) {
			t.Fatalf("round trip %x", b)
		}
	})
}

// FuzzSealedStream: whatever arrives after a PSK handshake is opened or
// refused as ErrIntegrity (or ends), never more: a sealed record of our
// own in the corpus opens, anything changed does not.
func FuzzSealedStream(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	a := &hello{Version: ProtocolVersion, Role: Primary, Name: "gw1", Nonce: [32]byte{1}}
	b := &hello{Version: ProtocolVersion, Role: Secondary, Name: "gw2", Nonce: [32]byte{2}}
	i2r, _, err := sessionKeys(key, a, b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add((&sealer{aead: i2r}).seal(nil, appendFrame(nil, FrameAck, marshalU64(3))))
	f.Add([]byte{0, 0, 0, 17, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := newHandshakeReader(bytes.NewReader(in))
		fr.open(i2r)
		for range 100 {
			if _, _, err := fr.readFrame(); err != nil {
				if !errors.Is(err, ErrIntegrity) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrFrameSize) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
		}
	})
}
