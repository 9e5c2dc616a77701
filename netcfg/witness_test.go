package netcfg

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// arpPeer is a net.PacketConn on which a partner answers the ARP
// requests written to it from the answerFrom'th one on (0: never).
type arpPeer struct {
	mu         sync.Mutex
	mac        net.HardwareAddr
	ip         netip.Addr
	answerFrom int
	requests   int
	queue      [][]byte
	wake       chan struct{}
	deadline   time.Time
}

func (c *arpPeer) WriteTo(b []byte, _ net.Addr) (int, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	var req arp.Packet
	if err := req.UnmarshalBinary(f.Payload); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if c.answerFrom == 0 || c.requests < c.answerFrom || req.TargetIP != c.ip {
		return len(b), nil
	}
	rep, _ := arp.NewPacket(arp.OperationReply, c.mac, c.ip, req.SenderHardwareAddr, req.SenderIP)
	pb, _ := rep.MarshalBinary()
	fb, _ := (&ethernet.Frame{Destination: req.SenderHardwareAddr, Source: c.mac, EtherType: ethernet.EtherTypeARP, Payload: pb}).MarshalBinary()
	c.queue = append(c.queue, fb)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (c *arpPeer) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			n := copy(b, c.queue[0])
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return n, nil, nil
		}
		d := time.Until(c.deadline)
		c.mu.Unlock()
		if d <= 0 {
			return 0, nil, os.ErrDeadlineExceeded
		}
		select {
		case <-c.wake:
		case <-time.After(d):
		}
	}
}

func (c *arpPeer) Close() error        { return nil }
func (c *arpPeer) LocalAddr() net.Addr { return nil }
func (c *arpPeer) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}
func (c *arpPeer) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}
func (c *arpPeer) SetWriteDeadline(time.Time) error { return nil }

// TestProbeClient: an answer to any of the probe's requests is an
// answer; a partner that never answers is silence after the timeout, with
// every request sent.
func TestProbeClient(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	target := netip.MustParseAddr("192.0.2.3")
	for _, c := range []struct {
		name       string
		answerFrom int
		want       bool
		requests   int
	}{
		{"answers the first request", 1, true, 1},
		{"answers the third request only", 3, true, 3},
		{"never answers", 0, false, probeTries},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ifi := &net.Interface{Index: lo.Index, Name: "lan0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}, MTU: 1500}
				peer := &arpPeer{mac: net.HardwareAddr{2, 0, 0, 0, 0, 3}, ip: target, answerFrom: c.answerFrom, wake: make(chan struct{}, 1)}
				cl, err := arp.New(ifi, peer)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				got, err := probeClient(cl, target, 300*time.Millisecond)
				if err != nil || got != c.want {
					t.Fatalf("probeClient = %v, %v; want %v", got, err, c.want)
				}
				if peer.requests != c.requests {
					t.Errorf("%d requests sent, want %d", peer.requests, c.requests)
				}
				if !c.want && time.Since(start) < 300*time.Millisecond {
					t.Errorf("silence concluded after %v, before the timeout", time.Since(start))
				}
			})
		})
	}
}
