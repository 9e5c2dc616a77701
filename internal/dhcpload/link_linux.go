package dhcpload

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// PacketLink is a Link over an AF_PACKET socket bound to one interface, in
// promiscuous mode so that frames unicast to the clients' made-up MACs
// (OFFERs and ACKs without the broadcast flag, RFC 2131 §4.1) are seen.
type PacketLink struct {
	f  *os.File
	rc interface {
		Read(func(uintptr) bool) error
		Write(func(uintptr) bool) error
	}
}

// OpenPacketLink opens a PacketLink on ifname in the calling thread's
// network namespace (wrap it in testnet.Host.Do to open it in a lab host).
func OpenPacketLink(ifname string) (*PacketLink, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("dhcpload: open %s: %w", ifname, err)
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
	if err != nil {
		return nil, fmt.Errorf("dhcpload: open %s: AF_PACKET socket: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpload: open %s: bind: %w", ifname, err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpload: open %s: promiscuous mode: %w", ifname, err)
	}
	// Our own transmissions come back on ETH_P_ALL as PACKET_OUTGOING;
	// PACKET_IGNORE_OUTGOING (Linux 4.20) drops them in the kernel.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dhcpload: open %s: PACKET_IGNORE_OUTGOING: %w", ifname, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dhcpload: open %s: %w", ifname, err)
	}
	return &PacketLink{f: f, rc: rc}, nil
}

// ReadFrame implements Link.
func (l *PacketLink) ReadFrame(b []byte) (int, error) {
	var n int
	var rerr error
	err := l.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), b, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// WriteFrame implements Link.
func (l *PacketLink) WriteFrame(b []byte) error {
	var werr error
	err := l.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		return !errors.Is(werr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return werr
}

// Close implements Link; a ReadFrame under way returns an error.
func (l *PacketLink) Close() error { return l.f.Close() }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
