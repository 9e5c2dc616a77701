package failover

import (
	"fmt"
	"time"
)

// Event is an input of Machine.Handle.
type Event interface{ event() }

// Start must be the first event: the machine ignores everything before it.
// LastSeq is the highest sequence number in the local journal
// (lease.OpenReport.LastSeq); SeqKnown is false when recovery could not
// vouch for it (OpenReport.NeedResync, or a journal known to be lost), so
// the machine cannot prove what it gave out.
type Start struct {
	LastSeq  uint64
	SeqKnown bool
}

// LinkUp: the sync link completed its handshake (sync/peer). Partner and
// PartnerMaintenance are the partner's failover state as it sent it;
// PartnerAckedSeq is the highest sequence number of our stream the partner
// has durably applied; OurLastSeq is our journal's last sequence number now
// (lease.DB.LastSeq). After LinkUp the peer link resumes (or snapshots) in
// both directions and reports ResyncDone when we hold everything the
// partner had.
type LinkUp struct {
	Partner            State
	PartnerMaintenance bool
	PartnerAckedSeq    uint64
	OurLastSeq         uint64
}

// LinkDown: the sync link is gone (closed, or max_response_delay without a
// frame).
type LinkDown struct{}

// PartnerState: the partner announced a new failover state over the link.
type PartnerState struct {
	State       State
	Maintenance bool
}

// ResyncDone: the partner's stream (resume or paged snapshot) has caught
// up: our database holds every record the partner had when the link came
// up, and it keeps receiving new ones while the link stays up.
type ResyncDone struct{}

// VRRPMaster: this node gained (true) or lost (false) mastership of
// failover.vrrp_instance.
type VRRPMaster struct{ Master bool }

// VRRPAdvert: an advertisement from the partner arrived on the VRRP path
// at At (local clock; zero: the time of Handle). The caller may fold a run
// of adverts into the latest one.
type VRRPAdvert struct{ At time.Time }

// VRRPMasterDown: this node became VRRP Master at At (zero: the time of
// Handle) because its Master_Down_Timer fired (RFC 5798 §6.4.2). Window is
// how long without an advert makes that the partner's silence rather than
// a preemption: 3 x Advertisement_Interval (§6.1 Master_Down_Interval
// without Skew_Time). Presence.MasterDown decides.
type VRRPMasterDown struct {
	At     time.Time
	Window time.Duration
}

// TimerFired: the timer of the last ArmTimer expired.
type TimerFired struct{}

// OperatorPartnerDown: the operator declares the partner down
// (hadhcpd partner-down). Refused while the partner is heard on any path.
type OperatorPartnerDown struct{}

// MaintenanceStart / MaintenanceStop: the operator takes this node out of
// service (hadhcpd maintenance on|off). In maintenance the node answers no
// client, is not fit to be master, and tells its partner.
type MaintenanceStart struct{}
type MaintenanceStop struct{}

// SetSplit puts a new load-balance split and load_balance_max_seconds in
// force without a restart: the primary's reload, or the secondary taking
// the primary's (they are the primary's to decide). The next policy
// answers the new buckets and balances the pools to the new share.
type SetSplit struct{ Split, MaxSeconds int }

func (SetSplit) event() {}

// LANProbe: the agent probed the partner's own addresses on the served
// links (ARP) at At: Answered when any answered. Only a VRRP master's
// probes count (Presence.LANProbe): its LAN link demonstrably works.
type LANProbe struct {
	At       time.Time
	Answered bool
}

func (LANProbe) event() {}

// PartnerQuiet: the sync link is up but the partner's heartbeats stopped
// (peer.Link.Quiet), or resumed. In load-balance NORMAL this node then
// answers every client (from its own pool) until the link comes back to
// life or goes down: a lost partner's buckets are answered within a
// fraction of a second instead of after the link's timeout.
type PartnerQuiet struct{ Quiet bool }

func (PartnerQuiet) event() {}

func (Start) event()               {}
func (LinkUp) event()              {}
func (LinkDown) event()            {}
func (PartnerState) event()        {}
func (ResyncDone) event()          {}
func (VRRPMaster) event()          {}
func (VRRPAdvert) event()          {}
func (VRRPMasterDown) event()      {}
func (TimerFired) event()          {}
func (OperatorPartnerDown) event() {}
func (MaintenanceStart) event()    {}
func (MaintenanceStop) event()     {}

// Action is an output of Machine.Handle, executed in order by the caller.
type Action interface{ action() }

// Transition: the state changed. The caller logs one line with from, to
// and reason, and persists To.
type Transition struct {
	From, To State
	Reason   string
}

// SetFit: whether this node is fit to be VRRP master of
// failover.vrrp_instance; the agent lowers the instance's priority while
// it is not, so the VIP never moves to a box that cannot serve.
type SetFit struct{ Fit bool }

// SendState: tell the partner our state (over the link when it is up; the
// peer link also sends the current state in its handshake).
type SendState struct {
	State       State
	Maintenance bool
}

// ArmTimer (re)starts the machine's single timer; StopTimer cancels it.
type ArmTimer struct{ After time.Duration }
type StopTimer struct{}

// Refused: an operator command was not applied; Reason says why.
type Refused struct{ Reason string }

// AdvertsStopped: the partner's adverts, heard before, stopped (a
// master-down takeover after silence). The agent tells the sync link
// (peer.Link.PartnerSilent), which drops itself at once if it is quiet
// too, so no commit of the takeover waits for a dead partner's ack.
type AdvertsStopped struct{}

// AdvertsResumed: the partner is heard on the VRRP path again
// (peer.Link.PartnerHeard).
type AdvertsResumed struct{}

func (Transition) action()     {}
func (SetFit) action()         {}
func (SendState) action()      {}
func (ArmTimer) action()       {}
func (StopTimer) action()      {}
func (Refused) action()        {}
func (AdvertsStopped) action() {}
func (AdvertsResumed) action() {}

// Machine is the failover state machine of one node. It does no I/O, starts
// no goroutine and reads no clock: every event comes with the local time.
// It is not safe for concurrent use; readers use Policy snapshots.
type Machine struct {
	cfg     Config
	started bool
	state   State
	since   time.Time
	reason  string

	partner      State // last state heard from the partner
	partnerMaint bool
	partnerQuiet bool // PartnerQuiet: the link is up but heard nothing lately
	master       bool
	maint        bool
	// pres is the evidence on both paths; it alone decides whether the
	// partner is gone (auto_partner_down).
	pres Presence

	// heardAt is the latest local time at which the partner may have
	// been serving: bumped on every event while it is heard on a path
	// in a state that may serve, and when a path goes silent. The MCLT
	// of PARTNER-DOWN counts from it (draft §5.2.1: "the MCLT after the
	// partner server went down").
	heardAt time.Time

	seqKnown    bool
	ourLastSeq  uint64
	partnerAck  uint64
	dbCurrent   bool // we hold every record the partner wrote (synced since start)
	resynced    bool // ResyncDone seen in this link session
	waitNeeded  bool // RECOVER must pass through RECOVER-WAIT
	waitUntil   time.Time
	pdOwnAtOnce bool // in PARTNER-DOWN: own pool usable before the MCLT

	fit      bool
	sent     SendState
	deadline time.Time
}

// New returns a machine in STARTUP, or an error if cfg is invalid.
func New(cfg Config) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg, state: Startup}, nil
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Status is a snapshot for logs, metrics and `hadhcpd status`.
type Status struct {
	State, Partner     State
	Since              time.Time
	Reason             string
	LinkUp, Master     bool
	Fit, Maintenance   bool
	PartnerMaintenance bool
	DBCurrent          bool
	PartnerHeardAt     time.Time // local clock
	// LinkDownSince is when the sync link went down (local clock); zero
	// while it is up or if it never was.
	LinkDownSince time.Time
}

// Status returns the current status.
func (m *Machine) Status() Status {
	return Status{State: m.state, Partner: m.partner, Since: m.since, Reason: m.reason,
		LinkUp: m.pres.LinkIsUp(), Master: m.master, Fit: m.fit, Maintenance: m.maint,
		PartnerMaintenance: m.partnerMaint, DBCurrent: m.dbCurrent, PartnerHeardAt: m.heardAt,
		LinkDownSince: m.pres.LinkDownSince()}
}

// partnerMayServe: could the partner be answering clients right now, as
// far as we know? Over the link we know its state; without it we must
// assume it may.
func (m *Machine) partnerMayServe() bool {
	if !m.pres.LinkIsUp() {
		return true
	}
	return !m.partnerMaint && (m.partner.responsive() || m.partner == StateUnknown)
}

// partnerHasAll: the sequence numbers prove the partner holds every record
// we wrote, so nothing we gave out can be unknown to it.
func (m *Machine) partnerHasAll() bool {
	return m.seqKnown && m.partnerAck >= m.ourLastSeq
}

// Handle feeds one event at local time now and returns the actions to
// perform, in order.
func (m *Machine) Handle(now time.Time, ev Event) []Action {
	if !m.started {
		s, ok := ev.(Start)
		if !ok {
			return nil
		}
		m.started = true
		m.since, m.heardAt = now, now // the partner may have served until now
		m.seqKnown, m.ourLastSeq = s.SeqKnown, s.LastSeq
		m.sent = SendState{State: StateUnknown}
		return m.finish(now, nil)
	}
	if adv, ok := ev.(VRRPAdvert); ok && m.pres.AdvertsHeard() {
		// One more advert changes nothing but its time: no step, so a
		// stream of adverts costs no timer churn.
		m.pres.Advert(at(adv.At, now))
		return nil
	}
	if (m.pres.LinkIsUp() || m.pres.AdvertsHeard() || m.pres.LANHeard()) && m.partnerMayServe() {
		m.heardAt = now
	}
	var acts []Action
	switch ev := ev.(type) {
	case Start:
		return nil
	case LinkUp:
		m.pres.LinkUp(now)
		m.partnerQuiet = false
		m.resynced = false
		m.partner, m.partnerMaint = ev.Partner, ev.PartnerMaintenance
		m.partnerAck, m.ourLastSeq = ev.PartnerAckedSeq, ev.OurLastSeq
		if !m.seqKnown || m.partnerAck > m.ourLastSeq {
			// Our journal lost records (or was never trusted): what we
			// gave out before cannot be proven known to the partner.
			m.waitNeeded = true
		}
		if m.partnerMayServe() {
			m.heardAt = now
		}
		m.sent = SendState{State: StateUnknown} // the new link needs our state
		acts = m.commOK(now, acts, fmt.Sprintf("sync link up, partner %v", m.partner))
	case LinkDown:
		m.partnerQuiet = false
		if !m.pres.LinkIsUp() {
			break
		}
		m.pres.LinkDown(now)
		m.resynced = false
		if m.partnerMaint && !m.maint && m.state != PartnerDown && m.state.responsive() {
			// The partner announced maintenance (it stopped serving) and
			// is now gone: draft §9.14 (SHUTDOWN) moves to PARTNER-DOWN.
			acts = m.enterPartnerDown(now, acts, "partner in maintenance left")
			break
		}
		if m.state == Normal {
			acts = m.to(now, acts, CommInterrupted, "sync link down")
		}
	case PartnerState:
		if !m.pres.LinkIsUp() {
			break // only meaningful over a live link
		}
		changed := ev.State != m.partner
		m.partner, m.partnerMaint = ev.State, ev.Maintenance
		if changed {
			// Draft §9.2: take the communications-failed transition,
			// then the communications-OK one for the new partner state.
			if m.state == Normal {
				m.state = CommInterrupted // not logged: folded into the next line
			}
			acts = m.commOK(now, acts, fmt.Sprintf("partner is %v", ev.State))
		}
	case ResyncDone:
		if !m.pres.LinkIsUp() {
			break
		}
		m.resynced, m.dbCurrent = true, true
		acts = m.afterResync(now, acts)
	case VRRPMaster:
		m.master = ev.Master
	case VRRPAdvert:
		if m.pres.Advert(at(ev.At, now)) {
			acts = append(acts, AdvertsResumed{})
		}
		if m.partnerMayServe() {
			m.heardAt = now
		}
	case VRRPMasterDown:
		if silent, wasHeard := m.pres.MasterDown(at(ev.At, now), ev.Window); silent {
			// It advertised until about now: count the silence from here.
			m.heardAt = now
			if wasHeard {
				acts = append(acts, AdvertsStopped{})
			}
		}
	case SetSplit:
		if ev.Split < 0 || ev.Split > 256 || ev.MaxSeconds < 0 || ev.MaxSeconds > 65535 {
			acts = append(acts, Refused{fmt.Sprintf("split %d / load_balance_max_seconds %d out of range", ev.Split, ev.MaxSeconds)})
			break
		}
		m.cfg.Split, m.cfg.LoadBalanceMaxSeconds = ev.Split, ev.MaxSeconds
	case PartnerQuiet:
		m.partnerQuiet = ev.Quiet && m.pres.LinkIsUp()
	case LANProbe:
		if !m.master || m.pres.LinkIsUp() {
			break
		}
		m.pres.LANProbe(at(ev.At, now), ev.Answered)
		if ev.Answered && m.partnerMayServe() {
			m.heardAt = now
		}
	case TimerFired:
		// Deadlines are checked below for every event.
	case OperatorPartnerDown:
		switch {
		case m.state == PartnerDown:
			acts = append(acts, Refused{"already in PARTNER-DOWN"})
		case m.pres.LinkIsUp():
			acts = append(acts, Refused{"the sync link to the partner is up"})
		case m.pres.AdvertsHeard():
			acts = append(acts, Refused{"the partner's VRRP advertisements are heard"})
		case m.maint:
			acts = append(acts, Refused{"this node is in maintenance"})
		default:
			acts = m.enterPartnerDown(now, acts, "operator command")
		}
	case MaintenanceStart:
		m.maint = true
	case MaintenanceStop:
		if !m.maint {
			break
		}
		m.maint = false
		if !m.pres.LinkIsUp() {
			// The partner may have taken our pool meanwhile.
			m.dbCurrent = false
		}
		acts = m.to(now, acts, Startup, "maintenance ended")
		if m.pres.LinkIsUp() {
			acts = m.commOK(now, acts, fmt.Sprintf("sync link up, partner %v", m.partner))
		}
	}
	if m.state == RecoverWait && !now.Before(m.waitUntil) {
		acts = m.to(now, acts, RecoverDone, "MCLT waited in RECOVER-WAIT")
		acts = m.recoverDoneCheck(now, acts)
	}
	if due, ok := m.autoDue(); ok && !now.Before(due) {
		acts = m.enterPartnerDown(now, acts,
			fmt.Sprintf("partner silent on sync link and VRRP for %v", m.cfg.AutoPartnerDown))
	}
	return m.finish(now, acts)
}

// commOK is the "communications OK" transition for the partner's current
// state (draft §9.2 figure), with the sequence-number shortcuts of doc.go ("Recovery").
func (m *Machine) commOK(now time.Time, acts []Action, why string) []Action {
	p := m.partner
	if p == StateUnknown {
		return acts
	}
	switch m.state {
	case Startup:
		switch {
		case p == PotentialConflict:
			return m.to(now, acts, PotentialConflict, why)
		case p == PartnerDown && m.seqKnown && m.partnerAck < m.ourLastSeq:
			// We wrote records the partner never got while it served
			// alone: both may have allocated (draft §9.3.2 step 5 uses
			// clocks for this; sequence numbers need none).
			return m.to(now, acts, PotentialConflict, why+", it lacks some of our records")
		}
		return m.enterRecover(now, acts, why)
	case CommInterrupted:
		switch p {
		case Normal, CommInterrupted, RecoverDone:
			return m.to(now, acts, Normal, why)
		case Startup, Recover, RecoverWait:
			return m.enterPartnerDown(now, acts, why+", recovering from us")
		case PartnerDown:
			if m.partnerHasAll() {
				return m.enterRecover(now, acts, why+", it has all our records")
			}
			return m.to(now, acts, PotentialConflict, why+", it lacks some of our records")
		case PotentialConflict:
			return m.to(now, acts, PotentialConflict, why)
		}
	case PartnerDown:
		switch p {
		case RecoverDone:
			return m.to(now, acts, Normal, why)
		case Normal, CommInterrupted, PartnerDown:
			if m.partnerHasAll() {
				if p == PartnerDown {
					return m.enterRecover(now, acts, why+", it has all our records")
				}
				return acts // it will RECOVER from us, or find the conflict itself
			}
			return m.to(now, acts, PotentialConflict, why+", it lacks some of our records")
		case PotentialConflict:
			return m.to(now, acts, PotentialConflict, why)
		}
	case RecoverDone:
		return m.recoverDoneCheck(now, acts)
	}
	return acts
}

func (m *Machine) enterRecover(now time.Time, acts []Action, why string) []Action {
	acts = m.to(now, acts, Recover, why)
	if m.resynced {
		acts = m.afterResync(now, acts)
	}
	return acts
}

// afterResync: our database now holds everything the partner has.
func (m *Machine) afterResync(now time.Time, acts []Action) []Action {
	switch m.state {
	case Recover:
		if m.waitNeeded {
			m.waitUntil = now.Add(m.cfg.MCLT)
			return m.to(now, acts, RecoverWait, "resync done; our own records cannot be proven known to the partner, waiting MCLT")
		}
		acts = m.to(now, acts, RecoverDone, "resync done; sequence numbers prove the partner has all our records")
		return m.recoverDoneCheck(now, acts)
	case PotentialConflict:
		acts = m.to(now, acts, RecoverDone, "resync done; conflicts resolved by the database")
		return m.recoverDoneCheck(now, acts)
	}
	return acts
}

func (m *Machine) recoverDoneCheck(now time.Time, acts []Action) []Action {
	if m.state != RecoverDone {
		return acts
	}
	m.waitNeeded = false
	m.seqKnown = true // our database is complete again
	if m.pres.LinkIsUp() && (m.partner == Normal || m.partner == RecoverDone) {
		return m.to(now, acts, Normal, fmt.Sprintf("recovered, partner %v", m.partner))
	}
	return acts
}

func (m *Machine) enterPartnerDown(now time.Time, acts []Action, why string) []Action {
	// Our own pool is usable at once only if our database is complete and
	// the partner was last seen in a state that never touches our pool
	// (draft §5.2.1; a partner last seen in PARTNER-DOWN, or never seen,
	// may have allocated our addresses).
	switch m.partner {
	case Normal, CommInterrupted, Startup, Recover, RecoverWait, RecoverDone:
		m.pdOwnAtOnce = m.dbCurrent
	default:
		m.pdOwnAtOnce = false
	}
	return m.to(now, acts, PartnerDown, why)
}

// autoDue: when auto PARTNER-DOWN is due, if it is armed at all: the
// partner silent on both paths for auto_partner_down (Presence.GoneAt).
func (m *Machine) autoDue() (time.Time, bool) {
	due, ok := m.pres.GoneAt(m.cfg.AutoPartnerDown)
	if !ok || m.maint {
		return time.Time{}, false
	}
	if !m.seqKnown {
		// Our journal is lost: we no longer know the potential expiries
		// we acknowledged, so the partner's leases may run past any
		// wait we could compute. Only the operator may decide.
		return time.Time{}, false
	}
	switch m.state {
	case Startup, CommInterrupted, Recover, RecoverWait, RecoverDone, PotentialConflict:
		return due, true
	}
	return time.Time{}, false
}

// at is an event's own time, or now when it has none.
func at(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func (m *Machine) to(now time.Time, acts []Action, s State, why string) []Action {
	if s == m.state {
		return acts
	}
	from := m.state
	m.state, m.since, m.reason = s, now, why
	return append(acts, Transition{From: from, To: s, Reason: why})
}

// allFrom is when, in PARTNER-DOWN, the partner's addresses (and ours when
// pdOwnAtOnce is false) become usable: MCLT after the partner was last
// possibly serving (draft §5.2.1, §9.4: "stos + MCLT").
func (m *Machine) allFrom() time.Time { return m.heardAt.Add(m.cfg.MCLT) }

func (m *Machine) fitAt(now time.Time) bool {
	if m.maint {
		return false
	}
	switch m.state {
	case Normal, CommInterrupted:
		return m.dbCurrent
	case PartnerDown:
		// Known complete: synced before the partner left, or every
		// lease it could have given out unseen has ended.
		return m.dbCurrent || !now.Before(m.allFrom())
	}
	return false
}

func (m *Machine) finish(now time.Time, acts []Action) []Action {
	if fit := m.fitAt(now); fit != m.fit {
		m.fit = fit
		acts = append(acts, SetFit{Fit: fit})
	}
	if s := (SendState{State: m.state, Maintenance: m.maint}); s != m.sent {
		m.sent = s
		acts = append(acts, s)
	}
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if m.state == RecoverWait {
		consider(m.waitUntil)
	}
	if due, ok := m.autoDue(); ok {
		consider(due)
	}
	if m.state == PartnerDown {
		consider(m.allFrom()) // fitness and pools change then
	}
	if !next.Equal(m.deadline) {
		m.deadline = next
		if next.IsZero() {
			acts = append(acts, StopTimer{})
		} else {
			acts = append(acts, ArmTimer{After: next.Sub(now)})
		}
	}
	return acts
}
