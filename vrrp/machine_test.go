package vrrp

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	t0      = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	primary = netip.MustParseAddr("192.0.2.10")
	lowerIP = netip.MustParseAddr("192.0.2.9")
	upperIP = netip.MustParseAddr("192.0.2.11")
)

func TestTimers(t *testing.T) {
	for _, tc := range []struct {
		prio       uint8
		adv        time.Duration
		skew, down time.Duration
	}{
		// RFC 5798 §6.1 with the values the DESIGN table quotes.
		{100, time.Second, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{200, time.Second, 218750 * time.Microsecond, 3218750 * time.Microsecond},
		{100, 100 * time.Millisecond, 60937500, 360937500},
		{255, time.Second, 3906250, 3003906250},
		{1, 10 * time.Millisecond, 9960937, 39960937},
	} {
		if got := skewTime(tc.prio, tc.adv); got != tc.skew {
			t.Errorf("skewTime(%d, %v) = %v, want %v", tc.prio, tc.adv, got, tc.skew)
		}
		if got := masterDownInterval(tc.prio, tc.adv); got != tc.down {
			t.Errorf("masterDownInterval(%d, %v) = %v, want %v", tc.prio, tc.adv, got, tc.down)
		}
	}
}

// step is one event fed to the machine at an offset from t0.
type step struct {
	at time.Duration
	ev Event
}

func TestMachine(t *testing.T) {
	const adv = time.Second
	cfg := func(prio uint8, preempt bool, delay time.Duration) MachineConfig {
		return MachineConfig{VRID: 51, Priority: prio, AdvertInterval: adv, Preempt: preempt, PreemptDelay: delay, Primary: primary}
	}
	down100 := masterDownInterval(100, adv)
	backup := []step{{0, Startup{}}}
	// Becomes master after Master_Down_Interval without adverts.
	master := []step{{0, Startup{}}, {down100, TimerFired{}}}
	mAt := down100 + time.Millisecond // a moment after it became master

	for _, tc := range []struct {
		name  string
		cfg   MachineConfig
		setup []step
		at    time.Duration
		ev    Event
		want  []Action
		state State
	}{
		{"§6.4.1 startup goes to backup with Master_Down_Interval",
			cfg(100, true, 0), nil, 0, Startup{},
			[]Action{Transition{Initialize, Backup, CauseStartup}, ArmTimer{down100}}, Backup},
		{"§6.4.1 owner (255) starts as master and advertises at once",
			cfg(255, true, 0), nil, 0, Startup{},
			[]Action{SendAdvert{255}, Transition{Initialize, Master, CauseStartup}, ArmTimer{adv}}, Master},
		{"§6.4.2 Master_Down_Timer fires: advert, master, Adver_Timer",
			cfg(100, true, 0), backup, down100, TimerFired{},
			[]Action{SendAdvert{100}, Transition{Backup, Master, CauseMasterDown}, ArmTimer{adv}}, Master},
		{"stale timer expiry before the deadline is ignored",
			cfg(100, true, 0), backup, down100 - time.Millisecond, TimerFired{},
			nil, Backup},
		{"§6.4.2 priority 0 seen as backup: timer = Skew_Time",
			cfg(100, true, 0), backup, time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 0, Interval: adv},
			[]Action{ArmTimer{skewTime(100, adv)}}, Backup},
		{"§6.4.2 higher priority: Master_Adver_Interval learned from the master",
			cfg(100, true, 0), backup, time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 200, Interval: 200 * time.Millisecond},
			[]Action{ArmTimer{masterDownInterval(100, 200*time.Millisecond)}}, Backup},
		{"§6.4.2 equal priority counts as better for a backup",
			cfg(100, true, 0), backup, time.Second, AdvertIn{Src: lowerIP, VRID: 51, Priority: 100, Interval: adv},
			[]Action{ArmTimer{down100}}, Backup},
		{"§6.4.2 preempt: lower priority advert discarded",
			cfg(100, true, 0), backup, time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			nil, Backup},
		{"§6.4.2 preempt off: lower priority master accepted",
			cfg(100, false, 0), backup, time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			[]Action{ArmTimer{down100}}, Backup},
		{"preempt_delay: lower priority master accepted during the delay",
			cfg(100, true, 10*time.Second), backup, 9 * time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			[]Action{ArmTimer{down100}}, Backup},
		{"preempt_delay: lower priority master discarded after the delay",
			cfg(100, true, 10*time.Second), backup, 10 * time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			nil, Backup},
		{"§7.1 advert for another VRID is dropped",
			cfg(100, true, 0), backup, time.Second, AdvertIn{Src: upperIP, VRID: 52, Priority: 200, Interval: adv},
			nil, Backup},
		{"§6.4.3 Adver_Timer fires: advert and re-arm",
			cfg(100, true, 0), master, mAt + adv, TimerFired{},
			[]Action{SendAdvert{100}, ArmTimer{adv}}, Master},
		{"§6.4.3 priority 0 seen as master: advert now",
			cfg(100, true, 0), master, mAt, AdvertIn{Src: upperIP, VRID: 51, Priority: 0, Interval: adv},
			[]Action{SendAdvert{100}, ArmTimer{adv}}, Master},
		{"§6.4.3 higher priority: master steps down and learns its interval",
			cfg(100, true, 0), master, mAt, AdvertIn{Src: lowerIP, VRID: 51, Priority: 101, Interval: 300 * time.Millisecond},
			[]Action{Transition{Master, Backup, CausePreempted}, ArmTimer{masterDownInterval(100, 300*time.Millisecond)}}, Backup},
		{"§6.4.3 equal priority, higher primary address wins",
			cfg(100, true, 0), master, mAt, AdvertIn{Src: upperIP, VRID: 51, Priority: 100, Interval: adv},
			[]Action{Transition{Master, Backup, CausePreempted}, ArmTimer{down100}}, Backup},
		{"§6.4.3 equal priority, lower primary address loses",
			cfg(100, true, 0), master, mAt, AdvertIn{Src: lowerIP, VRID: 51, Priority: 100, Interval: adv},
			nil, Master},
		{"§6.4.3 lower priority advert discarded by master",
			cfg(100, false, 0), master, mAt, AdvertIn{Src: upperIP, VRID: 51, Priority: 99, Interval: adv},
			nil, Master},
		{"SetPriority as master: the new priority is advertised at once",
			cfg(100, true, 0), master, mAt, SetPriority{Priority: 1},
			[]Action{SendAdvert{1}, ArmTimer{adv}}, Master},
		{"SetPriority lowered: a backup then accepts a master it would preempt",
			cfg(100, true, 0), append(append([]step{}, backup...), step{time.Second, SetPriority{Priority: 1}}), time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			[]Action{ArmTimer{masterDownInterval(1, adv)}}, Backup},
		{"SetPriority 0 is refused (it is the stop signal)",
			cfg(100, true, 0), master, mAt, SetPriority{Priority: 0},
			nil, Master},
		{"SetPriority 255 is refused (address owner)",
			cfg(100, true, 0), master, mAt, SetPriority{Priority: 255},
			nil, Master},
		{"§6.4.3 shutdown as master: priority 0 advert",
			cfg(100, true, 0), master, mAt, Shutdown{},
			[]Action{StopTimer{}, SendAdvert{0}, Transition{Master, Initialize, CauseShutdown}}, Initialize},
		{"§6.4.2 shutdown as backup: silent",
			cfg(100, true, 0), backup, time.Second, Shutdown{},
			[]Action{StopTimer{}, Transition{Backup, Initialize, CauseShutdown}}, Initialize},
		{"tracked interface down as master: priority 0, fault",
			cfg(100, true, 0), master, mAt, TrackChanged{Up: false},
			[]Action{StopTimer{}, SendAdvert{0}, Transition{Master, Fault, CauseFault}}, Fault},
		{"tracked interface up again: back to backup",
			cfg(100, true, 0), append(append([]step{}, master...), step{mAt, TrackChanged{Up: false}}), mAt + time.Second, TrackChanged{Up: true},
			[]Action{Transition{Fault, Backup, CauseRecovered}, ArmTimer{down100}}, Backup},
		{"startup while a tracked interface is down: fault",
			cfg(100, true, 0), []step{{0, TrackChanged{Up: false}}}, 0, Startup{},
			[]Action{Transition{Initialize, Fault, CauseFault}}, Fault},
		{"adverts are ignored in fault",
			cfg(100, true, 0), []step{{0, TrackChanged{Up: false}}, {0, Startup{}}}, time.Second, AdvertIn{Src: upperIP, VRID: 51, Priority: 0, Interval: adv},
			nil, Fault},
		{"sync group fault as backup",
			cfg(100, true, 0), backup, time.Second, GroupFault{Fault: true},
			[]Action{StopTimer{}, Transition{Backup, Fault, CauseFault}}, Fault},
		{"sync group step down as master",
			cfg(100, true, 0), master, mAt, StepDown{},
			[]Action{SendAdvert{0}, Transition{Master, Backup, CauseGroup}, ArmTimer{down100}}, Backup},
		{"§6.4.3 resign as master: priority 0 advert, backup, Master_Down_Timer",
			cfg(100, true, 0), master, mAt, Resign{},
			[]Action{SendAdvert{0}, Transition{Master, Backup, CauseResign}, ArmTimer{down100}}, Backup},
		{"resign at the lowered priority: Master_Down_Interval follows it",
			cfg(100, true, 0), append(append([]step{}, master...), step{mAt, SetPriority{Priority: 1}}), mAt, Resign{},
			[]Action{SendAdvert{0}, Transition{Master, Backup, CauseResign}, ArmTimer{masterDownInterval(1, adv)}}, Backup},
		{"resign ignored as backup",
			cfg(100, true, 0), backup, time.Second, Resign{},
			nil, Backup},
		{"resign ignored in fault",
			cfg(100, true, 0), []step{{0, TrackChanged{Up: false}}, {0, Startup{}}}, time.Second, Resign{},
			nil, Fault},
		{"after resigning at a lowered priority, the new master is accepted despite preempt",
			cfg(100, true, 0), append(append([]step{}, master...), step{mAt, SetPriority{Priority: 1}}, step{mAt, Resign{}}), mAt + 100*time.Millisecond,
			AdvertIn{Src: upperIP, VRID: 51, Priority: 50, Interval: adv},
			[]Action{ArmTimer{masterDownInterval(1, adv)}}, Backup},
		{"sync group step down ignored as backup",
			cfg(100, true, 0), backup, time.Second, StepDown{},
			nil, Backup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(tc.cfg)
			for _, s := range tc.setup {
				m.Handle(t0.Add(s.at), s.ev)
			}
			got := m.Handle(t0.Add(tc.at), tc.ev)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions:\n got %s\nwant %s", fmtActions(got), fmtActions(tc.want))
			}
			if m.State() != tc.state {
				t.Errorf("state %v, want %v", m.State(), tc.state)
			}
		})
	}
}

// TestMachineSkewTakeover runs a whole graceful handover: a backup that
// hears priority 0 becomes master Skew_Time later, not Master_Down_Interval.
func TestMachineSkewTakeover(t *testing.T) {
	const adv = 100 * time.Millisecond
	m := NewMachine(MachineConfig{VRID: 1, Priority: 100, AdvertInterval: adv, Preempt: true, Primary: primary})
	m.Handle(t0, Startup{})
	at := t0.Add(50 * time.Millisecond)
	m.Handle(at, AdvertIn{Src: upperIP, VRID: 1, Priority: 200, Interval: adv})
	at = at.Add(adv)
	acts := m.Handle(at, AdvertIn{Src: upperIP, VRID: 1, Priority: 0, Interval: adv})
	skew := skewTime(100, adv)
	if want := []Action{ArmTimer{skew}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("got %s, want %s", fmtActions(acts), fmtActions(want))
	}
	if got := m.Handle(at.Add(skew-time.Microsecond), TimerFired{}); got != nil {
		t.Fatalf("fired early: %s", fmtActions(got))
	}
	if m.Handle(at.Add(skew), TimerFired{}); m.State() != Master {
		t.Fatalf("state %v after Skew_Time, want master", m.State())
	}
}

// TestMachineResignAlone: a router that resigned while nobody else is
// there becomes master again after its Master_Down_Interval (a router
// alone keeps the addresses served).
func TestMachineResignAlone(t *testing.T) {
	const adv = 100 * time.Millisecond
	m := NewMachine(MachineConfig{VRID: 1, Priority: 100, AdvertInterval: adv, Preempt: true, Primary: primary})
	m.Handle(t0, Startup{})
	at := t0.Add(masterDownInterval(100, adv))
	if m.Handle(at, TimerFired{}); m.State() != Master {
		t.Fatalf("state %v, want master", m.State())
	}
	m.Handle(at, SetPriority{Priority: 1})
	m.Handle(at, Resign{})
	if m.State() != Backup || m.MasterAddr().IsValid() {
		t.Fatalf("after resign: state %v master %v, want backup with no master known", m.State(), m.MasterAddr())
	}
	down := masterDownInterval(1, adv)
	if got := m.Handle(at.Add(down-time.Microsecond), TimerFired{}); got != nil {
		t.Fatalf("fired early: %s", fmtActions(got))
	}
	if m.Handle(at.Add(down), TimerFired{}); m.State() != Master || m.Priority() != 1 {
		t.Fatalf("alone after Master_Down_Interval: %v at priority %d, want master at 1", m.State(), m.Priority())
	}
}

func fmtActions(a []Action) string {
	if a == nil {
		return "[]"
	}
	s := "["
	for i, x := range a {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%T%+v", x, x)
	}
	return s + "]"
}
