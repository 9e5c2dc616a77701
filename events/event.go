package events

import (
	"encoding/hex"
	"net"
	"net/netip"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Type is what an event is about.
type Type uint8

// The event types.
const (
	TypeLease    Type = iota + 1 // a lease change (Action: a LeaseAction)
	TypeVRRP                     // a VRRP instance changed state (From, To)
	TypeFailover                 // the failover state changed (From, To)
)

var typeNames = [...]string{TypeLease: "lease", TypeVRRP: "vrrp", TypeFailover: "failover"}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "unknown"
}

// MarshalText is the type's name in JSON.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a type's name (a reader of the stream).
func (t *Type) UnmarshalText(b []byte) error {
	for i, n := range typeNames {
		if n != "" && n == string(b) {
			*t = Type(i)
			return nil
		}
	}
	*t = 0
	return nil
}

// The lease actions (Event.Action of a TypeLease event).
const (
	Granted  = "granted"  // a new binding (DHCPACK in SELECTING or INIT-REBOOT of another client's former address)
	Renewed  = "renewed"  // the same client's binding extended
	Released = "released" // DHCPRELEASE, or the operator's release through the API (By says who)
	Expired  = "expired"  // the lease ran out (reclaimed by the engine's expiry)
	Declined = "declined" // DHCPDECLINE: the address is abandoned for the probation period
)

// MAC is a hardware address written as aa:bb:cc:… in JSON.
type MAC net.HardwareAddr

// MarshalText writes the colon form; empty for none.
func (m MAC) MarshalText() ([]byte, error) { return []byte(net.HardwareAddr(m).String()), nil }

// UnmarshalText reads the colon form.
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = nil
		return nil
	}
	hw, err := net.ParseMAC(string(b))
	*m = MAC(hw)
	return err
}

// Hex is a byte string written as colon-separated hex (a client id, as
// `hadhcpd leases` shows it).
type Hex []byte

// MarshalText writes 01:00:11:….
func (h Hex) MarshalText() ([]byte, error) {
	if len(h) == 0 {
		return []byte{}, nil
	}
	out := make([]byte, 0, len(h)*3-1)
	for i, c := range h {
		if i > 0 {
			out = append(out, ':')
		}
		out = hex.AppendEncode(out, []byte{c})
	}
	return out, nil
}

// UnmarshalText reads the colon form.
func (h *Hex) UnmarshalText(b []byte) error {
	var out []byte
	for i := 0; i < len(b); i += 3 {
		if i+2 > len(b) {
			return hex.ErrLength
		}
		var c [1]byte
		if _, err := hex.Decode(c[:], b[i:i+2]); err != nil {
			return err
		}
		out = append(out, c[0])
	}
	*h = out
	return nil
}

// Event is one entry of the stream. It is a flat value (no pointers the
// publisher must allocate), so publishing copies it into the ring and
// nothing else; the fields that do not apply to its Type are zero and
// left out of the JSON.
type Event struct {
	Seq  uint64    `json:"seq"`  // 1, 2, … in publishing order, per process
	Time time.Time `json:"time"` // when it happened, on the agent's clock
	Box  string    `json:"box"`  // node.name of the box that made the change
	Type Type      `json:"type"` // lease | vrrp | failover

	// Action is a lease event's action (Granted, Renewed, …).
	Action string `json:"action,omitempty"`

	// A lease event's binding.
	IP       netip.Addr `json:"ip,omitzero"`
	HWAddr   MAC        `json:"hw_address,omitempty"`
	ClientID Hex        `json:"client_id,omitempty"`
	Hostname string     `json:"hostname,omitempty"`
	Expiry   time.Time  `json:"expiry,omitzero"` // ACTIVE: what the client was told
	// Relay is the relay agent (giaddr) the request came through; zero
	// for a client on a served link and for changes without a request.
	Relay netip.Addr `json:"relay,omitzero"`
	// By names who made a change that no client asked for: the API
	// caller (token:<id> or loopback) or the unix socket's peer (uid:N).
	By string `json:"by,omitempty"`

	// A transition: the VRRP instance (TypeVRRP) or the failover
	// relationship (TypeFailover: failover.relationships[].name; empty
	// for the single failover: section), the states before and after,
	// and why.
	Instance     string `json:"instance,omitempty"`
	Relationship string `json:"relationship,omitempty"`
	From         string `json:"from,omitempty"`
	To           string `json:"to,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// LeaseChange is the event of a lease change: action (Granted, …), the
// binding as committed, the relay the request came through (zero when
// none). The client's hardware address and id are the lease's own (not
// copied: a committed lease is never changed in place).
func LeaseChange(action string, l lease.Lease, relay netip.Addr) Event {
	ev := Event{Type: TypeLease, Action: action, IP: l.Addr, HWAddr: MAC(l.HWAddr), ClientID: Hex(l.ClientID),
		Hostname: l.Hostname, Relay: relay}
	if l.State == lease.StateActive {
		ev.Expiry = l.Expiry
	}
	return ev
}
