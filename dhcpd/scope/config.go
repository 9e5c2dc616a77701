package scope

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Config is the typed, validated DHCP configuration the engine serves. The
// agent builds it from the config file.
type Config struct {
	// Authoritative: NAK requests for addresses on the wrong network or
	// leased to someone else (RFC 2131 §4.3.2). Off, silence replaces
	// the NAK only for a client the server has no record of (the
	// engine's knowsClient).
	Authoritative bool
	// OfferHold is how long an OFFERed address stays reserved in memory for
	// the client's REQUEST.
	OfferHold time.Duration
	// DeclineProbation is how long a DECLINEd address stays ABANDONED.
	DeclineProbation time.Duration
	// PingCheck: probe every address offered from a pool first (ARP on
	// direct links, ICMP echo beyond relays; RFC 2131 §2.2), as ISC's
	// ping-check. The engine also probes during a recovery window.
	PingCheck bool
	// PingTimeout bounds one probe; 0: dhcpd.DefaultProbeTimeout.
	PingTimeout time.Duration
	// TrustedRelays, when not empty, are the only IP sources relayed
	// requests (giaddr set) are accepted from.
	TrustedRelays []netip.Prefix
	Subnets       []*Subnet

	// Classes are the client classes in config order (dhcp.client_classes);
	// Classes[i].Index is class.First+i.
	Classes []*Class
	// Boot is the global boot fields (dhcp.next_server, ...); each
	// subnet's Boot already includes them.
	Boot Boot
	// BOOTP: answer BOOTP requests (no option 53) of clients with a
	// reservation with an address (dhcp.bootp: reserved); dynamic BOOTP is
	// always refused.
	BOOTP bool
	// Identifiers is the order reservations are looked up in; nil:
	// DefaultIdentifiers.
	Identifiers []Identifier
}

// LeaseTimes bound what a client may get (RFC 2131 §4.3.1: the client's
// request in option 51 is honoured within [Min, Max]).
type LeaseTimes struct {
	Default, Min, Max time.Duration
	// Renew and Rebind are T1 and T2 (RFC 2131 §4.4.5); zero: the
	// default 0.5 and 0.875 of the granted lease. Renewal clamps them
	// so that T1 < T2 < lease.
	Renew, Rebind time.Duration
}

// Subnet is one served network.
type Subnet struct {
	Prefix       netip.Prefix
	Pools        []lease.Pool // Name = the range, "192.0.2.100-192.0.2.200"
	Reservations []Reservation
	// Relays are giaddrs outside Prefix whose clients belong here.
	Relays  []netip.Addr
	Options Options // global options merged with the subnet's
	Times   LeaseTimes
	// Network is the subnet's shared network (shared.go); nil until
	// Config.Link for a subnet alone on its link.
	Network *SharedNetwork

	// Boot is the global boot fields with the subnet's over them.
	Boot Boot
	// PoolRules are the pools' class rules and options, in the order of
	// Pools; shorter (or nil) when the last pools have none.
	PoolRules []PoolRule
	index     resIndex
}

// Reservation pins an address to a client, or (without Addr) gives it
// options, boot fields and classes only. A reserved address inside a pool
// is never given to another client (lease.Pool.Reserved). It has one
// identifier: HWAddr, ClientID, CircuitID or RemoteID.
type Reservation struct {
	HWAddr    net.HardwareAddr
	ClientID  []byte
	CircuitID []byte     // option 82 sub-option 1 (RFC 3046 §2.0): relayed requests only
	RemoteID  []byte     // option 82 sub-option 2
	Addr      netip.Addr // invalid: no address reserved
	Hostname  string
	Options   Options // on top of the subnet's
	Boot      Boot
	// Classes are the classes the client is a member of (client_classes).
	Classes class.Set
}

// PoolOf returns the pool of s holding a, or nil.
func (s *Subnet) PoolOf(a netip.Addr) *lease.Pool {
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.First.Compare(a) <= 0 && a.Compare(p.Last) <= 0 {
			return p
		}
	}
	return nil
}

// ReservationFor returns the reservation of the client, or nil. The client
// identifier wins over the hardware address (RFC 2131 §4.2).
func (s *Subnet) ReservationFor(clientID []byte, hw net.HardwareAddr) *Reservation {
	if s.index.built {
		return s.ReservationBy(&ClientIdentity{ClientID: clientID, HWAddr: hw}, []Identifier{IDClientID, IDHWAddress})
	}
	for i := range s.Reservations {
		r := &s.Reservations[i]
		if len(r.ClientID) > 0 && len(clientID) > 0 && string(r.ClientID) == string(clientID) {
			return r
		}
	}
	for i := range s.Reservations {
		r := &s.Reservations[i]
		if len(r.HWAddr) > 0 && string(r.HWAddr) == string(hw) {
			return r
		}
	}
	return nil
}

// ReservationOf returns the reservation of address a, or nil.
func (s *Subnet) ReservationOf(a netip.Addr) *Reservation {
	if s.index.built {
		if i, ok := s.index.byAddr[a]; ok {
			return &s.Reservations[i]
		}
		return nil
	}
	for i := range s.Reservations {
		if a.IsValid() && s.Reservations[i].Addr == a {
			return &s.Reservations[i]
		}
	}
	return nil
}

// Pools returns every pool of cfg, for lease.DB.SetPools, each with the
// reserved addresses inside it (the pool never gives them to another
// client: invariant 1).
func (c *Config) Pools() []lease.Pool {
	var out []lease.Pool
	for _, s := range c.Subnets {
		for _, p := range s.Pools {
			p.Reserved = s.ReservedIn(p.First, p.Last)
			out = append(out, p)
		}
	}
	return out
}

// Broadcast returns the directed broadcast address of the IPv4 prefix p:
// its host bits all ones (RFC 1122 §3.2.1.3), the default of option 28
// (RFC 2132 §5.3).
func Broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])|(1<<(32-p.Bits())-1))
	return netip.AddrFrom4(a)
}
