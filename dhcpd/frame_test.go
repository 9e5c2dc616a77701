package dhcpd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
)

var (
	cliMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	srvMAC = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func TestFrameRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte{0xab}, 301) // odd length: checksum padding
	f := AppendFrame(nil, srvMAC, cliMAC, netip.MustParseAddrPort("192.0.2.9:68"), netip.MustParseAddrPort("255.255.255.255:67"), payload)
	got, err := ParseFrame(f, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Payload, payload) || got.Src != netip.MustParseAddrPort("192.0.2.9:68") || got.SrcMAC.String() != cliMAC.String() {
		t.Fatalf("round trip: %+v", got)
	}
	// Ethernet padding after the IP datagram is ignored.
	if got, err := ParseFrame(append(f, 0, 0, 0), true); err != nil || len(got.Payload) != len(payload) {
		t.Fatalf("padded frame: %v %d", err, len(got.Payload))
	}
	bad := func(name string, mut func(b []byte) []byte, verify bool, want error) {
		b := mut(append([]byte(nil), f...))
		if _, err := ParseFrame(b, verify); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}
	bad("udp checksum", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, true, ErrFrameUDPSum)
	bad("ip checksum", func(b []byte) []byte { b[14+8] ^= 1; return b }, true, ErrFrameIPSum)
	bad("truncated", func(b []byte) []byte { return b[:100] }, true, ErrFrameShort)
	bad("arp", func(b []byte) []byte { b[12], b[13] = 0x08, 0x06; return b }, true, ErrFrameNotIPv4)
	bad("fragment", func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[14+6:], 0x2000)
		binary.BigEndian.PutUint16(b[14+10:], 0)
		binary.BigEndian.PutUint16(b[14+10:], checksum(b[14:34], 0))
		return b
	}, true, ErrFrameFragment)
	bad("port", func(b []byte) []byte { b[34+3] = 68; return b }, false, ErrFramePort)
	// A checksum the kernel says was never computed (veth) is not checked.
	b := append([]byte(nil), f...)
	b[len(b)-1] ^= 1
	if _, err := ParseFrame(b, false); err != nil {
		t.Fatalf("unverified checksum: %v", err)
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(AppendFrame(nil, srvMAC, cliMAC, netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"), []byte("hello")), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, verify bool) {
		fr, err := ParseFrame(b, verify)
		if err != nil {
			return
		}
		// Whatever parses must rebuild into a frame that parses the same.
		out := AppendFrame(nil, fr.DstMAC, fr.SrcMAC, fr.Src, fr.Dst, fr.Payload)
		again, err := ParseFrame(out, true)
		if err != nil {
			t.Fatalf("rebuilt frame does not parse: %v", err)
		}
		if !bytes.Equal(again.Payload, fr.Payload) || again.Src != fr.Src || again.Dst != fr.Dst {
			t.Fatalf("round trip changed the frame")
		}
	})
}
