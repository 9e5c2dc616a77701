//go:build linux

package dhcpd

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
)

// openConns opens readers packet sockets on each interface, then the UDP
// socket they share for routed replies (returned to be closed after them).
func openConns(interfaces []string, readers int) ([]PacketConn, io.Closer, error) {
	var pcs []*packetConn
	fail := func(err error) ([]PacketConn, io.Closer, error) {
		for _, c := range pcs {
			_ = c.release()
		}
		return nil, nil, err
	}
	for _, name := range interfaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return fail(fmt.Errorf("dhcpd: interface %s: %w", name, err))
		}
		fanout := -1
		if readers > 1 {
			// A group id of this process and link (16 bits, per network
			// namespace): another process's group is never joined by
			// accident unless ids collide, and then the join fails
			// unless both asked for the same mode.
			fanout = (os.Getpid()*131 + ifi.Index) & 0xffff
		}
		for range max(readers, 1) {
			c, err := openPacketConn(*ifi, fanout)
			if err != nil {
				return fail(err)
			}
			pcs = append(pcs, c)
		}
	}
	u, err := openUDPConn()
	if err != nil {
		return fail(err)
	}
	conns := make([]PacketConn, len(pcs))
	for i, c := range pcs {
		conns[i] = &linkConn{pc: c, udp: u}
	}
	return conns, udpCloser{u}, nil
}

// linkConn is the Linux PacketConn: a packet socket of the link, and the
// host's UDP socket (shared by every linkConn, closed by the server after
// them).
type linkConn struct {
	pc  *packetConn
	udp *udpConn
	// reading is held by ReadFrame, so that Close releases the socket only
	// once the reader has left it: a descriptor number closed under a
	// blocked read could be handed out again and read by mistake.
	reading sync.Mutex
}

func (c *linkConn) Link() net.Interface { return c.pc.ifi }

func (c *linkConn) ReadFrame(b []byte) (n int, verify, own bool, err error) {
	c.reading.Lock()
	defer c.reading.Unlock()
	return c.pc.read(b)
}

func (c *linkConn) WriteFrame(frame []byte, dst net.HardwareAddr) error {
	return c.pc.writeFrame(frame, dst)
}

func (c *linkConn) WriteUDP(payload []byte, src netip.Addr, dst netip.AddrPort) error {
	return c.udp.send(payload, src, dst)
}

// Close wakes a blocked ReadFrame (the eventfd), waits for it to return and
// closes the packet socket.
func (c *linkConn) Close() error {
	c.pc.shutdown()
	c.reading.Lock()
	defer c.reading.Unlock()
	return c.pc.release()
}

type udpCloser struct{ u *udpConn }

func (u udpCloser) Close() error { return u.u.release() }
