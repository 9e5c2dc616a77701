package dhcpd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// request handles DHCPREQUEST in its four client states (RFC 2131 §4.3.2).
func (e *Engine) request(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) (Reply, error) {
	reqIP := addr4(req.RequestedIPAddress())
	ciaddr := addr4(req.ClientIPAddr)
	if s := addr4(req.ServerIdentifier()); s.IsValid() {
		// SELECTING: the client chose an offer.
		if s != sid {
			// Another server's offer was chosen: ours lapses at once.
			e.mu.Lock()
			if o := e.byKey[c.key]; o != nil {
				e.dropOfferLocked(o)
			}
			e.mu.Unlock()
			return Reply{}, ErrOtherServer
		}
		if !reqIP.IsValid() {
			// "'requested IP address' MUST be filled in" (§4.3.2).
			return Reply{}, ErrMalformed
		}
		return e.bind(req, c, sub, sid, reqIP, now, true)
	}
	if reqIP.IsValid() && (ciaddr.IsUnspecified() || !ciaddr.IsValid()) {
		// INIT-REBOOT: NAK a wrong network or an address the server
		// knows is not this client's; silence when it has no record.
		// The right network is any subnet of the shared network.
		h := sub.Holder(reqIP)
		if h == nil {
			return e.nak(req, c, sid, "wrong network", reqIP)
		}
		if ra, ok := c.cls.reserved(sub); ok && ra != reqIP {
			return e.nak(req, c, sid, "client has another reserved address", reqIP)
		}
		r := h.ReservationOf(reqIP)
		if r != nil && c.cls.res != r {
			return e.nak(req, c, sid, "reserved for another client", reqIP)
		}
		l, known := e.db.Get(reqIP)
		if known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry) {
			return e.nak(req, c, sid, "leased to another client", reqIP)
		}
		if mine, ok := e.db.ByClient(c.key); ok && mine.Addr != reqIP && mine.State == lease.StateActive && now.Before(mine.Expiry) {
			return e.nak(req, c, sid, "client holds another address", reqIP)
		}
		if !(known && l.Key() == c.key) && r == nil {
			return Reply{}, ErrNoRecord
		}
		return e.bind(req, c, sub, sid, reqIP, now, false)
	}
	if ciaddr.IsValid() && !ciaddr.IsUnspecified() {
		// RENEWING (unicast to us) or REBINDING (broadcast): ciaddr is
		// the client's address.
		h := sub.Holder(ciaddr)
		if h == nil {
			return e.nak(req, c, sid, "wrong network", ciaddr)
		}
		l, known := e.db.Get(ciaddr)
		if known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry) {
			return e.nak(req, c, sid, "leased to another client", ciaddr)
		}
		if !(known && l.Key() == c.key) && h.ReservationOf(ciaddr) == nil {
			return Reply{}, ErrNoRecord
		}
		return e.bind(req, c, sub, sid, ciaddr, now, false)
	}
	return Reply{}, ErrMalformed
}

// bind commits addr to the client and returns the ACK, or a NAK when the
// address cannot be the client's.
func (e *Engine) bind(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid, addr netip.Addr, now time.Time, selecting bool) (Reply, error) {
	hs := sub.Holder(addr)
	if hs == nil {
		return e.nak(req, c, sid, "wrong network", addr)
	}
	sub = hs // the subnet of addr: its pools, options and times
	res := sub.ReservationOf(addr)
	if res != nil && c.cls.res != res {
		return e.nak(req, c, sid, "reserved for another client", addr)
	}
	if mine, ok := c.cls.reserved(sub); ok && mine != addr {
		return e.nak(req, c, sid, "client has another reserved address", addr)
	}
	if res == nil && !c.cls.admits(sub, addr) {
		// The client's classes no longer let it use this pool (allow,
		// deny): the address is not available to it.
		return e.nak(req, c, sid, "address not available", addr)
	}
	e.mu.Lock()
	if k, busy := e.busy[addr]; busy {
		e.mu.Unlock()
		if k == c.key {
			return Reply{}, ErrBusy // a retransmission while the first commit runs
		}
		return e.nak(req, c, sid, "being leased to another client", addr)
	}
	var held, ok bool
	if o := e.offers[addr]; o != nil && o.key == c.key {
		held, ok = e.takeOfferLocked(addr), true
	} else if res != nil {
		l, known := e.db.Get(addr)
		ok = !(known && l.Key() != c.key && l.State == lease.StateActive && now.Before(l.Expiry))
		if o != nil && o.key != c.key {
			ok = false
		}
	} else {
		held, ok = e.claimLocked(sub, c, addr, now)
	}
	if !ok {
		taken := e.takenByOtherLocked(c, addr, now)
		e.mu.Unlock()
		if selecting && !taken {
			// RFC 2131 §4.3.2: a server not selected by the REQUEST stays
			// silent. The shared server id cannot tell which box of a pair
			// made the offer, so an address that is not ours to give and
			// that no other client holds is the partner's offer: a NAK here
			// would make the client throw away the partner's good ACK.
			return Reply{}, ErrNotOffered
		}
		return e.nak(req, c, sid, "address not available", addr)
	}
	// The client's other offer (if it chose a different address) lapses.
	if o := e.byKey[c.key]; o != nil {
		e.dropOfferLocked(o)
	}
	e.busy[addr] = c.key
	e.mu.Unlock()

	prev, _ := e.db.Get(addr)
	times := c.cls.leaseTimes(sub.Times)
	lt, g := e.grant(req, c, sub, times, addr, prev, now)
	l := lease.Lease{
		Addr:       addr,
		HWAddr:     append(net.HardwareAddr(nil), c.hw...),
		ClientID:   append([]byte(nil), c.id...),
		Hostname:   hostname(req, c.cls.res),
		State:      lease.StateActive,
		Start:      now,
		Expiry:     now.Add(lt),
		CLTT:       now,
		StateStart: now,
	}
	renew := prev.State == lease.StateActive && prev.Key() == c.key
	if renew {
		l.Start, l.StateStart = prev.Start, prev.StateStart
		// A shorter lease than the client holds (lease time lowered by a
		// reload, or capped in COMMUNICATIONS-INTERRUPTED) goes in the
		// ACK, but the record keeps the earlier end: a lost ACK leaves
		// the client on that one (invariant 2).
		if prev.Expiry.After(l.Expiry) {
			l.Expiry = prev.Expiry
		}
	}
	if prev.Key() == c.key {
		// The grant was capped by what the partner knows of this
		// client's binding, whatever its state (grant): the record keeps
		// it, or the next renewal would be capped at MCLT alone (draft
		// §5.2.1) and shorten the lease just given (an expired binding
		// re-bound while the partner is away, then renewed).
		l.PotentialExpiry, l.AckedExpiry, l.PartnerExpiry = prev.PotentialExpiry, prev.AckedExpiry, prev.PartnerExpiry
	}
	if g.Potential.After(l.PotentialExpiry) {
		// The partner receives it with this record (draft §5.2.1, "what
		// to tell the failover partner").
		l.PotentialExpiry = g.Potential
	}
	if g.Acked.After(l.AckedExpiry) {
		l.AckedExpiry = g.Acked
	}
	// The commit runs in the engine's committer (commitLoop), batched with
	// other requests' leases into one db.Commit: the ACK is built only
	// after its lease is durable, and no worker waits for the fsync.
	p := &pendingCommit{lease: l, cls: c.cls}
	hw, cid := c.hw, c.id
	p.finish = func(err error) (Reply, error) {
		e.mu.Lock()
		delete(e.busy, addr)
		if err != nil && held {
			e.db.Unhold(addr)
		}
		e.mu.Unlock()
		if err != nil {
			e.log.Error("commit lease", "ip", addr, "mac", hw.String(), "err", err)
			return Reply{}, fmt.Errorf("%w: %w", ErrCommit, err)
		}
		event := "bind"
		if renew {
			event = "renew"
		}
		resp := e.newReply(req, dhcpv4.MessageTypeAck, sid)
		resp.ClientIPAddr = req.ClientIPAddr
		resp.YourIPAddr = net.IP(addr.AsSlice())
		setLeaseTime(resp, lt, times)
		e.addOptions(resp, req, sub, &p.cls, addr)
		dest := destination(req, resp)
		e.eventBind[renewIndex(renew)].Inc()
		e.emit(leaseAction(renew), l, relayOf(req.GatewayIPAddr))
		if e.log.Enabled(context.Background(), slog.LevelDebug) {
			e.log.Debug("lease "+event, "ip", addr, "mac", hw.String(), "client", clientLabel(client{id: cid, hw: hw}), "expiry", l.Expiry, "selecting", selecting, "dest", dest.Kind.String())
		}
		return Reply{Resp: resp, Dest: dest}, nil
	}
	return Reply{commit: p}, nil
}

func leaseAction(renew bool) LeaseAction {
	if renew {
		return LeaseRenewed
	}
	return LeaseGranted
}

func renewIndex(renew bool) int {
	if renew {
		return 1
	}
	return 0
}

// nak answers DHCPNAK (RFC 2131 §4.3.2). A server that is not
// authoritative stays silent instead only where it has no record of the
// client (knowsClient, authoritative.go), so that another server on the
// link can answer.
func (e *Engine) nak(req *dhcpv4.DHCPv4, c client, sid netip.Addr, why string, addr netip.Addr) (Reply, error) {
	if !e.cfg.Load().Authoritative && !e.knowsClient(req, c, sid) {
		return Reply{}, ErrNotAuthoritative
	}
	resp := e.newReply(req, dhcpv4.MessageTypeNak, sid)
	resp.Options[uint8(dhcpv4.OptionMessage)] = []byte(why)
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() && !gi.IsUnspecified() {
		// §4.3.2: through a relay, the NAK asks it to broadcast.
		resp.SetBroadcast()
	}
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug("nak", "ip", addr, "mac", req.ClientHWAddr.String(), "reason", why)
	}
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

// release frees the client's binding (RFC 2131 §4.3.4). The client's
// identity stays on the record so it gets the same address next time.
func (e *Engine) release(req *dhcpv4.DHCPv4, c client, sid netip.Addr, now time.Time) error {
	if s := addr4(req.ServerIdentifier()); s.IsValid() && s != sid {
		return ErrOtherServer
	}
	addr := addr4(req.ClientIPAddr)
	err := e.endBinding(c, addr, now, true, func(l *lease.Lease) {
		l.State = lease.StateReleased
		l.Expiry = now
	}, "release")
	if err == nil {
		e.emit(LeaseReleased, ended(c, addr, now), relayOf(req.GatewayIPAddr))
	}
	return err
}

// decline marks an address the client found in use as ABANDONED for the
// probation period (RFC 2131 §4.3.3).
func (e *Engine) decline(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr, now time.Time) error {
	if s := addr4(req.ServerIdentifier()); s.IsValid() && s != sid {
		return ErrOtherServer
	}
	addr := addr4(req.RequestedIPAddress())
	if !addr.IsValid() || sub.Holder(addr) == nil {
		return ErrMalformed
	}
	probation := e.cfg.Load().DeclineProbation
	if probation <= 0 {
		probation = time.Hour
	}
	err := e.endBinding(c, addr, now, false, func(l *lease.Lease) {
		*l = lease.Lease{Addr: addr, State: lease.StateAbandoned, StateStart: now, Start: now, Expiry: now.Add(probation), CLTT: now}
	}, "decline")
	if err == nil {
		e.log.Warn("address declined by client: abandoned for the probation period", "ip", addr, "mac", c.hw.String(), "until", now.Add(probation))
		e.mu.Lock()
		e.abandonQ = append(e.abandonQ, abandoned{addr, now.Add(probation)})
		e.mu.Unlock()
		e.emit(LeaseDeclined, ended(c, addr, now), relayOf(req.GatewayIPAddr))
	}
	return err
}

// endBinding commits a change to the client's own binding of addr.
// With active set, only an ACTIVE binding qualifies (RELEASE); otherwise any
// of the client's records or its offer does (DECLINE).
func (e *Engine) endBinding(c client, addr netip.Addr, now time.Time, active bool, change func(*lease.Lease), event string) error {
	if !addr.IsValid() || addr.IsUnspecified() {
		return ErrMalformed
	}
	e.mu.Lock()
	if _, busy := e.busy[addr]; busy {
		e.mu.Unlock()
		return ErrBusy
	}
	l, known := e.db.Get(addr)
	if o := e.offers[addr]; o != nil && o.key == c.key && !(known && l.Key() == c.key) {
		// DECLINE of an address only offered (a client that probes before
		// REQUEST): mark it too.
		e.takeOfferLocked(addr)
		l, known = lease.Lease{Addr: addr, HWAddr: c.hw, ClientID: c.id}, true
	}
	if !known || l.Key() != c.key || (active && l.State != lease.StateActive) || l.State == lease.StateAbandoned {
		e.mu.Unlock()
		return ErrNoRecord
	}
	e.busy[addr] = c.key
	e.mu.Unlock()
	change(&l)
	l.CLTT, l.StateStart = now, now
	_, err := e.db.Commit(l)
	e.mu.Lock()
	delete(e.busy, addr)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	e.m.Events.WithLabelValues(event).Inc()
	e.log.Debug("lease "+event, "ip", addr, "mac", c.hw.String(), "client", clientLabel(c))
	return nil
}

// inform answers DHCPINFORM with options only: no lease time, no yiaddr
// (RFC 2131 §4.3.5).
func (e *Engine) inform(req *dhcpv4.DHCPv4, c client, sub *scope.Subnet, sid netip.Addr) (Reply, error) {
	ci := addr4(req.ClientIPAddr)
	if !ci.IsValid() || ci.IsUnspecified() {
		// §4.3.5: the ACK goes to ciaddr; without one there is nowhere
		// to send it.
		return Reply{}, ErrInformNoCiaddr
	}
	resp := e.newReply(req, dhcpv4.MessageTypeAck, sid)
	resp.ClientIPAddr = req.ClientIPAddr
	sub = holderOr(sub, ci)
	e.addOptions(resp, req, sub, &c.cls, ci)
	return Reply{Resp: resp, Dest: destination(req, resp)}, nil
}

func hostname(req *dhcpv4.DHCPv4, res *scope.Reservation) string {
	if res != nil && res.Hostname != "" {
		return res.Hostname
	}
	h := req.HostName()
	if len(h) > 63 {
		h = h[:63]
	}
	return h
}
