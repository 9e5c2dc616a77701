//go:build linux

package dhcpd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// packetConn is the one AF_PACKET socket of a served interface: it receives
// every DHCP request arriving on the link (broadcast, or unicast to any of
// the interface's addresses, the VRRP virtual IP included) exactly once,
// whatever addresses come and go, and sends frames the kernel cannot route
// yet (to a client without an address) or must not (limited broadcast on
// this link).
//
// Its socket, like the UDP one, is a plain blocking-free descriptor kept out
// of Go's netpoller (see rawFD): a descriptor in the runtime's epoll set
// wakes a sleeping thread of the runtime for every frame sent through it
// (the socket's write-space callback fires as veth or the driver frees the
// frame), and one idle thread more per packet cost a fifth of the server's
// CPU under perfdhcp.
type packetConn struct {
	ifi net.Interface
	rawFD
	// wake is an eventfd that ends a read blocked in poll (shutdown).
	wake int
}

// serverPortFilter keeps IPv4/UDP frames to port 67 that are not fragments
// (classic BPF over the Ethernet frame), so the process never wakes for
// other traffic.
var serverPortFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},                                // EtherType
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIP, SkipTrue: 8}, // -> drop
	bpf.LoadAbsolute{Off: 23, Size: 1},                                // IP protocol
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 6},
	bpf.LoadAbsolute{Off: 20, Size: 2}, // flags + fragment offset
	bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 4},
	bpf.LoadMemShift{Off: 14},          // X = IP header length
	bpf.LoadIndirect{Off: 16, Size: 2}, // UDP destination port
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 67, SkipTrue: 1},
	bpf.RetConstant{Val: 0x40000},
	bpf.RetConstant{Val: 0},
})

// dropAll is attached to the UDP socket on :67: that socket only sends
// (and keeps the kernel from answering port-unreachable); its received
// copies of requests are discarded in the kernel so that nothing is handled
// twice.
var dropAll = mustAssemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})

func mustAssemble(p []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(p)
	if err != nil {
		panic(err) // a bug in the constant programs above, found by any test
	}
	return raw
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// attachFilter attaches a classic BPF program to socket fd.
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

// openPacketConn opens the link's packet socket. fanout >= 0 joins it to
// that PACKET_FANOUT group of the link (packet(7)): the kernel hands each
// frame to exactly one socket of the group, round robin, so several
// readers share the link's requests and none is seen twice.
func openPacketConn(ifi net.Interface, fanout int) (*packetConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("dhcpd %s: packet socket: %w", ifi.Name, err)
	}
	fail := func(op string, err error) (*packetConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpd %s: %s: %w", ifi.Name, op, err)
	}
	if err := attachFilter(fd, serverPortFilter); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("PACKET_AUXDATA", err)
	}
	// Room for bursts (perfdhcp, a whole segment rebooting).
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	if fanout >= 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, fanout&0xffff|unix.PACKET_FANOUT_LB<<16); err != nil {
			return fail("PACKET_FANOUT", err)
		}
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fail("eventfd", err)
	}
	return &packetConn{ifi: ifi, rawFD: rawFD{fd: fd}, wake: wake}, nil
}

// read receives one frame into b. verify is false when the kernel says the
// UDP checksum was not computed (TP_STATUS_CSUMNOTREADY: veth and offload
// paths between local namespaces or VMs) or already checked
// (TP_STATUS_CSUM_VALID). own is true for frames this host sent.
//
// The recvmsg is a raw system call with MSG_DONTWAIT and the message header
// on the stack: no allocation, and no entersyscall, which would let the
// runtime's sysmon hand the P to another thread while the kernel copies one
// frame. Only when the socket is empty does the reader block, in poll(2) on
// the socket and the wake eventfd, like a C server's select loop: the kernel
// wakes this thread and no other (see packetConn). It returns net.ErrClosed
// once shutdown was called.
func (c *packetConn) read(b []byte) (n int, verify, own bool, err error) {
	var from unix.RawSockaddrLinklayer
	var oob [64]byte // PACKET_AUXDATA: one cmsg of 48 bytes
	iov := unix.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	msg := unix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(&from)),
		Namelen: unix.SizeofSockaddrLinklayer,
		Iov:     &iov,
		Control: &oob[0],
	}
	msg.SetIovlen(1)
	for {
		msg.Namelen = unix.SizeofSockaddrLinklayer
		msg.SetControllen(len(oob))
		if c.closed.Load() {
			return 0, false, false, net.ErrClosed
		}
		r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_TRUNC|unix.MSG_DONTWAIT)
		if e == unix.EAGAIN {
			fds := [2]unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}, {Fd: int32(c.wake), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds[:], -1); err != nil && err != unix.EINTR {
				return 0, false, false, err
			}
			continue
		}
		if e == unix.EINTR {
			continue
		}
		n, err = int(r), nil
		if e != 0 {
			n, err = 0, e
		}
		break
	}
	if err != nil {
		return 0, false, false, err
	}
	if n > len(b) {
		return 0, false, false, ErrFrameShort // truncated by a small buffer: never a DHCP request
	}
	// PACKET_OUTGOING: our own transmissions looped to the tap;
	// PACKET_OTHERHOST: seen only in promiscuous mode, not for us.
	own = from.Pkttype == unix.PACKET_OUTGOING || from.Pkttype == unix.PACKET_OTHERHOST
	verify = true
	if st, ok := auxStatus(oob[:msg.Controllen]); ok && st&(unix.TP_STATUS_CSUMNOTREADY|unix.TP_STATUS_CSUM_VALID) != 0 {
		verify = false
	}
	return n, verify, own, nil
}

// auxStatus finds the tp_status of a PACKET_AUXDATA control message in oob
// without allocating (unix.ParseSocketControlMessage would).
func auxStatus(oob []byte) (uint32, bool) {
	hl := unix.CmsgLen(0)
	for len(oob) >= hl {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l-hl >= 4 {
			return binary.NativeEndian.Uint32(oob[hl : hl+4]), true
		}
		sp := unix.CmsgSpace(l - hl)
		if sp > len(oob) {
			return 0, false
		}
		oob = oob[sp:]
	}
	return 0, false
}

// writeFrame sends a whole Ethernet frame to dst on this link (a raw
// sendto: see rawFD).
func (c *packetConn) writeFrame(frame []byte, dst net.HardwareAddr) error {
	sa := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_IP), Ifindex: int32(c.ifi.Index), Halen: 6}
	copy(sa.Addr[:], dst)
	return c.do(func(fd uintptr) unix.Errno {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrLinklayer)
		return e
	})
}

// shutdown makes a blocked or later read return net.ErrClosed and later
// sends fail; the descriptors stay open until release, so that a reader
// still inside read never uses a number the kernel has handed out again.
func (c *packetConn) shutdown() {
	if !c.closed.Swap(true) {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(c.wake, one[:])
	}
}

// release closes the descriptors; the reader must have returned.
func (c *packetConn) release() error {
	c.shutdown()
	err := c.rawFD.release()
	if c.wake >= 0 {
		_ = unix.Close(c.wake)
		c.wake = -1
	}
	return err
}

// rawFD is a socket the Go runtime does not know about: no netpoller
// registration (see packetConn), every call a raw system call. Sends never
// block (MSG_DONTWAIT): a full send buffer is a dropped reply, which the
// client retransmits, and cannot happen below the rates a link carries.
type rawFD struct {
	fd     int
	closed atomic.Bool
	// mu is held (shared) around each send and (exclusive) by release,
	// so that a reply sent as the server stops fails with net.ErrClosed
	// instead of writing to a reused descriptor number.
	mu sync.RWMutex
}

// do runs one raw send system call on the descriptor; EINTR is retried.
func (r *rawFD) do(call func(fd uintptr) unix.Errno) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.fd < 0 || r.closed.Load() {
		return net.ErrClosed
	}
	for {
		e := call(uintptr(r.fd))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func (r *rawFD) release() error {
	r.closed.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// udpConn is the one UDP socket on :67 used to send to relays (giaddr:67)
// and to clients that have an address (ciaddr:68), through the kernel's
// routing and neighbour tables. Like packetConn it stays out of the
// netpoller.
type udpConn struct {
	rawFD
}

func openUDPConn() (*udpConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("dhcpd: udp socket: %w", err)
	}
	fail := func(op string, err error) (*udpConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpd: udp socket on port 67: %s: %w", op, err)
	}
	for _, o := range []int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := attachFilter(fd, dropAll); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 67}); err != nil {
		return fail("bind", err)
	}
	return &udpConn{rawFD{fd: fd}}, nil
}

// send writes payload to dst from src (the server identifier, so the client
// sees the address it will renew with); src is dropped if the kernel refuses
// it (not a local address any more, e.g. a VIP just removed). It is one raw
// sendmsg (see rawFD) with the source
// in an IP_PKTINFO control message, built on the stack: nothing is
// allocated per packet.
func (u *udpConn) send(payload []byte, src netip.Addr, dst netip.AddrPort) error {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().As4()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(dst.Port()>>8), byte(dst.Port()) // network byte order
	var oob [64]byte
	ol := 0
	if src.IsValid() {
		ol = unix.CmsgSpace(unix.SizeofInet4Pktinfo)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
		pi.Spec_dst = src.As4()
	}
	err := u.sendmsg(payload, oob[:], ol, &sa)
	// A source that is not local is refused with EINVAL or, for a routed
	// destination (a relay), ENETUNREACH: the load-balancing box that
	// does not hold the VIP answers relays from its own address.
	if err != nil && ol > 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENETUNREACH)) {
		err = u.sendmsg(payload, oob[:], 0, &sa)
	}
	return err
}

func (u *udpConn) sendmsg(payload, oob []byte, oobLen int, sa *unix.RawSockaddrInet4) error {
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(sa)), Namelen: unix.SizeofSockaddrInet4, Iov: &iov}
	msg.SetIovlen(1)
	if oobLen > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(oobLen)
	}
	return u.do(func(fd uintptr) unix.Errno {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT)
		return e
	})
}
