package dhcpd

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
	dto "github.com/prometheus/client_model/go"
)

// memConn is an in-memory PacketConn: the test queues request frames on
// in and reads what the server wrote from out.
type memConn struct {
	ifi  net.Interface
	in   chan []byte
	out  chan sent
	done chan struct{}
	once sync.Once
}

// sent is one write of the server: a frame (WriteFrame) or a routed UDP
// payload (WriteUDP).
type sent struct {
	frame   []byte
	hw      net.HardwareAddr // WriteFrame's destination
	payload []byte
	src     netip.Addr
	dst     netip.AddrPort
}

func newMemConn(ifi net.Interface) *memConn {
	return &memConn{ifi: ifi, in: make(chan []byte, 16), out: make(chan sent, 16), done: make(chan struct{})}
}

func (c *memConn) Link() net.Interface { return c.ifi }

func (c *memConn) ReadFrame(b []byte) (int, bool, bool, error) {
	select {
	case f := <-c.in:
		if len(f) > len(b) {
			return 0, false, false, ErrFrameShort
		}
		return copy(b, f), true, false, nil
	case <-c.done:
		return 0, false, false, net.ErrClosed
	}
}

func (c *memConn) write(s sent) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	select {
	case c.out <- s:
		return nil
	case <-c.done:
		return net.ErrClosed
	}
}

func (c *memConn) WriteFrame(frame []byte, dst net.HardwareAddr) error {
	// The server reuses its frame buffer once this returns.
	return c.write(sent{frame: append([]byte(nil), frame...), hw: append(net.HardwareAddr(nil), dst...)})
}

func (c *memConn) WriteUDP(payload []byte, src netip.Addr, dst netip.AddrPort) error {
	return c.write(sent{payload: append([]byte(nil), payload...), src: src, dst: dst})
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// request queues m as a frame from srcMAC/src to dstMAC/dst.
func (c *memConn) request(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, m *dhcpv4.DHCPv4) {
	c.in <- AppendFrame(nil, dstMAC, srcMAC, src, dst, m.ToBytes())
}

func (c *memConn) next(t *testing.T) sent {
	t.Helper()
	select {
	case s := <-c.out:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no reply within 5 s")
		return sent{}
	}
}

// replyFrame is a reply frame taken apart, its checksums checked.
type replyFrame struct {
	dstMAC, srcMAC net.HardwareAddr
	src, dst       netip.AddrPort
	m              *dhcpv4.DHCPv4
}

func parseReplyFrame(t *testing.T, b []byte) replyFrame {
	t.Helper()
	if len(b) < ethHeaderLen+ipHeaderLen+udpHeaderLen || binary.BigEndian.Uint16(b[12:14]) != etherTypeIP {
		t.Fatalf("reply is not an IPv4 frame: % x", b)
	}
	ip := b[ethHeaderLen:]
	if ip[0] != 0x45 || ip[9] != 17 || checksum(ip[:ipHeaderLen], 0) != 0 {
		t.Fatalf("bad IPv4 header in reply: % x", ip[:ipHeaderLen])
	}
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	udp := ip[ipHeaderLen:int(binary.BigEndian.Uint16(ip[2:4]))]
	if checksum(udp, pseudoSum(src, dst, len(udp))) != 0 {
		t.Fatal("bad UDP checksum in reply")
	}
	m, err := dhcpv4.FromBytes(udp[udpHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	return replyFrame{
		dstMAC: net.HardwareAddr(b[0:6]), srcMAC: net.HardwareAddr(b[6:12]),
		src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2])),
		dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4])),
		m:   m,
	}
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestServerDORAInMemory drives whole exchanges through the server's
// socket layer (frame parsing, the for-this-host check, queueing and
// workers, the engine, reply framing) over an in-memory link, and checks
// that each reply leaves the way RFC 2131 §4.1 says: a frame to chaddr and
// yiaddr for a client without an address, a broadcast when the client
// asks for it and for a NAK, UDP to ciaddr for a renewal, UDP to giaddr
// through a relay.
func TestServerDORAInMemory(t *testing.T) {
	for _, workers := range []int{0, 3} { // the reader decides, or the worker pool
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testServerDORA(t, workers) })
	}
}

func testServerDORA(t *testing.T, workers int) {
	r := newRig(t)
	srvMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	relayMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xee}
	conn := newMemConn(net.Interface{Index: lanIn.IfIndex, Name: lanIn.Iface, HardwareAddr: srvMAC, MTU: 1500})
	m, _ := NewMetrics(nil)
	s, err := NewServer(ServerOptions{
		Handler: r.e, Metrics: m, Workers: workers, Conns: []PacketConn{conn},
		InterfaceAddrs: func() (map[int][]netip.Prefix, error) {
			return map[int][]netip.Prefix{lanIn.IfIndex: lanIn.IfAddrs}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("server did not stop within 5 s")
		}
	}()

	var (
		anyClient = netip.MustParseAddrPort("0.0.0.0:68")
		bcastSrv  = netip.MustParseAddrPort("255.255.255.255:67")
		srvPort   = netip.AddrPortFrom(srvAddr, 67)
		relay     = ip("198.51.100.1")
	)
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))

	// frameTo checks a reply sent as a frame on the link, from the
	// server identifier and the link's address, to hw and dst (invalid:
	// the reply's yiaddr), and returns its message.
	frameTo := func(t *testing.T, s sent, hw net.HardwareAddr, dst netip.Addr, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		t.Helper()
		if s.frame == nil {
			t.Fatalf("reply routed over UDP to %s, want a frame to %s on the link", s.dst, hw)
		}
		f := parseReplyFrame(t, s.frame)
		if !dst.IsValid() {
			dst = addr4(f.m.YourIPAddr)
		}
		if s.hw.String() != hw.String() || f.dstMAC.String() != hw.String() || f.srcMAC.String() != srvMAC.String() {
			t.Errorf("frame %s -> %s (sent to %s), want %s -> %s", f.srcMAC, f.dstMAC, s.hw, srvMAC, hw)
		}
		if f.src != srvPort || f.dst != netip.AddrPortFrom(dst, 68) {
			t.Errorf("frame %s -> %s, want %s -> %s:68", f.src, f.dst, srvPort, dst)
		}
		if f.m.MessageType() != mt {
			t.Fatalf("got %s, want %s", f.m.MessageType(), mt)
		}
		return f.m
	}
	// routedTo checks a reply sent through the host's routing.
	routedTo := func(t *testing.T, s sent, dst netip.AddrPort, mt dhcpv4.MessageType) *dhcpv4.DHCPv4 {
		t.Helper()
		if s.payload == nil {
			t.Fatalf("reply sent as a frame to %s, want UDP to %s", s.hw, dst)
		}
		if s.src != srvAddr || s.dst != dst {
			t.Errorf("UDP %s -> %s, want %s -> %s", s.src, s.dst, srvAddr, dst)
		}
		rm, err := dhcpv4.FromBytes(s.payload)
		if err != nil {
			t.Fatal(err)
		}
		if rm.MessageType() != mt {
			t.Fatalf("got %s, want %s", rm.MessageType(), mt)
		}
		return rm
	}
	bound := func(t *testing.T, a netip.Addr, hw net.HardwareAddr) {
		t.Helper()
		if l, ok := r.db.Get(a); !ok || l.State != lease.StateActive || l.HWAddr.String() != hw.String() {
			t.Errorf("lease of %s = %+v, want ACTIVE for %s", a, l, hw)
		}
	}

	t.Run("unicast to chaddr, then renewal to ciaddr", func(t *testing.T) {
		conn.request(macA, broadcastMAC, anyClient, bcastSrv, msg(t, dhcpv4.MessageTypeDiscover, macA))
		off := frameTo(t, conn.next(t), macA, netip.Addr{}, dhcpv4.MessageTypeOffer)
		yi := addr4(off.YourIPAddr)
		if !yi.IsValid() || yi.Less(lanPool.First) || lanPool.Last.Less(yi) {
			t.Fatalf("offered %s, want an address of %s", yi, lanPool.Name)
		}
		conn.request(macA, broadcastMAC, anyClient, bcastSrv, msg(t, dhcpv4.MessageTypeRequest, macA, sid,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(yi.AsSlice())))))
		ack := frameTo(t, conn.next(t), macA, yi, dhcpv4.MessageTypeAck)
		if addr4(ack.YourIPAddr) != yi {
			t.Fatalf("ACK for %s, want %s", ack.YourIPAddr, yi)
		}
		bound(t, yi, macA)

		// RENEWING: unicast from the client's address, answered to it.
		conn.request(macA, srvMAC, netip.AddrPortFrom(yi, 68), srvPort,
			msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(net.IP(yi.AsSlice()))))
		routedTo(t, conn.next(t), netip.AddrPortFrom(yi, 68), dhcpv4.MessageTypeAck)

		// INIT-REBOOT on the wrong network: a NAK, broadcast.
		conn.request(macA, broadcastMAC, anyClient, bcastSrv, msg(t, dhcpv4.MessageTypeRequest, macA,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(farPool.First.AsSlice())))))
		frameTo(t, conn.next(t), broadcastMAC, limitedBroadcast, dhcpv4.MessageTypeNak)
	})

	t.Run("broadcast flag", func(t *testing.T) {
		bc := dhcpv4.WithBroadcast(true)
		conn.request(macB, broadcastMAC, anyClient, bcastSrv, msg(t, dhcpv4.MessageTypeDiscover, macB, bc))
		off := frameTo(t, conn.next(t), broadcastMAC, limitedBroadcast, dhcpv4.MessageTypeOffer)
		conn.request(macB, broadcastMAC, anyClient, bcastSrv, msg(t, dhcpv4.MessageTypeRequest, macB, bc, sid,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.YourIPAddr))))
		frameTo(t, conn.next(t), broadcastMAC, limitedBroadcast, dhcpv4.MessageTypeAck)
		bound(t, addr4(off.YourIPAddr), macB)
	})

	t.Run("relayed", func(t *testing.T) {
		hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc}
		gi := dhcpv4.WithGatewayIP(net.IP(relay.AsSlice()))
		from := netip.AddrPortFrom(relay, 67)
		conn.request(relayMAC, srvMAC, from, srvPort, msg(t, dhcpv4.MessageTypeDiscover, hw, gi))
		off := routedTo(t, conn.next(t), from, dhcpv4.MessageTypeOffer)
		if yi := addr4(off.YourIPAddr); yi.Less(farPool.First) || farPool.Last.Less(yi) {
			t.Fatalf("offered %s through the relay, want an address of %s", yi, farPool.Name)
		}
		conn.request(relayMAC, srvMAC, from, srvPort, msg(t, dhcpv4.MessageTypeRequest, hw, gi, sid,
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.YourIPAddr))))
		routedTo(t, conn.next(t), from, dhcpv4.MessageTypeAck)
		bound(t, addr4(off.YourIPAddr), hw)
	})

	t.Run("not for this host", func(t *testing.T) {
		// Unicast to another server, routed through this box: dropped
		// before the engine sees it.
		drops := m.Drops.WithLabelValues("not-for-us")
		before := counterValue(t, drops)
		hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xd}
		conn.request(hw, srvMAC, anyClient, netip.MustParseAddrPort("203.0.113.9:67"), msg(t, dhcpv4.MessageTypeDiscover, hw))
		deadline := time.Now().Add(5 * time.Second)
		for counterValue(t, drops) == before {
			if time.Now().After(deadline) {
				t.Fatal("a request to another host's address was not dropped")
			}
			time.Sleep(time.Millisecond)
		}
		select {
		case s := <-conn.out:
			t.Fatalf("answered a request for another host: %+v", s)
		default:
		}
	})
}
