// Package agent loads the configuration, builds and wires hadhcpd's parts
// (VRRP, the DHCP service, the lease database, replication) and runs them
// in a safe order until it is told to stop.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/agent/journald"
	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is stamped at build time (-ldflags -X).
var Version = "dev"

// NewLogger builds the process logger from node.log_format and node.log_level.
func NewLogger(w io.Writer, node config.NodeConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(node.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if node.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Under systemd the attributes become journal fields (agent/journald).
	if f, ok := w.(*os.File); ok && journald.OnJournal(f, os.Getenv) {
		if jh, err := journald.New(journald.Socket, "hadhcpd", lvl, h); err == nil {
			h = jh
		}
	}
	return slog.New(h).With("node", node.Name)
}

// Reload tells Run how to reload its configuration (SIGHUP): a value on C
// asks for it, Load reads the file again. The zero Reload never reloads.
type Reload struct {
	C    <-chan os.Signal
	Load func() (*config.Config, error)
}

// Options are what RunWith takes besides the config file.
type Options struct {
	Reload Reload
	// ClockOffset moves this agent's wall time: every time it stamps or
	// compares (lease start and expiry in the engine and the database,
	// the failover machine, the clock in the frames to the partner) is
	// real time + ClockOffset, while timers run at normal speed. It exists
	// for the end-to-end tests of clock skew between the boxes (invariant
	// 6: safety needs no synchronised clocks); Go ignores
	// libfaketime. Zero in production. At most maxClockOffset either way.
	ClockOffset time.Duration
}

// maxClockOffset bounds Options.ClockOffset: invariant 1
// covers a skew of up to an hour between the boxes; a day leaves room for
// tests beyond it without approaching time arithmetic's limits.
const maxClockOffset = 24 * time.Hour

// ErrClockOffset is returned for an Options.ClockOffset beyond ±24h.
var ErrClockOffset = errors.New("clock offset outside ±24h")

// Validate checks the options (RunWith does it first; the command line
// calls it before anything else to report a bad flag as such).
func (o Options) Validate() error {
	if o.ClockOffset < -maxClockOffset || o.ClockOffset > maxClockOffset {
		return fmt.Errorf("%w: %v", ErrClockOffset, o.ClockOffset)
	}
	return nil
}

// Run starts every configured part and blocks until ctx ends, then stops
// them gracefully. The order is the safe one: stale VIPs go
// first (invariant 4), then the parts start.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return RunWith(ctx, cfg, log, Options{})
}

// RunReload is Run with a reload trigger: the dhcp: section is applied
// without a restart (and sent to the secondary by a primary: config
// sync); other changes need a restart and are logged as such.
func RunReload(ctx context.Context, cfg *config.Config, log *slog.Logger, rl Reload) error {
	return RunWith(ctx, cfg, log, Options{Reload: rl})
}

// RunWith is Run with every option: the reload trigger and the clock
// offset of the skew tests.
func RunWith(ctx context.Context, cfg *config.Config, log *slog.Logger, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	rl := o.Reload
	// One clock for every part that stamps or compares lease times, so
	// the offset moves this box's whole notion of wall time at once.
	clk := clock.Offset(o.ClockOffset)
	if o.ClockOffset != 0 {
		log.Warn("clock offset in force: this agent's wall time is real time + offset (a test hook, never for production)", "offset", o.ClockOffset)
	}
	built, err := config.Build(cfg)
	if err != nil {
		return err
	}
	for _, w := range built.Warnings {
		log.Warn("config: served differently from what the file says", "key", w.Key, "warning", w.Reason)
	}
	base := built
	if built.Failover != nil && built.Failover.Machine.Role == failover.Secondary && built.DHCP != nil {
		// The section last accepted from the primary, until it sends.
		if b, _ := loadSynced(cfg, log.With("component", "dhcp")); b != nil {
			built = b
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	em, err := events.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("event stream metrics: %w", err)
	}
	bus := events.NewBus(events.Options{Box: cfg.Node.Name, Clock: clk, Metrics: em})
	defer bus.Close() // ends the readers' streams

	vr, err := newVRRP(built, log.With("component", "vrrp"), reg)
	if err != nil {
		return err
	}
	if vr != nil {
		vr.observe = vrrpObserver(bus)
		// Invariant 4: a box that crashed while master must not keep the VIP.
		if err := vr.Cleanup(); err != nil {
			return fmt.Errorf("remove stale virtual IPs: %w", err)
		}
	}

	// Then the lease database and the sockets: the service starts with
	// every lease it ever ACKed (the database recovers before serving).
	// A pair (agent/pair) decides who serves (the engine's gate)
	// and replicates every commit (invariant 2). It lowers the VRRP
	// priority before VRRP runs: a node starts unfit (invariant 3).
	var pv pair.VRRP // nil, not a typed nil, without instances
	if vr != nil {
		pv = vr
	}
	fo, err := pair.New(base, log.With("component", "failover"), reg, pv, clk)
	if err != nil {
		return err
	}
	var foHooks *failoverHooks
	if fo != nil || len(built.Relationships) > 0 {
		hm, err := hooks.NewFailoverMetrics(reg)
		if err != nil {
			return fmt.Errorf("failover notify metrics: %w", err)
		}
		foHooks = &failoverHooks{log: log.With("component", "failover"), metrics: hm}
		// After every part stopped: the machines' last transitions'
		// scripts still run, up to notifyStopGrace.
		defer foHooks.close()
	}
	if fo != nil {
		fo.ObserveTransitions(foHooks.observer(singleFailoverName, base.Failover.Notify, failoverObserver(bus, "")))
	}
	// A box in several relationships: one pair each (relationships.go),
	// serving the subnets their primaries last sent.
	var parts map[string]*config.DHCPConfig
	if len(built.Relationships) > 0 {
		built, parts = loadParts(built, log.With("component", "dhcp"))
	}
	// failover.defaults_from: the global keys of the named node (defaults.go).
	gd, built := startDefaults(built, log.With("component", "defaults"))
	if err := gd.register(reg); err != nil {
		return fmt.Errorf("defaults metrics: %w", err)
	}
	rs, err := newRelSet(built, log.With("component", "failover"), reg, pv, clk)
	if err != nil {
		return err
	}
	gd.hook(rs)
	if rs != nil && parts != nil {
		rs.parts = parts
	}
	if rs != nil {
		rs.observe(foHooks, bus)
	}
	var (
		gate dhcpd.Gate
		wrap func(*lease.DB) dhcpd.LeaseDB
	)
	switch {
	case fo != nil:
		gate, wrap = fo.Gate(), fo.Attach
	case rs != nil:
		gate, wrap = rs.gate(), rs.attach
	}
	dh, err := newDHCP(built, log.With("component", "dhcp"), reg, clk, gate, vipServerID(vr), wrap, leaseObserver(bus))
	if err != nil {
		return err
	}
	if rs != nil && built.File.DHCP != nil {
		// Each relationship's master probes its own partner's addresses
		// (each partner sends them in its handshake).
		for _, r := range rs.rels {
			r.p.SetWitness(newLANWitness(built))
		}
	}
	if fo != nil {
		if built.File.DHCP != nil {
			fo.SetWitness(newLANWitness(built))
		}
		var (
			sec pair.Section
			rep lease.OpenReport
		)
		if dh != nil {
			sec, rep = dh, dh.rep
		}
		if err := fo.Start(sec, rep); err != nil {
			if dh != nil {
				dh.abort()
			}
			return err
		}
	}
	if rs != nil {
		if dh == nil {
			return &config.ConfigError{Key: "failover.relationships", Reason: "relationships need a dhcp section to replicate"}
		}
		unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "hadhcpd_peer_unknown_source_total",
			Help: "Sync link connections refused because their source address is no relationship's partner."})
		err := reg.Register(unknown)
		if err == nil {
			err = rs.start(dh, base.File.DHCP, dh.rep)
		}
		if err == nil {
			gd.attach(dh)
		}
		if err == nil {
			err = rs.listen(ctx, unknown)
		}
		if err != nil {
			dh.abort()
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	running := 0
	start := func(name string, run func(context.Context) error) {
		running++
		go func() {
			err := run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errc <- err
		}()
	}

	if cfg.Node.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.Node.MetricsListen)
		if err != nil {
			if dh != nil {
				dh.abort()
			}
			rs.close()
			return fmt.Errorf("node.metrics_listen: %w", err)
		}
		start("metrics", func(ctx context.Context) error { return serveMetrics(ctx, ln, reg) })
	}
	// Real time, not the offset clock: `status` shows the uptime
	// against the caller's clock.
	src := &statusSource{node: cfg.Node.Name, started: time.Now(), vr: vr, dh: dh, fo: fo, rs: rs, gd: gd}
	ops := operatorFor(fo)
	if rs != nil {
		ops = relOperator{set: rs}
	}
	if cfg.Node.ControlSocket != "" {
		ln, err := control.Listen(cfg.Node.ControlSocket)
		if err != nil {
			if dh != nil {
				dh.abort()
			}
			rs.close()
			return err
		}
		ctl := &control.Server{Log: log.With("component", "control"), Status: src.status, Ops: ops, Events: bus}
		start("control", func(ctx context.Context) error { return ctl.Serve(ctx, ln) })
	}
	// The API's reloads run in the loop below, where SIGHUP's do: one
	// path, never two reloads at once.
	apiReload := make(chan chan error)
	if base.API != nil {
		api, err := newAPI(base, log.With("component", "api"), src, fo, rl.Load != nil, apiReload)
		if err == nil {
			api.Events = bus
			if dh != nil {
				api.LeaseWriter = &leaseWriter{log: log.With("component", "api"), dh: dh, fo: fo, rs: rs, bus: bus}
			}
		}
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp", base.API.Listen)
			if err != nil {
				err = fmt.Errorf("node.api_listen: %w", err)
			}
		}
		if err != nil {
			if dh != nil {
				dh.abort()
			}
			rs.close()
			return err
		}
		api.Ops = ops
		log.Info("HTTP API listening", "addr", ln.Addr().String(), "token", api.Token != nil,
			"tls", api.TLS != nil, "client_certs", base.API.ClientCerts())
		start("api", func(ctx context.Context) error { return api.Serve(ctx, ln) })
	}
	if vr != nil {
		start("vrrp", vr.Run)
	}
	if dh != nil {
		start("dhcp", dh.Run)
	}
	if fo != nil {
		start("failover", fo.Run)
	}
	if rs != nil {
		for _, r := range rs.rels {
			start("failover "+r.spec.Name, r.p.Run)
		}
		for _, m := range rs.muxs {
			start("failover listener", m.run)
		}
	}
	if running == 0 {
		return errors.New("nothing to run: the config has no vrrp instances and no dhcp section")
	}
	log.Info("hadhcpd running", "version", Version, "gomaxprocs", runtime.GOMAXPROCS(0))
	// systemd (Type=notify): ready once every part has started; the
	// watchdog pings stop when the agent is stopping, and when a part's
	// loop stops going round or the lease database failed (liveness).
	sd := newNotifier(os.Getenv)
	if err := sd.send("READY=1"); err != nil {
		log.Warn("sd_notify", "err", err)
	}
	lv := &liveness{log: log.With("component", "watchdog")}
	lv.probes = append(lv.probes, vr.probes()...)
	lv.probes = append(lv.probes, pairProbes(fo)...)
	var commitWait time.Duration
	if fo != nil {
		commitWait = fo.MaxResponseDelay()
	}
	if rs != nil {
		for _, r := range rs.rels {
			for _, pr := range pairProbes(r.p) {
				pr.name += " (relationship " + r.spec.Name + ")"
				lv.probes = append(lv.probes, pr)
			}
		}
		commitWait = rs.maxResponseDelay()
	}
	lv.probes = append(lv.probes, dh.probes(commitWait)...)
	go sd.keepalive(ctx, func() bool { return ctx.Err() == nil && lv.alive(clk.Now()) })

	// The first part to fail stops the others; a clean stop waits for all.
	var first error
	for i := 0; i < running; {
		var err error
		select {
		case <-rl.C:
			_ = reload(log.With("by", "SIGHUP"), rl.Load, base.File, dh, fo, rs)
			continue
		case done := <-apiReload:
			done <- reload(log.With("by", "api"), rl.Load, base.File, dh, fo, rs)
			continue
		case err = <-errc:
		}
		i++
		rl.C, apiReload = nil, nil // stopping: no reload touches a closing part
		if err != nil && first == nil {
			first = err
			log.Error("stopping", "err", err)
		}
		if i == 1 {
			_ = sd.send("STOPPING=1")
		}
		cancel()
	}
	return first
}

// operatorFor is fo as the control socket's operator; nil (the interface,
// not a typed nil) for a single server.
func operatorFor(fo *pair.Pair) control.Operator {
	if fo == nil {
		return nil
	}
	return pairOperator{fo}
}

func serveMetrics(ctx context.Context, ln net.Listener, reg *prometheus.Registry) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// reload reads the file again and applies its dhcp: section (a single
// server or a primary; a secondary's section is the primary's) and the
// split of each relationship this box is the primary of (fo's, or each
// of rs's). The running config stays when the file is not valid. The
// error says why nothing was applied, for the API's caller; the log has
// it either way.
func reload(log *slog.Logger, load func() (*config.Config, error), base *config.Config, dh *dhcpPart, fo *pair.Pair, rs *relSet) error {
	if load == nil {
		return errors.New("no config file to read again")
	}
	log.Info("reloading the config")
	cfg, err := load()
	if err != nil {
		log.Error("reload: config not valid, the running one stays", "err", err)
		return fmt.Errorf("config not valid, the running one stays: %w", err)
	}
	if fo != nil && cfg.Failover != nil {
		reloadSplit(log, cfg.Failover, fo)
	}
	rs.reloadSplits(log, cfg)
	switch {
	case dh == nil || cfg.DHCP == nil:
		log.Warn("reload: nothing to apply (no dhcp section, or it was added or removed: that needs a restart)")
		return errors.New("nothing to apply (no dhcp section, or it was added or removed: that needs a restart)")
	case fo != nil && fo.Role() == failover.Secondary:
		log.Info("reload: this node is the secondary: its dhcp section comes from the primary")
		return errors.New("this node is the secondary: its dhcp section comes from the primary")
	}
	if !reflect.DeepEqual(cfg.DHCP.Interfaces, base.DHCP.Interfaces) {
		log.Warn("reload: dhcp.interfaces changed: that needs a restart (the sockets are bound at start)")
	}
	changed, err := dh.Apply(base, cfg.DHCP, "reload")
	if err != nil {
		log.Error("reload: dhcp section not applied, the running one stays", "err", err)
		return fmt.Errorf("dhcp section not applied, the running one stays: %w", err)
	}
	log.Info("reload: dhcp section applied", "changed", strings.Join(changed, ","))
	if fo != nil {
		if err := fo.SendConfig(cfg.DHCP); err != nil {
			log.Error("reload: dhcp section not sent to the secondary", "err", err)
			return fmt.Errorf("dhcp section applied here but not sent to the secondary: %w", err)
		}
	}
	return nil
}

// reloadSplit puts a changed failover.split or load_balance_max_seconds
// in force on a primary (the secondary takes them over the link); the
// other failover keys need a restart, and the pair refuses the link
// while mode, mclt, max_response_delay or standby_share differ.
func reloadSplit(log *slog.Logger, f *config.FailoverConfig, fo *pair.Pair) {
	mc, err := config.FailoverMachine(f)
	if err != nil {
		log.Error("reload: failover section not valid, the running one stays", "err", err)
		return
	}
	applySplit(log, mc, fo)
}

// applySplit puts mc's split and load_balance_max_seconds in force on
// fo when they changed and fo is the primary (pair.SetSplit).
func applySplit(log *slog.Logger, mc failover.Config, fo *pair.Pair) {
	cur := fo.Agreed()
	if mc.Split == cur.Split && mc.LoadBalanceMaxSeconds == cur.LoadBalanceMaxSeconds {
		return
	}
	if fo.Role() != failover.Primary {
		log.Warn("reload: failover.split and load_balance_max_seconds are the primary's: this node keeps the primary's",
			"split", cur.Split, "load_balance_max_seconds", cur.LoadBalanceMaxSeconds)
		return
	}
	if err := fo.SetSplit(mc.Split, mc.LoadBalanceMaxSeconds); err != nil {
		log.Error("reload: failover split", "err", err)
		return
	}
	log.Info("reload: failover split applied", "split", mc.Split, "load_balance_max_seconds", mc.LoadBalanceMaxSeconds,
		"was_split", cur.Split, "was_load_balance_max_seconds", cur.LoadBalanceMaxSeconds)
}

// newAPI builds the HTTP API over the running parts: the status and the
// operator the control socket uses, the live lease database.
func newAPI(b *config.Built, log *slog.Logger, src *statusSource, fo *pair.Pair, canReload bool, reloads chan<- chan error) (*control.API, error) {
	api := &control.API{Log: log, Status: src.status, Ops: operatorFor(fo)}
	if b.API.TokenFile != "" {
		tok, err := control.ReadToken(b.API.TokenFile)
		if err != nil {
			return nil, err
		}
		api.Token = tok
	}
	if t := b.API.TLS; t != nil {
		c, err := control.LoadTLS(control.TLSFiles{Cert: t.Cert, Key: t.Key, ClientCA: t.ClientCA})
		if err != nil {
			return nil, err
		}
		api.TLS = c
	}
	if f := b.File.Failover; f != nil {
		api.PartnerAddr = f.Peer
		if h, _, err := net.SplitHostPort(f.Peer); err == nil {
			api.PartnerAddr = h
		}
	}
	if src.rs != nil {
		api.Partners = src.rs.partners()
	}
	if src.dh != nil {
		api.Leases, api.Subnets, api.Pools = src.dh.db, src.subnets, src.pools
	}
	if canReload {
		api.Reload = func(ctx context.Context) error {
			done := make(chan error, 1)
			select {
			case reloads <- done:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case err := <-done:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return api, nil
}

// The parts a pair and the API use, as they see them.
var (
	_ pair.VRRP           = (*vrrpPart)(nil)
	_ pair.Section        = (*dhcpPart)(nil)
	_ control.LeaseSource = (*lease.DB)(nil)
)
