package netcfg

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/arp"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Probes of an address before the DHCP engine offers it (RFC 2131 §2.2,
// §4.4.1): an ARP request on a directly attached link, an ICMP echo beyond
// a relay. Each probe opens its own socket and closes it: probes are rare
// (dhcp.ping_check, a recovery window) and bounded by the engine, and a
// socket per probe keeps one probe's answers from another's. Both need
// CAP_NET_RAW, which the service has.

// ARPProbe asks, on the interface with index ifindex, who has addr, and
// reports whether anything answered before ctx ended. The pinned
// mdlayher/arp needs an IPv4 address on the interface (its sender
// address; see NewGARP).
func ARPProbe(ctx context.Context, ifindex int, addr netip.Addr) (bool, error) {
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return false, fmt.Errorf("netcfg: arp probe of %s: %w", addr, err)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return false, fmt.Errorf("netcfg: arp probe of %s on %s: %w", addr, ifi.Name, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(d); err != nil {
			return false, fmt.Errorf("netcfg: arp probe of %s on %s: %w", addr, ifi.Name, err)
		}
	}
	_, err = c.Resolve(addr)
	switch {
	case err == nil:
		return true, nil
	case timedOut(err) || ctx.Err() != nil:
		return false, nil
	}
	return false, fmt.Errorf("netcfg: arp probe of %s on %s: %w", addr, ifi.Name, err)
}

// ICMPProbe sends an ICMP echo request to addr and reports whether an echo
// reply came back from it before ctx ended.
func ICMPProbe(ctx context.Context, addr netip.Addr) (bool, error) {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return false, fmt.Errorf("netcfg: icmp probe of %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(d); err != nil {
			return false, fmt.Errorf("netcfg: icmp probe of %s: %w", addr, err)
		}
	}
	// A raw ICMP socket sees every echo reply to this host: a random
	// identifier and the source address pick out ours.
	var idb [2]byte
	rand.Read(idb[:])
	id := int(binary.BigEndian.Uint16(idb[:]))
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("hadhcpd probe")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	dst := &net.IPAddr{IP: net.IP(addr.AsSlice())}
	if _, err := c.WriteTo(b, dst); err != nil {
		return false, fmt.Errorf("netcfg: icmp probe of %s: %w", addr, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if timedOut(err) || ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("netcfg: icmp probe of %s: %w", addr, err)
		}
		ipa, ok := from.(*net.IPAddr)
		if !ok || !ipa.IP.Equal(dst.IP) {
			continue
		}
		m, err := icmp.ParseMessage(1, buf[:n]) // 1: ICMP for IPv4
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == 1 {
			return true, nil
		}
	}
}

// timedOut reports whether err is a read or write deadline passing.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
