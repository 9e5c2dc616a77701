package peer

import "time"

// Event is a link event delivered to Options.OnEvent.
type Event interface{ peerEvent() }

// Up: a session is established (authenticated, states exchanged). The
// agent feeds failover.LinkUp{Partner: failover.State(PartnerState),
// PartnerMaintenance, PartnerAckedSeq, OurLastSeq}.
type Up struct {
	Remote             string
	PartnerName        string
	PartnerRole        Role
	PartnerState       uint8 // failover.State value
	PartnerMaintenance bool
	// PartnerAckedSeq is the highest of our sequence numbers the partner
	// holds durably (its Store.PartnerSeq).
	PartnerAckedSeq uint64
	// OurLastSeq is our Store.LastSeq when the session began.
	OurLastSeq     uint64
	PartnerLastSeq uint64
	// PartnerConfigHash is the partner's hash of its dhcp: section;
	// ConfigMatch says whether it equals ours.
	PartnerConfigHash []byte
	ConfigMatch       bool
	// Skew is the partner's clock minus ours, measured at the handshake
	// (transit time included). Display only: safety never uses it.
	Skew time.Duration
	// Resume: our stream resumes where the partner stopped; false: we send
	// it a snapshot.
	Resume bool
}

// Down: the session ended.
type Down struct{ Reason error }

// Quiet: the session is up but nothing came from the partner for two
// heartbeat intervals while our reader could hear it (quietBound: 250 ms
// at the default max_response_delay), emitted by the watchdog the moment
// that happens, once per quiet stretch (a frame heard starts a new one).
// A live partner heartbeats every interval, so the partner may be gone:
// the agent asks its LAN witness and, if the partner answers nowhere,
// calls Link.PartnerAbsent with the time it began to ask. The link
// itself stays up until its own verdict (doc.go "Liveness").
type Quiet struct {
	// Silent is how long nothing was heard (quietBound, or more when
	// our reader was busy or the watchdog late).
	Silent time.Duration
	// Pending is how many of our updates await the partner's ack:
	// commits that wait for it now.
	Pending int
}

// PartnerState: the partner announced a new failover state.
type PartnerState struct {
	State       uint8 // failover.State value
	Maintenance bool
}

// ResyncDone: we hold every record the partner had when the session began
// (its resume backlog or its snapshot is applied); feed failover.ResyncDone.
type ResyncDone struct {
	Snapshot bool // the partner sent a snapshot rather than resuming
	Records  int  // records applied in this session up to now
}

// ConfigReceived (secondary): the primary's dhcp: section arrived and was
// handed to OnConfig; Err is its verdict (nil = accepted).
type ConfigReceived struct {
	Hash []byte
	Err  error
}

// ConfigVerdict (primary): the secondary's answer to our config.
type ConfigVerdict struct {
	Hash     []byte
	Accepted bool
	Reason   string
}

func (Up) peerEvent()             {}
func (Down) peerEvent()           {}
func (Quiet) peerEvent()          {}
func (PartnerState) peerEvent()   {}
func (ResyncDone) peerEvent()     {}
func (ConfigReceived) peerEvent() {}
func (ConfigVerdict) peerEvent()  {}
