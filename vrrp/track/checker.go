package track

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Script is one check (keepalived's vrrp_script), typed.
type Script struct {
	Name     string
	Argv     []string // run without a shell
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	InitFail bool
}

// Exec runs argv and waits for it; canceling ctx must end it. A nil error
// is exit status 0 (the check passed). Output is a tail of what it wrote,
// for the log. agent/hooks.Command is the real one.
type Exec func(ctx context.Context, argv []string) (output []byte, err error)

// Results of a check run, the metric's result label.
const (
	resultOK      = "ok"
	resultFailed  = "failed"  // non-zero exit, killed, or could not start
	resultTimeout = "timeout" // killed after the timeout
)

// Metrics are the collectors of every check.
type Metrics struct {
	Runs   *prometheus.CounterVec // script, result
	Status *prometheus.GaugeVec   // script: 1 up, 0 down, -1 unknown
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Runs: s.CounterVec("hadhcpd_vrrp_track_script_runs_total",
			"Track script (vrrp.scripts) runs by outcome: ok, failed (non-zero exit, signal, not startable), timeout.",
			"script", "result"),
		Status: s.GaugeVec("hadhcpd_vrrp_track_script_status",
			"Track script state after rise/fall: 1 up, 0 down, -1 not reported yet.", "script"),
	}
	return m, s.Err()
}

// Deps are a checker's collaborators.
type Deps struct {
	Exec    Exec
	Clock   clock.Clock  // nil: clock.Wall()
	Log     *slog.Logger // nil: discard
	Metrics *Metrics     // nil: unregistered collectors
}

// Checker runs one script at its interval and feeds its Hysteresis.
type Checker struct {
	s    Script
	deps Deps
	h    *Hysteresis
	on   []func(Status)
	// failing: the last run failed. The first failure of a streak is
	// logged with its output (why it failed); the rest of the streak
	// only counts, as it repeats every interval.
	failing bool
}

// NewChecker returns the checker of s; each of on is told every change of
// its status (from the checker's goroutine: it must not block).
func NewChecker(s Script, deps Deps, on ...func(Status)) *Checker {
	if deps.Clock == nil {
		deps.Clock = clock.Wall()
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics, _ = NewMetrics(nil)
	}
	c := &Checker{s: s, deps: deps, h: NewHysteresis(s.Rise, s.Fall, s.InitFail), on: on}
	c.gauge()
	return c
}

// Initial is the status before the first run (Unknown, or Down with
// init_fail).
func (c *Checker) Initial() Status { return c.h.Status() }

// Run checks at the interval until ctx ends: the first run at once, each
// next one an interval after the previous one started, or at once when a
// run took longer. A run never overlaps the next one.
func (c *Checker) Run(ctx context.Context) {
	clk := c.deps.Clock
	timer := clk.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		start := clk.Now()
		ok := c.runOnce(ctx)
		if ctx.Err() != nil {
			return // killed by the stop, not a result
		}
		if st, changed := c.h.Observe(ok); changed {
			c.gauge()
			lvl := slog.LevelWarn
			if st == Up {
				lvl = slog.LevelInfo
			}
			c.deps.Log.Log(ctx, lvl, "track script", "script", c.s.Name, "status", st.String())
			for _, f := range c.on {
				f(st)
			}
		}
		timer.Reset(max(c.s.Interval-clk.Now().Sub(start), 0))
	}
}

// runOnce runs the command once under the timeout (read from the
// injected clock) and reports whether it passed.
func (c *Checker) runOnce(ctx context.Context) bool {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := c.deps.Exec(rctx, c.s.Argv)
		done <- result{out, err}
	}()
	timeout := c.deps.Clock.NewTimer(c.s.Timeout)
	defer timeout.Stop()
	var (
		r        result
		timedOut bool
	)
	select {
	case r = <-done:
	case <-timeout.C():
		timedOut = true
		cancel()
		r = <-done // Exec ends on cancel (hooks.Command: SIGTERM, then SIGKILL)
	case <-ctx.Done():
		cancel()
		<-done
		return false
	}
	outcome, err := resultOK, r.err
	switch {
	case timedOut:
		outcome, err = resultTimeout, fmt.Errorf("timed out after %s", c.s.Timeout)
	case r.err != nil:
		outcome = resultFailed
	}
	c.deps.Metrics.Runs.WithLabelValues(c.s.Name, outcome).Inc()
	if outcome == resultOK {
		c.failing = false
		return true
	}
	lvl := slog.LevelDebug
	if !c.failing {
		lvl = slog.LevelWarn
	}
	c.failing = true
	c.deps.Log.Log(ctx, lvl, "track script failed", "script", c.s.Name, "err", err, "output", string(r.out))
	return false
}

func (c *Checker) gauge() {
	v := -1.0
	switch c.h.Status() {
	case Up:
		v = 1
	case Down:
		v = 0
	}
	c.deps.Metrics.Status.WithLabelValues(c.s.Name).Set(v)
}
