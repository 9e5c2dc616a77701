package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

// Config is one virtual router, typed (the agent builds it from the YAML).
type Config struct {
	Name           string
	Interface      string
	VRID           uint8
	Priority       uint8 // 1..255; 255 = address owner
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	VIPs           []netip.Prefix
	UnicastPeers   []netip.Addr // empty: multicast to 224.0.0.18
}

// Validate checks the ranges RFC 5798 sets.
func (c *Config) Validate() error {
	var errs []error
	if c.VRID == 0 {
		errs = append(errs, errors.New("vrid: 0 is not a valid VRID (1..255)"))
	}
	if c.Priority == 0 {
		errs = append(errs, errors.New("priority: 0 is reserved for a stopping master (1..255)"))
	}
	if c.AdvertInterval < MinAdvertInterval || c.AdvertInterval > MaxAdvertInterval || c.AdvertInterval%centisecond != 0 {
		errs = append(errs, fmt.Errorf("advert_interval: %v is not a multiple of 10ms in %v..%v", c.AdvertInterval, MinAdvertInterval, MaxAdvertInterval))
	}
	if len(c.VIPs) == 0 || len(c.VIPs) > 255 {
		errs = append(errs, fmt.Errorf("virtual_ips: %d addresses, want 1..255", len(c.VIPs)))
	}
	for _, p := range c.VIPs {
		if !p.Addr().Is4() {
			errs = append(errs, fmt.Errorf("virtual_ips: %v is not IPv4", p))
		}
	}
	for _, p := range c.UnicastPeers {
		if !p.Is4() {
			errs = append(errs, fmt.Errorf("unicast_peers: %v is not IPv4", p))
		}
	}
	return errors.Join(errs...)
}

// Owner is the kernel side of mastership, implemented by the agent with
// package netcfg. Take runs on entering Master and must be fast (it is on
// the takeover path); Release on leaving it. Errors are logged and
// counted; the protocol goes on (a VIP that cannot be added is an operator
// problem the election cannot solve).
type Owner interface {
	Take() error
	Release() error
}

// Status is a published snapshot of an instance.
type Status struct {
	Name       string
	State      State
	Priority   uint8
	MasterAddr netip.Addr // last master heard (ourselves when Master)
	MasterAdv  time.Duration
	Since      time.Time
	Cause      Cause
}

// Deps are an instance's collaborators.
type Deps struct {
	Conn    Conn
	Owner   Owner
	Clock   clock.Clock  // nil: clock.Wall()
	Log     *slog.Logger // nil: discard
	Metrics *Metrics     // nil: unregistered collectors
	// Primary is the interface's own IPv4 address: the advert source and
	// the priority tie-breaker (RFC 5798 §6.4.3).
	Primary netip.Addr
	// Own are every address of this box on the interface (Primary
	// included): adverts from them are our own, looped back.
	Own []netip.Addr
	// OnTransition, when set, is told every state change after the
	// addresses were taken or released (the failover machine's VRRP
	// events). Called from the instance goroutine: it must not block.
	OnTransition func(Transition)
	// OnAdvert, when set, is told the source and priority of every valid
	// advertisement from another router (the failover machine's "partner
	// heard on the VRRP path"). Called from the instance goroutine for
	// every advert: it must be cheap and must not block.
	OnAdvert func(src netip.Addr, priority uint8)
}

// Instance runs one virtual router: one goroutine (Run) owns its Machine.
type Instance struct {
	cfg     Config
	deps    Deps
	m       *Machine
	val     validator
	status  atomic.Pointer[Status]
	kick    chan struct{} // cap 1: "look at track / group inputs again"
	trackUp atomic.Bool
	grpFlt  atomic.Bool
	stepGen atomic.Uint64 // incremented by the sync group to ask for StepDown
	prio    atomic.Uint32 // wanted priority (SetPriority); 0 = the configured one
	tprio   atomic.Uint32 // priority from tracking (SetTrackPriority); 0 = the configured one
	resign  atomic.Uint64 // incremented by Resign
	// Liveness probe of the loop (Ping, Pong): asked is the last ticket
	// handed out, answered the last one the loop saw at an iteration.
	asked    atomic.Uint64
	answered atomic.Uint64
	group    *Group
	ran      atomic.Bool
}

// NewInstance checks cfg and deps; it touches nothing.
func NewInstance(cfg Config, deps Deps) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("vrrp instance %s: %w", cfg.Name, err)
	}
	if deps.Conn == nil || deps.Owner == nil {
		return nil, fmt.Errorf("vrrp instance %s: a Conn and an Owner are required", cfg.Name)
	}
	if !deps.Primary.Is4() {
		return nil, fmt.Errorf("vrrp instance %s: interface %s has no IPv4 address to send adverts from", cfg.Name, cfg.Interface)
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
	own := append([]netip.Addr{deps.Primary}, deps.Own...)
	i := &Instance{
		cfg:  cfg,
		deps: deps,
		m: NewMachine(MachineConfig{
			VRID: cfg.VRID, Priority: cfg.Priority, AdvertInterval: cfg.AdvertInterval,
			Preempt: cfg.Preempt, PreemptDelay: cfg.PreemptDelay, Primary: deps.Primary,
		}),
		val:  validator{vrid: cfg.VRID, own: own, peers: cfg.UnicastPeers},
		kick: make(chan struct{}, 1),
	}
	i.trackUp.Store(true)
	i.status.Store(&Status{Name: cfg.Name, State: Initialize, Priority: cfg.Priority})
	return i, nil
}

// Name is the instance's name.
func (i *Instance) Name() string { return i.cfg.Name }

// Config returns the instance's configuration.
func (i *Instance) Config() Config { return i.cfg }

// Status returns the latest published snapshot; safe from any goroutine.
func (i *Instance) Status() Status { return *i.status.Load() }

// SetTrack reports the tracked interfaces: up is false while any has no
// carrier. Safe from any goroutine; the instance loop picks it up.
func (i *Instance) SetTrack(up bool) {
	if i.trackUp.Swap(up) != up {
		if i.group != nil {
			i.group.trackChanged()
		}
		i.poke()
	}
}

// SetTrackPriority sets the effective priority its tracked scripts and
// interfaces give the instance (keepalived's weights, package
// vrrp/track); 0 is the configured priority. SetPriority's override, when
// set, wins over it. Safe from any goroutine; the instance loop applies
// it, and a Master advertises it at once (RFC 5798 §6.4.3: a preempting
// backup with a higher priority then takes over).
func (i *Instance) SetTrackPriority(p uint8) {
	if i.tprio.Swap(uint32(p)) != uint32(p) {
		i.poke()
	}
}

// SetPriority changes the priority the instance advertises and elects
// with (the agent lowers it while the node is not fit to serve, so the
// VIP never moves to a box that cannot serve); 0 restores the configured
// (or tracked, SetTrackPriority) priority. Safe from any
// goroutine; the instance loop applies it (see the machine's SetPriority
// for the values it refuses).
func (i *Instance) SetPriority(p uint8) {
	if i.prio.Swap(uint32(p)) != uint32(p) {
		i.poke()
	}
}

// Resign hands mastership over (the machine's Resign event): a Master
// sends one priority-0 advert and becomes Backup, so a backup takes over
// after its Skew_Time even without preempt (RFC 5798 §6.4.2). Lower the
// priority first (SetPriority) to stay Backup afterwards. Safe from any
// goroutine; a no-op unless the instance is Master when its loop gets it.
func (i *Instance) Resign() {
	i.resign.Add(1)
	i.poke()
}

// Ping asks the instance loop for proof that it runs: it returns a ticket
// that Pong reaches once the loop has gone round after the call (within
// microseconds when it is healthy, whether or not packets arrive). No
// allocation: two atomics and a non-blocking send. Safe from any
// goroutine; for the agent's watchdog.
func (i *Instance) Ping() uint64 {
	n := i.asked.Add(1)
	i.poke()
	return n
}

// Pong is the last ticket the loop answered (see Ping).
func (i *Instance) Pong() uint64 { return i.answered.Load() }

func (i *Instance) poke() {
	select {
	case i.kick <- struct{}{}:
	default:
	}
}

type readResult struct {
	p   Packet
	err error
}

// Run runs the router until ctx ends, then leaves gracefully: a Master sends
// a priority-0 advert and releases the addresses before Run returns. Run
// closes the Conn, so it can be called once only.
func (i *Instance) Run(ctx context.Context) error {
	if i.ran.Swap(true) {
		return fmt.Errorf("vrrp instance %s: Run called twice", i.cfg.Name)
	}
	clk := i.deps.Clock
	timer := clk.NewTimer(time.Hour)
	timer.Stop()
	in := make(chan readResult, 16)
	// stop releases a reader blocked on a full in once the loop no longer
	// receives; closing the Conn only wakes one blocked in Read.
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go i.read(in, stop, readerDone)
	defer func() {
		close(stop)
		_ = i.deps.Conn.Close()
		<-readerDone
	}()

	// What the machine was last told about track and group inputs.
	var (
		trackUp    = true
		groupFlt   = false
		stepSeen   = i.stepGen.Load()
		resignSeen = i.resign.Load()
		prioSeen   = i.cfg.Priority
		timerLive  bool
	)
	exec := func(acts []Action) {
		for _, a := range acts {
			switch a := a.(type) {
			case SendAdvert:
				i.send(a.Priority)
			case ArmTimer:
				if timerLive {
					timer.Stop()
				}
				timer.Reset(a.After)
				timerLive = true
			case StopTimer:
				timer.Stop()
				timerLive = false
			case Transition:
				i.transition(clk.Now(), a)
			}
		}
	}
	feedInputs := func() {
		if up := i.trackUp.Load(); up != trackUp {
			trackUp = up
			exec(i.m.Handle(clk.Now(), TrackChanged{Up: up}))
		}
		if f := i.grpFlt.Load(); f != groupFlt {
			groupFlt = f
			exec(i.m.Handle(clk.Now(), GroupFault{Fault: f}))
		}
		if g := i.stepGen.Load(); g != stepSeen {
			stepSeen = g
			exec(i.m.Handle(clk.Now(), StepDown{}))
		}
		want := uint8(i.prio.Load())
		if want == 0 {
			want = uint8(i.tprio.Load())
		}
		if want == 0 {
			want = i.cfg.Priority
		}
		if want != prioSeen {
			prioSeen = want
			exec(i.m.Handle(clk.Now(), SetPriority{Priority: want}))
			if p := i.m.Priority(); p != i.status.Load().Priority {
				n := *i.status.Load()
				n.Priority = p
				i.status.Store(&n)
				i.deps.Metrics.Priority.WithLabelValues(i.cfg.Name).Set(float64(p))
				i.deps.Log.Info("vrrp priority", "vrid", i.cfg.VRID, "iface", i.cfg.Interface, "priority", p)
			}
		}
		// After the priority: a caller that lowered it and then resigned
		// stays Backup at the lowered one.
		if r := i.resign.Load(); r != resignSeen {
			resignSeen = r
			exec(i.m.Handle(clk.Now(), Resign{}))
		}
	}
	i.deps.Metrics.Priority.WithLabelValues(i.cfg.Name).Set(float64(i.cfg.Priority))
	feedInputs()
	exec(i.m.Handle(clk.Now(), Startup{}))
	for {
		// Every wakeup (a packet, the timer, a poke) answers the pings
		// made before it.
		i.answered.Store(i.asked.Load())
		select {
		case <-ctx.Done():
			exec(i.m.Handle(clk.Now(), Shutdown{}))
			return nil
		case r := <-in:
			if r.err != nil {
				exec(i.m.Handle(clk.Now(), Shutdown{}))
				return fmt.Errorf("vrrp instance %s: read on %s: %w", i.cfg.Name, i.cfg.Interface, r.err)
			}
			a, err := i.val.validate(r.p)
			if err != nil {
				i.deps.Metrics.Drops.WithLabelValues(i.cfg.Name, Reason(err)).Inc()
				continue
			}
			i.deps.Metrics.Received.WithLabelValues(i.cfg.Name).Inc()
			if i.deps.OnAdvert != nil && a.VRID == i.cfg.VRID {
				i.deps.OnAdvert(a.Src, a.Priority)
			}
			exec(i.m.Handle(clk.Now(), AdvertIn{Src: a.Src, VRID: a.VRID, Priority: a.Priority, Interval: a.Interval}))
			if st := i.status.Load(); st.MasterAddr != i.m.MasterAddr() || st.MasterAdv != i.m.MasterAdverInterval() {
				// A new master (or interval) without a state change.
				n := *st
				n.MasterAddr, n.MasterAdv = i.m.MasterAddr(), i.m.MasterAdverInterval()
				i.status.Store(&n)
			}
		case <-timer.C():
			timerLive = false
			exec(i.m.Handle(clk.Now(), TimerFired{}))
		case <-i.kick:
			feedInputs()
		}
	}
}

// read moves packets from the conn to the loop. It ends when the conn is
// closed or stop is (both in Run's defer) and reports the first error
// unless Run has stopped.
func (i *Instance) read(in chan<- readResult, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		p, err := i.deps.Conn.Read(buf)
		if err != nil {
			select {
			case in <- readResult{err: err}:
			default: // Run is gone or busy stopping
			}
			return
		}
		p.Payload = append([]byte(nil), p.Payload...)
		select {
		case in <- readResult{p: p}:
		case <-stop:
			return
		}
	}
}

func (i *Instance) send(prio uint8) {
	dsts := i.cfg.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{MulticastGroup}
	}
	addrs := make([]netip.Addr, len(i.cfg.VIPs))
	for k, p := range i.cfg.VIPs {
		addrs[k] = p.Addr()
	}
	for _, dst := range dsts {
		a := Advert{VRID: i.cfg.VRID, Priority: prio, Interval: i.cfg.AdvertInterval, Addrs: addrs, Src: i.deps.Primary, Dst: dst}
		b, err := a.MarshalBinary()
		if err == nil {
			err = i.deps.Conn.Write(b, dst)
		}
		if err != nil {
			// Counted, not logged per packet: a dead link would print
			// ten lines a second at 100ms adverts.
			i.deps.Metrics.SendErrors.WithLabelValues(i.cfg.Name).Inc()
			continue
		}
		i.deps.Metrics.Sent.WithLabelValues(i.cfg.Name).Inc()
	}
}

func (i *Instance) transition(now time.Time, t Transition) {
	name := i.cfg.Name
	if t.To == Master {
		if err := i.deps.Owner.Take(); err != nil {
			i.deps.Log.Error("take virtual IPs", "op", "take", "iface", i.cfg.Interface, "err", err)
		}
	}
	if t.From == Master {
		if err := i.deps.Owner.Release(); err != nil {
			i.deps.Log.Error("release virtual IPs", "op", "release", "iface", i.cfg.Interface, "err", err)
		}
	}
	st := &Status{
		Name: name, State: t.To, Priority: i.m.Priority(), MasterAddr: i.m.MasterAddr(),
		MasterAdv: i.m.MasterAdverInterval(), Since: now, Cause: t.Cause,
	}
	i.status.Store(st)
	i.deps.Metrics.Transitions.WithLabelValues(name, t.To.String()).Inc()
	i.deps.Metrics.State.WithLabelValues(name).Set(float64(t.To))
	i.deps.Log.Info("vrrp transition", "vrid", i.cfg.VRID, "iface", i.cfg.Interface,
		"from", t.From.String(), "to", t.To.String(), "reason", t.Cause.String(), "master", st.MasterAddr)
	if i.group != nil {
		i.group.transition(i, t)
	}
	if i.deps.OnTransition != nil {
		i.deps.OnTransition(t)
	}
}
