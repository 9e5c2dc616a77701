package dhcpd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// grant is the lease time for addr, whose stored lease is prev: the
// client's request (option 51) clamped to t's [min, max] (the client's
// lease times in sub: classified.leaseTimes), else t's default (RFC 2131
// §4.3.1), then capped by the gate (failover MCLT); and the gate's answer,
// whose expiries go on the lease to commit.
func (e *Engine) grant(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, t scope.LeaseTimes, addr netip.Addr, prev lease.Lease, now time.Time) (time.Duration, Grant) {
	lt := t.Default
	if b := req.Options.Get(dhcpv4.OptionIPAddressLeaseTime); len(b) == 4 {
		lt = time.Duration(binary.BigEndian.Uint32(b)) * time.Second
		if lt < t.Min {
			lt = t.Min
		}
		if t.Max > 0 && lt > t.Max {
			lt = t.Max
		}
	}
	l := prev
	if l.Key() != c.key {
		l = lease.Lease{Addr: addr, HWAddr: c.hw, ClientID: c.id}
	}
	g := e.gateFor(sub).LeaseTime(l, lt, now)
	if g.Time < lt {
		lt = g.Time
	}
	if lt < time.Second {
		lt = time.Second
	}
	return lt.Truncate(time.Second), g
}

func setLeaseTime(resp *dhcpv4.DHCPv4, lt time.Duration, t scope.LeaseTimes) {
	s := uint32(lt / time.Second)
	resp.Options[uint8(dhcpv4.OptionIPAddressLeaseTime)] = binary.BigEndian.AppendUint32(nil, s)
	t1, t2 := renewTimes(s, t) // RFC 2131 §4.4.5
	resp.Options[uint8(dhcpv4.OptionRenewTimeValue)] = binary.BigEndian.AppendUint32(nil, t1)
	resp.Options[uint8(dhcpv4.OptionRebindingTimeValue)] = binary.BigEndian.AppendUint32(nil, t2)
}

// newReply starts a reply per RFC 2131 Table 3.
func (e *Engine) newReply(req *dhcpv4.DHCPv4, mt dhcpv4.MessageType, sid netip.Addr) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		ClientHWAddr:  req.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	resp.Options[uint8(dhcpv4.OptionDHCPMessageType)] = []byte{byte(mt)}
	resp.Options[uint8(dhcpv4.OptionServerIdentifier)] = sid.AsSlice()
	// RFC 6842: echo the client identifier; RFC 3046 §2.2: echo option 82.
	if id := req.Options.Get(dhcpv4.OptionClientIdentifier); id != nil {
		resp.Options[uint8(dhcpv4.OptionClientIdentifier)] = id
	}
	if rai := req.Options.Get(dhcpv4.OptionRelayAgentInformation); rai != nil {
		resp.Options[uint8(dhcpv4.OptionRelayAgentInformation)] = rai
	}
	return resp
}

// alwaysSent are options sent even when the client's parameter request list
// omits them: most clients cannot work without them.
var alwaysSent = []uint8{1, 3, 6, 15, 28}

// addOptions adds the configured options the client asked for (option 55,
// RFC 2132 §9.8), plus alwaysSent; a client without a list gets them all.
// Each option comes from the most specific level that sets it
// (optionLayers), as do the boot fields; addr is the address the reply
// gives (its pool's options apply), or invalid.
func (e *Engine) addOptions(resp, req *dhcpv4.DHCPv4, sub *scope.Subnet, cl *classified, addr netip.Addr) {
	var lbuf [maxLayers]scope.Options
	layers := optionLayers(lbuf[:0], sub, cl, addr)
	get := func(code uint8) []byte {
		for _, l := range layers {
			if v, ok := l[code]; ok {
				return v
			}
		}
		return nil
	}
	prl := req.Options.Get(dhcpv4.OptionParameterRequestList)
	if len(prl) == 0 {
		for i := len(layers) - 1; i >= 0; i-- {
			for code, v := range layers[i] {
				resp.Options[code] = v
			}
		}
	} else {
		for _, code := range prl {
			if _, set := resp.Options[code]; set {
				continue // never let config override a server-owned option
			}
			if v := get(code); v != nil {
				resp.Options[code] = v
			}
		}
		for _, code := range alwaysSent {
			if v := get(code); v != nil {
				resp.Options[code] = v
			}
		}
	}
	res := cl.res
	if res != nil && res.Hostname != "" && (len(prl) == 0 || contains(prl, 12)) {
		resp.Options[12] = []byte(res.Hostname)
	}
	scopePXE(resp, req)
	setBoot(resp, bootFields(sub, cl))
	if dropped := fitReply(resp, req, prl); len(dropped) > 0 {
		e.log.Debug("reply trimmed to the client's maximum message size", "mac", req.ClientHWAddr.String(), "dropped_options", dropped)
	}
}

// minMaxMessage is the DHCP message every client must accept (RFC 2131 §2:
// a 576-octet IP datagram, so an options field of at least 312 octets) and
// the least value option 57 may carry (RFC 2132 §9.10).
const minMaxMessage = 576

// keptOptions are never dropped to fit a message: without them the reply
// is not a usable DHCP answer (type, server id, lease times, mask) or breaks
// the client's or relay's matching (client id, RFC 6842; option 82,
// RFC 3046 §2.2).
var keptOptions = [256]bool{1: true, 51: true, 52: true, 53: true, 54: true, 58: true, 59: true, 61: true, 82: true}

// fitReply drops options from resp until its IP datagram fits the size the
// client accepts: its option 57 (RFC 2132 §9.10; counted, as ISC dhcpd and
// Kea do, with the IP and UDP headers), or 576 without one. Options the
// client did not ask for go first, then the requested ones from the end of
// its parameter request list (RFC 2132 §9.8 orders it by preference).
// Before any is dropped, options move in that order into the file and
// sname fields when the reply leaves them unused (overload). It returns
// the codes dropped.
func fitReply(resp, req *dhcpv4.DHCPv4, prl []byte) []uint8 {
	limit := minMaxMessage
	if b := req.Options.Get(dhcpv4.OptionMaximumDHCPMessageSize); len(b) == 2 {
		limit = max(int(binary.BigEndian.Uint16(b)), minMaxMessage)
	}
	// IP (20) + UDP (8) + BOOTP fixed fields (236) + magic cookie (4) +
	// the end option (1).
	size := 20 + 8 + 236 + 4 + 1
	for _, v := range resp.Options {
		size += encodedLen(len(v))
	}
	if size <= limit {
		return nil
	}
	rank := func(code uint8) int { // higher: dropped first
		for i, c := range prl {
			if c == code {
				return i
			}
		}
		return 1000 + int(code)
	}
	var order []uint8
	for code := range resp.Options {
		if !keptOptions[code] {
			order = append(order, code)
		}
	}
	slices.SortFunc(order, func(a, b uint8) int { return rank(b) - rank(a) })
	ov := newOverload(resp)
	var dropped []uint8
	for _, code := range order {
		if size <= limit {
			break
		}
		v := resp.Options[code]
		if n, ok := ov.place(code, v); ok {
			delete(resp.Options, code)
			size += n - encodedLen(len(v))
			continue
		}
		size -= encodedLen(len(v))
		delete(resp.Options, code)
		dropped = append(dropped, code)
	}
	ov.finish(resp)
	return dropped
}

// encodedLen is the length of an option of n value bytes on the wire: a
// value longer than 255 bytes is split into several instances (RFC 3396).
func encodedLen(n int) int {
	if n == 0 {
		return 2
	}
	return n + 2*((n+254)/255)
}

func contains(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
