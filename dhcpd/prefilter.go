package dhcpd

import (
	"encoding/binary"
	"net"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Prefilter is a Handler that can tell from a request's raw bytes, before
// the full decode, that it would drop it as not served here: each box of
// a load-balancing pair gets every DISCOVER and REQUEST and serves half
// of them (RFC 3074 buckets), and the full dhcpv4 decode (a struct, an
// options map, a copy of every field) of the other half is most of what
// they cost it. *Engine is one.
type Prefilter interface {
	// NotServed returns the message type of payload and true when the
	// handler would drop it with ErrNotServing; false when it cannot tell
	// (the request then takes the full path, which decides as before).
	NotServed(payload []byte) (mt dhcpv4.MessageType, drop bool)
}

// NotServed decides the Gate's Serve from the raw request, for DISCOVER
// and REQUEST only, exactly as decide does after the full decode: the
// same Client (client identifier, chaddr, secs, renewal), read with the
// decoder's rules (RFC 2131 §2 fixed fields, hlen cut at 16, repeated
// options concatenated per RFC 3396, the End option required, an empty
// option absent). It returns false (let the full path decide) for
// anything else: other message types, a packet the decoder might read
// differently, a client decide drops earlier as malformed, and a Gate that
// answers per subnet (SubnetGate: the subnet needs the full request).
// The checks decide makes before Serve (relay trust, per-client rates,
// the subnet) only drop, so skipping them changes no decision to drop.
// What they count is then counted for the requests this box answers
// only: the rate tables are not charged, nor hadhcpd_dhcp_ignored_total
// ("requests answered with a field ignored") bumped, for requests the
// partner serves.
func (e *Engine) NotServed(p []byte) (dhcpv4.MessageType, bool) {
	if _, ok := e.gate.(SubnetGate); ok {
		return 0, false
	}
	f, ok := scanRequest(p)
	if !ok || f.mt != dhcpv4.MessageTypeDiscover && f.mt != dhcpv4.MessageTypeRequest {
		return 0, false
	}
	if len(f.hw) == 0 && len(f.id) == 0 || len(f.id) > maxClientID {
		return 0, false
	}
	c := Client{Key: lease.ClientKey(f.id, f.hw), HWAddr: f.hw, Secs: f.secs,
		Renewal: f.mt == dhcpv4.MessageTypeRequest && f.ciaddr != 0 && !f.hasSID && !f.hasReqIP}
	if len(f.id) > 0 {
		c.ClientID = f.id
	}
	if e.gate.Serve(c) {
		return 0, false
	}
	return f.mt, true
}

// rawRequest is what NotServed reads from a request.
type rawRequest struct {
	mt               dhcpv4.MessageType
	hw               net.HardwareAddr // chaddr[:hlen], aliasing the packet
	id               []byte           // option 61, concatenated; aliases the packet when it came in one piece
	secs             uint16
	ciaddr           uint32
	hasSID, hasReqIP bool // options 54 and 50 with a value
}

// Offsets in a BOOTP message (RFC 2131 §2, Figure 1).
const (
	bootpSecs    = 8
	bootpCiaddr  = 12
	bootpChaddr  = 28
	bootpCookie  = 236
	bootpOptions = 240
)

// scanRequest reads a BOOTREQUEST's fields and the options NotServed
// needs, with the decoder's rules (dhcpv4.FromBytes); false when it is
// not a well-formed BOOTREQUEST with a message type, or its options are
// cut short or have no End.
func scanRequest(p []byte) (rawRequest, bool) {
	var f rawRequest
	if len(p) < bootpOptions || p[0] != byte(dhcpv4.OpcodeBootRequest) ||
		[4]byte(p[bootpCookie:bootpOptions]) != [4]byte{99, 130, 83, 99} {
		return f, false
	}
	hlen := min(int(p[2]), 16)
	f.hw = net.HardwareAddr(p[bootpChaddr : bootpChaddr+hlen : bootpChaddr+hlen])
	f.secs = binary.BigEndian.Uint16(p[bootpSecs:])
	f.ciaddr = binary.BigEndian.Uint32(p[bootpCiaddr:])
	var mt byte
	mtLen, idParts := 0, 0
	for o := p[bootpOptions:]; ; {
		if len(o) == 0 {
			return f, false // no End (the decoder requires it)
		}
		code := o[0]
		if code == 0 { // Pad
			o = o[1:]
			continue
		}
		if code == 255 { // End
			break
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			return f, false
		}
		v := o[2 : 2+int(o[1]) : 2+int(o[1])]
		o = o[2+len(v):]
		if len(v) == 0 {
			continue // appending nothing leaves the option absent
		}
		switch code {
		case 53: // DHCP message type (RFC 2132 §9.6)
			if mtLen == 0 {
				mt = v[0]
			}
			mtLen += len(v)
		case 61: // client identifier (RFC 2132 §9.14)
			// RFC 3396: the instances form one value, in order.
			if idParts++; idParts == 1 {
				f.id = v
			} else {
				f.id = append(append([]byte(nil), f.id...), v...)
			}
		case 54: // server identifier
			f.hasSID = true
		case 50: // requested IP address
			f.hasReqIP = true
		}
	}
	if mtLen != 1 { // the decoder reads a longer value as no type
		return f, false
	}
	f.mt = dhcpv4.MessageType(mt)
	return f, true
}
