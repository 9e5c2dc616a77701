package hooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	dto "github.com/prometheus/client_model/go"
)

// fake is an Exec that records each argv and answers from a script: by
// default exit 0 at once; block makes every run wait until released (or
// its context ends).
type fake struct {
	mu     sync.Mutex
	runs   [][]string
	errFor map[string]error // by argv[0]
	block  chan struct{}    // nil: do not block
	start  chan struct{}    // told each start, when set
}

func (f *fake) exec(ctx context.Context, argv []string) ([]byte, error) {
	f.mu.Lock()
	f.runs = append(f.runs, slices.Clone(argv))
	err := f.errFor[argv[0]]
	f.mu.Unlock()
	if f.start != nil {
		f.start <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return []byte("killed"), ctx.Err()
		}
	}
	return nil, err
}

func (f *fake) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.runs {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

func count(m *Metrics, script, result string) float64 {
	var d dto.Metric
	if err := m.Scripts.WithLabelValues("lan", script, result).Write(&d); err != nil {
		return -1
	}
	return d.GetCounter().GetValue()
}

var scripts = Scripts{
	Master: []string{"/etc/ha/master.sh", "vip 192.0.2.1"},
	Backup: []string{"/etc/ha/backup.sh"},
	// Room to grow: appending keepalived's arguments in place would
	// rewrite the argv of transitions still queued.
	Notify: append(make([]string, 0, 8), "/etc/ha/notify.sh", "--from-hadhcpd"),
}

// TestArguments: the state's own script as configured, then `notify`
// with keepalived's four arguments after the configured ones, in the
// order of the transitions; a state without its own script runs only
// `notify`.
func TestArguments(t *testing.T) {
	f := &fake{}
	m, _ := NewMetrics(nil)
	r := New("lan", scripts, Deps{Exec: f.exec, Metrics: m})
	r.Notify(Backup, 100)
	r.Notify(Master, 200)
	r.Notify(Fault, 0)
	r.Notify(Stop, 200)
	r.Close(time.Minute)
	want := []string{
		"/etc/ha/backup.sh",
		"/etc/ha/notify.sh --from-hadhcpd INSTANCE lan BACKUP 100",
		"/etc/ha/master.sh vip 192.0.2.1",
		"/etc/ha/notify.sh --from-hadhcpd INSTANCE lan MASTER 200",
		"/etc/ha/notify.sh --from-hadhcpd INSTANCE lan FAULT 0",
		"/etc/ha/notify.sh --from-hadhcpd INSTANCE lan STOP 200",
	}
	if got := f.got(); !slices.Equal(got, want) {
		t.Fatalf("ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := count(m, "notify", resultOK); n != 4 {
		t.Errorf("notify ok = %v, want 4", n)
	}
}

// TestQueueFull: a hung script never blocks Notify (the VRRP loop); the
// queue holds QueueLen transitions, the rest are dropped and counted, and
// those queued run in order once the script returns.
func TestQueueFull(t *testing.T) {
	f := &fake{block: make(chan struct{}), start: make(chan struct{}, 100)}
	m, _ := NewMetrics(nil)
	r := New("lan", Scripts{Backup: []string{"/b"}}, Deps{Exec: f.exec, Metrics: m})
	r.Notify(Backup, 1)
	<-f.start // the first is running, out of the queue
	done := make(chan struct{})
	go func() {
		for i := range QueueLen + 5 {
			r.Notify(Backup, uint8(i+2))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked behind a running script")
	}
	if n := count(m, "notify_backup", resultDropped); n != 5 {
		t.Errorf("dropped = %v, want 5", n)
	}
	close(f.block)
	r.Close(time.Minute)
	if n := len(f.got()); n != QueueLen+1 {
		t.Errorf("ran %d scripts, want %d", n, QueueLen+1)
	}
	if n := count(m, "notify_backup", resultOK); n != QueueLen+1 {
		t.Errorf("ok = %v, want %d", n, QueueLen+1)
	}
}

// waitTimer returns once the runner armed a timer on clk.
func waitTimer(t *testing.T, clk *clocktest.Fake) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, ok := clk.Pending(); ok {
			return
		}
	}
	t.Fatal("no timer armed")
}

// TestTimeout: a script still running at its timeout is killed (its
// context ends) and counted; the next one runs after it.
func TestTimeout(t *testing.T) {
	f := &fake{block: make(chan struct{}), start: make(chan struct{}, 10)}
	clk := clocktest.NewFake(time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC))
	m, _ := NewMetrics(nil)
	r := New("lan", Scripts{Master: []string{"/m"}, Notify: []string{"/n"}, Timeout: 10 * time.Second}, Deps{Exec: f.exec, Clock: clk, Metrics: m})
	r.Notify(Master, 200)
	<-f.start
	waitTimer(t, clk)
	clk.Advance(9 * time.Second)
	select {
	case <-f.start:
		t.Fatal("the next script started before the timeout")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	<-f.start // "/n" starts once "/m" was killed
	close(f.block)
	r.Close(time.Minute)
	if n := count(m, "notify_master", resultTimeout); n != 1 {
		t.Errorf("notify_master timeouts = %v, want 1", n)
	}
	if n := count(m, "notify", resultOK); n != 1 {
		t.Errorf("notify ok = %v, want 1", n)
	}
}

// TestFailures: a script that exits non-zero and one that cannot start
// are counted apart, and neither stops the queue.
func TestFailures(t *testing.T) {
	f := &fake{errFor: map[string]error{
		"/m": errors.New("exit status 3"),
		"/n": &StartError{Err: errors.New("fork/exec /n: no such file or directory")},
	}}
	m, _ := NewMetrics(nil)
	r := New("lan", Scripts{Master: []string{"/m"}, Backup: []string{"/b"}, Notify: []string{"/n"}}, Deps{Exec: f.exec, Metrics: m})
	r.Notify(Master, 200)
	r.Notify(Backup, 200)
	r.Close(time.Minute)
	for _, c := range []struct {
		script, result string
		want           float64
	}{
		{"notify_master", resultFailed, 1},
		{"notify", resultNotStarted, 2},
		{"notify_backup", resultOK, 1},
	} {
		if n := count(m, c.script, c.result); n != c.want {
			t.Errorf("%s %s = %v, want %v", c.script, c.result, n, c.want)
		}
	}
}

// TestCloseGrace: Close waits for the queue up to its grace, then kills
// the running script and drops what is still queued; Notify after Close
// drops.
func TestCloseGrace(t *testing.T) {
	f := &fake{block: make(chan struct{}), start: make(chan struct{}, 10)}
	clk := clocktest.NewFake(time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC))
	m, _ := NewMetrics(nil)
	r := New("lan", Scripts{Notify: []string{"/n"}, Timeout: time.Hour}, Deps{Exec: f.exec, Clock: clk, Metrics: m})
	r.Notify(Master, 200)
	r.Notify(Stop, 200)
	<-f.start
	closed := make(chan struct{})
	go func() { r.Close(5 * time.Second); close(closed) }()
	// Two timers: the script's timeout and Close's grace.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if d, ok := clk.Pending(); ok && d == 5*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close armed no grace timer")
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned before its grace with a script running")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(5 * time.Second)
	<-closed
	if n := count(m, "notify", resultTimeout); n != 1 {
		t.Errorf("killed = %v, want 1", n)
	}
	if n := count(m, "notify", resultDropped); n != 1 {
		t.Errorf("dropped = %v, want 1", n)
	}
	r.Notify(Backup, 1)
	if n := count(m, "notify", resultDropped); n != 2 {
		t.Errorf("dropped after Close = %v, want 2", n)
	}
	if len(f.got()) != 1 {
		t.Errorf("ran %q", f.got())
	}
}

// TestNoWallClock: timeouts and the stop grace run on the runner's clock.
func TestNoWallClock(t *testing.T) { clocktest.NoWallClock(t, ".", nil) }

// TestFailoverArguments: a failover relationship's notify script gets
// FAILOVER <name> <state> <previous state> after its configured
// arguments, in the order of the transitions, counted under the failover
// metric.
func TestFailoverArguments(t *testing.T) {
	f := &fake{}
	m, _ := NewFailoverMetrics(nil)
	r := New("lan", Scripts{Notify: append(make([]string, 0, 8), "/etc/ha/failover.sh", "-v")}, Deps{Exec: f.exec, Metrics: m})
	r.NotifyFailover("COMMUNICATIONS-INTERRUPTED", "NORMAL")
	r.NotifyFailover("PARTNER-DOWN", "COMMUNICATIONS-INTERRUPTED")
	r.Close(time.Minute)
	want := []string{
		"/etc/ha/failover.sh -v FAILOVER lan COMMUNICATIONS-INTERRUPTED NORMAL",
		"/etc/ha/failover.sh -v FAILOVER lan PARTNER-DOWN COMMUNICATIONS-INTERRUPTED",
	}
	if got := f.got(); !slices.Equal(got, want) {
		t.Fatalf("ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := count(m, "notify", resultOK); n != 2 {
		t.Errorf("notify ok = %v, want 2", n)
	}
}
