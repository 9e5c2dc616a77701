package peer

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Defaults go both ways (either end may be nearer the source): those set
// before the link is up on connect, later ones at once; each arrives
// intact at the other end's OnDefaults.
func TestDefaultsBothWays(t *testing.T) {
	got := map[string]chan Defaults{"gw1": make(chan Defaults, 8), "gw2": make(chan Defaults, 8)}
	clk := newFakeClock()
	mk := func(name string, role Role) *node {
		return newNode(t, name, role, clk, func(o *Options) { o.OnDefaults = func(d Defaults) { got[name] <- d } })
	}
	p, s := mk("gw1", Primary), mk("gw2", Secondary)
	early := Defaults{Source: "gw9", Serial: 4, Hash: []byte("h4"), Body: []byte(`{"DefaultLeaseTime":1}`)}
	if err := s.l.SendDefaults(early); err != nil {
		t.Fatal(err)
	}
	ca, cb := tcpPair(t)
	connectConns(t, p, s, ca, cb)
	recv := func(name string) Defaults {
		t.Helper()
		select {
		case d := <-got[name]:
			return d
		case <-time.After(5 * time.Second):
			t.Fatalf("%s got no defaults", name)
			return Defaults{}
		}
	}
	if d := recv("gw1"); d.Source != "gw9" || d.Serial != 4 || !bytes.Equal(d.Hash, early.Hash) || !bytes.Equal(d.Body, early.Body) {
		t.Errorf("primary got %+v on connect, want %+v", d, early)
	}
	later := Defaults{Source: "gw9", Serial: 5, Hash: []byte("h5"), Body: []byte("b5")}
	if err := p.l.SendDefaults(later); err != nil {
		t.Fatal(err)
	}
	if d := recv("gw2"); d.Serial != 5 || string(d.Body) != "b5" {
		t.Errorf("secondary got %+v, want serial 5", d)
	}
	for _, bad := range []Defaults{{Serial: 1}, {Source: "gw9"}, {Source: "gw9", Serial: 1, Body: make([]byte, MaxFrameLen)}} {
		if err := p.l.SendDefaults(bad); !errors.Is(err, ErrOptions) {
			t.Errorf("SendDefaults(%q, %d, %d bytes): %v, want ErrOptions", bad.Source, bad.Serial, len(bad.Body), err)
		}
	}
}

func TestDefaultsCodec(t *testing.T) {
	d := Defaults{Source: "a", Serial: 1 << 40, Hash: []byte{1, 2}, Body: []byte("{}")}
	var out Defaults
	if err := out.unmarshal(d.marshal()); err != nil || out.Serial != d.Serial || out.Source != "a" || string(out.Body) != "{}" {
		t.Fatalf("%+v %v", out, err)
	}
	for _, p := range [][]byte{nil, make([]byte, 8), (&Defaults{Source: "a"}).marshal(), {0, 0, 0, 0, 0, 0, 0, 1, 5, 'a'}} {
		if err := out.unmarshal(p); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%x: %v, want ErrBadFrame", p, err)
		}
	}
}

func FuzzFrameDefaults(f *testing.F) {
	f.Add((&Defaults{Source: "gw1", Serial: 3, Hash: []byte("h"), Body: []byte("{}")}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Defaults
		if m.unmarshal(b) != nil {
			return
		}
		if got := m.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip %x -> %x", b, got)
		}
	})
}
