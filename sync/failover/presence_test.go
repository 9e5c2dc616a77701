package failover

import (
	"testing"
	"time"
)

// obs is one observation fed to a Presence at an offset from t0.
type obs struct {
	at   time.Duration
	kind string // "advert" | "masterdown" | "up" | "down" | "lanok" | "lanno" (a LAN probe answered / unanswered)
}

func TestPresence(t *testing.T) {
	const (
		window = 300 * time.Millisecond // 3 x a 100 ms advert interval
		apd    = time.Minute            // auto_partner_down
	)
	sec := time.Second
	tests := []struct {
		name string
		obs  []obs
		// silent: SilentSince reports both paths silent, since t0+since.
		silent bool
		since  time.Duration
		// goneAt: Gone is false just before t0+goneAt and true at it;
		// ignored unless silent. Otherwise Gone stays false for ever.
		goneAt time.Duration
	}{
		{name: "nothing observed: not silent (a master learns nothing from VRRP)"},
		{name: "cold start: master-down without any advert, link never up",
			obs: []obs{{3 * sec, "masterdown"}}, silent: true, since: 3 * sec, goneAt: 3*sec + apd},
		{name: "box lost: adverts stop, then the link goes down",
			obs:    []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "masterdown"}, {5 * sec, "down"}},
			silent: true, since: 5 * sec, goneAt: 5*sec + apd},
		{name: "box lost: the link goes down, then the adverts stop",
			obs:    []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "down"}, {3 * sec, "masterdown"}},
			silent: true, since: 3 * sec, goneAt: 3*sec + apd},
		{name: "sync link partition alone: adverts still heard",
			obs: []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "down"}, {time.Hour, "advert"}}},
		{name: "sync link partition alone: this node is master, VRRP tells nothing",
			obs: []obs{{0, "up"}, {2 * sec, "down"}}},
		{name: "cold start with the link up: master-down without any advert, then the sync cable is cut",
			obs: []obs{{0, "up"}, {sec, "masterdown"}, {5 * sec, "down"}, {6 * sec, "lanok"}}},
		{name: "VRRP partition alone: adverts stop, the link stays up",
			obs: []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "masterdown"}}},
		{name: "VRRP partition alone, the link bounces: the silence is stale",
			obs: []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "masterdown"}, {3 * sec, "down"}, {4 * sec, "up"}, {5 * sec, "down"}}},
		{name: "preemption: master-down within the window of an advert is no silence",
			obs: []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "down"}, {sec + window - time.Millisecond, "masterdown"}}},
		{name: "master-down exactly one window after the last advert is silence",
			obs:    []obs{{sec, "advert"}, {sec + window, "masterdown"}},
			silent: true, since: sec + window, goneAt: sec + window + apd},
		{name: "adverts return after silence: heard again",
			obs: []obs{{sec, "masterdown"}, {2 * sec, "advert"}}},
		{name: "link returns after both went silent",
			obs: []obs{{0, "up"}, {sec, "down"}, {2 * sec, "masterdown"}, {3 * sec, "up"}}},
		{name: "a late advert time does not move the last advert back",
			obs: []obs{{2 * sec, "advert"}, {sec, "advert"}, {2*sec + window/2, "masterdown"}}},

		// The Master's witness: LAN probes of the partner's own addresses.
		{name: "master, sync cable cut: the partner answers on the LAN, for ever",
			obs: []obs{{0, "up"}, {2 * sec, "down"}, {2500 * time.Millisecond, "lanok"}, {3 * sec, "lanok"}, {time.Hour, "lanok"}}},
		{name: "master, box lost: the link goes down, the LAN probes go unanswered",
			obs:    []obs{{0, "up"}, {2 * sec, "down"}, {2500 * time.Millisecond, "lanno"}, {3 * sec, "lanno"}, {time.Hour, "lanno"}},
			silent: true, since: 2500 * time.Millisecond, goneAt: 2500*time.Millisecond + apd},
		{name: "master: an answer after silence makes the partner heard again",
			obs: []obs{{0, "up"}, {2 * sec, "down"}, {3 * sec, "lanno"}, {4 * sec, "lanok"}}},
		{name: "master: silence after an answer counts from the first unanswered probe",
			obs:    []obs{{0, "up"}, {2 * sec, "down"}, {3 * sec, "lanok"}, {4 * sec, "lanno"}, {5 * sec, "lanno"}},
			silent: true, since: 4 * sec, goneAt: 4*sec + apd},
		{name: "master: LAN silence while the link is up is nothing",
			obs: []obs{{0, "up"}, {sec, "lanno"}}},
		{name: "master: LAN silence before the link went down counts from the link's fall",
			obs:    []obs{{0, "up"}, {sec, "down"}, {2 * sec, "lanno"}, {3 * sec, "up"}, {4 * sec, "lanno"}, {5 * sec, "down"}},
			silent: true, since: 5 * sec, goneAt: 5*sec + apd},
		{name: "master: the link returning clears the LAN silence",
			obs: []obs{{0, "up"}, {sec, "down"}, {2 * sec, "lanno"}, {3 * sec, "up"}}},
		{name: "master that heard adverts at its start: the old adverts do not keep the partner heard",
			obs:    []obs{{0, "advert"}, {sec, "up"}, {time.Hour, "down"}, {time.Hour + sec, "lanno"}},
			silent: true, since: time.Hour + sec, goneAt: time.Hour + sec + apd},
		{name: "master: LAN silent, then the partner's adverts are heard: alive",
			obs: []obs{{0, "up"}, {sec, "down"}, {2 * sec, "lanno"}, {3 * sec, "advert"}}},
		{name: "backup: VRRP silence and the LAN silent later: counts from the later",
			obs:    []obs{{0, "up"}, {sec, "advert"}, {2 * sec, "down"}, {3 * sec, "masterdown"}, {4 * sec, "lanno"}},
			silent: true, since: 4 * sec, goneAt: 4*sec + apd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Presence
			last := t0
			for _, o := range tc.obs {
				at := t0.Add(o.at)
				if at.After(last) {
					last = at
				}
				switch o.kind {
				case "advert":
					p.Advert(at)
				case "masterdown":
					p.MasterDown(at, window)
				case "up":
					p.LinkUp(at)
				case "down":
					p.LinkDown(at)
				case "lanok":
					p.LANProbe(at, true)
				case "lanno":
					p.LANProbe(at, false)
				default:
					t.Fatalf("bad observation %q", o.kind)
				}
			}
			since, silent := p.SilentSince()
			if silent != tc.silent || (silent && !since.Equal(t0.Add(tc.since))) {
				t.Fatalf("SilentSince = %v, %v; want %v, %v", since.Sub(t0), silent, tc.since, tc.silent)
			}
			if !tc.silent {
				for _, d := range []time.Duration{0, apd, 48 * time.Hour} {
					if p.Gone(last.Add(d), apd) {
						t.Fatalf("Gone %v after the last observation, want never", d)
					}
				}
				return
			}
			if p.Gone(t0.Add(tc.goneAt-time.Nanosecond), apd) {
				t.Errorf("Gone just before %v", tc.goneAt)
			}
			if !p.Gone(t0.Add(tc.goneAt), apd) {
				t.Errorf("not Gone at %v", tc.goneAt)
			}
			if p.Gone(t0.Add(48*time.Hour), 0) {
				t.Error("Gone with auto_partner_down 0 (operator only)")
			}
		})
	}
}

// TestPresenceReports: what Advert and MasterDown report, which the
// machine turns into AdvertsResumed and AdvertsStopped for the sync link.
func TestPresenceReports(t *testing.T) {
	const window = 300 * time.Millisecond
	var p Presence
	if !p.Advert(t0) {
		t.Error("first advert: not reported as resumed")
	}
	if p.Advert(t0.Add(100 * time.Millisecond)) {
		t.Error("second advert reported as resumed")
	}
	if silent, _ := p.MasterDown(t0.Add(200*time.Millisecond), window); silent {
		t.Error("preemption taken for silence")
	}
	if !p.AdvertsHeard() {
		t.Error("a preemption made the adverts unheard")
	}
	if silent, wasHeard := p.MasterDown(t0.Add(time.Second), window); !silent || !wasHeard {
		t.Errorf("silence after adverts: silent %v wasHeard %v, want both", silent, wasHeard)
	}
	if silent, wasHeard := p.MasterDown(t0.Add(2*time.Second), window); !silent || wasHeard {
		t.Errorf("silence again: silent %v wasHeard %v, want silent only", silent, wasHeard)
	}
	if !p.Advert(t0.Add(3 * time.Second)) {
		t.Error("advert after silence: not reported as resumed")
	}
	var cold Presence
	if silent, wasHeard := cold.MasterDown(t0, window); !silent || wasHeard {
		t.Errorf("cold start: silent %v wasHeard %v, want silent only", silent, wasHeard)
	}
}

// TestMachineAdvertsActions: the machine emits the actions the agent
// executes on the sync link, and a repeated advert is no step at all.
func TestMachineAdvertsActions(t *testing.T) {
	m, err := New(testCfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Handle(t0, Start{SeqKnown: true})
	if acts := m.Handle(t0.Add(time.Second), VRRPAdvert{}); !hasAction(acts, AdvertsResumed{}) {
		t.Errorf("first advert: %v, want AdvertsResumed", acts)
	}
	if acts := m.Handle(t0.Add(2*time.Second), VRRPAdvert{}); acts != nil {
		t.Errorf("repeated advert: %v, want nothing", acts)
	}
	w := 300 * time.Millisecond
	if acts := m.Handle(t0.Add(3*time.Second), VRRPMasterDown{At: t0.Add(2*time.Second + w/2), Window: w}); hasAction(acts, AdvertsStopped{}) {
		t.Errorf("preemption: %v, want no AdvertsStopped", acts)
	}
	acts := m.Handle(t0.Add(4*time.Second), VRRPMasterDown{Window: w})
	if !hasAction(acts, AdvertsStopped{}) || !hasAction(acts, ArmTimer{After: time.Minute}) {
		t.Errorf("silence: %v, want AdvertsStopped and ArmTimer 1m", acts)
	}
}

// TestMachineMasterWitness: a VRRP master that loses the sync link
// reaches PARTNER-DOWN by itself only when its LAN probes of the partner
// go unanswered for auto_partner_down; a partner that answers them (a cut
// sync cable) never gets there, and a backup's probes count for nothing.
func TestMachineMasterWitness(t *testing.T) {
	sec := time.Second
	probes := func(from, to time.Duration, answered bool) []step {
		var st []step
		for d := from; d <= to; d += sec {
			st = append(st, step{d, LANProbe{Answered: answered}})
		}
		return st
	}
	master := with(normalPair(), step{3 * sec, VRRPMaster{true}}, step{4 * sec, LinkDown{}})
	tests := []struct {
		name  string
		steps []step
		want  State
	}{
		{"box lost: probes unanswered", with(master, append(probes(5*sec, 70*sec, false), step{5*sec + time.Minute, TimerFired{}})...), PartnerDown},
		{"cut sync cable: probes answered", with(master, probes(5*sec, 3*time.Minute, true)...), CommInterrupted},
		{"cut sync cable, one probe lost among answers", with(master, append(append(probes(5*sec, 30*sec, true), step{31 * sec, LANProbe{}}), probes(32*sec, 3*time.Minute, true)...)...), CommInterrupted},
		{"backup's probes count for nothing", with(normalPair(), append([]step{{4 * sec, LinkDown{}}}, probes(5*sec, 3*time.Minute, false)...)...), CommInterrupted},
		{"probes while the link is up count for nothing", with(normalPair(), append([]step{{3 * sec, VRRPMaster{true}}}, probes(5*sec, 3*time.Minute, false)...)...), Normal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := runSteps(t, testCfg, tc.steps)
			if got := m.State(); got != tc.want {
				t.Errorf("state %v, want %v", got, tc.want)
			}
		})
	}
}
