package track

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestHysteresis follows keepalived's counter result by result
// (vrrp_scheduler.c): the string is the results, the want the status
// after each.
func TestHysteresis(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rise, fall int
		initFail   bool
		results    string // + success, - failure
		want       string // U up, D down, ? unknown
	}{
		{"first success decides", 3, 3, false, "+", "U"},
		{"first failure decides", 3, 3, false, "-", "D"},
		{"rise 1 fall 1 follows each result", 1, 1, false, "+-+-", "UDUD"},
		{"fall 2: one failure is not enough", 2, 2, false, "+-+-", "UUUU"},
		{"fall 2: two in a row", 2, 2, false, "+--", "UUD"},
		{"rise 2 after down: two successes in a row", 2, 2, false, "-+-++", "DDDDU"},
		{"fall 3 counts from the top again after a success", 1, 3, false, "+--+---", "UUUUUUD"},
		{"rise 3 fall 1", 3, 1, false, "-++-+++", "DDDDDDU"},
		{"init_fail starts down and needs rise", 2, 2, true, "+", "D"},
		{"init_fail then rise successes", 2, 2, true, "++", "DU"},
		{"zero rise and fall count as one", 0, 0, false, "+-", "UD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHysteresis(tc.rise, tc.fall, tc.initFail)
			var got strings.Builder
			for _, r := range tc.results {
				before := h.Status()
				st, changed := h.Observe(r == '+')
				if changed != (st != before) {
					t.Errorf("changed=%v from %v to %v", changed, before, st)
				}
				got.WriteByte(map[Status]byte{Up: 'U', Down: 'D', Unknown: '?'}[st])
			}
			if got.String() != tc.want {
				t.Errorf("results %s: statuses %s, want %s", tc.results, got.String(), tc.want)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base      uint8
		inputs    []Input
		wantPrio  uint8
		wantFault bool
	}{
		{"nothing tracked", 100, nil, 100, false},
		{"weight 0 up", 100, []Input{{0, Up}}, 100, false},
		{"weight 0 down: fault", 100, []Input{{0, Down}}, 100, true},
		{"weight 0 not reported yet: fault", 100, []Input{{0, Unknown}}, 100, true},
		{"negative weight while up: nothing", 100, []Input{{-20, Up}}, 100, false},
		{"negative weight while down: subtracted", 100, []Input{{-20, Down}}, 80, false},
		{"positive weight while up: added", 100, []Input{{2, Up}}, 102, false},
		{"positive weight while down: nothing", 100, []Input{{2, Down}}, 100, false},
		{"weighted not reported yet: nothing", 100, []Input{{-20, Unknown}, {5, Unknown}}, 100, false},
		{"sum of several", 100, []Input{{-20, Down}, {-10, Down}, {5, Up}, {7, Down}}, 75, false},
		{"clamped to 1, never 0", 10, []Input{{-50, Down}}, 1, false},
		{"clamped to 254, never 255", 250, []Input{{10, Up}}, 254, false},
		{"address owner keeps 255", 255, []Input{{-50, Down}}, 255, false},
		{"address owner still faults on weight 0", 255, []Input{{0, Down}}, 255, true},
		{"fault and a weight together", 100, []Input{{0, Down}, {-20, Down}}, 80, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, f := Effective(tc.base, tc.inputs)
			if p != tc.wantPrio || f != tc.wantFault {
				t.Errorf("Effective(%d, %v) = %d, fault %v; want %d, fault %v", tc.base, tc.inputs, p, f, tc.wantPrio, tc.wantFault)
			}
		})
	}
}

func TestTracked(t *testing.T) {
	type applied struct {
		prio  uint8
		fault bool
	}
	var got []applied
	tr := NewTracked(100, []Input{{0, Up}, {-20, Unknown}}, func(p uint8, f bool) { got = append(got, applied{p, f}) })
	tr.Apply()
	tr.Set(1, Down)
	tr.Set(0, Down)
	tr.Set(0, Up)
	tr.Set(1, Up)
	want := []applied{{100, false}, {80, false}, {80, true}, {80, false}, {100, false}}
	if len(got) != len(want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("apply %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// fakeExec is a command whose outcome the test sets; hang makes it block
// until canceled.
type fakeExec struct {
	mu    sync.Mutex
	fail  bool
	hang  bool
	runs  int
	calls chan struct{}
}

func (f *fakeExec) exec(ctx context.Context, argv []string) ([]byte, error) {
	f.mu.Lock()
	f.runs++
	fail, hang := f.fail, f.hang
	f.mu.Unlock()
	defer func() { f.calls <- struct{}{} }()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if fail {
		return []byte("haproxy: no process found\n"), errors.New("exit status 1")
	}
	return nil, nil
}

func (f *fakeExec) set(fail, hang bool) {
	f.mu.Lock()
	f.fail, f.hang = fail, hang
	f.mu.Unlock()
}

// TestChecker drives a checker with the fake clock: the first run at
// once, then one per interval; fall failures take it down, rise successes
// back up; a hung run is killed at the timeout and counts as a failure.
func TestChecker(t *testing.T) {
	clk := clocktest.NewFake(time.Unix(1e9, 0))
	fx := &fakeExec{calls: make(chan struct{}, 16)}
	m, _ := NewMetrics(nil)
	changes := make(chan Status, 16)
	s := Script{Name: "chk", Argv: []string{"/bin/true"}, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2}
	c := NewChecker(s, Deps{Exec: fx.exec, Clock: clk, Metrics: m}, func(st Status) { changes <- st })
	if c.Initial() != Unknown {
		t.Fatalf("initial status %v, want unknown", c.Initial())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// run waits for one run to finish and for the checker to arm the
	// next one next from now, so the next Advance fires it.
	run := func(next time.Duration) {
		t.Helper()
		select {
		case <-fx.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("no run of the check")
		}
		waitPending(t, clk, next)
	}
	expect := func(want Status) {
		t.Helper()
		select {
		case st := <-changes:
			if st != want {
				t.Fatalf("status change to %v, want %v", st, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no status change, want %v", want)
		}
	}
	noChange := func() {
		t.Helper()
		select {
		case st := <-changes:
			t.Fatalf("unexpected status change to %v", st)
		default:
		}
	}

	waitPending(t, clk, 0)
	clk.Advance(0) // the first run is due at once
	run(2 * time.Second)
	expect(Up)
	fx.set(true, false)
	clk.Advance(2 * time.Second)
	run(2 * time.Second)
	noChange() // fall 2: one failure is not enough
	clk.Advance(2 * time.Second)
	run(2 * time.Second)
	expect(Down)
	fx.set(false, false)
	clk.Advance(2 * time.Second)
	run(2 * time.Second)
	noChange() // rise 2
	// A hung run: killed at the timeout (1s), a failure that resets rise.
	fx.set(false, true)
	clk.Advance(2 * time.Second)
	waitPending(t, clk, time.Second) // the timeout
	clk.Advance(time.Second)
	run(time.Second) // the next run is an interval after the hung one started
	fx.set(false, false)
	clk.Advance(time.Second)
	run(2 * time.Second)
	noChange()
	clk.Advance(2 * time.Second)
	run(2 * time.Second)
	expect(Up)

	for result, want := range map[string]float64{resultOK: 4, resultFailed: 2, resultTimeout: 1} {
		if got := value(m.Runs.WithLabelValues("chk", result)); got != want {
			t.Errorf("runs{result=%s} = %v, want %v", result, got, want)
		}
	}
	if got := value(m.Status.WithLabelValues("chk")); got != 1 {
		t.Errorf("status gauge %v, want 1", got)
	}
}

// waitPending waits until the earliest armed timer of clk is due in d.
func waitPending(t *testing.T, clk *clocktest.Fake, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, ok := clk.Pending(); ok && got == d {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("checker did not arm a timer")
		}
		time.Sleep(time.Millisecond)
	}
}

// value reads a counter or gauge (prometheus/testutil would pull in a
// module the project does not use).
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestNoWallClock: every time read goes through the injected clock.
func TestNoWallClock(t *testing.T) { clocktest.NoWallClock(t, ".", nil) }
