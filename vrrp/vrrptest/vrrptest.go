// Package vrrptest holds fakes for testing code that runs vrrp instances
// without sockets: an in-memory Conn. Their fake clock is clock/clocktest.
package vrrptest

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/hadhcpd/hadhcpd/vrrp"
)

// Net is an in-memory multicast segment: every Conn on it receives what the
// others write (never its own writes: multicast loopback is off), with TTL
// 255 unless a test injects something else with Inject.
type Net struct {
	mu    sync.Mutex
	conns []*Conn
}

// Conn is one endpoint of a Net; it implements vrrp.Conn.
type Conn struct {
	net    *Net
	Addr   netip.Addr
	in     chan vrrp.Packet
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   []Sent
	down   bool
}

// Sent is one write seen by a Conn.
type Sent struct {
	Payload []byte
	Dst     netip.Addr
}

// ErrClosed is returned by Read after Close.
var ErrClosed = net.ErrClosed

// Conn adds an endpoint with the given source address.
func (n *Net) Conn(addr netip.Addr) *Conn {
	c := &Conn{net: n, Addr: addr, in: make(chan vrrp.Packet, 64), closed: make(chan struct{})}
	n.mu.Lock()
	n.conns = append(n.conns, c)
	n.mu.Unlock()
	return c
}

func (c *Conn) Read(b []byte) (vrrp.Packet, error) {
	select {
	case p := <-c.in:
		n := copy(b, p.Payload)
		p.Payload = b[:n]
		return p, nil
	case <-c.closed:
		return vrrp.Packet{}, ErrClosed
	}
}

func (c *Conn) Write(payload []byte, dst netip.Addr) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	c.mu.Lock()
	c.sent = append(c.sent, Sent{Payload: append([]byte(nil), payload...), Dst: dst})
	down := c.down
	c.mu.Unlock()
	if down {
		return nil // the cable is cut: sent into the void
	}
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	for _, o := range c.net.conns {
		if o == c || (dst != vrrp.MulticastGroup && dst != o.Addr) {
			continue
		}
		o.mu.Lock()
		odown := o.down
		o.mu.Unlock()
		if odown {
			continue
		}
		o.Inject(vrrp.Packet{Payload: append([]byte(nil), payload...), Src: c.Addr, Dst: dst, TTL: vrrp.TTL})
	}
	return nil
}

// Inject delivers p to the Conn's reader as if it came from the wire.
func (c *Conn) Inject(p vrrp.Packet) {
	select {
	case c.in <- p:
	case <-c.closed:
	}
}

// SetDown cuts (true) or restores the Conn's cable: nothing in, nothing out.
func (c *Conn) SetDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

// Sent returns and forgets what the Conn wrote so far.
func (c *Conn) Sent() []Sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sent
	c.sent = nil
	return s
}

func (c *Conn) Close() error {
	err := errors.New("vrrptest: closed twice")
	c.once.Do(func() { close(c.closed); err = nil })
	return err
}
