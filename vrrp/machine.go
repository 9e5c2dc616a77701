package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a virtual router's state (RFC 5798 §6.4), plus Fault: the view
// keepalived users know for "a tracked interface is down, this router gives
// up the address and stays out of the election".
type State uint8

const (
	Initialize State = iota
	Backup
	Master
	Fault
)

func (s State) String() string {
	switch s {
	case Initialize:
		return "initialize"
	case Backup:
		return "backup"
	case Master:
		return "master"
	case Fault:
		return "fault"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MachineConfig is what the state machine needs to know about its router.
type MachineConfig struct {
	VRID           uint8
	Priority       uint8         // 1..255; 255 = address owner (§5.2.4)
	AdvertInterval time.Duration // Advertisement_Interval (§6.1)
	Preempt        bool          // Preempt_Mode (§6.1)
	// PreemptDelay (keepalived's preempt_delay, not in the RFC): after
	// entering Backup at startup, a lower-priority master is accepted as
	// if Preempt_Mode were false for this long, so a box that just booted
	// does not take the address before the rest of it is ready.
	PreemptDelay time.Duration
	// Primary is the address adverts are sent from; it breaks priority
	// ties (§6.4.3: the higher primary address wins).
	Primary netip.Addr
}

// Event is an input of Machine.Handle.
type Event interface{ event() }

// Startup starts the router (RFC 5798 §6.4.1).
type Startup struct{}

// AdvertIn is an advertisement that passed Validate.
type AdvertIn struct {
	Src      netip.Addr
	VRID     uint8
	Priority uint8
	Interval time.Duration
}

// TimerFired reports that the timer of the last ArmTimer expired.
type TimerFired struct{}

// Shutdown stops the router (§6.4.2, §6.4.3 "Shutdown event").
type Shutdown struct{}

// TrackChanged reports the tracked interfaces: Up is false while any is
// down (no carrier), which puts the router in Fault.
type TrackChanged struct{ Up bool }

// GroupFault reports that another member of the router's sync group is in
// Fault (Fault true) or no longer (false); the router follows it.
type GroupFault struct{ Fault bool }

// StepDown asks a Master to become Backup because another member of its
// sync group lost an election (the group moves together).
type StepDown struct{}

// Resign asks a Master to give up mastership deliberately (the agent's
// `hadhcpd maintenance start`): it sends one advert with priority 0 and
// becomes Backup, so the backups take over after their Skew_Time
// whatever their Preempt_Mode (RFC 5798 §6.4.2: a priority-0 advert sets
// Master_Down_Timer to Skew_Time). It then stays Backup as any Backup
// does: it accepts the new master's adverts while its own priority is
// lower (the caller lowers it first, SetPriority) or while it does not
// preempt. If no other router takes over, its Master_Down_Timer fires and
// it becomes Master again: a router alone keeps the addresses served. A
// router that is not Master ignores it.
type Resign struct{}

// SetPriority changes the router's priority at run time (the agent lowers
// it while this node is not fit to serve, so the VIP never moves to it,
// and restores it after). 0 and 255 are refused (ignored): 0 is the stop
// signal and 255 claims address ownership (RFC 5798 §5.2.4), neither of
// which a priority change may fake. A Master advertises the new priority
// at once, so a preempting backup learns of it now rather than one
// Advertisement_Interval later; a Backup's Master_Down_Interval follows
// the new priority from the next advert (§6.1: it is computed from
// Priority, never cached).
type SetPriority struct{ Priority uint8 }

func (Startup) event()      {}
func (AdvertIn) event()     {}
func (TimerFired) event()   {}
func (Shutdown) event()     {}
func (TrackChanged) event() {}
func (GroupFault) event()   {}
func (StepDown) event()     {}
func (SetPriority) event()  {}
func (Resign) event()       {}

// Action is an output of Machine.Handle, executed in order by the caller.
type Action interface{ action() }

// SendAdvert sends an advertisement with the given priority.
type SendAdvert struct{ Priority uint8 }

// ArmTimer (re)starts the router's single timer: Adver_Timer as Master,
// Master_Down_Timer as Backup (§6.2; only one of them runs at a time).
type ArmTimer struct{ After time.Duration }

// StopTimer cancels the timer.
type StopTimer struct{}

// Cause says why a Transition happened; sync groups act on it.
type Cause uint8

const (
	CauseStartup    Cause = iota // §6.4.1
	CauseMasterDown              // Master_Down_Timer fired (§6.4.2)
	CausePreempted               // a better advert reached the Master (§6.4.3)
	CauseShutdown                // Shutdown event
	CauseFault                   // tracked interface or sync group in fault
	CauseRecovered               // fault cleared
	CauseGroup                   // sync group StepDown
	CauseResign                  // Resign: this router handed mastership over
)

func (c Cause) String() string {
	names := [...]string{"startup", "master down timer expired", "higher priority advert",
		"shutdown", "fault", "fault cleared", "sync group", "resigned"}
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("cause(%d)", uint8(c))
}

// Transition reports a state change. Leaving Master means: remove the
// virtual addresses; entering Master: add them and announce them.
type Transition struct {
	From, To State
	Cause    Cause
}

func (SendAdvert) action() {}
func (ArmTimer) action()   {}
func (StopTimer) action()  {}
func (Transition) action() {}

// Machine is the RFC 5798 §6.4 state machine of one virtual router. It does
// no I/O and reads no clock: Handle gets the time with every event.
// It is not safe for concurrent use (one instance goroutine owns it).
type Machine struct {
	cfg        MachineConfig
	state      State
	masterAdv  time.Duration // Master_Adver_Interval (§6.1), learned from the master
	masterAddr netip.Addr    // source of the last accepted advert
	trackDown  bool
	groupFault bool
	preemptAt  time.Time // lower-priority masters are accepted until then
	deadline   time.Time // when the armed timer is due; zero: not armed
}

// NewMachine returns a machine in Initialize.
func NewMachine(cfg MachineConfig) *Machine {
	return &Machine{cfg: cfg, masterAdv: cfg.AdvertInterval}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// MasterAdverInterval is Master_Adver_Interval: the interval learned from
// the current master, or the configured one.
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdv }

// MasterAddr is the source address of the last advert accepted from a
// master (invalid when none was).
func (m *Machine) MasterAddr() netip.Addr { return m.masterAddr }

func (m *Machine) faulty() bool { return m.trackDown || m.groupFault }

// Handle feeds one event and returns the actions to perform, in order.
func (m *Machine) Handle(now time.Time, ev Event) []Action {
	switch ev := ev.(type) {
	case Startup:
		if m.state != Initialize {
			return nil
		}
		if m.faulty() {
			return m.to(Fault, CauseFault)
		}
		return m.start(now, CauseStartup)
	case TimerFired:
		if m.deadline.IsZero() || now.Before(m.deadline) {
			return nil // stale: the timer was re-armed or stopped meanwhile
		}
		m.deadline = time.Time{}
		switch m.state {
		case Backup: // §6.4.2: Master_Down_Timer fired
			return m.becomeMaster(now, CauseMasterDown)
		case Master: // §6.4.3: Adver_Timer fired
			return []Action{SendAdvert{m.cfg.Priority}, m.arm(now, m.cfg.AdvertInterval)}
		}
		return nil
	case AdvertIn:
		if ev.VRID != m.cfg.VRID {
			return nil
		}
		switch m.state {
		case Backup:
			return m.backupAdvert(now, ev)
		case Master:
			return m.masterAdvert(now, ev)
		}
		return nil
	case Shutdown:
		return m.leave(now, Initialize, CauseShutdown)
	case TrackChanged:
		m.trackDown = !ev.Up
		return m.reevaluate(now)
	case GroupFault:
		m.groupFault = ev.Fault
		return m.reevaluate(now)
	case StepDown:
		if m.state != Master {
			return nil
		}
		// Priority 0 lets the peer take over after its Skew_Time instead of
		// Master_Down_Interval (§6.4.3, the same as a shutdown).
		acts := []Action{SendAdvert{StopPriority}}
		acts = append(acts, m.to(Backup, CauseGroup)...)
		return append(acts, m.arm(now, masterDownInterval(m.cfg.Priority, m.masterAdv)))
	case Resign:
		if m.state != Master {
			return nil
		}
		// The same priority-0 advert as a shutdown (§6.4.3), but this
		// router stays in the election as a Backup. Until the new
		// master's first advert it knows no master.
		acts := []Action{SendAdvert{StopPriority}}
		acts = append(acts, m.to(Backup, CauseResign)...)
		m.masterAddr = netip.Addr{}
		return append(acts, m.arm(now, masterDownInterval(m.cfg.Priority, m.masterAdv)))
	case SetPriority:
		if ev.Priority == StopPriority || ev.Priority == OwnerPriority ||
			m.cfg.Priority == OwnerPriority || ev.Priority == m.cfg.Priority {
			return nil
		}
		m.cfg.Priority = ev.Priority
		if m.state == Master {
			return []Action{SendAdvert{m.cfg.Priority}, m.arm(now, m.cfg.AdvertInterval)}
		}
		return nil
	}
	return nil
}

// Priority is the router's current priority.
func (m *Machine) Priority() uint8 { return m.cfg.Priority }

// start is RFC 5798 §6.4.1 (Initialize).
func (m *Machine) start(now time.Time, c Cause) []Action {
	if m.cfg.Priority == OwnerPriority {
		return m.becomeMaster(now, c)
	}
	m.masterAdv = m.cfg.AdvertInterval
	m.masterAddr = netip.Addr{}
	m.preemptAt = now.Add(m.cfg.PreemptDelay)
	acts := m.to(Backup, c)
	return append(acts, m.arm(now, masterDownInterval(m.cfg.Priority, m.masterAdv)))
}

// becomeMaster: send an advert, announce the addresses (the Transition),
// start Adver_Timer (§6.4.1, §6.4.2). The advert goes first so the old
// master and the other backups hear of the new one at once.
func (m *Machine) becomeMaster(now time.Time, c Cause) []Action {
	m.masterAddr = m.cfg.Primary
	acts := []Action{SendAdvert{m.cfg.Priority}}
	acts = append(acts, m.to(Master, c)...)
	return append(acts, m.arm(now, m.cfg.AdvertInterval))
}

// backupAdvert is the ADVERTISEMENT branch of §6.4.2.
func (m *Machine) backupAdvert(now time.Time, a AdvertIn) []Action {
	if a.Priority == StopPriority {
		// The master is leaving: take over after Skew_Time.
		return []Action{m.arm(now, skewTime(m.cfg.Priority, m.masterAdv))}
	}
	lower := a.Priority < m.cfg.Priority
	if m.cfg.Preempt && lower && !now.Before(m.preemptAt) {
		return nil // discard: let Master_Down_Timer fire and preempt
	}
	m.masterAdv = a.Interval
	m.masterAddr = a.Src
	return []Action{m.arm(now, masterDownInterval(m.cfg.Priority, m.masterAdv))}
}

// masterAdvert is the ADVERTISEMENT branch of §6.4.3.
func (m *Machine) masterAdvert(now time.Time, a AdvertIn) []Action {
	if a.Priority == StopPriority {
		// Another router stops: answer at once so the backups do not
		// take over after their Skew_Time.
		return []Action{SendAdvert{m.cfg.Priority}, m.arm(now, m.cfg.AdvertInterval)}
	}
	if a.Priority > m.cfg.Priority ||
		(a.Priority == m.cfg.Priority && a.Src.Compare(m.cfg.Primary) > 0) {
		m.masterAdv = a.Interval
		m.masterAddr = a.Src
		acts := m.to(Backup, CausePreempted)
		return append(acts, m.arm(now, masterDownInterval(m.cfg.Priority, m.masterAdv)))
	}
	return nil // discard
}

// leave stops taking part: a Master sends priority 0 first (§6.4.3).
func (m *Machine) leave(now time.Time, to State, c Cause) []Action {
	switch m.state {
	case Master:
		acts := []Action{m.stop(), SendAdvert{StopPriority}}
		return append(acts, m.to(to, c)...)
	case Backup:
		return append([]Action{m.stop()}, m.to(to, c)...)
	case Fault:
		if to != Fault {
			return m.to(to, c)
		}
	}
	return nil
}

func (m *Machine) reevaluate(now time.Time) []Action {
	switch {
	case m.faulty() && (m.state == Backup || m.state == Master):
		return m.leave(now, Fault, CauseFault)
	case !m.faulty() && m.state == Fault:
		return m.start(now, CauseRecovered)
	}
	return nil
}

func (m *Machine) to(s State, c Cause) []Action {
	if m.state == s {
		return nil
	}
	t := Transition{From: m.state, To: s, Cause: c}
	m.state = s
	return []Action{t}
}

func (m *Machine) arm(now time.Time, d time.Duration) Action {
	m.deadline = now.Add(d)
	return ArmTimer{After: d}
}

func (m *Machine) stop() Action {
	m.deadline = time.Time{}
	return StopTimer{}
}
