package dhcpload

// Renewals and rebinds (RFC 2131 §4.4.5) of leases the population holds.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// RenewResult is the outcome of one Renew.
type RenewResult struct {
	Mode string    // "renewing" (unicast to the server id) or "rebinding" (broadcast)
	Sent time.Time // first REQUEST of the mode that was answered
	At   time.Time // the answer
	Type dhcpv4.MessageType
	Addr netip.Addr // yiaddr of the ACK
	// LeaseTime is option 51 of the ACK.
	LeaseTime time.Duration
	From      Server
}

// Renew extends a held lease as the client would at T1 and T2 (RFC 2131
// §4.4.5): RENEWING — unicast a REQUEST with ciaddr set (no option 50 or
// 54) to the server identifier's hardware address, the one the population
// last learned for it (RFC 826: a VRRP takeover's gratuitous ARP moves
// it, also between retransmissions) or else asked with ARP — for up to
// renewFor (0: the client is past T2), then REBINDING — the same REQUEST
// broadcast — for up to rebindFor. It returns the first ACK or NAK;
// ErrNoReply if neither came.
func (p *Population) Renew(ctx context.Context, held Result, renewFor, rebindFor time.Duration) (RenewResult, error) {
	if !held.OK() || !held.Addr.Is4() {
		return RenewResult{}, fmt.Errorf("renew client %d: %w", held.Client, ErrNotHeld)
	}
	p.mu.Lock()
	p.held[held.Addr] = held.MAC
	p.mu.Unlock()
	start := p.cfg.Now()
	sid := held.AckFrom.ID
	if !sid.IsValid() {
		sid = held.AckFrom.IP
	}
	// RENEWING: unicast needs the server's MAC. A host that knows it
	// sends at once (to a dead box too, until an ARP announcement moves
	// the entry); one that does not asks first.
	end := start.Add(renewFor)
	if renewFor > 0 {
		p.mu.Lock()
		mac, ok := p.neigh[sid]
		p.mu.Unlock()
		if !ok {
			mac, ok = p.resolve(ctx, held.MAC, held.Addr, sid, minTime(start.Add(p.cfg.StepTimeout), end))
		}
		if ok {
			if rr, ok, err := p.renewStep(ctx, held, "renewing", mac, sid, end, start); err != nil || ok {
				return rr, err
			}
		}
	}
	if rr, ok, err := p.renewStep(ctx, held, "rebinding", broadcastMAC, bcast4, p.cfg.Now().Add(rebindFor), start); err != nil || ok {
		return rr, err
	}
	return RenewResult{}, fmt.Errorf("renew client %d (%s, %s): no answer to RENEWING (%v, server %s) nor REBINDING (%v): %w",
		held.Client, held.MAC, held.Addr, renewFor, sid, rebindFor, ErrNoReply)
}

func (p *Population) renewStep(ctx context.Context, held Result, mode string, dstMAC net.HardwareAddr, dst netip.Addr, end, start time.Time) (RenewResult, bool, error) {
	xid, w, err := p.register(held.Client, held.MAC)
	if err != nil {
		return RenewResult{}, false, err
	}
	defer p.unregister(xid, w)
	req, err := dhcpv4.New(
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(held.MAC),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(held.Addr.AsSlice()),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer),
	)
	if err != nil {
		return RenewResult{}, false, err
	}
	rr := RenewResult{Mode: mode, Sent: p.cfg.Now()}
	for p.cfg.Now().Before(end) && ctx.Err() == nil {
		req.NumSeconds = secs(start, p.cfg.Now())
		p.mu.Lock()
		if mac, ok := p.neigh[dst]; ok {
			dstMAC = mac
		}
		p.mu.Unlock()
		if err := p.send(dstMAC, held.MAC, held.Addr, dst, req); err != nil {
			return rr, false, fmt.Errorf("renew client %d: send %s REQUEST: %w", held.Client, mode, err)
		}
		rep, ok := p.await(ctx, w, minTime(p.cfg.Now().Add(p.cfg.StepTimeout), end), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
		if !ok {
			continue
		}
		rr.At, rr.Type, rr.From = rep.at, rep.m.MessageType(), rep.from
		rr.Addr, _ = netip.AddrFromSlice(rep.m.YourIPAddr.To4())
		rr.LeaseTime = rep.m.IPAddressLeaseTime(0)
		return rr, true, nil
	}
	return rr, false, nil
}

// resolve asks who has ip (ARP request from the client's MAC and address)
// and waits until deadline for the answer.
func (p *Population) resolve(ctx context.Context, mac net.HardwareAddr, from, ip netip.Addr, deadline time.Time) (net.HardwareAddr, bool) {
	ch := make(chan arpPacket, 4)
	p.mu.Lock()
	p.arpWait[ip] = append(p.arpWait[ip], ch)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		ws := p.arpWait[ip]
		for i, c := range ws {
			if c == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(p.arpWait, ip)
		} else {
			p.arpWait[ip] = ws
		}
		p.mu.Unlock()
	}()
	q := arpPacket{op: arpRequest, senderMAC: mac, senderIP: from, targetMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, targetIP: ip}
	if err := p.link.WriteFrame(arpFrame(broadcastMAC, mac, q)); err != nil {
		return nil, false
	}
	timer := time.NewTimer(deadline.Sub(p.cfg.Now()))
	defer timer.Stop()
	select {
	case a := <-ch:
		mac := append(net.HardwareAddr(nil), a.senderMAC...)
		p.mu.Lock()
		p.neigh[ip] = mac
		p.mu.Unlock()
		return mac, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}
