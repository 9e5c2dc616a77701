//go:build linux

package dhcpd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// countHandler records the transaction id of every request it is given.
type countHandler struct {
	mu   sync.Mutex
	seen map[dhcpv4.TransactionID]int
}

func (h *countHandler) Handle(req *dhcpv4.DHCPv4, _ Inbound) (Reply, error) {
	h.mu.Lock()
	h.seen[req.TransactionID]++
	h.mu.Unlock()
	return Reply{}, nil
}

func (h *countHandler) counts() (distinct, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.seen {
		distinct++
		dups += n - 1
	}
	return distinct, dups
}

// TestIntegrationReadersShareLink: several readers on one link (a
// PACKET_FANOUT group) see every request exactly once, broadcast and
// unicast to the server's address alike.
func TestIntegrationReadersShareLink(t *testing.T) {
	lab := testnet.New(t, "hdf0")
	sw := lab.Switch("lan")
	srv, cl := lab.Host("srv"), lab.Host("cl")
	srv.Connect(sw, "eth0", "198.18.0.1/24")
	cl.Connect(sw, "eth0", "198.18.0.2/24")

	h := &countHandler{seen: map[dhcpv4.TransactionID]int{}}
	var s *Server
	if err := srv.Do(func() error {
		var err error
		s, err = NewServer(ServerOptions{Interfaces: []string{"eth0"}, Handler: h, Readers: 3})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(s.conns) != 3 {
		t.Fatalf("%d packet sockets on eth0, want 3", len(s.conns))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	}()

	var conn net.PacketConn
	if err := cl.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			})
			return errors.Join(err, serr)
		}}
		var err error
		conn, err = lc.ListenPacket(context.Background(), "udp4", "198.18.0.2:68")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const n = 600
	dsts := []*net.UDPAddr{{IP: net.IPv4bcast, Port: 67}, {IP: net.IPv4(198, 18, 0, 1), Port: 67}}
	for i := range n {
		d, err := dhcpv4.NewDiscovery(net.HardwareAddr{2, 1, 0, 0, byte(i >> 8), byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(d.ToBytes(), dsts[i%2]); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond) // stay within the socket buffers
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		distinct, _ := h.counts()
		if distinct == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
	distinct, dups := h.counts()
	if distinct != n || dups != 0 {
		t.Fatalf("handled %d distinct requests with %d duplicates, want %d and 0", distinct, dups, n)
	}
}

// TestIntegrationServerStopsIdle: readers blocked in poll(2) on an idle
// link end as soon as Run's context does (the wake eventfd), and a reply
// that a late commit sends afterwards fails with net.ErrClosed instead of
// writing to a closed, perhaps reused, descriptor.
func TestIntegrationServerStopsIdle(t *testing.T) {
	lab := testnet.New(t, "hdf1")
	sw := lab.Switch("lan")
	srv := lab.Host("srv")
	srv.Connect(sw, "eth0", "198.18.0.1/24")

	var s *Server
	if err := srv.Do(func() error {
		var err error
		s, err = NewServer(ServerOptions{Interfaces: []string{"eth0"}, Handler: &countHandler{seen: map[dhcpv4.TransactionID]int{}}, Readers: 2})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // both readers in poll
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of its context's end (readers still blocked)")
	}
	t.Logf("stopped in %v", time.Since(start))
	if err := s.conns[0].WriteUDP([]byte{1}, netip.Addr{}, netip.MustParseAddrPort("198.18.0.2:68")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("udp send after stop: %v, want net.ErrClosed", err)
	}
	if err := s.conns[0].WriteFrame(make([]byte, 64), net.HardwareAddr{2, 0, 0, 0, 0, 1}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("frame send after stop: %v, want net.ErrClosed", err)
	}
	for i, lc := range s.conns {
		if c := lc.(*linkConn).pc; c.fd >= 0 || c.wake >= 0 {
			t.Errorf("packet socket %d still open after stop (fd %d, wake %d)", i, c.fd, c.wake)
		}
	}
}
