// Package hooks runs the operator's transition scripts (keepalived's
// notify_master, notify_backup, notify_fault and notify) for one VRRP
// instance, and failover.notify for one failover relationship:
// asynchronously, one at a time in the order of the
// transitions, each under a timeout, so a slow or hung script never holds
// up the VRRP loop or the DHCP path. A full queue drops and counts;
// failures are logged and counted.
package hooks

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// State is the target state of a transition as keepalived names it to
// its scripts.
type State string

const (
	Master State = "MASTER"
	Backup State = "BACKUP"
	Fault  State = "FAULT"
	Stop   State = "STOP" // the instance left service (agent stopping)
)

// Scripts are one instance's commands, each an argument vector (nil: none).
type Scripts struct {
	Master, Backup, Fault []string
	// Notify runs on every transition with keepalived's four arguments
	// appended: INSTANCE <name> <state> <priority>.
	Notify  []string
	Timeout time.Duration
}

// Empty reports whether no script is configured.
func (s Scripts) Empty() bool {
	return s.Master == nil && s.Backup == nil && s.Fault == nil && s.Notify == nil
}

// Exec runs argv and waits for it; canceling ctx must end it. A nil error
// is exit status 0. Output is a tail of what it wrote, for the log.
type Exec func(ctx context.Context, argv []string) (output []byte, err error)

// StartError is an Exec error for a script that never ran (a missing
// file, one that is not executable).
type StartError struct{ Err error }

func (e *StartError) Error() string { return "cannot start: " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Results of a script run, the metric's result label.
const (
	resultOK         = "ok"
	resultFailed     = "failed"      // non-zero exit or killed by a signal
	resultTimeout    = "timeout"     // killed after the timeout, or at stop
	resultNotStarted = "not_started" // missing or not executable
	resultDropped    = "dropped"     // queue full, or still queued at stop
)

// Metrics are the collectors of every instance's runner.
type Metrics struct {
	Scripts *prometheus.CounterVec // instance, script, result
}

// NewMetrics creates the collectors and registers them with reg (nil:
// unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Scripts: s.CounterVec("hadhcpd_vrrp_notify_scripts_total",
			"Notify scripts by outcome: ok, failed (non-zero exit), timeout, not_started (missing or not executable), dropped (queue full or agent stopping).",
			"instance", "script", "result"),
	}
	return m, s.Err()
}

// NewFailoverMetrics creates the collectors of the failover
// relationships' runners (failover.notify) and registers them with reg
// (nil: unregistered).
func NewFailoverMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Scripts: s.CounterVec("hadhcpd_failover_notify_scripts_total",
			"Failover notify scripts by outcome: ok, failed (non-zero exit), timeout, not_started (missing or not executable), dropped (queue full or agent stopping).",
			"relationship", "script", "result"),
	}
	return m, s.Err()
}

// Deps are a runner's collaborators.
type Deps struct {
	Exec    Exec         // nil: Command (a real process)
	Clock   clock.Clock  // nil: clock.Wall(); times the timeout
	Log     *slog.Logger // nil: discard
	Metrics *Metrics     // nil: unregistered collectors
}

// QueueLen is how many transitions may wait for their scripts. A flapping
// instance makes a few transitions a second at most; more than this
// waiting means the scripts cannot keep up, and running stale ones late
// helps no one.
const QueueLen = 16

type job struct {
	key  string // the config key, for logs and the metric
	argv []string
}

// Runner runs one instance's scripts on its own goroutine.
type Runner struct {
	name    string
	scripts Scripts
	deps    Deps

	base   context.Context // canceled by Close after its grace: kills the running script
	kill   context.CancelFunc
	mu     sync.Mutex
	closed bool
	q      chan []job
	done   chan struct{}
}

// New starts the runner of the named instance; Close stops it.
func New(instance string, s Scripts, deps Deps) *Runner {
	if deps.Exec == nil {
		deps.Exec = Command
	}
	if deps.Clock == nil {
		deps.Clock = clock.Wall()
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics, _ = NewMetrics(nil)
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	r := &Runner{
		name: instance, scripts: s, deps: deps,
		q: make(chan []job, QueueLen), done: make(chan struct{}),
	}
	r.base, r.kill = context.WithCancel(context.Background())
	go r.loop()
	return r
}

// Notify queues the scripts of a transition to state at priority (the
// effective one, as keepalived passes it). It never blocks: it is called
// from the VRRP instance's goroutine.
func (r *Runner) Notify(state State, priority uint8) {
	var jobs []job
	// keepalived runs the state's own script first, then the generic one.
	switch {
	case state == Master && r.scripts.Master != nil:
		jobs = append(jobs, job{"notify_master", r.scripts.Master})
	case state == Backup && r.scripts.Backup != nil:
		jobs = append(jobs, job{"notify_backup", r.scripts.Backup})
	case state == Fault && r.scripts.Fault != nil:
		jobs = append(jobs, job{"notify_fault", r.scripts.Fault})
	}
	if r.scripts.Notify != nil {
		argv := append(slices.Clip(r.scripts.Notify), "INSTANCE", r.name, string(state), strconv.Itoa(int(priority)))
		jobs = append(jobs, job{"notify", argv})
	}
	r.queue(jobs, string(state))
}

// NotifyFailover queues the Notify script for a transition of a failover
// machine (the runner's name is the relationship's) with keepalived's
// notify convention adapted: FAILOVER <name> <state> <previous state>,
// the states as the failover draft names them (NORMAL,
// COMMUNICATIONS-INTERRUPTED, ...). It never blocks: it is called from
// the failover machine's goroutine.
func (r *Runner) NotifyFailover(to, from string) {
	if r.scripts.Notify == nil {
		return
	}
	argv := append(slices.Clip(r.scripts.Notify), "FAILOVER", r.name, to, from)
	r.queue([]job{{"notify", argv}}, to)
}

// queue hands one transition's jobs to the loop, or drops and counts
// them when the queue is full or the runner closed.
func (r *Runner) queue(jobs []job, state string) {
	if len(jobs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		select {
		case r.q <- jobs:
			return
		default:
		}
	}
	for _, j := range jobs {
		r.count(j, resultDropped)
		r.deps.Log.Warn("notify script dropped: queue full or stopping", "op", "notify", "script", j.key, "state", state)
	}
}

// Close stops taking transitions and waits up to grace for the queued
// scripts (the STOP of the instances' graceful leave among them); then it
// kills the running one and drops the rest.
func (r *Runner) Close(grace time.Duration) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.q)
	}
	r.mu.Unlock()
	t := r.deps.Clock.NewTimer(grace)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C():
		r.kill()
		<-r.done
	}
	r.kill()
}

func (r *Runner) loop() {
	defer close(r.done)
	for jobs := range r.q {
		for _, j := range jobs {
			r.run(j)
		}
	}
}

func (r *Runner) count(j job, result string) {
	r.deps.Metrics.Scripts.WithLabelValues(r.name, j.key, result).Inc()
}

func (r *Runner) run(j job) {
	if r.base.Err() != nil {
		r.count(j, resultDropped)
		r.deps.Log.Warn("notify script not run: stopping", "op", "notify", "script", j.key, "cmd", j.argv)
		return
	}
	ctx, cancel := context.WithCancel(r.base)
	defer cancel()
	t := r.deps.Clock.NewTimer(r.scripts.Timeout)
	defer t.Stop()
	timedOut := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			close(timedOut)
			cancel()
		case <-ctx.Done():
		}
	}()
	start := r.deps.Clock.Now()
	out, err := r.deps.Exec(ctx, j.argv)
	cancel()
	took := r.deps.Clock.Now().Sub(start)
	log := r.deps.Log.With("op", "notify", "script", j.key, "cmd", j.argv, "took", took)
	if len(out) > 0 {
		log = log.With("output", string(out))
	}
	var se *StartError
	select {
	case <-timedOut:
		if err != nil {
			r.count(j, resultTimeout)
			log.Warn("notify script killed after its timeout", "timeout", r.scripts.Timeout, "err", err)
			return
		}
	default:
	}
	switch {
	case err == nil:
		r.count(j, resultOK)
		log.Info("notify script done")
	case r.base.Err() != nil:
		r.count(j, resultTimeout)
		log.Warn("notify script killed: agent stopping", "err", err)
	case errors.As(err, &se):
		r.count(j, resultNotStarted)
		log.Warn("notify script not started", "err", err)
	default:
		r.count(j, resultFailed)
		log.Warn("notify script failed", "err", err)
	}
}
