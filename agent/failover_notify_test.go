package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	dto "github.com/prometheus/client_model/go"
)

// notifyPair is a primary's pair built from a config with notify as its
// failover.notify, its transitions observed as the agent observes them
// (the event stream's observer, then h's script), started and run until
// stop is called or the test ends. Its partner never answers.
func notifyPair(t *testing.T, h *failoverHooks, notify string, bus *events.Bus) (fo *pair.Pair, stop func()) {
	t.Helper()
	return startTestPair(t, fmt.Sprintf("  notify: %q\n", notify), func(fo *pair.Pair, b *config.Built) {
		fo.ObserveTransitions(h.observer(singleFailoverName, b.Failover.Notify, failoverObserver(bus, "")))
	}, true)
}

// failoverTransitions are the failover events on bus, as "TO FROM".
func failoverTransitions(bus *events.Bus) []string {
	var out []string
	for _, ev := range bus.Recent(100) {
		if ev.Type == events.TypeFailover {
			out = append(out, ev.To+" "+ev.From)
		}
	}
	return out
}

// TestFailoverNotifyOnTransitions: failover.notify from a config file
// runs, as a real /bin/sh process, on each transition of a running
// failover machine (the operator's partner-down among them) with
// FAILOVER failover <state> <previous state> after its own arguments, in
// the order of the transitions; the event stream still sees them all.
func TestFailoverNotifyOnTransitions(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "argv.log")
	script := filepath.Join(dir, "failover.sh")
	body := fmt.Sprintf("#!/bin/sh\n{ for a in \"$@\"; do printf '<%%s>' \"$a\"; done; echo; } >> %s\n", log)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	hm, _ := hooks.NewFailoverMetrics(nil)
	h := &failoverHooks{log: slog.New(slog.DiscardHandler), metrics: hm}
	bus := events.NewBus(events.Options{Box: "gw1"})
	fo, stop := notifyPair(t, h, script+" 'from hadhcpd'", bus)
	if _, err := fo.PartnerDown(context.Background()); err != nil {
		t.Fatalf("partner-down: %v", err)
	}
	stop()
	h.close()

	seen := failoverTransitions(bus)
	// STARTUP -> PARTNER-DOWN unless STARTUP ran out first.
	if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "PARTNER-DOWN ") {
		t.Fatalf("the event stream saw %q, not ending in PARTNER-DOWN", seen)
	}
	var want strings.Builder
	for _, tr := range seen {
		to, from, _ := strings.Cut(tr, " ")
		fmt.Fprintf(&want, "<from hadhcpd><FAILOVER><failover><%s><%s>\n", to, from)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("the script ran\n%s\nwant\n%s", got, want.String())
	}
	if n := scriptCount(t, hm, "ok"); n != float64(len(seen)) {
		t.Errorf("ok = %v, want %d", n, len(seen))
	}
}

func scriptCount(t *testing.T, m *hooks.Metrics, result string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Scripts.WithLabelValues(singleFailoverName, "notify", result).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// TestFailoverNotifyHangingScript: a script that never returns holds up
// neither the failover machine's loop (the operator's partner-down is
// answered, the loop goes on answering pings) nor later transitions'
// observers: they queue, then drop and count.
func TestFailoverNotifyHangingScript(t *testing.T) {
	release := make(chan struct{})
	started := make(chan []string, 1)
	hang := func(ctx context.Context, argv []string) ([]byte, error) {
		select {
		case started <- argv:
		default:
		}
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	hm, _ := hooks.NewFailoverMetrics(nil)
	h := &failoverHooks{log: slog.New(slog.DiscardHandler), metrics: hm, deps: hooks.Deps{Exec: hang}}
	bus := events.NewBus(events.Options{Box: "gw1"})
	fo, stop := notifyPair(t, h, "/usr/local/sbin/hang", bus)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // runs before the pair's: a failed test still stops it

	answered := make(chan error, 1)
	go func() {
		_, err := fo.PartnerDown(context.Background())
		answered <- err
	}()
	var argv []string
	select {
	case argv = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the script never started")
	}
	if !strings.HasPrefix(strings.Join(argv, " "), "/usr/local/sbin/hang FAILOVER failover PARTNER-DOWN ") {
		t.Errorf("argv %q", argv)
	}
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("partner-down: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("partner-down not answered while the script hangs: the failover loop waits for it")
	}
	ticket := fo.Ping()
	waitFor(t, func() bool { return fo.Pong() >= ticket })

	// More transitions than the queue holds, through the observer the
	// agent composes: none waits for the hung script.
	obs := h.observer(singleFailoverName, config.FailoverNotifySpec{Command: []string{"/usr/local/sbin/hang"}, Timeout: time.Hour}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		obs(failover.Transition{From: failover.Normal, To: failover.CommInterrupted})
		<-started // its script hangs too, out of the queue
		for range hooks.QueueLen + 5 {
			obs(failover.Transition{From: failover.Normal, To: failover.CommInterrupted})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an observer blocked behind the hung script")
	}
	if n := scriptCount(t, hm, "dropped"); n != 5 {
		t.Errorf("dropped = %v, want 5", n)
	}
	free()
	stop()
	h.close()
}
