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
	oob []byte // one reader goroutine per conn owns it
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

func openPacketConn(ifi net.Interface) (*packetConn, error) {
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
	f := os.NewFile(uintptr(fd), "packet:"+ifi.Name)
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packetConn{ifi: ifi, f: f, raw: raw, oob: make([]byte, 128)}, nil
}

// read receives one frame into b. verify is false when the kernel says the
// UDP checksum was not computed (TP_STATUS_CSUMNOTREADY: veth and offload
// paths between local namespaces or VMs) or already checked
// (TP_STATUS_CSUM_VALID). own is true for frames this host sent.
func (c *packetConn) read(b []byte) (n int, verify, own bool, err error) {
	var oobn int
	var from unix.Sockaddr
	rerr := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, from, err = unix.Recvmsg(int(fd), b, c.oob, unix.MSG_TRUNC)
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
	if ll, ok := from.(*unix.SockaddrLinklayer); ok {
		// PACKET_OUTGOING: our own transmissions looped to the tap;
		// PACKET_OTHERHOST: seen only in promiscuous mode, not for us.
		own = ll.Pkttype == unix.PACKET_OUTGOING || ll.Pkttype == unix.PACKET_OTHERHOST
	}
	verify = true
	if msgs, perr := unix.ParseSocketControlMessage(c.oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= 4 {
				st := binary.NativeEndian.Uint32(m.Data[0:4])
				if st&(unix.TP_STATUS_CSUMNOTREADY|unix.TP_STATUS_CSUM_VALID) != 0 {
					verify = false
				}
			}
		}
	}
	return n, verify, own, nil
}

// writeFrame sends a whole Ethernet frame to dst on this link.
func (c *packetConn) writeFrame(frame []byte, dst net.HardwareAddr) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.ifi.Index, Halen: 6}
	copy(sa.Addr[:], dst)
	var err error
	werr := c.raw.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), frame, 0, sa)
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
	pc *ipv4.PacketConn
	c  net.PacketConn
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
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetBPF(dropAll); err != nil {
		c.Close()
		return nil, fmt.Errorf("dhcpd: udp socket filter: %w", err)
	}
	return &udpConn{pc: pc, c: c}, nil
}

// send writes payload to dst from src (the server identifier, so the client
// sees the address it will renew with); src is dropped if the kernel refuses
// it (not a local address any more, e.g. a VIP just removed).
func (u *udpConn) send(payload []byte, src netip.Addr, dst netip.AddrPort) error {
	to := net.UDPAddrFromAddrPort(dst)
	var cm *ipv4.ControlMessage
	if src.IsValid() {
		cm = &ipv4.ControlMessage{Src: net.IP(src.AsSlice())}
	}
	_, err := u.pc.WriteTo(payload, cm, to)
	if err != nil && cm != nil && errors.Is(err, unix.EINVAL) {
		_, err = u.pc.WriteTo(payload, nil, to)
	}
	return err
}

func (u *udpConn) close() error { return u.c.Close() }
