package vrrp

import (
	"net/netip"
	"slices"
)

// Conn is the packet I/O an instance needs: conn_linux.go implements it with
// an IP protocol 112 raw socket, tests with an in-memory pair.
type Conn interface {
	// Read blocks for the next VRRP payload (IP header removed) and the
	// header fields RFC 5798 §7.1 validation needs. After Close it
	// returns an error.
	Read(b []byte) (Packet, error)
	// Write sends payload to dst (224.0.0.18 or a unicast peer) with
	// TTL 255.
	Write(payload []byte, dst netip.Addr) error
	Close() error
}

// Packet is one received advert: the payload and its IP header fields.
type Packet struct {
	Payload  []byte
	Src, Dst netip.Addr
	TTL      int
	IfIndex  int
}

// validator holds what RFC 5798 §7.1 checks a received packet against.
type validator struct {
	vrid  uint8
	own   []netip.Addr // our addresses: our own adverts looped back are dropped
	peers []netip.Addr // unicast mode: only these may speak; empty: multicast
}

// validate decodes p and applies the receive checks of RFC 5798 §7.1. The
// error is one of the package's sentinels (see Reason).
func (v *validator) validate(p Packet) (Advert, error) {
	a := Advert{Src: p.Src, Dst: p.Dst}
	if p.TTL != TTL {
		return a, ErrTTL
	}
	if err := a.UnmarshalBinary(p.Payload); err != nil {
		return a, err
	}
	if a.VRID != v.vrid {
		return a, ErrVRID
	}
	if slices.Contains(v.own, p.Src) {
		return a, ErrOwnAddress
	}
	if len(v.peers) > 0 && !slices.Contains(v.peers, p.Src) {
		return a, ErrUnknownPeer
	}
	return a, nil
}
