package netcfg

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// capConn is a net.PacketConn that keeps every frame written to it.
type capConn struct {
	mu     sync.Mutex
	frames [][]byte
	closed chan struct{}
}

func (c *capConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.frames = append(c.frames, append([]byte(nil), b...))
	c.mu.Unlock()
	return len(b), nil
}
func (c *capConn) ReadFrom([]byte) (int, net.Addr, error) { <-c.closed; return 0, nil, net.ErrClosed }
func (c *capConn) Close() error                           { close(c.closed); return nil }
func (c *capConn) LocalAddr() net.Addr                    { return nil }
func (c *capConn) SetDeadline(time.Time) error            { return nil }
func (c *capConn) SetReadDeadline(time.Time) error        { return nil }
func (c *capConn) SetWriteDeadline(time.Time) error       { return nil }

// take decodes and forgets the frames written so far.
func (c *capConn) take(t *testing.T) []string {
	t.Helper()
	c.mu.Lock()
	fs := c.frames
	c.frames = nil
	c.mu.Unlock()
	var out []string
	for _, b := range fs {
		var f ethernet.Frame
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatalf("frame: %v", err)
		}
		if f.EtherType != ethernet.EtherTypeARP {
			t.Fatalf("ethertype %v", f.EtherType)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatalf("arp: %v", err)
		}
		out = append(out, f.Destination.String()+" "+p.Operation.String()+" "+
			p.SenderHardwareAddr.String()+" "+p.SenderIP.String()+" -> "+p.TargetHardwareAddr.String()+" "+p.TargetIP.String())
	}
	return out
}

func TestGARPSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mac := net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1}
		// arp.New insists on an IPv4 address of the interface: borrow
		// loopback's index (127.0.0.1); the MAC is the test's.
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			t.Skipf("no loopback interface: %v", err)
		}
		ifi := &net.Interface{Index: lo.Index, Name: "lan0", HardwareAddr: mac, MTU: 1500}
		cc := &capConn{closed: make(chan struct{})}
		g, err := NewGARPConn(ifi, cc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()

		vip := netip.MustParseAddr("192.0.2.1")
		g.Announce([]netip.Addr{vip}, Schedule{Repeat: 3, Interval: 100 * time.Millisecond, Refresh: time.Second})
		synctest.Wait()
		want := []string{
			"ff:ff:ff:ff:ff:ff OperationRequest 02:00:5e:10:00:01 192.0.2.1 -> 00:00:00:00:00:00 192.0.2.1",
			"ff:ff:ff:ff:ff:ff OperationReply 02:00:5e:10:00:01 192.0.2.1 -> 02:00:5e:10:00:01 192.0.2.1",
		}
		check := func(when string, got []string, rounds int) {
			t.Helper()
			if len(got) != 2*rounds {
				t.Fatalf("%s: %d frames %q, want %d rounds", when, len(got), got, rounds)
			}
			for i, g := range got {
				if g != want[i%2] {
					t.Fatalf("%s: frame %d\n got %s\nwant %s", when, i, g, want[i%2])
				}
			}
		}
		check("at once", cc.take(t), 1)
		time.Sleep(99 * time.Millisecond) // fake time inside the bubble
		synctest.Wait()
		check("before the interval", cc.take(t), 0)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		check("second round", cc.take(t), 1)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		check("third round", cc.take(t), 1)
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		check("burst done, before refresh", cc.take(t), 0)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		check("refresh", cc.take(t), 1)

		g.Stop()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		check("after Stop", cc.take(t), 0)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
