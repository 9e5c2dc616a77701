package e2e

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// TestIntegrationGarbageThenLease fires thousands of random and mutated
// packets (as UDP datagrams and as raw Ethernet frames with broken headers)
// at a running hadhcpd, then checks that it still runs and that a real
// client still gets a lease.
func TestIntegrationGarbageThenLease(t *testing.T) {
	l := newSoloLab(t, "1h")
	h := l.client("c1", "")
	h.MustIP("addr", "add", "192.0.2.9/24", "dev", "eth0") // for the unicast share of the garbage
	rng := rand.New(rand.NewPCG(1, 2))
	valid := func() []byte {
		var mt dhcpv4.MessageType = dhcpv4.MessageType(1 + rng.IntN(8))
		m, _ := dhcpv4.New(dhcpv4.WithMessageType(mt),
			dhcpv4.WithHwAddr(net.HardwareAddr{2, byte(rng.IntN(256)), 0, 0, 0, byte(rng.IntN(256))}),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, byte(rng.IntN(256))})),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP{192, 0, 2, byte(rng.IntN(3))})),
			dhcpv4.WithClientIP(net.IP{192, 0, 2, byte(rng.IntN(2) * 150)}))
		return m.ToBytes()
	}
	mutate := func(b []byte) []byte {
		switch rng.IntN(4) {
		case 0: // truncate
			return b[:rng.IntN(len(b)+1)]
		case 1: // flip bytes
			for i := 0; i < 1+rng.IntN(8); i++ {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			return b
		case 2: // random bytes
			r := make([]byte, rng.IntN(600))
			for i := range r {
				r[i] = byte(rng.IntN(256))
			}
			return r
		}
		// broken options area: random option codes and lengths
		for i := 240; i < len(b); i++ {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	err := h.Do(func() error {
		c, err := net.ListenPacket("udp4", "0.0.0.0:68")
		if err != nil {
			return err
		}
		defer c.Close()
		rc, _ := c.(*net.UDPConn).SyscallConn()
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			_ = unix.BindToDevice(int(fd), "eth0") // 255.255.255.255 has no route here
		})
		bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: 67}
		ucast := &net.UDPAddr{IP: net.IP{192, 0, 2, 1}, Port: 67}
		for i := 0; i < 3000; i++ {
			to := bcast
			if i%3 == 0 {
				to = ucast
			}
			if _, err := c.WriteTo(mutate(valid()), to); err != nil {
				return err
			}
			if i%200 == 0 {
				time.Sleep(5 * time.Millisecond) // let the queue drain: this is about content, not load
			}
		}
		// Raw frames with broken IP and UDP headers.
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		for i := 0; i < 2000; i++ {
			f := dhcpd.AppendFrame(nil, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ifi.HardwareAddr,
				netip.MustParseAddrPort("0.0.0.0:68"), netip.MustParseAddrPort("255.255.255.255:67"), valid())
			switch rng.IntN(3) {
			case 0:
				f = f[:rng.IntN(len(f)+1)]
			case 1:
				f[14+rng.IntN(28)] ^= byte(1 + rng.IntN(255)) // IP or UDP header
			default:
				f[14+2], f[14+3] = byte(rng.IntN(256)), byte(rng.IntN(256)) // IP total length
			}
			if len(f) < 14 {
				continue
			}
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				return err
			}
			if i%200 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sending garbage: %v", err)
	}
	if l.box.Proc.Exited() {
		t.Fatal("hadhcpd died under garbage input")
	}
	h.MustIP("addr", "flush", "dev", "eth0")
	c := newClient(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Output(ctx, "busybox", "udhcpc", "-n", "-q", "-i", "eth0", "-s", c.script, "-t", "5", "-T", "1")
	if err != nil {
		t.Fatalf("a real client after the garbage: %v\n%s", err, out)
	}
	c.waitEvent(t, `bound (192\.0\.2\.\d+)`, 2*time.Second)
	if l.box.Proc.Exited() {
		t.Fatal("hadhcpd exited")
	}
}
