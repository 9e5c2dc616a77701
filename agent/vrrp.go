package agent

// The VRRP part: builds vrrp instances from the config and connects them to
// the kernel through netcfg (addresses, gratuitous ARP, carrier, nftables).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/netcfg"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/track"
	"github.com/prometheus/client_golang/prometheus"
)

// vrrpPart runs the configured VRRP instances and owns their virtual IPs.
type vrrpPart struct {
	log      *slog.Logger
	metrics  *vrrp.Metrics
	notifyM  *hooks.Metrics
	trackM   *track.Metrics
	specs    []instSpec
	scripts  []config.ScriptSpec
	groups   []config.VRRPSyncGroup
	firewall bool
	rules    netcfg.FirewallRules

	mu    sync.Mutex
	insts map[string]*vrrp.Instance // set by Run
	// Set before Run by the failover relationship (agent/pair): callbacks
	// for an instance's transitions and adverts, and a priority override
	// (0 = the configured one) applied before the first election.
	hooks map[string]instHooks
	// observe sees every instance's transitions (the event stream); set
	// before Run.
	observe func(instance string, t vrrp.Transition)
	prios   map[string]uint8
}

// instHooks are the observers of one instance (vrrp.Deps.OnTransition and
// OnAdvert); they run on the instance goroutine and must not block.
type instHooks struct {
	onTransition func(vrrp.Transition)
	onAdvert     func(netip.Addr, uint8)
}

// Hook registers observers of the named instance; call it before Run.
func (p *vrrpPart) Hook(instance string, onTransition func(vrrp.Transition), onAdvert func(netip.Addr, uint8)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hooks == nil {
		p.hooks = map[string]instHooks{}
	}
	p.hooks[instance] = instHooks{onTransition, onAdvert}
}

// SetPriority overrides the named instance's priority (0 restores the
// configured one): the pair lowers it while this node is not fit
// to serve (invariant 3). Safe before and during Run.
func (p *vrrpPart) SetPriority(instance string, prio uint8) {
	p.mu.Lock()
	if p.prios == nil {
		p.prios = map[string]uint8{}
	}
	p.prios[instance] = prio
	inst := p.insts[instance]
	p.mu.Unlock()
	if inst != nil {
		inst.SetPriority(prio)
	}
}

// Resign hands the named instance's mastership over (vrrp.Instance.Resign:
// a priority-0 advert, then Backup), so the partner takes over after its
// Skew_Time even with preempt off (RFC 5798 §6.4.2). Lower the priority
// first (SetPriority) to stay Backup. A no-op before Run built the
// instance or when it is not Master. Other members of the instance's sync
// group stay where they are, as only failover.vrrp_instance has its
// priority lowered while unfit.
func (p *vrrpPart) Resign(instance string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	inst := p.insts[instance]
	p.mu.Unlock()
	if inst != nil {
		inst.Resign()
	}
}

// MasterElsewhere reports whether the named instance is Backup to a master
// whose advert it accepted since it last was master itself (after Resign
// the instance knows no master until the new one advertises). known is
// false when the instance is not running.
func (p *vrrpPart) MasterElsewhere(instance string) (elsewhere, known bool) {
	if p == nil {
		return false, false
	}
	p.mu.Lock()
	inst := p.insts[instance]
	p.mu.Unlock()
	if inst == nil {
		return false, false
	}
	st := inst.Status()
	return st.State == vrrp.Backup && st.MasterAddr.IsValid(), true
}

// probes are the liveness checks of the instance loops (agent/notify.go),
// one per configured instance: a ping is a poke the loop answers at its
// next iteration (vrrp.Instance.Ping). Before Run built an instance there
// is nothing to ask, and its probe passes.
func (p *vrrpPart) probes() []*probe {
	if p == nil {
		return nil
	}
	var out []*probe
	for _, s := range p.specs {
		name := s.cfg.Name
		out = append(out, &probe{
			name: "vrrp instance " + name, bound: probeBound,
			ping: func() uint64 {
				if inst := p.instance(name); inst != nil {
					return inst.Ping()
				}
				return 0
			},
			pong: func() uint64 {
				if inst := p.instance(name); inst != nil {
					return inst.Pong()
				}
				return 0
			},
		})
	}
	return out
}

func (p *vrrpPart) instance(name string) *vrrp.Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.insts[name]
}

// instSpec is one instance, typed.
type instSpec struct {
	cfg     vrrp.Config
	garp    netcfg.Schedule
	track   []config.TrackSpec // interfaces, the instance's own first
	scripts []config.TrackSpec // vrrp.scripts it tracks, with their weights
	notify  hooks.Scripts
}

// newVRRP builds the VRRP instances of b; it returns nil, nil when b has
// none (a DHCP-only box). It touches nothing on the host.
func newVRRP(b *config.Built, log *slog.Logger, reg prometheus.Registerer) (*vrrpPart, error) {
	if len(b.VRRP) == 0 {
		return nil, nil
	}
	specs, err := vrrpSpecs(b.VRRP)
	if err != nil {
		return nil, err
	}
	m, err := vrrp.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("vrrp metrics: %w", err)
	}
	hm, err := hooks.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("notify metrics: %w", err)
	}
	if err := trackSpecsOf(specs, b.Scripts); err != nil {
		return nil, err
	}
	tm, err := track.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("track metrics: %w", err)
	}
	return &vrrpPart{
		log: log, metrics: m, notifyM: hm, trackM: tm, specs: specs, scripts: b.Scripts, groups: b.File.VRRP.SyncGroups,
		firewall: b.File.Firewall.Manage, rules: firewallRules(b),
	}, nil
}

// vrrpSpecs copies the built instances into the protocol's and the
// kernel side's types; vrrp.Config.Validate is the package's own guard of
// what config.Build already checked.
func vrrpSpecs(in []config.VRRPSpec) ([]instSpec, error) {
	var (
		specs []instSpec
		errs  []error
	)
	for i, s := range in {
		c := vrrp.Config{
			Name: s.Name, Interface: s.Interface, VRID: s.VRID, Priority: s.Priority,
			AdvertInterval: s.AdvertInterval, Preempt: s.Preempt, PreemptDelay: s.PreemptDelay,
			VIPs: s.VIPs, UnicastPeers: s.UnicastPeers,
		}
		if err := c.Validate(); err != nil {
			errs = append(errs, &config.ConfigError{Key: fmt.Sprintf("vrrp.instances[%d]", i), Reason: err.Error()})
		}
		g := netcfg.Schedule{Repeat: s.GARP.Repeat, Interval: s.GARP.Interval, Refresh: s.GARP.Refresh}
		n := hooks.Scripts{Master: s.Notify.Master, Backup: s.Notify.Backup, Fault: s.Notify.Fault, Notify: s.Notify.Any, Timeout: s.Notify.Timeout}
		specs = append(specs, instSpec{cfg: c, garp: g, track: s.Track, scripts: s.TrackScripts, notify: n})
	}
	return specs, errors.Join(errs...)
}

func firewallRules(b *config.Built) netcfg.FirewallRules {
	r := netcfg.FirewallRules{VRRP: true, DHCP: b.DHCP != nil}
	if b.Failover != nil {
		r.PeerPort = b.Failover.Listen.Port()
	}
	if len(b.Relationships) > 0 {
		r.PeerPort = b.Relationships[0].Listen.Port() // config: one port for all
	}
	return r
}

// Cleanup removes every configured virtual IP from the host (invariant 4:
// done at start before anything else, and by `hadhcpd cleanup` from the
// unit's ExecStopPost). The addresses of a priority-255 instance are the
// box's own (RFC 5798 §5.2.4: the owner) and stay.
func (p *vrrpPart) Cleanup() error {
	addrs, err := netcfg.NewAddrs()
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range p.specs {
		if s.cfg.Priority == vrrp.OwnerPriority {
			continue
		}
		if err := addrs.Set(s.cfg.Interface, s.cfg.VIPs, nil); err != nil {
			errs = append(errs, fmt.Errorf("vrrp instance %s: %w", s.cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Cleanup is `hadhcpd cleanup`: it removes the configured virtual IPs and
// hadhcpd's nftables table, for systemd's ExecStopPost after any stop,
// including a crash.
func Cleanup(cfg *config.Config, log *slog.Logger) error {
	var specs []instSpec
	if b, err := config.Build(cfg); err == nil {
		if specs, err = vrrpSpecs(b.VRRP); err != nil {
			return err
		}
	} else {
		// A file that does not validate (config.Read): remove every
		// virtual IP that parses, so none outlives the agent.
		for _, s := range cfg.VRRPSpecs() {
			if s.Interface != "" && len(s.VIPs) > 0 {
				specs = append(specs, instSpec{cfg: vrrp.Config{Name: s.Name, Interface: s.Interface, Priority: s.Priority, VIPs: s.VIPs}})
			}
		}
	}
	var errs []error
	if len(specs) > 0 {
		p := &vrrpPart{log: log, specs: specs}
		errs = append(errs, p.Cleanup())
	}
	// The table is hadhcpd's alone, so removing it is always safe; a host
	// without nftables only matters when the config asks to manage it.
	if err := netcfg.NewFirewall().Remove(); err != nil && cfg.Firewall.Manage {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run runs the instances until ctx ends, then leaves gracefully (priority 0
// advert, VIPs removed).
func (p *vrrpPart) Run(ctx context.Context) error {
	if err := netcfg.RaisePriority(vrrpNice); err != nil {
		p.log.Warn("cannot raise scheduling priority; adverts may be late under CPU load", "op", "nice", "err", err)
	}
	addrs, err := netcfg.NewAddrs()
	if err != nil {
		return err
	}
	if p.firewall {
		fw := netcfg.NewFirewall()
		if err := fw.Apply(p.rules); err != nil {
			return err
		}
		defer func() {
			if err := fw.Remove(); err != nil {
				p.log.Warn("remove firewall table", "op", "nft", "err", err)
			}
		}()
	}

	// Helpers (GARP senders, the link watcher) outlive the instances so
	// the instances' graceful stop can still use them.
	hctx, hcancel := context.WithCancel(context.Background())
	var helpers sync.WaitGroup
	defer func() { hcancel(); helpers.Wait() }()

	// The instances' notify scripts; closed after the instances stopped,
	// so the STOP of their graceful leave still runs.
	var runners []*hooks.Runner
	defer func() { closeRunners(runners, notifyStopGrace) }()

	garps := map[string]*netcfg.GARPShare{}
	insts := map[string]*vrrp.Instance{}
	var built []*vrrp.Instance
	var conns []vrrp.Conn
	fail := func(err error) error {
		// Close the sockets of instances that were built but never ran.
		for _, c := range conns {
			_ = c.Close()
		}
		return err
	}
	for _, s := range p.specs {
		ilog := p.log.With("instance", s.cfg.Name, "iface", s.cfg.Interface)
		have, err := addrs.List(s.cfg.Interface)
		if err != nil {
			return fail(fmt.Errorf("vrrp instance %s: %w", s.cfg.Name, err))
		}
		var own []netip.Addr
		for _, a := range have {
			if !slices.ContainsFunc(s.cfg.VIPs, func(v netip.Prefix) bool { return v.Addr() == a.Addr() }) {
				own = append(own, a.Addr())
			}
		}
		if len(own) == 0 {
			return fail(fmt.Errorf("vrrp instance %s: interface %s has no IPv4 address of its own to send adverts from", s.cfg.Name, s.cfg.Interface))
		}
		gs := garps[s.cfg.Interface]
		if gs == nil {
			g, err := netcfg.NewGARP(s.cfg.Interface, ilog)
			if err != nil {
				return fail(err)
			}
			gs = netcfg.NewGARPShare(g)
			garps[s.cfg.Interface] = gs
			helpers.Add(1)
			go func() { defer helpers.Done(); _ = g.Run(hctx) }()
		}
		conn, err := vrrp.Listen(s.cfg.Interface, own[0], len(s.cfg.UnicastPeers) == 0)
		if err != nil {
			return fail(err)
		}
		p.mu.Lock()
		h := p.hooks[s.cfg.Name]
		prio, hasPrio := p.prios[s.cfg.Name]
		p.mu.Unlock()
		var inst *vrrp.Instance
		var r *hooks.Runner
		if !s.notify.Empty() {
			r = hooks.New(s.cfg.Name, s.notify, hooks.Deps{Log: ilog, Metrics: p.notifyM})
			runners = append(runners, r)
		}
		// inst is set before its Run, the only caller of status.
		onTransition := p.onTransition(s.cfg.Name, h, r, func() vrrp.Status { return inst.Status() })
		inst, err = vrrp.NewInstance(s.cfg, vrrp.Deps{
			Conn: conn,
			Owner: &netcfg.VIPs{
				Addrs: addrs, Instance: s.cfg.Name, Interface: s.cfg.Interface, Prefixes: s.cfg.VIPs,
				Owned: s.cfg.Priority == vrrp.OwnerPriority, GARP: gs, Sched: s.garp,
			},
			Log:          ilog,
			Metrics:      p.metrics,
			Primary:      own[0],
			Own:          own,
			OnTransition: onTransition,
			OnAdvert:     h.onAdvert,
		})
		conns = append(conns, conn)
		if err != nil {
			return fail(err)
		}
		if hasPrio {
			inst.SetPriority(prio) // before Run: the first election already uses it
		}
		insts[s.cfg.Name] = inst
		built = append(built, inst)
	}
	for _, g := range p.groups {
		var members []*vrrp.Instance
		for _, n := range g.Instances {
			members = append(members, insts[n])
		}
		if _, err := vrrp.NewGroup(g.Name, members...); err != nil {
			return fail(err)
		}
	}
	p.mu.Lock()
	p.insts = insts
	for name, prio := range p.prios {
		if inst := insts[name]; inst != nil {
			inst.SetPriority(prio) // a change made while the instances were built
		}
	}
	p.mu.Unlock()

	// Carrier of the tracked interfaces (IFF_LOWER_UP) and the track
	// scripts (agent/track.go): read now so the instances start with the
	// truth, then followed by the watcher and the checkers.
	onCarrier := p.startTracking(hctx, insts, &helpers)
	helpers.Add(1)
	go func() {
		defer helpers.Done()
		err := netcfg.WatchCarrier(hctx, onCarrier)
		if err != nil {
			p.log.Error("link watch stopped", "op", "watch", "err", err)
		}
	}()

	// One instance that fails (its socket's read error) stops the others
	// gracefully and the part returns the error: the agent stops and
	// systemd restarts it, rather than serving on with a dead speaker.
	ictx, icancel := context.WithCancel(ctx)
	defer icancel()
	errc := make(chan error, len(built))
	for _, inst := range built {
		go func() { errc <- inst.Run(ictx) }()
	}
	var first error
	for range built {
		if err := <-errc; err != nil && first == nil {
			first = err
			icancel()
		}
	}
	return first
}

// ServerID returns the virtual IP to use as DHCP server identifier on iface
// (invariant 5), or false when no instance covers that interface.
func (p *vrrpPart) ServerID(iface string) (netip.Addr, bool) {
	if p == nil {
		return netip.Addr{}, false
	}
	for _, s := range p.specs {
		if s.cfg.Interface == iface && len(s.cfg.VIPs) > 0 {
			return s.cfg.VIPs[0].Addr(), true
		}
	}
	return netip.Addr{}, false
}

// vrrpNice is the nice value the process runs at while it speaks VRRP.
// With 100ms adverts a backup takes over after ~360ms without adverts; on
// a box whose CPUs are saturated (measured: two busy loops on two cores
// and a load average of 10) a nice-0 speaker was starved long enough to
// flap. At -10 the kernel's wakeup preemption runs it at once.
const vrrpNice = -10

// notifyStopGrace is how long a stopping agent waits for the instances'
// last notify scripts (the STOP of their graceful leave) before killing
// them: well inside the unit's TimeoutStopSec=15s, which also covers the
// leave itself and ExecStopPost.
const notifyStopGrace = 5 * time.Second

// onTransition is the OnTransition of the instance name: the event
// stream's observer (p.observe), then the pair's hook h, then the notify
// scripts on r (nil: none); status is the instance's.
func (p *vrrpPart) onTransition(name string, h instHooks, r *hooks.Runner, status func() vrrp.Status) func(vrrp.Transition) {
	next := h.onTransition
	if obs := p.observe; obs != nil {
		hook := next
		next = func(t vrrp.Transition) {
			obs(name, t)
			if hook != nil {
				hook(t)
			}
		}
	}
	if r == nil {
		return next
	}
	return notifyTransitions(r, status, next)
}

// notifyTransitions returns an instance's OnTransition: it queues the
// notify scripts of the new state (hooks.Runner.Notify never blocks) and
// then calls next, when set. status is the instance's, already updated
// for the transition: it gives the effective priority keepalived passes.
func notifyTransitions(r *hooks.Runner, status func() vrrp.Status, next func(vrrp.Transition)) func(vrrp.Transition) {
	return func(t vrrp.Transition) {
		if next != nil {
			next(t)
		}
		var st hooks.State
		switch t.To {
		case vrrp.Master:
			st = hooks.Master
		case vrrp.Backup:
			st = hooks.Backup
		case vrrp.Fault:
			st = hooks.Fault
		case vrrp.Initialize:
			st = hooks.Stop // only a stopping instance goes back to Initialize
		default:
			return
		}
		r.Notify(st, status().Priority)
	}
}

// closeRunners closes the runners side by side, so the stop waits one
// grace at most, not one per instance.
func closeRunners(rs []*hooks.Runner, grace time.Duration) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { r.Close(grace) })
	}
	wg.Wait()
}
