package dhcpd

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
)

// Frame errors: the receive path counts drops by these.
var (
	ErrFrameShort    = errors.New("frame: truncated")
	ErrFrameNotIPv4  = errors.New("frame: not IPv4")
	ErrFrameIPHeader = errors.New("frame: bad IPv4 header")
	ErrFrameIPSum    = errors.New("frame: bad IPv4 header checksum")
	ErrFrameFragment = errors.New("frame: IPv4 fragment")
	ErrFrameNotUDP   = errors.New("frame: not UDP")
	ErrFrameUDPLen   = errors.New("frame: bad UDP length")
	ErrFrameUDPSum   = errors.New("frame: bad UDP checksum")
	ErrFramePort     = errors.New("frame: not to the DHCP server port")
)

const (
	ethHeaderLen = 14
	ipHeaderLen  = 20
	udpHeaderLen = 8
	etherTypeIP  = 0x0800
)

// Frame is a received UDP datagram with its link and network addresses.
type Frame struct {
	SrcMAC, DstMAC net.HardwareAddr
	Src, Dst       netip.AddrPort
	Payload        []byte // aliases the buffer given to ParseFrame
}

// ParseFrame decodes an Ethernet II frame carrying IPv4/UDP to port 67.
// verifySum says whether to check the UDP checksum: the socket layer clears
// it when the kernel reports the checksum as not yet computed
// (TP_STATUS_CSUMNOTREADY, veth and other offloads) or already verified
// (TP_STATUS_CSUM_VALID). It never panics on any input.
func ParseFrame(b []byte, verifySum bool) (Frame, error) {
	var f Frame
	if len(b) < ethHeaderLen {
		return f, ErrFrameShort
	}
	if binary.BigEndian.Uint16(b[12:14]) != etherTypeIP {
		return f, ErrFrameNotIPv4
	}
	f.DstMAC, f.SrcMAC = net.HardwareAddr(b[0:6]), net.HardwareAddr(b[6:12])
	ip := b[ethHeaderLen:]
	if len(ip) < ipHeaderLen {
		return f, ErrFrameShort
	}
	if ip[0]>>4 != 4 {
		return f, ErrFrameNotIPv4
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < ipHeaderLen || total < ihl || len(ip) < ihl {
		return f, ErrFrameIPHeader
	}
	if total > len(ip) {
		return f, ErrFrameShort
	}
	ip = ip[:total] // drop Ethernet padding
	if checksum(ip[:ihl], 0) != 0 {
		return f, ErrFrameIPSum
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF flag or an offset
		return f, ErrFrameFragment
	}
	if ip[9] != 17 {
		return f, ErrFrameNotUDP
	}
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	udp := ip[ihl:]
	if len(udp) < udpHeaderLen {
		return f, ErrFrameShort
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return f, ErrFrameUDPLen
	}
	udp = udp[:ulen]
	if binary.BigEndian.Uint16(udp[2:4]) != 67 {
		return f, ErrFramePort
	}
	if verifySum && binary.BigEndian.Uint16(udp[6:8]) != 0 { // 0 = no checksum (RFC 768)
		if checksum(udp, pseudoSum(src, dst, ulen)) != 0 {
			return f, ErrFrameUDPSum
		}
	}
	f.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2]))
	f.Dst = netip.AddrPortFrom(dst, 67)
	f.Payload = udp[udpHeaderLen:]
	return f, nil
}

// AppendFrame appends an Ethernet II + IPv4 + UDP frame carrying payload
// to buf, with both checksums filled in.
func AppendFrame(buf []byte, dstMAC, srcMAC net.HardwareAddr, src, dst netip.AddrPort, payload []byte) []byte {
	ulen := udpHeaderLen + len(payload)
	total := ipHeaderLen + ulen
	buf = append(buf, dstMAC[:6]...)
	buf = append(buf, srcMAC[:6]...)
	buf = binary.BigEndian.AppendUint16(buf, etherTypeIP)
	ipStart := len(buf)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	buf = append(buf,
		0x45, 0x10, // version 4, IHL 5; TOS low delay like ISC dhcpd
		byte(total>>8), byte(total),
		0, 0, // id
		0, 0, // no fragmentation flags
		64, 17, // TTL, UDP
		0, 0, // header checksum, below
	)
	buf = append(buf, s4[:]...)
	buf = append(buf, d4[:]...)
	sum := checksum(buf[ipStart:ipStart+ipHeaderLen], 0)
	binary.BigEndian.PutUint16(buf[ipStart+10:], sum)
	udpStart := len(buf)
	buf = binary.BigEndian.AppendUint16(buf, src.Port())
	buf = binary.BigEndian.AppendUint16(buf, dst.Port())
	buf = binary.BigEndian.AppendUint16(buf, uint16(ulen))
	buf = append(buf, 0, 0)
	buf = append(buf, payload...)
	us := checksum(buf[udpStart:], pseudoSum(src.Addr(), dst.Addr(), ulen))
	if us == 0 {
		us = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(buf[udpStart+6:], us)
	return buf
}

// pseudoSum is the one's complement sum of the UDP pseudo-header (RFC 768).
func pseudoSum(src, dst netip.Addr, ulen int) uint32 {
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += 17
	sum += uint32(ulen)
	return sum
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the
// partial sum initial.
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
