package netcfg

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Schedule is the garp: section of an instance.
type Schedule struct {
	Repeat   int           // rounds in the burst after becoming master (≥1)
	Interval time.Duration // between the rounds of the burst
	Refresh  time.Duration // then one round every Refresh; 0: none
}

// GARP announces addresses on one interface with gratuitous ARP from one
// long-lived raw socket. One goroutine (Run) owns the schedule; Announce and
// Stop only hand it a new plan.
//
// Each round sends, per address, an ARP request (RFC 5227 §2.3
// announcement: sender and target IP the address, target hardware zero) and
// an ARP reply whose target hardware address is the sender's (RFC 5944
// §4.6), both to the Ethernet broadcast address: hosts and switches that
// ignore one kind update on the other.
type GARP struct {
	c     *arp.Client
	clock clock.Clock // the schedule's timers; tests run the wall clock under testing/synctest
	log   *slog.Logger
	plans chan plan // cap 1; the newest plan replaces an unread one
}

type plan struct {
	ips   []netip.Addr
	sched Schedule
}

// NewGARP opens the sender on ifname.
//
// The pinned mdlayher/arp's Dial needs an IPv4 address on the interface (it
// picks one as its own sender address and fails with "no IPv4 address"
// otherwise), so create the sender after the interface has its own
// address — which a VRRP interface needs anyway as the advert source.
// Needs CAP_NET_RAW.
func NewGARP(ifname string, log *slog.Logger) (*GARP, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netcfg: gratuitous ARP on %s: %w", ifname, err)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("netcfg: gratuitous ARP on %s: %w", ifname, err)
	}
	return newGARP(c, clock.Wall(), log), nil
}

// NewGARPConn builds a sender over any PacketConn (tests capture frames).
func NewGARPConn(ifi *net.Interface, pc net.PacketConn, clk clock.Clock, log *slog.Logger) (*GARP, error) {
	c, err := arp.New(ifi, pc)
	if err != nil {
		return nil, fmt.Errorf("netcfg: gratuitous ARP on %s: %w", ifi.Name, err)
	}
	if clk == nil {
		clk = clock.Wall()
	}
	return newGARP(c, clk, log), nil
}

func newGARP(c *arp.Client, clk clock.Clock, log *slog.Logger) *GARP {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &GARP{c: c, clock: clk, log: log, plans: make(chan plan, 1)}
}

// Announce replaces the schedule: the first round for ips goes out at
// once, then Repeat-1 more every Interval, then one every Refresh.
func (g *GARP) Announce(ips []netip.Addr, s Schedule) {
	g.post(plan{ips: append([]netip.Addr(nil), ips...), sched: s})
}

// Stop ends any announcement (leaving master).
func (g *GARP) Stop() { g.post(plan{}) }

func (g *GARP) post(p plan) {
	for {
		select {
		case g.plans <- p:
			return
		default:
		}
		select { // drop the unread older plan
		case <-g.plans:
		default:
		}
	}
}

// Run owns the schedule until ctx ends, then closes the socket.
func (g *GARP) Run(ctx context.Context) error {
	defer g.c.Close()
	t := g.clock.NewTimer(time.Hour)
	t.Stop()
	var (
		cur  plan
		left int // rounds of the burst still to send
	)
	next := func() {
		switch {
		case left > 0:
			t.Reset(cur.sched.Interval)
		case cur.sched.Refresh > 0:
			t.Reset(cur.sched.Refresh)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-g.plans:
			t.Stop()
			cur, left = p, 0
			if len(p.ips) == 0 {
				continue
			}
			g.round(cur.ips)
			left = max(p.sched.Repeat, 1) - 1
			next()
		case <-t.C():
			if len(cur.ips) == 0 {
				continue
			}
			g.round(cur.ips)
			if left > 0 {
				left--
			}
			next()
		}
	}
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

func (g *GARP) round(ips []netip.Addr) {
	mac := g.c.HardwareAddr()
	for _, ip := range ips {
		for _, p := range []struct {
			op     arp.Operation
			target net.HardwareAddr
		}{{arp.OperationRequest, zeroMAC}, {arp.OperationReply, mac}} {
			pkt, err := arp.NewPacket(p.op, mac, ip, p.target, ip)
			if err == nil {
				err = g.c.WriteTo(pkt, ethernet.Broadcast)
			}
			if err != nil {
				// One line per round at most: the next round retries.
				g.log.Warn("gratuitous ARP", "op", "garp", "ip", ip, "err", err)
				return
			}
		}
	}
}
