//go:build linux

package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rawConn is an IP protocol 112 socket bound to one interface.
type rawConn struct {
	pc  *ipv4.PacketConn
	ifi *net.Interface
	src netip.Addr
}

// Listen opens the VRRP socket of an instance on ifname, sending from src.
// With multicast it joins 224.0.0.18 there (RFC 5798 §5.1.1.2) with
// multicast loopback off, so the box never hears its own adverts; otherwise
// adverts go to unicast peers. Every packet leaves with TTL 255 (§5.1.1.3)
// and the receive side gets TTL, destination and interface as control
// messages for the checks of §7.1. Needs CAP_NET_RAW.
func Listen(ifname string, src netip.Addr, multicast bool) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("vrrp: listen on %s: %w", ifname, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Only this interface's adverts: two instances with the same
			// VRID on two links must not hear each other.
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", ProtocolNumber), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("vrrp: open raw socket on %s: %w", ifname, err)
	}
	pc := ipv4.NewPacketConn(c)
	fail := func(op string, err error) (Conn, error) {
		_ = pc.Close()
		return nil, fmt.Errorf("vrrp: %s on %s: %w", op, ifname, err)
	}
	if err := pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return fail("control messages", err)
	}
	if err := pc.SetTTL(TTL); err != nil {
		return fail("set TTL", err)
	}
	// Precedence "internetwork control", as keepalived marks its adverts.
	if err := pc.SetTOS(0xc0); err != nil {
		return fail("set TOS", err)
	}
	if multicast {
		grp := &net.IPAddr{IP: net.IP(MulticastGroup.AsSlice())}
		if err := pc.JoinGroup(ifi, grp); err != nil {
			return fail("join 224.0.0.18", err)
		}
		if err := pc.SetMulticastInterface(ifi); err != nil {
			return fail("multicast interface", err)
		}
		if err := pc.SetMulticastTTL(TTL); err != nil {
			return fail("multicast TTL", err)
		}
		if err := pc.SetMulticastLoopback(false); err != nil {
			return fail("multicast loopback", err)
		}
	}
	return &rawConn{pc: pc, ifi: ifi, src: src}, nil
}

func (c *rawConn) Read(b []byte) (Packet, error) {
	for {
		n, cm, from, err := c.pc.ReadFrom(b)
		if err != nil {
			return Packet{}, err
		}
		ia, ok := from.(*net.IPAddr)
		if !ok || cm == nil {
			continue
		}
		if cm.IfIndex != 0 && cm.IfIndex != c.ifi.Index {
			continue // SO_BINDTODEVICE should already filter; be sure
		}
		src, _ := netip.AddrFromSlice(ia.IP)
		dst, _ := netip.AddrFromSlice(cm.Dst)
		return Packet{Payload: b[:n], Src: src.Unmap(), Dst: dst.Unmap(), TTL: cm.TTL, IfIndex: cm.IfIndex}, nil
	}
}

func (c *rawConn) Write(payload []byte, dst netip.Addr) error {
	cm := &ipv4.ControlMessage{IfIndex: c.ifi.Index, Src: net.IP(c.src.AsSlice())}
	_, err := c.pc.WriteTo(payload, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
	return err
}

func (c *rawConn) Close() error { return c.pc.Close() }
