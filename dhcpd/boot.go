package dhcpd

import (
	"bytes"
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// This file is what a reply carries beyond the lease: options and boot
// fields from the levels of the config, most specific first, as ISC dhcpd
// orders them: the client's reservation, its classes (in config order),
// the pool of the address given, the subnet (which already holds the
// global options and boot fields under its own); network boot (siaddr,
// sname, file; RFC 2131 §2), option overload (RFC 2132 §9.3), and BOOTP
// for reserved hosts (RFC 951, RFC 1542).

// maxLayers is how many option levels fit without allocating: the
// reservation, a few classes, the pool and the subnet.
const maxLayers = 8

// optionLayers appends the option maps that apply to the client, most
// specific first.
func optionLayers(dst []scope.Options, sub *scope.Subnet, cl *classified, addr netip.Addr) []scope.Options {
	if cl.res != nil && len(cl.res.Options) > 0 {
		dst = append(dst, cl.res.Options)
	}
	cl.classes(func(k *scope.Class) bool {
		if len(k.Options) > 0 {
			dst = append(dst, k.Options)
		}
		return false
	})
	if addr.IsValid() {
		if r := sub.Rule(sub.PoolIndex(addr)); r != nil && len(r.Options) > 0 {
			dst = append(dst, r.Options)
		}
	}
	return append(dst, sub.Options)
}

// bootFields are siaddr, sname and file for the client: each from the
// most specific level that sets it.
func bootFields(sub *scope.Subnet, cl *classified) scope.Boot {
	var b scope.Boot
	if cl.res != nil {
		b = cl.res.Boot
	}
	cl.classes(func(k *scope.Class) bool {
		b = k.Boot.Over(b)
		return b.NextServer.IsValid() && b.ServerName != "" && b.File != ""
	})
	return sub.Boot.Over(b)
}

// setBoot writes the boot fields into resp (RFC 2131 §2: siaddr is the
// next server of the bootstrap, sname and file its name and the boot
// file).
func setBoot(resp *dhcpv4.DHCPv4, b scope.Boot) {
	if b.NextServer.IsValid() {
		resp.ServerIPAddr = net.IP(b.NextServer.AsSlice())
	}
	resp.ServerHostName = b.ServerName
	resp.BootFileName = b.File
}

// pxeClient is the prefix of a PXE client's vendor class identifier
// (option 60; PXE 2.1 §2.2.1, RFC 4578).
var pxeClient = []byte("PXEClient")

// scopePXE removes an option 60 "PXEClient..." from a reply to a client
// that is not a PXE client: it tells a PXE ROM that the offer carries PXE
// boot information, and only confuses anything else (a Windows client
// then waits for a boot server).
func scopePXE(resp, req *dhcpv4.DHCPv4) {
	v := resp.Options[uint8(dhcpv4.OptionClassIdentifier)]
	if v == nil || !bytes.HasPrefix(v, pxeClient) {
		return
	}
	if !bytes.HasPrefix(req.Options.Get(dhcpv4.OptionClassIdentifier), pxeClient) {
		delete(resp.Options, uint8(dhcpv4.OptionClassIdentifier))
	}
}

// Fixed-field sizes usable for overloaded options: the field's bytes
// less the End option (RFC 2132 §9.3); the library writes at most 63 and
// 127 bytes of sname and file (the last is always a NUL, a pad).
const (
	snameRoom = 63 - 1
	fileRoom  = 127 - 1
)

// overloadArea collects options moved out of a reply's options field
// into its unused file and sname fields (RFC 2132 §9.3; option 52 says
// which), file first, as RFC 2131 §4.1 orders their reading.
type overloadArea struct {
	useFile, useSname bool
	file, sname       []byte
}

func newOverload(resp *dhcpv4.DHCPv4) overloadArea {
	return overloadArea{useFile: resp.BootFileName == "", useSname: resp.ServerHostName == ""}
}

// place moves option code with value v into a field if it fits whole,
// and returns what the move adds to the options field (option 52 itself,
// on the first move).
func (o *overloadArea) place(code uint8, v []byte) (int, bool) {
	if len(v) > 255 {
		return 0, false
	}
	first := len(o.file) == 0 && len(o.sname) == 0
	n := 2 + len(v)
	switch {
	case o.useFile && len(o.file)+n <= fileRoom:
		o.file = append(append(o.file, code, byte(len(v))), v...)
	case o.useSname && len(o.sname)+n <= snameRoom:
		o.sname = append(append(o.sname, code, byte(len(v))), v...)
	default:
		return 0, false
	}
	if first {
		return 3, true
	}
	return 0, true
}

// finish writes the moved options into resp's fields and option 52.
func (o *overloadArea) finish(resp *dhcpv4.DHCPv4) {
	var which byte
	if len(o.file) > 0 {
		which |= 1
		resp.BootFileName = string(append(o.file, byte(dhcpv4.OptionEnd)))
	}
	if len(o.sname) > 0 {
		which |= 2
		resp.ServerHostName = string(append(o.sname, byte(dhcpv4.OptionEnd)))
	}
	if which != 0 {
		resp.Options[uint8(dhcpv4.OptionOptionOverload)] = []byte{which}
	}
}

// bootp answers a BOOTP request (no option 53) from a client with a
// reservation with an address: a BOOTREPLY with yiaddr, the boot fields
// and the options (RFC 951, RFC 1542; RFC 2131 §4.1 lets a DHCP server
// answer BOOTP). No lease is recorded: the address is reserved, so no one
// else can get it. Any other BOOTP client is refused: dynamic BOOTP has
// no lease end and cannot be made safe with failover.
func (e *Engine) bootp(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) (Reply, error) {
	addr, ok := c.cls.reserved(sub)
	if !ok {
		return Reply{}, ErrBOOTP
	}
	if l, known := e.db.Get(addr); known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry) {
		e.log.Warn("reserved address is leased to another client", "ip", addr, "mac", c.hw.String(), "holder", l.HWAddr.String())
		return Reply{}, ErrNoAddress
	}
	resp := e.newReply(req, dhcpv4.MessageTypeAck, sid)
	// RFC 1497 vendor extensions only: no DHCP message type, server id or
	// lease times.
	delete(resp.Options, uint8(dhcpv4.OptionDHCPMessageType))
	delete(resp.Options, uint8(dhcpv4.OptionServerIdentifier))
	resp.YourIPAddr = net.IP(addr.AsSlice())
	e.addOptions(resp, req, sub, &c.cls, addr)
	e.log.Debug("bootp reply", "ip", addr, "mac", c.hw.String())
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}
