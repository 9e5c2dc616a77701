package vrrp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
)

var (
	kaSrc = netip.MustParseAddr("192.0.2.11")
	// An advert keepalived 2.2.7 sent (vrrp_version 3, VRID 51, priority
	// 100, advert_int 0.1, VIP 192.0.2.1), captured with tcpdump.
	keepalivedAdvert = []byte{0x31, 0x33, 0x64, 0x01, 0x00, 0x0a, 0x06, 0x25, 0xc0, 0x00, 0x02, 0x01}
)

// TestChecksumRFC1071 is the numerical example of RFC 1071 §3.
func TestChecksumRFC1071(t *testing.T) {
	if got := fold(onesSum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7})); got != 0xddf2 {
		t.Fatalf("ones' complement sum = %#04x, want 0xddf2", got)
	}
}

func TestAdvertKeepalivedVector(t *testing.T) {
	a := Advert{Src: kaSrc, Dst: MulticastGroup}
	if err := a.UnmarshalBinary(keepalivedAdvert); err != nil {
		t.Fatalf("decode keepalived's advert: %v", err)
	}
	want := Advert{VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Src: kaSrc, Dst: MulticastGroup}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("decoded %+v, want %+v", a, want)
	}
	b, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, keepalivedAdvert) {
		t.Fatalf("encoded % x, keepalived sent % x", b, keepalivedAdvert)
	}
}

func TestAdvertDecodeErrors(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), keepalivedAdvert...))
	}
	for _, tc := range []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     error
	}{
		{"short", keepalivedAdvert[:7], kaSrc, MulticastGroup, ErrShort},
		{"version 2", mod(func(b []byte) []byte { b[0] = 0x21; return b }), kaSrc, MulticastGroup, ErrVersion},
		{"type 2", mod(func(b []byte) []byte { b[0] = 0x32; return b }), kaSrc, MulticastGroup, ErrType},
		{"count says 2", mod(func(b []byte) []byte { b[3] = 2; return b }), kaSrc, MulticastGroup, ErrLength},
		{"trailing byte", append(append([]byte(nil), keepalivedAdvert...), 0), kaSrc, MulticastGroup, ErrLength},
		{"priority changed", mod(func(b []byte) []byte { b[2] = 101; return b }), kaSrc, MulticastGroup, ErrChecksum},
		{"other source", keepalivedAdvert, netip.MustParseAddr("192.0.2.12"), MulticastGroup, ErrChecksum},
		{"unicast destination", keepalivedAdvert, kaSrc, netip.MustParseAddr("192.0.2.12"), ErrChecksum},
		{"no pseudo header", keepalivedAdvert, netip.Addr{}, MulticastGroup, ErrPseudo},
		{"interval zero", func() []byte {
			a := Advert{VRID: 51, Priority: 100, Interval: time.Second, Src: kaSrc, Dst: MulticastGroup}
			b, _ := a.MarshalBinary()
			b[4], b[5], b[6], b[7] = 0, 0, 0, 0
			c := checksum(b, kaSrc, MulticastGroup)
			b[6], b[7] = byte(c>>8), byte(c)
			return b
		}(), kaSrc, MulticastGroup, ErrInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Advert{Src: tc.src, Dst: tc.dst}
			if err := a.UnmarshalBinary(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAdvertEncodeErrors(t *testing.T) {
	ok := Advert{VRID: 1, Priority: 1, Interval: time.Second, Src: kaSrc, Dst: MulticastGroup}
	for _, tc := range []struct {
		name string
		f    func(a *Advert)
	}{
		{"interval below 10ms", func(a *Advert) { a.Interval = 9 * time.Millisecond }},
		{"interval above 40.95s", func(a *Advert) { a.Interval = 41 * time.Second }},
		{"IPv6 address", func(a *Advert) { a.Addrs = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }},
		{"no source", func(a *Advert) { a.Src = netip.Addr{} }},
		{"256 addresses", func(a *Advert) { a.Addrs = make([]netip.Addr, 256) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			tc.f(&a)
			if _, err := a.MarshalBinary(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	v := validator{vrid: 51, own: []netip.Addr{primary}}
	good := Packet{Payload: keepalivedAdvert, Src: kaSrc, Dst: MulticastGroup, TTL: 255}
	if _, err := v.validate(good); err != nil {
		t.Fatalf("good advert: %v", err)
	}
	for _, tc := range []struct {
		name string
		v    validator
		p    func(p Packet) Packet
		want string
	}{
		{"TTL 254 (routed)", v, func(p Packet) Packet { p.TTL = 254; return p }, "ttl"},
		{"other VRID", validator{vrid: 52}, func(p Packet) Packet { return p }, "vrid"},
		{"our own address", validator{vrid: 51, own: []netip.Addr{kaSrc}}, func(p Packet) Packet { return p }, "own_address"},
		{"not a unicast peer", validator{vrid: 51, peers: []netip.Addr{primary}}, func(p Packet) Packet { return p }, "unknown_peer"},
		{"bad checksum", v, func(p Packet) Packet { p.Src = netip.MustParseAddr("192.0.2.99"); return p }, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.validate(tc.p(good))
			if got := Reason(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzAdvert(f *testing.F) {
	f.Add(keepalivedAdvert)
	f.Add([]byte{0x31, 0x01, 0xff, 0x00, 0x0f, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a := Advert{Src: kaSrc, Dst: MulticastGroup}
		if err := a.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", a, err)
		}
		// The reserved bits are the only thing a round trip may change.
		in := append([]byte(nil), b...)
		in[4] &= 0x0f
		if in[4] != b[4] {
			c := checksum(append(in[:6:6], append([]byte{0, 0}, in[8:]...)...), kaSrc, MulticastGroup)
			in[6], in[7] = byte(c>>8), byte(c)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip\n in % x\nout % x", in, out)
		}
	})
}

// TestNoWallClock fails when package code reads time other than through
// its clock.Clock (STYLE.md §3): every timer and "now" must be injectable.
func TestNoWallClock(t *testing.T) { clocktest.NoWallClock(t, ".", nil) }
