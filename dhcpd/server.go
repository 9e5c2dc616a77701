package dhcpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
)

// Handler decides replies; *Engine is the production one.
type Handler interface {
	Handle(req *dhcpv4.DHCPv4, in Inbound) (Reply, error)
}

// AsyncHandler is a Handler that can answer later (after a lease commit)
// without holding the calling goroutine; *Engine is one. done is called
// exactly once.
type AsyncHandler interface {
	HandleAsync(req *dhcpv4.DHCPv4, in Inbound, done func(Reply, error))
}

// ServerOptions configure NewServer.
type ServerOptions struct {
	Interfaces []string
	Handler    Handler
	Logger     *slog.Logger
	Metrics    *Metrics
	// Workers is the number of goroutines decoding and deciding requests
	// behind the receive queue. 0 with an AsyncHandler (the Engine, whose
	// committer batches lease commits so that nothing waits for an fsync):
	// none, each interface's reader handles its requests itself. That saves
	// a goroutine handoff, and so a thread wakeup and context switch, per
	// packet, which on a VM costs more than deciding the request. A
	// blocking Handler needs one worker per request in flight: default 1024.
	Workers int
	// Queue bounds requests waiting for a worker; beyond it requests are
	// dropped (counted as queue-full). Default 8192.
	Queue int
	// Readers is the number of packet sockets (and reader goroutines) per
	// interface, sharing its requests through one PACKET_FANOUT group:
	// with the Engine each reader decodes, decides and answers a request
	// itself, so one reader is one core's worth of DISCOVERs. Default:
	// half of GOMAXPROCS (at least 1, at most 4). A reader waiting for a
	// frame sits in poll(2) holding its P (packetConn.read); with every P
	// so held, the lease committer and flusher would wait for sysmon to
	// take one back, so the default leaves half of them free.
	Readers int
	// Conns, when set, are the links to serve instead of the sockets
	// NewServer would open for Interfaces (Interfaces and Readers are then
	// unused): one reader goroutine each. Run closes them.
	Conns []PacketConn
	// InterfaceAddrs returns the host's IPv4 addresses by interface
	// index; nil reads them from the kernel (net.Interfaces). They decide
	// which unicast requests are for this host and are given to the
	// Handler as Inbound.IfAddrs. Each call returns a new map, which the
	// server keeps.
	InterfaceAddrs func() (map[int][]netip.Prefix, error)
}

// PacketConn is one served link as the server uses it: it receives the
// link's DHCP requests as Ethernet frames and sends replies the two ways
// RFC 2131 §4.1 needs, as a frame on the link (to the limited broadcast,
// or to chaddr for a client that has no address to answer ARP for yet) or
// through the host's routing (to a relay's giaddr or a client's ciaddr).
// On Linux it is an AF_PACKET socket plus the shared UDP socket on port
// 67; tests use an in-memory one. One goroutine reads; writes may come
// from any goroutine.
type PacketConn interface {
	// Link is the served interface: its index and name (Inbound) and its
	// Ethernet address (the source of the frames the server writes).
	Link() net.Interface
	// ReadFrame reads one frame into b and returns its length; verify
	// asks for the UDP checksum to be checked (false when the kernel
	// already did, or never computed it), own marks a frame this host
	// sent. A frame longer than b is ErrFrameShort. After Close it
	// returns net.ErrClosed, and Close ends a ReadFrame blocked waiting.
	ReadFrame(b []byte) (n int, verify, own bool, err error)
	// WriteFrame sends a whole Ethernet frame to dst on the link.
	WriteFrame(frame []byte, dst net.HardwareAddr) error
	// WriteUDP sends a UDP payload from src (dropped when it is not a
	// local address any more) to dst through the host's routing.
	WriteUDP(payload []byte, src netip.Addr, dst netip.AddrPort) error
	// Close ends the reads and makes later writes fail with net.ErrClosed.
	Close() error
}

// Server is the socket side: a PacketConn per served link (on Linux, an
// AF_PACKET socket per reader and link, and a shared UDP socket for routed
// replies), and a bounded pool of workers calling the Handler.
type Server struct {
	o     ServerOptions
	log   *slog.Logger
	m     *Metrics
	conns []PacketConn
	// shared is what the conns share and NewServer opened (the UDP
	// socket), closed after them; nil with ServerOptions.Conns.
	shared io.Closer
	addrs  atomic.Pointer[addrTable]
	jobs   chan job
	bufs   sync.Pool
	async  AsyncHandler // o.Handler when it is one
	pre    Prefilter    // o.Handler when it is one
	// pending counts requests handed to async whose reply is not sent
	// yet: Run waits for them, so that the lease database is not closed
	// under a commit about to be ACKed.
	pending sync.WaitGroup
	pc      *packetCounters

	refreshMu   sync.Mutex
	lastRefresh time.Time
}

type job struct {
	conn   PacketConn
	buf    *[]byte
	n      int
	verify bool
}

const frameBufSize = 4096

// NewServer opens a packet socket per reader and interface and the UDP
// socket (needs CAP_NET_RAW and CAP_NET_BIND_SERVICE), or serves o.Conns.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Handler == nil || len(o.Interfaces) == 0 && len(o.Conns) == 0 {
		return nil, errors.New("dhcpd: server needs a handler and at least one interface")
	}
	if _, ok := o.Handler.(AsyncHandler); o.Workers <= 0 && !ok {
		o.Workers = 1024
	}
	if o.Queue <= 0 {
		o.Queue = 8192
	}
	if o.Readers <= 0 {
		o.Readers = min(max(runtime.GOMAXPROCS(0)/2, 1), 4)
	}
	if o.InterfaceAddrs == nil {
		o.InterfaceAddrs = hostAddrs
	}
	s := &Server{o: o, log: o.Logger, m: o.Metrics, jobs: make(chan job, o.Queue)}
	s.async, _ = o.Handler.(AsyncHandler)
	s.pre, _ = o.Handler.(Prefilter)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m, _ = NewMetrics(nil)
	}
	s.pc = newPacketCounters(s.m)
	s.bufs.New = func() any { b := make([]byte, frameBufSize); return &b }
	s.conns = o.Conns
	if len(s.conns) == 0 {
		var err error
		if s.conns, s.shared, err = openConns(o.Interfaces, o.Readers); err != nil {
			return nil, err
		}
	}
	if err := s.refreshAddrs(true); err != nil {
		if s.shared != nil { // opened here, not the caller's
			s.closeAll()
		}
		return nil, err
	}
	return s, nil
}

// closeAll closes every conn, then what they share.
func (s *Server) closeAll() {
	for _, c := range s.conns {
		_ = c.Close()
	}
	if s.shared != nil {
		_ = s.shared.Close()
	}
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var readers, workers sync.WaitGroup
	for _, c := range s.conns {
		readers.Add(1)
		go func() { defer readers.Done(); s.readLoop(ctx, c) }()
	}
	for i := 0; i < s.o.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range s.jobs {
				s.handle(j)
			}
		}()
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			if err := s.refreshAddrs(true); err != nil {
				s.log.Warn("read interface addresses", "err", err)
			}
		}
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
	readers.Wait()
	if s.shared != nil {
		_ = s.shared.Close()
	}
	close(s.jobs)
	workers.Wait()
	// Commits under way finish (their replies fail to send on the closed
	// sockets: the clients retry) before the caller closes the database.
	s.pending.Wait()
	return nil
}

// yieldEvery is how many requests a reader handles between yields.
const yieldEvery = 8

func (s *Server) readLoop(ctx context.Context, c PacketConn) {
	handled := 0
	for {
		bp := s.bufs.Get().(*[]byte)
		n, verify, own, err := c.ReadFrame(*bp)
		if err != nil {
			s.bufs.Put(bp)
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, ErrFrameShort) {
				s.pc.tooLong.Inc()
				continue
			}
			s.log.Error("receive", "iface", c.Link().Name, "err", err)
			time.Sleep(10 * time.Millisecond) // not a tight loop on a persistent error
			continue
		}
		if own {
			s.bufs.Put(bp)
			continue
		}
		if s.o.Workers <= 0 {
			s.handle(job{conn: c, buf: bp, n: n, verify: verify})
			if handled++; handled%yieldEvery == 0 {
				// Under load the socket is never empty, so this
				// goroutine would keep its P (the raw system calls
				// never give it up) until sysmon preempts it after
				// 10 ms; the lease flusher and the committer, whose
				// fsync ends the wait of every ACK, would wait that
				// long for a P.
				runtime.Gosched()
			}
			continue
		}
		select {
		case s.jobs <- job{conn: c, buf: bp, n: n, verify: verify}:
			s.pc.queue.Set(float64(len(s.jobs)))
		default:
			s.bufs.Put(bp)
			s.pc.queueFull.Inc()
		}
	}
}

func frameReason(err error) string {
	r := strings.TrimPrefix(err.Error(), "frame: ")
	return "frame-" + strings.ReplaceAll(r, " ", "-")
}

// handle runs one request from frame to reply. The frame buffer is given
// back once the reply is sent: the parsed request may alias it.
func (s *Server) handle(j job) {
	f, err := ParseFrame((*j.buf)[:j.n], j.verify)
	if err != nil {
		s.bufs.Put(j.buf)
		s.m.Drops.WithLabelValues(frameReason(err)).Inc()
		return
	}
	if !s.forUs(f.Dst.Addr()) {
		// Unicast routed through this box to another server.
		s.bufs.Put(j.buf)
		s.pc.notForUs.Inc()
		return
	}
	if s.pre != nil {
		if mt, drop := s.pre.NotServed(f.Payload); drop {
			// Counted as the full path counts it (Server.reply).
			s.bufs.Put(j.buf)
			s.pc.packet(uint8(mt), outcomeDrop).Inc()
			s.pc.notServing.Inc()
			return
		}
	}
	req, err := dhcpv4.FromBytes(f.Payload)
	if err != nil {
		s.bufs.Put(j.buf)
		s.pc.malformed.Inc()
		return
	}
	ifi := j.conn.Link()
	in := Inbound{IfIndex: ifi.Index, Iface: ifi.Name, IfAddrs: s.addrs.Load().byIf[ifi.Index],
		Src: f.Src, Unicast: f.Dst.Addr() != limitedBroadcast}
	if s.async != nil {
		s.pending.Add(1)
		s.async.HandleAsync(req, in, func(rep Reply, err error) {
			defer s.pending.Done()
			s.reply(j, req, rep, err)
		})
		return
	}
	rep, err := s.o.Handler.Handle(req, in)
	s.reply(j, req, rep, err)
}

// reply sends the handler's decision and counts the outcome.
func (s *Server) reply(j job, req *dhcpv4.DHCPv4, rep Reply, err error) {
	defer s.bufs.Put(j.buf)
	mt := uint8(req.MessageType())
	if err != nil {
		s.pc.packet(mt, outcomeDrop).Inc()
		s.m.Drops.WithLabelValues(Reason(err)).Inc()
		return
	}
	if rep.Resp == nil {
		s.pc.packet(mt, outcomeNoReply).Inc()
		return
	}
	if err := s.send(j.conn, rep); err != nil {
		s.pc.packet(mt, outcomeDrop).Inc()
		s.pc.sendFailed.Inc()
		s.log.Debug("send reply", "iface", j.conn.Link().Name, "dest", rep.Dest.Kind, "ip", rep.Dest.IP, "err", err)
		return
	}
	s.pc.packet(mt, uint8(rep.Resp.MessageType())).Inc()
}

// Outcomes of packetCounters besides a reply's message type.
const (
	outcomeDrop    = 0xfe
	outcomeNoReply = 0xff
)

// packetCounters are the per-packet counters with their label values
// curried once, so the hot path neither formats labels nor hashes them.
type packetCounters struct {
	m                                                   *Metrics
	queue                                               prometheus.Gauge
	queueFull, tooLong, notForUs, malformed, sendFailed prometheus.Counter
	notServing                                          prometheus.Counter
	mu                                                  sync.Mutex
	byType                                              atomic.Pointer[map[uint16]prometheus.Counter]
}

func newPacketCounters(m *Metrics) *packetCounters {
	pc := &packetCounters{
		m:          m,
		queue:      m.Queue,
		queueFull:  m.Drops.WithLabelValues("queue-full"),
		tooLong:    m.Drops.WithLabelValues("frame-too-long"),
		notForUs:   m.Drops.WithLabelValues("not-for-us"),
		malformed:  m.Drops.WithLabelValues("malformed"),
		sendFailed: m.Drops.WithLabelValues("send-failed"),
		notServing: m.Drops.WithLabelValues(string(ErrNotServing)),
	}
	pc.byType.Store(&map[uint16]prometheus.Counter{})
	return pc
}

// packet returns the packets_total counter of a request type and outcome
// (a reply type, outcomeDrop or outcomeNoReply): a copy-on-write map, so a
// lookup takes no lock.
func (pc *packetCounters) packet(mt, outcome uint8) prometheus.Counter {
	k := uint16(mt)<<8 | uint16(outcome)
	if c, ok := (*pc.byType.Load())[k]; ok {
		return c
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	old := *pc.byType.Load()
	if c, ok := old[k]; ok {
		return c
	}
	var out string
	switch outcome {
	case outcomeDrop:
		out = "drop"
	case outcomeNoReply:
		out = "noreply"
	default:
		out = typeLabel(outcome)
	}
	c := pc.m.Packets.WithLabelValues(typeLabel(mt), out)
	next := make(map[uint16]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = c
	pc.byType.Store(&next)
	return c
}

// typeLabel is the metric label of a DHCP message type ("bootp" without one).
func typeLabel(mt uint8) string {
	if dhcpv4.MessageType(mt) == dhcpv4.MessageTypeNone {
		return "bootp"
	}
	return strings.ToLower(dhcpv4.MessageType(mt).String())
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// send delivers a reply the way its Dest says (RFC 2131 §4.1): routed
// through the host to a relay or a client's ciaddr, else as a frame on the
// receiving link, from the server identifier so the client sees the address
// it will renew with.
func (s *Server) send(c PacketConn, rep Reply) error {
	payload := rep.Resp.ToBytes()
	src := addr4(rep.Resp.ServerIdentifier())
	switch rep.Dest.Kind {
	case DestRelay, DestUnicast:
		if src.IsValid() && !s.isLocal(src) {
			// The server id is the VIP (invariant 5), which only the VRRP
			// master holds: the other box of a load-balancing pair sends
			// from its own address. Asking the kernel for the VIP first
			// costs a refused sendmsg per reply on that box.
			src = netip.Addr{}
		}
		return c.WriteUDP(payload, src, netip.AddrPortFrom(rep.Dest.IP, rep.Dest.Port))
	case DestBroadcast, DestL2:
		dst := broadcastMAC
		if rep.Dest.Kind == DestL2 {
			dst = rep.Dest.HW
		}
		ifi := c.Link()
		if len(ifi.HardwareAddr) != 6 {
			return fmt.Errorf("interface %s has no Ethernet address", ifi.Name)
		}
		if !src.IsValid() {
			src = netip.IPv4Unspecified()
		}
		bp := s.bufs.Get().(*[]byte)
		defer s.bufs.Put(bp)
		frame := AppendFrame((*bp)[:0], dst, ifi.HardwareAddr,
			netip.AddrPortFrom(src, dhcpv4.ServerPort), netip.AddrPortFrom(rep.Dest.IP, rep.Dest.Port), payload)
		return c.WriteFrame(frame, dst)
	}
	return fmt.Errorf("no destination")
}

// addrTable is a snapshot of the host's IPv4 addresses.
type addrTable struct {
	local map[netip.Addr]bool
	byIf  map[int][]netip.Prefix
}

// forUs reports whether a request's destination is this host: the limited
// broadcast or one of its addresses. A miss re-reads the addresses (at most
// every 100 ms) so a VIP added a moment ago is seen at once.
func (s *Server) forUs(dst netip.Addr) bool {
	if dst == limitedBroadcast {
		return true
	}
	return s.isLocal(dst)
}

// isLocal reports whether a is one of this host's addresses, re-reading
// them on a miss like forUs.
func (s *Server) isLocal(a netip.Addr) bool {
	if s.addrs.Load().local[a] {
		return true
	}
	_ = s.refreshAddrs(false)
	return s.addrs.Load().local[a]
}

func (s *Server) refreshAddrs(force bool) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if !force && time.Since(s.lastRefresh) < 100*time.Millisecond {
		return nil
	}
	s.lastRefresh = time.Now()
	byIf, err := s.o.InterfaceAddrs()
	if err != nil {
		return err
	}
	t := &addrTable{local: map[netip.Addr]bool{}, byIf: byIf}
	for _, ps := range byIf {
		for _, p := range ps {
			t.local[p.Addr()] = true
		}
	}
	s.addrs.Store(t)
	return nil
}

// hostAddrs reads the host's IPv4 addresses by interface index.
func hostAddrs() (map[int][]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	byIf := map[int][]netip.Prefix{}
	for _, ifi := range ifs {
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.Is4() {
				continue
			}
			ones, _ := ipn.Mask.Size()
			byIf[ifi.Index] = append(byIf[ifi.Index], netip.PrefixFrom(ip, ones))
		}
	}
	return byIf, nil
}
