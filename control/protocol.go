// Package control is the protocol of hadhcpd's control socket (the
// request and response types, the status and operator result layouts) and
// its client, with the read-only views the command line shows (the status
// table, the lease listing). The agent serves the socket; this package
// imports none of the parts, so the command line's read paths stay small.
package control

import (
	"errors"
	"time"
)

// The control API: newline-delimited JSON over the unix socket
// node.control_socket. One request, one response, then the server closes:
//
//	→ {"cmd":"status"}
//	← {"ok":true,"status":{…}}        or {"ok":false,"error":"…"}
//	→ {"cmd":"maintenance","arg":"start"|"stop"}  or {"cmd":"partner-down"[,"relationship":"NAME"]}
//	← {"ok":true,"result":{…}}        or {"ok":false,"error":"…","result":{…}}
//
// Only root (or the agent's own user, which systemd runs it as) may talk to
// it: the socket is mode 0600 and every connection's peer credentials
// (SO_PEERCRED) are checked, so a permissive umask or a copied socket does
// not open it up.

// StatusSchema is the version of the `status --json` layout. Scripts can
// rely on every field documented in Status while it stays the same; a field
// is only ever added, and removing or changing one bumps it.
const StatusSchema = 1

// Status is what `hadhcpd status` shows.
type Status struct {
	Schema   int             `json:"schema"`
	Node     string          `json:"node"`
	Version  string          `json:"version"`
	Started  time.Time       `json:"started"`
	VRRP     []VRRPStatus    `json:"vrrp"`
	Failover *FailoverStatus `json:"failover"` // null for a single server and for relationships
	// Relationships are the failover relationships of a box in several
	// (config failover.relationships), in the file's order; absent
	// otherwise.
	Relationships []RelationshipStatus `json:"relationships,omitempty"`
	// Defaults are the global dhcp defaults of failover.defaults_from's
	// node; absent when the box names none.
	Defaults *DefaultsStatus `json:"defaults,omitempty"`
	Pools    []PoolStatus    `json:"pools"`
	// RecoveryProbingUntil: while not zero, every address is probed (ARP,
	// ICMP echo) before it is offered, until then: a recovery lost lease
	// records and no partner could restore them.
	RecoveryProbingUntil time.Time `json:"recovery_probing_until"`
}

// DefaultsStatus is where the global keys of the dhcp section served
// come from (failover.defaults_from).
type DefaultsStatus struct {
	Source string `json:"source"` // the node named
	// Serial and Hash (hex) are of the source's set in force here; 0 and
	// "" while none is (this box's own file's keys serve).
	Serial uint64 `json:"serial"`
	Hash   string `json:"hash"`
	// Via is the relationship the set in force came over ("" on the
	// source and before any).
	Via string `json:"via,omitempty"`
	// Error is why the newest set heard does not serve here (it does not
	// build with this box's subnets); the previous one stays.
	Error string `json:"error,omitempty"`
}

// RelationshipStatus is one failover relationship: its name, the subnets
// it covers, its VRRP instance and the failover view of FailoverStatus
// (whose config_hash is then the hash of what both boxes of the
// relationship must serve alike: the dhcp section's global keys and the
// relationship's subnets).
type RelationshipStatus struct {
	Name         string   `json:"name"`
	Subnets      []string `json:"subnets"`
	VRRPInstance string   `json:"vrrp_instance"`
	FailoverStatus
}

// VRRPStatus is one instance.
type VRRPStatus struct {
	Instance  string    `json:"instance"`
	Interface string    `json:"interface"`
	VRID      int       `json:"vrid"`
	State     string    `json:"state"` // INIT | BACKUP | MASTER | FAULT
	Priority  int       `json:"priority"`
	Master    string    `json:"master"` // address of the master last heard
	Since     time.Time `json:"since"`
}

// FailoverStatus is this box's and its partner's failover view.
type FailoverStatus struct {
	Role  string `json:"role"`
	Mode  string `json:"mode"`
	State string `json:"state"`
	// PartnerState is the partner's failover state while the link is up,
	// UNKNOWN while it is down: in COMMUNICATIONS-INTERRUPTED the partner
	// may have moved on (PartnerLastState is what it said last).
	PartnerState string `json:"partner_state"`
	// PartnerName is the partner's node.name from the last handshake
	// ("" before the link was ever up).
	PartnerName string `json:"partner_name"`
	// PartnerLastState is the last failover state the partner announced
	// (UNKNOWN if the link never came up); PartnerLastSeen is when the
	// link went down, zero while it is up (the partner is heard now).
	PartnerLastState string    `json:"partner_last_state"`
	PartnerLastSeen  time.Time `json:"partner_last_seen"`
	LinkUp           bool      `json:"link_up"`
	UnackedUpdates   int       `json:"unacked_updates"` // replication lag in records
	SkewSeconds      float64   `json:"skew_seconds"`    // partner clock − ours, measured; never trusted
	ConfigHash       string    `json:"config_hash"`     // SHA-256 (hex) of the dhcp: section in force, interfaces excluded
	// ConfigMatch: whether the partner announced the same config_hash at
	// the last handshake; absent before the first.
	ConfigMatch *bool `json:"config_match,omitempty"`
	// The parameters both boxes must hold the same (the sync link is
	// refused while they differ): this box's values, and why the last
	// handshake refused the partner's ("" when they agreed).
	Split                   int     `json:"split"`
	LoadBalanceMaxSeconds   int     `json:"load_balance_max_seconds"`
	StandbyShare            float64 `json:"standby_share"`
	MCLTSeconds             float64 `json:"mclt_seconds"`
	MaxResponseDelaySeconds float64 `json:"max_response_delay_seconds"`
	ParamsRefused           string  `json:"params_refused,omitempty"`
}

// PoolStatus counts one pool's addresses by binding state.
type PoolStatus struct {
	Pool      string `json:"pool"`
	Total     int    `json:"total"`
	Free      int    `json:"free"`
	Backup    int    `json:"backup"`
	Active    int    `json:"active"`
	Expired   int    `json:"expired"`
	Released  int    `json:"released"`
	Abandoned int    `json:"abandoned"`

	// Relationship is the failover relationship whose subnet holds the
	// pool (a box in several; "" when served by this box alone).
	Relationship string `json:"relationship,omitempty"`
}

// Request is one control request.
type Request struct {
	Cmd string `json:"cmd"`
	Arg string `json:"arg,omitempty"` // maintenance: start | stop
	// Relationship names the failover relationship partner-down is for
	// (failover.relationships[].name); required on a box in several,
	// empty for a single failover: section.
	Relationship string `json:"relationship,omitempty"`
}

// Response is the answer to one Request.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Status *Status         `json:"status,omitempty"`
	Result *OperatorResult `json:"result,omitempty"` // maintenance, partner-down
}

// ErrNotAllowed is returned to a client whose uid may not use the socket.
var ErrNotAllowed = errors.New("control socket: permission denied (root only)")

// OperatorResult is what an operator command did, for the CLI.
type OperatorResult struct {
	Command string `json:"command"` // "maintenance start" | "maintenance stop" | "partner-down"
	Applied bool   `json:"applied"`
	Refused string `json:"refused,omitempty"` // the reason when not applied
	State   string `json:"state"`             // failover state afterwards
	// The partner as `hadhcpd status` shows it (FailoverStatus): its
	// state while the sync link is up, UNKNOWN while it is down (in
	// COMMUNICATIONS-INTERRUPTED it may have moved on), with the state it
	// announced last and when the link went down (zero while it is up).
	PartnerState     string    `json:"partner_state"`
	PartnerLastState string    `json:"partner_last_state"`
	PartnerLastSeen  time.Time `json:"partner_last_seen"`
	Maintenance      bool      `json:"maintenance"`
	Fit              bool      `json:"fit"`
	VRRPState        string    `json:"vrrp_state,omitempty"`  // failover.vrrp_instance on this box
	VRRPMaster       string    `json:"vrrp_master,omitempty"` // master last heard (the partner after a handover)
	Message          string    `json:"message"`               // one line for humans
}
