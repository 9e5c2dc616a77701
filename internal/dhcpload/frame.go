package dhcpload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Ethernet, IPv4, UDP and ARP framing for a client that owns no kernel
// address: every client of a Population has its own made-up MAC and speaks
// from 0.0.0.0 (INIT, RFC 2131 §4.1) or from its leased address (RENEWING,
// REBINDING), which a kernel UDP socket in one namespace cannot do.

// Frame layout sizes in bytes.
const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20 // without options; received headers may be longer (IHL)
	udpHeaderLen  = 8
	arpLen        = 28 // Ethernet/IPv4 ARP body, RFC 826

	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806

	portServer = 67 // RFC 2131 §4.1
	portClient = 68
)

// errNotUDP is returned by parseUDP for frames that are not IPv4/UDP to the
// wanted port (the socket sees every frame on the link).
var errNotUDP = errors.New("dhcpload: not an IPv4/UDP frame for the DHCP port")

// errShortFrame is returned for truncated frames.
var errShortFrame = errors.New("dhcpload: truncated frame")

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// udpFrame builds an Ethernet II frame carrying an IPv4/UDP datagram from
// src:sport to dst:dport with payload. The UDP checksum is filled in (a zero
// checksum is legal over IPv4 but some receivers count it).
func udpFrame(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	total := ipv4HeaderLen + udpHeaderLen + len(payload)
	b := make([]byte, ethHeaderLen+total)
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv4)

	ip := b[ethHeaderLen:]
	ip[0] = 0x45 // version 4, IHL 5
	binary.BigEndian.PutUint16(ip[2:4], uint16(total))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:12], checksum(ip[:ipv4HeaderLen], 0))

	udp := ip[ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[0:2], sport)
	binary.BigEndian.PutUint16(udp[2:4], dport)
	binary.BigEndian.PutUint16(udp[4:6], uint16(udpHeaderLen+len(payload)))
	copy(udp[udpHeaderLen:], payload)
	// RFC 768: checksum over the pseudo-header, header and data.
	var pseudo uint32
	pseudo += uint32(binary.BigEndian.Uint16(s4[0:2])) + uint32(binary.BigEndian.Uint16(s4[2:4]))
	pseudo += uint32(binary.BigEndian.Uint16(d4[0:2])) + uint32(binary.BigEndian.Uint16(d4[2:4]))
	pseudo += 17 + uint32(udpHeaderLen+len(payload))
	cs := checksum(udp[:udpHeaderLen+len(payload)], pseudo)
	if cs == 0 {
		cs = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(udp[6:8], cs)
	return b
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// udpDatagram is a parsed IPv4/UDP datagram.
type udpDatagram struct {
	srcMAC, dstMAC net.HardwareAddr
	src, dst       netip.Addr
	payload        []byte // aliases the frame
}

// parseUDP extracts a UDP datagram for port dport from an Ethernet frame. The
// UDP checksum is not verified: on a veth path it is never filled in
// (checksum offload, PEERS.md).
func parseUDP(f []byte, dport uint16) (udpDatagram, error) {
	var r udpDatagram
	if len(f) < ethHeaderLen {
		return r, errShortFrame
	}
	if binary.BigEndian.Uint16(f[12:14]) != etherTypeIPv4 {
		return r, errNotUDP
	}
	ip := f[ethHeaderLen:]
	if len(ip) < ipv4HeaderLen {
		return r, errShortFrame
	}
	if ip[0]>>4 != 4 {
		return r, errNotUDP
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < ipv4HeaderLen || total < ihl+udpHeaderLen || total > len(ip) {
		return r, fmt.Errorf("%w: IPv4 header length %d, total %d, have %d", errShortFrame, ihl, total, len(ip))
	}
	if ip[9] != 17 {
		return r, errNotUDP
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF flag or fragment offset
		return r, errNotUDP
	}
	udp := ip[ihl:total]
	if binary.BigEndian.Uint16(udp[2:4]) != dport {
		return r, errNotUDP
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return r, fmt.Errorf("%w: UDP length %d, have %d", errShortFrame, ulen, len(udp))
	}
	r.dstMAC = net.HardwareAddr(f[0:6])
	r.srcMAC = net.HardwareAddr(f[6:12])
	r.src = netip.AddrFrom4([4]byte(ip[12:16]))
	r.dst = netip.AddrFrom4([4]byte(ip[16:20]))
	r.payload = udp[udpHeaderLen:ulen]
	return r, nil
}

// ARP operations, RFC 826.
const (
	arpRequest = 1
	arpReply   = 2
)

// arpPacket is an Ethernet/IPv4 ARP body.
type arpPacket struct {
	op                   uint16
	senderMAC, targetMAC net.HardwareAddr
	senderIP, targetIP   netip.Addr
}

// arpFrame builds an Ethernet frame carrying p.
func arpFrame(dstMAC, srcMAC net.HardwareAddr, p arpPacket) []byte {
	b := make([]byte, ethHeaderLen+arpLen)
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	a := b[ethHeaderLen:]
	binary.BigEndian.PutUint16(a[0:2], 1) // Ethernet
	binary.BigEndian.PutUint16(a[2:4], etherTypeIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], p.op)
	copy(a[8:14], p.senderMAC)
	s, t := p.senderIP.As4(), p.targetIP.As4()
	copy(a[14:18], s[:])
	if p.targetMAC != nil {
		copy(a[18:24], p.targetMAC)
	}
	copy(a[24:28], t[:])
	return b
}

// errNotARP is returned by parseARP for frames that are not Ethernet/IPv4 ARP.
var errNotARP = errors.New("dhcpload: not an Ethernet/IPv4 ARP frame")

// parseARP decodes an Ethernet/IPv4 ARP frame.
func parseARP(f []byte) (arpPacket, error) {
	var p arpPacket
	if len(f) < ethHeaderLen {
		return p, errShortFrame
	}
	if binary.BigEndian.Uint16(f[12:14]) != etherTypeARP {
		return p, errNotARP
	}
	a := f[ethHeaderLen:]
	if len(a) < arpLen {
		return p, errShortFrame
	}
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return p, errNotARP
	}
	p.op = binary.BigEndian.Uint16(a[6:8])
	p.senderMAC = net.HardwareAddr(a[8:14])
	p.senderIP = netip.AddrFrom4([4]byte(a[14:18]))
	p.targetMAC = net.HardwareAddr(a[18:24])
	p.targetIP = netip.AddrFrom4([4]byte(a[24:28]))
	return p, nil
}
