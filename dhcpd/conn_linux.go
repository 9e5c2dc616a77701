//go:build linux

package dhcpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// packetConn is the one AF_PACKET socket of a served interface: it receives
// every DHCP request arriving on the link (broadcast, or unicast to any of
// the interface's addresses, the VRRP virtual IP included) exactly once,
// whatever addresses come and go, and sends frames the kernel cannot route
// yet (to a client without an address) or must not (limited broadcast on
// this link).
type packetConn struct {
	ifi net.Interface
	f   *os.File
	raw syscall.RawConn
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

// openPacketConn opens the link's packet socket. fanout >= 0 joins it to
// that PACKET_FANOUT group of the link (packet(7)): the kernel hands each
// frame to exactly one socket of the group, round robin, so several
// readers share the link's requests and none is seen twice.
func openPacketConn(ifi net.Interface, fanout int) (*packetConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("dhcpd %s: packet socket: %w", ifi.Name, err)
	}
	fail := func(op string, err error) (*packetConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpd %s: %s: %w", ifi.Name, op, err)
	}
	prog := unix.SockFprog{Len: uint16(len(serverPortFilter)), Filter: (*unix.SockFilter)(unsafe.Pointer(&serverPortFilter[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
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
	f := os.NewFile(uintptr(fd), "packet:"+ifi.Name)
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packetConn{ifi: ifi, f: f, raw: raw}, nil
}

// read receives one frame into b. verify is false when the kernel says the
// UDP checksum was not computed (TP_STATUS_CSUMNOTREADY: veth and offload
// paths between local namespaces or VMs) or already checked
// (TP_STATUS_CSUM_VALID). own is true for frames this host sent.
//
// The recvmsg is a raw system call on the non-blocking socket (it never
// blocks: EAGAIN parks the goroutine in the netpoller), with the message
// header on the stack: no allocation, and no entersyscall, which would let
// the runtime's sysmon hand the P to another thread while the kernel copies
// one frame, a thread wakeup that costs more than the copy on a VM.
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
	msg.SetControllen(len(oob))
	rerr := c.raw.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), unix.MSG_TRUNC)
		n, err = int(r), nil
		if e != 0 {
			n, err = 0, e
		}
		return err != unix.EAGAIN
	})
	if rerr != nil {
		return 0, false, false, rerr
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

// writeFrame sends a whole Ethernet frame to dst on this link (a raw,
// non-blocking sendto: see read).
func (c *packetConn) writeFrame(frame []byte, dst net.HardwareAddr) error {
	sa := unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: htons(unix.ETH_P_IP), Ifindex: int32(c.ifi.Index), Halen: 6}
	copy(sa.Addr[:], dst)
	var err error
	werr := c.raw.Write(func(fd uintptr) bool {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)), 0,
			uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrLinklayer)
		err = nil
		if e != 0 {
			err = e
		}
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	return err
}

func (c *packetConn) close() error { return c.f.Close() }

// udpConn is the one UDP socket on :67 used to send to relays (giaddr:67)
// and to clients that have an address (ciaddr:68), through the kernel's
// routing and neighbour tables.
type udpConn struct {
	c   net.PacketConn
	raw syscall.RawConn
}

func openUDPConn() (*udpConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:67")
	if err != nil {
		return nil, fmt.Errorf("dhcpd: udp socket on port 67: %w", err)
	}
	if err := ipv4.NewPacketConn(c).SetBPF(dropAll); err != nil {
		c.Close()
		return nil, fmt.Errorf("dhcpd: udp socket filter: %w", err)
	}
	raw, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &udpConn{c: c, raw: raw}, nil
}

// send writes payload to dst from src (the server identifier, so the client
// sees the address it will renew with); src is dropped if the kernel refuses
// it (not a local address any more, e.g. a VIP just removed). It is one raw
// sendmsg on the non-blocking socket (see packetConn.read) with the source
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
	if err != nil && ol > 0 && errors.Is(err, unix.EINVAL) {
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
	var err error
	werr := u.raw.Write(func(fd uintptr) bool {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
		err = nil
		if e != 0 {
			err = e
		}
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	return err
}

func (u *udpConn) close() error { return u.c.Close() }
