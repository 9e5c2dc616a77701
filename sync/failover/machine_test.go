package failover

import (
	"strings"
	"testing"
	"time"
)

var testCfg = Config{Role: Primary, Mode: HotStandby, MCLT: time.Hour,
	AutoPartnerDown: time.Minute, Split: 128, LoadBalanceMaxSeconds: 3, StandbyShare: 0.1}

// step is one event at an offset from t0.
type step struct {
	at time.Duration
	ev Event
}

func runSteps(t *testing.T, cfg Config, steps []step) (*Machine, []Action) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last []Action
	for _, s := range steps {
		last = m.Handle(t0.Add(s.at), s.ev)
	}
	return m, last
}

func transitionIn(acts []Action) (Transition, bool) {
	var tr Transition
	ok := false
	for _, a := range acts {
		if x, is := a.(Transition); is {
			tr, ok = x, true
		}
	}
	return tr, ok
}

var (
	start      = step{0, Start{LastSeq: 10, SeqKnown: true}}
	linkNormal = LinkUp{Partner: Normal, PartnerAckedSeq: 10, OurLastSeq: 10}
)

// normalPair brings a machine to NORMAL: started, link up, resynced.
func normalPair() []step {
	return []step{start, {1 * time.Second, linkNormal}, {2 * time.Second, ResyncDone{}}}
}

func with(base []step, more ...step) []step { return append(append([]step{}, base...), more...) }

func TestTransitions(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name   string
		cfg    Config
		steps  []step
		want   State
		reason string // substring of the last transition's reason; "" = no transition in the last step
	}{
		{"startup waits without partner", testCfg, []step{start, {10 * sec, VRRPMaster{true}}}, Startup, ""},
		{"startup + link, partner NORMAL -> RECOVER", testCfg, []step{start, {sec, linkNormal}}, Recover, "sync link up, partner NORMAL"},
		{"RECOVER + resync, seqs prove -> RECOVER-DONE -> NORMAL", testCfg, normalPair(), Normal, "recovered, partner NORMAL"},
		{"RECOVER + resync, journal lost -> RECOVER-WAIT", testCfg,
			[]step{{0, Start{SeqKnown: false}}, {sec, linkNormal}, {2 * sec, ResyncDone{}}}, RecoverWait, "waiting MCLT"},
		{"RECOVER + resync, partner saw more than we have -> RECOVER-WAIT", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 12, OurLastSeq: 10}}, {2 * sec, ResyncDone{}}}, RecoverWait, "waiting MCLT"},
		{"RECOVER-WAIT + MCLT -> NORMAL", testCfg,
			[]step{{0, Start{SeqKnown: false}}, {sec, linkNormal}, {2 * sec, ResyncDone{}}, {2*sec + time.Hour, TimerFired{}}}, Normal, "recovered"},
		{"RECOVER-WAIT timer early does nothing", testCfg,
			[]step{{0, Start{SeqKnown: false}}, {sec, linkNormal}, {2 * sec, ResyncDone{}}, {time.Hour, TimerFired{}}}, RecoverWait, ""},
		{"startup, partner PARTNER-DOWN, it has all ours -> RECOVER", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 10, OurLastSeq: 10}}}, Recover, "partner PARTNER-DOWN"},
		{"startup, partner PARTNER-DOWN, it lacks ours -> POTENTIAL-CONFLICT", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 7, OurLastSeq: 10}}}, PotentialConflict, "lacks some of our records"},
		{"NORMAL + link down -> COMM-INT", testCfg, with(normalPair(), step{5 * sec, LinkDown{}}), CommInterrupted, "sync link down"},
		{"COMM-INT + link up, partner COMM-INT -> NORMAL", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{9 * sec, LinkUp{Partner: CommInterrupted, PartnerAckedSeq: 10, OurLastSeq: 10}}), Normal, "partner COMMUNICATIONS-INTERRUPTED"},
		{"COMM-INT + link up, partner RECOVER -> PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{9 * sec, LinkUp{Partner: Recover, PartnerAckedSeq: 10, OurLastSeq: 10}}), PartnerDown, "recovering from us"},
		{"COMM-INT + link up, partner PD, we wrote since -> POTENTIAL-CONFLICT", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{9 * sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 10, OurLastSeq: 11}}), PotentialConflict, "lacks"},
		{"COMM-INT + link up, partner PD, we wrote nothing -> RECOVER", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{9 * sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 10, OurLastSeq: 10}}), Recover, "has all our records"},
		{"COMM-INT, only sync link lost, VRRP heard: never PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, VRRPAdvert{}}, step{6 * sec, LinkDown{}}, step{48 * time.Hour, TimerFired{}}), CommInterrupted, ""},
		{"COMM-INT, master (VRRP tells nothing): never auto PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, VRRPMaster{true}}, step{6 * sec, LinkDown{}}, step{48 * time.Hour, TimerFired{}}), CommInterrupted, ""},
		{"COMM-INT, both paths silent for auto_partner_down -> PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{6*sec + time.Minute, TimerFired{}}), PartnerDown, "silent on sync link and VRRP"},
		{"auto_partner_down not yet", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{5*sec + time.Minute, TimerFired{}}), CommInterrupted, ""},
		{"auto_partner_down 0: only operator", Config{Role: Primary, MCLT: time.Hour, Split: 128},
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{48 * time.Hour, TimerFired{}}), CommInterrupted, ""},
		{"VRRP silent but link up: no PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, VRRPMasterDown{}}, step{48 * time.Hour, TimerFired{}}), Normal, ""},
		{"operator partner-down in COMM-INT", Config{Role: Primary, MCLT: time.Hour, Split: 128},
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, OperatorPartnerDown{}}), PartnerDown, "operator command"},
		{"operator partner-down refused with link up", testCfg, with(normalPair(), step{5 * sec, OperatorPartnerDown{}}), Normal, ""},
		{"operator partner-down refused while adverts heard", testCfg,
			with(normalPair(), step{4 * sec, VRRPAdvert{}}, step{5 * sec, LinkDown{}}, step{6 * sec, OperatorPartnerDown{}}), CommInterrupted, ""},
		{"lone cold start, both silent -> PARTNER-DOWN", testCfg,
			[]step{start, {3 * sec, VRRPMasterDown{}}, {3*sec + time.Minute, TimerFired{}}}, PartnerDown, "silent"},
		{"PARTNER-DOWN + partner RECOVER stays", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{2 * time.Minute, TimerFired{}},
				step{3 * time.Minute, LinkUp{Partner: Recover, PartnerAckedSeq: 10, OurLastSeq: 10}}), PartnerDown, ""},
		{"PARTNER-DOWN + partner RECOVER-DONE -> NORMAL", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{2 * time.Minute, TimerFired{}},
				step{3 * time.Minute, LinkUp{Partner: Recover, PartnerAckedSeq: 10, OurLastSeq: 10}},
				step{4 * time.Minute, PartnerState{State: RecoverDone}}), Normal, "partner is RECOVER-DONE"},
		{"PARTNER-DOWN + partner PARTNER-DOWN, we wrote -> POTENTIAL-CONFLICT", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{2 * time.Minute, TimerFired{}},
				step{3 * time.Minute, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 10, OurLastSeq: 15}}), PotentialConflict, "lacks"},
		{"PARTNER-DOWN + partner COMM-INT, we wrote nothing: stay", testCfg,
			with(normalPair(), step{5 * sec, LinkDown{}}, step{6 * sec, VRRPMasterDown{}}, step{2 * time.Minute, TimerFired{}},
				step{3 * time.Minute, LinkUp{Partner: CommInterrupted, PartnerAckedSeq: 10, OurLastSeq: 10}}), PartnerDown, ""},
		{"POTENTIAL-CONFLICT + resync -> RECOVER-DONE", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 7, OurLastSeq: 10}}, {2 * sec, ResyncDone{}}}, RecoverDone, "conflicts resolved"},
		{"RECOVER-DONE + partner NORMAL -> NORMAL", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 7, OurLastSeq: 10}}, {2 * sec, ResyncDone{}}, {3 * sec, PartnerState{State: Normal}}}, Normal, "recovered, partner NORMAL"},
		{"RECOVER-DONE keeps waiting on link loss", testCfg,
			[]step{start, {sec, LinkUp{Partner: PartnerDown, PartnerAckedSeq: 7, OurLastSeq: 10}}, {2 * sec, ResyncDone{}}, {3 * sec, LinkDown{}}}, RecoverDone, ""},
		{"NORMAL, partner restarts (STARTUP) -> PARTNER-DOWN", testCfg, with(normalPair(), step{5 * sec, PartnerState{State: Startup}}), PartnerDown, "partner is STARTUP"},
		{"partner in maintenance then link lost -> PARTNER-DOWN", testCfg,
			with(normalPair(), step{5 * sec, PartnerState{State: Normal, Maintenance: true}}, step{6 * sec, LinkDown{}}), PartnerDown, "maintenance"},
		{"maintenance stop with link up -> back to NORMAL via RECOVER", testCfg,
			with(normalPair(), step{5 * sec, MaintenanceStart{}}, step{6 * sec, MaintenanceStop{}}), Normal, "recovered"},
		{"maintenance stop with link down -> STARTUP", testCfg,
			with(normalPair(), step{5 * sec, MaintenanceStart{}}, step{6 * sec, LinkDown{}}, step{7 * sec, MaintenanceStop{}}), Startup, "maintenance ended"},
		{"events before Start are ignored", testCfg, []step{{0, linkNormal}}, Startup, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, acts := runSteps(t, tc.cfg, tc.steps)
			if m.State() != tc.want {
				t.Fatalf("state %v, want %v (status %+v)", m.State(), tc.want, m.Status())
			}
			tr, ok := transitionIn(acts)
			if tc.reason == "" {
				if ok {
					t.Fatalf("unexpected transition %+v", tr)
				}
				return
			}
			if !ok || !strings.Contains(tr.Reason, tc.reason) {
				t.Fatalf("transition %+v (found %v), want reason containing %q", tr, ok, tc.reason)
			}
			if tr.To != tc.want || tr.From == tr.To {
				t.Fatalf("transition %+v does not end in %v", tr, tc.want)
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	m, err := New(testCfg)
	if err != nil {
		t.Fatal(err)
	}
	acts := m.Handle(t0, Start{LastSeq: 1, SeqKnown: true})
	if !hasAction(acts, SendState{State: Startup}) {
		t.Errorf("start: %v, want SendState STARTUP", acts)
	}
	m.Handle(t0.Add(time.Second), linkNormal)
	acts = m.Handle(t0.Add(2*time.Second), ResyncDone{})
	if !hasAction(acts, SetFit{true}) || !hasAction(acts, SendState{State: Normal}) {
		t.Errorf("resync: %v, want SetFit true and SendState NORMAL", acts)
	}
	acts = m.Handle(t0.Add(3*time.Second), MaintenanceStart{})
	if !hasAction(acts, SetFit{false}) || !hasAction(acts, SendState{State: Normal, Maintenance: true}) {
		t.Errorf("maintenance: %v", acts)
	}
	// Auto partner-down arms a timer for heardAt + AutoPartnerDown.
	m2, _ := New(testCfg)
	m2.Handle(t0, Start{SeqKnown: true})
	acts = m2.Handle(t0.Add(3*time.Second), VRRPMasterDown{})
	if !hasAction(acts, ArmTimer{After: time.Minute}) {
		t.Errorf("silence: %v, want ArmTimer 1m", acts)
	}
	acts = m2.Handle(t0.Add(3*time.Second+time.Minute), TimerFired{})
	if !hasAction(acts, ArmTimer{After: time.Hour - time.Minute}) {
		t.Errorf("PD: %v, want ArmTimer for MCLT", acts)
	}
	if m2.Status().Fit {
		t.Error("a lone cold start must not be fit before MCLT")
	}
	acts = m2.Handle(t0.Add(3*time.Second+time.Hour), TimerFired{})
	if !hasAction(acts, SetFit{true}) {
		t.Errorf("after MCLT: %v, want SetFit true", acts)
	}
	if _, err := New(Config{MCLT: 0, Split: 300, StandbyShare: 2}); err == nil {
		t.Error("invalid config accepted")
	}
}

func hasAction(acts []Action, want Action) bool {
	for _, a := range acts {
		if a == want {
			return true
		}
	}
	return false
}

func TestStateStrings(t *testing.T) {
	for s := StateUnknown; s <= PotentialConflict; s++ {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%v) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseState("BOGUS"); err == nil {
		t.Error("ParseState accepted BOGUS")
	}
	if State(99).String() != "state(99)" {
		t.Error(State(99).String())
	}
}
