package scope

import (
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
)

// Boot is what a network-booting client reads from the fixed BOOTP fields
// (RFC 2131 §2): siaddr, the server to fetch the boot file from, sname and
// file. The zero value sets nothing.
type Boot struct {
	NextServer netip.Addr // siaddr
	ServerName string     // sname: at most 63 bytes (a NUL ends the field)
	File       string     // file: at most 127 bytes
}

// Over returns b with every field over sets replacing b's: over is the
// more specific level (subnet over global).
func (b Boot) Over(over Boot) Boot {
	if over.NextServer.IsValid() {
		b.NextServer = over.NextServer
	}
	if over.ServerName != "" {
		b.ServerName = over.ServerName
	}
	if over.File != "" {
		b.File = over.File
	}
	return b
}

// IsZero reports whether b sets nothing.
func (b Boot) IsZero() bool { return !b.NextServer.IsValid() && b.ServerName == "" && b.File == "" }

// Class is one client class (dhcp.client_classes[]), compiled. A client
// is a member when Test matches, when Match's value is one of Members
// (ISC's subclass lookup table: one map lookup, never a chain of tests), or
// through a reservation's client_classes; a class with neither Test nor
// Match has members only that last way.
type Class struct {
	Name    string
	Index   int // in class.Set: class.First + its position in Config.Classes
	Test    *class.Expr
	Match   *class.Value
	Members map[string]struct{}
	Options Options // nil: sets none
	Boot    Boot
	Times   ClassTimes
}

// ClassTimes are a class's lease times; zero fields are not set (the
// subnet's apply). They replace the subnet's for a client in the class.
type ClassTimes struct {
	Default, Min, Max time.Duration
	// Renew and Rebind are T1 and T2 (RFC 2131 §4.4.5).
	Renew, Rebind time.Duration
}

// IsZero reports whether t sets nothing.
func (t ClassTimes) IsZero() bool { return t == ClassTimes{} }

// PoolRule restricts and extends one pool (Subnet.PoolRules, in the order
// of Subnet.Pools): ISC's allow/deny in pools, Kea's client-class and
// require-client-classes on pools, and pool-level options.
type PoolRule struct {
	Allow, Deny class.Set
	HasAllow    bool    // Allow is not empty: the client must be in one of its classes
	HasDeny     bool    // Deny is not empty: the client must be in none
	Options     Options // nil: sets none
}

// Admits reports whether a client in the classes in may get an address
// from a pool with rule r.
func (r *PoolRule) Admits(in *class.Set) bool {
	if r == nil {
		return true
	}
	if r.HasDeny && intersects(&r.Deny, in) {
		return false
	}
	return !r.HasAllow || intersects(&r.Allow, in)
}

func intersects(a, b *class.Set) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// PoolIndex returns the index in s.Pools of the pool holding a, or -1.
func (s *Subnet) PoolIndex(a netip.Addr) int {
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.First.Compare(a) <= 0 && a.Compare(p.Last) <= 0 {
			return i
		}
	}
	return -1
}

// Rule returns the rule of pool i, or nil when it has none.
func (s *Subnet) Rule(i int) *PoolRule {
	if i < 0 || i >= len(s.PoolRules) {
		return nil
	}
	return &s.PoolRules[i]
}

// Identifier is a kind of reservation identifier
// (dhcp.reservation_identifiers; Kea's host-reservation-identifiers).
type Identifier uint8

const (
	IDClientID  Identifier = iota + 1 // option 61
	IDHWAddress                       // chaddr
	IDCircuitID                       // option 82 sub-option 1, relayed requests only
	IDRemoteID                        // option 82 sub-option 2, relayed requests only
)

// DefaultIdentifiers is the order reservations are looked up in when the
// config names none: the client identifier first (RFC 2131 §4.2).
var DefaultIdentifiers = []Identifier{IDClientID, IDHWAddress, IDCircuitID, IDRemoteID}

// ParseIdentifier reads a dhcp.reservation_identifiers entry.
func ParseIdentifier(s string) (Identifier, bool) {
	switch s {
	case "client_id":
		return IDClientID, true
	case "hw_address":
		return IDHWAddress, true
	case "circuit_id":
		return IDCircuitID, true
	case "remote_id":
		return IDRemoteID, true
	}
	return 0, false
}

// ClientIdentity is what a request identifies its client by; Circuit and
// Remote are set only for a request that came through a relay agent (RFC
// 3046 §2.1: a client could forge them otherwise).
type ClientIdentity struct {
	ClientID, HWAddr, Circuit, Remote []byte
}

// ReservationBy returns the reservation of the client, trying the kinds
// of identifier in order (nil: DefaultIdentifiers), or nil. Each lookup is
// one map access.
func (s *Subnet) ReservationBy(id *ClientIdentity, order []Identifier) *Reservation {
	if len(s.Reservations) == 0 {
		return nil
	}
	if order == nil {
		order = DefaultIdentifiers
	}
	for _, k := range order {
		var key []byte
		switch k {
		case IDClientID:
			key = id.ClientID
		case IDHWAddress:
			key = id.HWAddr
		case IDCircuitID:
			key = id.Circuit
		case IDRemoteID:
			key = id.Remote
		}
		if len(key) == 0 {
			continue
		}
		if i, ok := s.index.by[k][string(key)]; ok {
			return &s.Reservations[i]
		}
	}
	return nil
}
