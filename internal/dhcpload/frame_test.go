package dhcpload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
)

var (
	macC = net.HardwareAddr{0x02, 0xaa, 0, 0, 0, 1}
	macS = net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 2}
)

func TestUDPFrameRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.1.7"), netip.MustParseAddr("198.18.0.2")
	payload := []byte("hello dhcp, odd length")
	f := udpFrame(macS, macC, src, dst, portClient, portServer, payload)
	// The IPv4 header checksum verifies to zero (RFC 1071).
	if cs := checksum(f[ethHeaderLen:ethHeaderLen+ipv4HeaderLen], 0); cs != 0 {
		t.Errorf("IPv4 header checksum does not verify: %#04x", cs)
	}
	// So does the UDP checksum with its pseudo-header (RFC 768).
	udp := f[ethHeaderLen+ipv4HeaderLen:]
	s4, d4 := src.As4(), dst.As4()
	pseudo := uint32(binary.BigEndian.Uint16(s4[:2])) + uint32(binary.BigEndian.Uint16(s4[2:])) +
		uint32(binary.BigEndian.Uint16(d4[:2])) + uint32(binary.BigEndian.Uint16(d4[2:])) + 17 + uint32(len(udp))
	if cs := checksum(udp, pseudo); cs != 0 {
		t.Errorf("UDP checksum does not verify: %#04x", cs)
	}
	got, err := parseUDP(f, portServer)
	if err != nil {
		t.Fatal(err)
	}
	if got.src != src || got.dst != dst || !bytes.Equal(got.payload, payload) || got.srcMAC.String() != macC.String() || got.dstMAC.String() != macS.String() {
		t.Errorf("parseUDP = %+v, want src %s dst %s payload %q", got, src, dst, payload)
	}
	if _, err := parseUDP(f, portClient); !errors.Is(err, errNotUDP) {
		t.Errorf("parseUDP for the other port: err %v, want errNotUDP", err)
	}
}

func TestParseUDPRejects(t *testing.T) {
	good := udpFrame(macC, macS, netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("255.255.255.255"), portServer, portClient, make([]byte, 300))
	mod := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		f    []byte
		want error
	}{
		{"empty", nil, errShortFrame},
		{"ethernet only", good[:ethHeaderLen], errShortFrame},
		{"ARP ethertype", mod(func(b []byte) []byte { b[12], b[13] = 0x08, 0x06; return b }), errNotUDP},
		{"IPv6 version", mod(func(b []byte) []byte { b[14] = 0x65; return b }), errNotUDP},
		{"IHL too small", mod(func(b []byte) []byte { b[14] = 0x44; return b }), errShortFrame},
		{"total length beyond frame", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[16:], 2000); return b }), errShortFrame},
		{"TCP", mod(func(b []byte) []byte { b[23] = 6; return b }), errNotUDP},
		{"fragment", mod(func(b []byte) []byte { b[20] = 0x20; return b }), errNotUDP},
		{"UDP length beyond datagram", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[38:], 4000); return b }), errShortFrame},
		{"UDP length below header", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[38:], 3); return b }), errShortFrame},
		{"truncated datagram", good[:60], errShortFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseUDP(tc.f, portClient); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := parseUDP(good, portClient); err != nil {
		t.Errorf("the unmodified frame: %v", err)
	}
}

func TestARPRoundTrip(t *testing.T) {
	p := arpPacket{op: arpRequest, senderMAC: macC, senderIP: netip.MustParseAddr("198.18.1.7"),
		targetMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, targetIP: netip.MustParseAddr("198.18.0.1")}
	f := arpFrame(broadcastMAC, macC, p)
	got, err := parseARP(f)
	if err != nil {
		t.Fatal(err)
	}
	if got.op != p.op || got.senderIP != p.senderIP || got.targetIP != p.targetIP || got.senderMAC.String() != macC.String() {
		t.Errorf("parseARP = %+v, want %+v", got, p)
	}
	if _, err := parseARP(f[:30]); !errors.Is(err, errShortFrame) {
		t.Errorf("truncated ARP: err %v, want errShortFrame", err)
	}
	bad := append([]byte(nil), f...)
	bad[ethHeaderLen+4] = 8 // hardware address length
	if _, err := parseARP(bad); !errors.Is(err, errNotARP) {
		t.Errorf("hlen 8: err %v, want errNotARP", err)
	}
	ip := udpFrame(macC, macS, p.senderIP, p.targetIP, 1, 2, nil)
	if _, err := parseARP(ip); !errors.Is(err, errNotARP) {
		t.Errorf("IPv4 frame: err %v, want errNotARP", err)
	}
}

// FuzzParse: no input makes the frame decoders panic or read out of bounds.
func FuzzParse(f *testing.F) {
	f.Add(udpFrame(macC, macS, netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.1.1"), 67, 68, []byte{1, 2, 3}))
	f.Add(arpFrame(broadcastMAC, macC, arpPacket{op: 1, senderMAC: macC, senderIP: netip.MustParseAddr("198.18.1.1"), targetIP: netip.MustParseAddr("198.18.0.1")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := parseUDP(b, portClient); err == nil && len(u.payload) > len(b) {
			t.Fatalf("payload longer than the frame")
		}
		_, _ = parseARP(b)
	})
}
