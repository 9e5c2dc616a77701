package dhcpd

import (
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// DestKind says how a reply leaves (RFC 2131 §4.1).
type DestKind uint8

const (
	// DestRelay: UDP to the relay agent's giaddr, port 67.
	DestRelay DestKind = iota + 1
	// DestUnicast: UDP to the client's ciaddr, port 68 (the client has a
	// working address: RENEWING, REBINDING, INFORM).
	DestUnicast
	// DestBroadcast: to 255.255.255.255:68 on the receiving link (the
	// client asked for it with the broadcast bit, or a NAK).
	DestBroadcast
	// DestL2: to yiaddr:68 in a frame addressed to chaddr, since the client
	// has no address to answer ARP for yet.
	DestL2
)

func (k DestKind) String() string {
	switch k {
	case DestRelay:
		return "relay"
	case DestUnicast:
		return "unicast"
	case DestBroadcast:
		return "broadcast"
	case DestL2:
		return "l2-unicast"
	}
	return "none"
}

// Dest is where a reply goes.
type Dest struct {
	Kind DestKind
	IP   netip.Addr       // giaddr, ciaddr, yiaddr or 255.255.255.255
	Port uint16           // 67 to a relay, 68 to a client
	HW   net.HardwareAddr // DestL2: chaddr
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// destination applies RFC 2131 §4.1 ("If the 'giaddr' field in a DHCP
// message from a client is non-zero, the server sends any return messages to
// the 'DHCP server' port on the BOOTP relay agent whose address appears in
// 'giaddr'. If the 'giaddr' field is zero and the 'ciaddr' field is nonzero,
// then the server unicasts DHCPOFFER and DHCPACK messages to the address in
// 'ciaddr'. If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit
// is set, then the server broadcasts DHCPOFFER and DHCPACK messages to
// 0xffffffff. If the broadcast bit is not set and 'giaddr' is zero and
// 'ciaddr' is zero, then the server unicasts DHCPOFFER and DHCPACK messages
// to the client's hardware address and 'yiaddr' address. In all cases, when
// 'giaddr' is zero, the server broadcasts any DHCPNAK messages to
// 0xffffffff.") The ACK to a DHCPINFORM goes "directly to the address
// given in the 'ciaddr' field" (§4.3.5), relayed or not: the client has
// a working address, and Kea and ISC dhcpd send it there. It is pure: it
// reads only the two messages.
func destination(req, resp *dhcpv4.DHCPv4) Dest {
	if ci := addr4(req.ClientIPAddr); req.MessageType() == dhcpv4.MessageTypeInform && ci.IsValid() && !ci.IsUnspecified() {
		return Dest{Kind: DestUnicast, IP: ci, Port: dhcpv4.ClientPort}
	}
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() && !gi.IsUnspecified() {
		return Dest{Kind: DestRelay, IP: gi, Port: dhcpv4.ServerPort}
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return Dest{Kind: DestBroadcast, IP: limitedBroadcast, Port: dhcpv4.ClientPort}
	}
	if ci := addr4(req.ClientIPAddr); ci.IsValid() && !ci.IsUnspecified() {
		return Dest{Kind: DestUnicast, IP: ci, Port: dhcpv4.ClientPort}
	}
	yi := addr4(resp.YourIPAddr)
	if req.IsBroadcast() || !yi.IsValid() || yi.IsUnspecified() ||
		req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		// A frame to chaddr needs an Ethernet address; anything else
		// gets the broadcast the RFC allows as the fallback.
		return Dest{Kind: DestBroadcast, IP: limitedBroadcast, Port: dhcpv4.ClientPort}
	}
	return Dest{Kind: DestL2, IP: yi, Port: dhcpv4.ClientPort, HW: req.ClientHWAddr}
}

// addr4 converts a net.IP to a netip.Addr (IPv4 form), invalid for nil or
// non-IPv4.
func addr4(ip net.IP) netip.Addr {
	if ip4 := ip.To4(); ip4 != nil {
		return netip.AddrFrom4([4]byte(ip4))
	}
	return netip.Addr{}
}
