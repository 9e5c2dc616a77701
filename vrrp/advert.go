package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants of RFC 5798 §5.
const (
	ProtocolNumber = 112 // IP protocol number (§5.1.1.4)
	TTL            = 255 // IP TTL of every advert (§5.1.1.3)
	version        = 3   // §5.2.1
	typeAdvert     = 1   // §5.2.2: the only type
	headerLen      = 8   // version/type, VRID, priority, count, rsvd/interval, checksum
)

// MulticastGroup is the IPv4 multicast address adverts are sent to
// (RFC 5798 §5.1.1.2).
var MulticastGroup = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// Reasons a received advert is dropped (RFC 5798 §7.1). The instance counts
// them by Reason instead of logging every packet.
var (
	ErrShort       = errors.New("vrrp: advert shorter than its header")
	ErrVersion     = errors.New("vrrp: not version 3")
	ErrType        = errors.New("vrrp: not an advertisement")
	ErrLength      = errors.New("vrrp: length does not match the address count")
	ErrChecksum    = errors.New("vrrp: bad checksum")
	ErrInterval    = errors.New("vrrp: advertisement interval is zero")
	ErrTTL         = errors.New("vrrp: IP TTL is not 255")
	ErrVRID        = errors.New("vrrp: VRID is not ours")
	ErrOwnAddress  = errors.New("vrrp: advert sent from one of our own addresses")
	ErrUnknownPeer = errors.New("vrrp: unicast advert from an address that is not a configured peer")
	ErrPseudo      = errors.New("vrrp: IPv4 source and destination needed for the checksum")
	ErrTooMany     = errors.New("vrrp: more than 255 addresses")
	ErrAddress     = errors.New("vrrp: address is not IPv4")
)

// Reason names err for the drop counter ("checksum", "ttl", ...); "other"
// when err is none of the sentinels.
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrShort, "short"}, {ErrVersion, "version"}, {ErrType, "type"},
		{ErrLength, "length"}, {ErrChecksum, "checksum"}, {ErrInterval, "interval"},
		{ErrTTL, "ttl"}, {ErrVRID, "vrid"}, {ErrOwnAddress, "own_address"},
		{ErrUnknownPeer, "unknown_peer"}, {ErrPseudo, "pseudo_header"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// Advert is one VRRPv3 advertisement for IPv4 (RFC 5798 §5.2).
//
// Src and Dst are not part of the payload: they are the IPv4 pseudo-header
// the checksum covers (§5.2.8). Set them before MarshalBinary and before
// UnmarshalBinary (which verifies the checksum against them).
type Advert struct {
	VRID     uint8
	Priority uint8
	// Interval is Max Advertise Interval; the wire carries whole
	// centiseconds (§5.2.7), so MarshalBinary rounds it down.
	Interval time.Duration
	Addrs    []netip.Addr // the virtual IPv4 addresses (§5.2.9)

	Src, Dst netip.Addr // IPv4 pseudo-header, not sent
}

// MarshalBinary encodes a with its checksum.
func (a *Advert) MarshalBinary() ([]byte, error) {
	if !a.Src.Is4() || !a.Dst.Is4() {
		return nil, ErrPseudo
	}
	if len(a.Addrs) > 255 {
		return nil, ErrTooMany
	}
	cs := a.Interval / centisecond
	if cs < 1 || cs > 0xfff {
		return nil, fmt.Errorf("vrrp: advertisement interval %v outside %v..%v", a.Interval, MinAdvertInterval, MaxAdvertInterval)
	}
	b := make([]byte, headerLen+4*len(a.Addrs))
	b[0] = version<<4 | typeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = uint8(len(a.Addrs))
	binary.BigEndian.PutUint16(b[4:], uint16(cs)) // 4 reserved bits stay 0
	for i, ip := range a.Addrs {
		if !ip.Is4() {
			return nil, fmt.Errorf("%w: %v", ErrAddress, ip)
		}
		v := ip.As4()
		copy(b[headerLen+4*i:], v[:])
	}
	binary.BigEndian.PutUint16(b[6:], checksum(b, a.Src, a.Dst))
	return b, nil
}

// UnmarshalBinary decodes b into a, checking version, type, length against
// the address count and the checksum against a.Src and a.Dst (RFC 5798
// §7.1). Trailing bytes after the addresses are refused (ErrLength).
func (a *Advert) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen {
		return ErrShort
	}
	if b[0]>>4 != version {
		return ErrVersion
	}
	if b[0]&0xf != typeAdvert {
		return ErrType
	}
	n := int(b[3])
	if len(b) != headerLen+4*n {
		return ErrLength
	}
	if !a.Src.Is4() || !a.Dst.Is4() {
		return ErrPseudo
	}
	if checksum(b, a.Src, a.Dst) != 0 {
		return ErrChecksum
	}
	cs := binary.BigEndian.Uint16(b[4:]) & 0xfff
	if cs == 0 {
		// A zero interval would make a backup's Master_Down_Interval
		// zero: it would take over at once, forever.
		return ErrInterval
	}
	a.VRID, a.Priority = b[1], b[2]
	a.Interval = time.Duration(cs) * centisecond
	a.Addrs = make([]netip.Addr, n)
	for i := range n {
		a.Addrs[i] = netip.AddrFrom4([4]byte(b[headerLen+4*i : headerLen+4*i+4]))
	}
	return nil
}

// checksum is the Internet checksum (RFC 1071) of the IPv4 pseudo-header
// (source, destination, zero, protocol 112, VRRP length) followed by b, as
// RFC 5798 §5.2.8 asks. Over a packet whose checksum field is filled in it
// returns 0.
func checksum(b []byte, src, dst netip.Addr) uint16 {
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += ProtocolNumber
	sum += uint32(len(b))
	return ^fold(sum + onesSum(b))
}

// onesSum adds b as big-endian 16-bit words (an odd last byte is padded
// with zero, RFC 1071 §4.1).
func onesSum(b []byte) uint32 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
