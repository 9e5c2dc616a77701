package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/prometheus/client_golang/prometheus"
)

// dhcpPart is the DHCP service: the lease database, the engine and the
// sockets.
type dhcpPart struct {
	log   *slog.Logger
	clock dhcpd.Clock // the agent's wall time (clock.Offset)
	db    *lease.DB
	rep   lease.OpenReport // what recovery found (the failover machine's Start)
	eng   *dhcpd.Engine
	srv   *dhcpd.Server

	stateDir string // node.state_dir (a relative HADHCPD_CPUPROFILE goes there)
	// lossUntil: a box alone whose recovery lost records probes before
	// offering until then (Engine.SetRecoveryProbing), then forgets the
	// loss (lease.DB.LossMended). Run's goroutine only.
	lossUntil time.Time

	// Liveness (agent/notify.go): the Run loop answers live at every
	// iteration (its tick makes one a second, through the engine's lock
	// and the expiry commit); commits watches the engine's commit path.
	live    progress
	commits *commitWatch

	// A box in several relationships (relationships.go): merge puts the
	// parts their primaries sent into every section applied (from the
	// file or from a primary), and applied learns of every section put in
	// force after the start. applyMu serialises Apply with them.
	merge   func(*config.DHCPConfig) (*config.DHCPConfig, error)
	applied func(*config.Built)
	applyMu sync.Mutex

	// mu serialises apply; it guards the section in force and its hash.
	mu      sync.Mutex
	section *config.DHCPConfig
	hash    []byte
}

// How often the engine's timed work runs and the pool summary is logged.
const (
	dhcpTick        = time.Second
	poolSummaryEach = 10 * time.Minute
)

// newDHCP opens the lease database and the sockets and builds the engine.
// serverID gives the VRRP virtual IP of an interface when there is one. It
// returns nil, nil for a config without a dhcp section. wrap, when set,
// puts a layer between the engine and the database (agent/pair's
// replicating commit path, invariant 2). clock is the agent's
// wall time, given to the engine and the database alike so lease times
// are stamped and compared on one clock. onLease, when set, sees every
// durable lease change (the event stream).
func newDHCP(b *config.Built, log *slog.Logger, reg prometheus.Registerer, clock dhcpd.Clock, gate dhcpd.Gate, serverID dhcpd.ServerIDFunc, wrap func(*lease.DB) dhcpd.LeaseDB, onLease func(dhcpd.LeaseEvent)) (*dhcpPart, error) {
	dc, cfg := b.DHCP, b.File
	if dc == nil {
		return nil, nil
	}
	db, rep, err := lease.Open(leaseOptions(b, clock, log.With("component", "lease")))
	if err != nil {
		return nil, fmt.Errorf("node.state_dir: open lease database: %w", err)
	}
	log.Info("lease database open", "dir", cfg.Node.StateDir, "snapshot_leases", rep.SnapshotLeases,
		"records", rep.Records, "last_seq", rep.LastSeq)
	if rep.TruncatedAt >= 0 {
		log.Warn("lease journal had a torn tail: truncated", "offset", rep.TruncatedAt)
	}
	if len(rep.Damage) > 0 {
		// The lease package logged each damaged part with its file and
		// offset; this is the summary the operator acts on.
		lost := 0
		for _, d := range rep.Damage {
			lost += d.Records
		}
		log.Error("lease database was damaged: only the unreadable records were skipped, the rest recovered",
			"damaged_parts", len(rep.Damage), "records_lost_known", lost, "copied_to", rep.MovedAside, "need_resync", rep.NeedResync)
	}
	if err := db.SetPools(dc.Pools()); err != nil {
		db.Close()
		return nil, fmt.Errorf("dhcp.subnets: pools: %w", err)
	}
	m, err := dhcpd.NewMetrics(reg)
	if err == nil {
		err = registerLeaseDB(reg, db.Err)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dhcp metrics: %w", err)
	}
	var edb dhcpd.LeaseDB = db
	if wrap != nil {
		edb = wrap(db)
	}
	cw := &commitWatch{clock: clock}
	edb = &watchedDB{LeaseDB: edb, w: cw}
	eng, err := dhcpd.NewEngine(dhcpd.EngineOptions{
		Config: dc, DB: edb, Gate: gate, ServerID: serverID,
		Clock: clock, Logger: log, Metrics: m, OnLease: onLease, Prober: netProber{},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	var lossUntil time.Time
	if rep.NeedResync && wrap == nil {
		// Alone: no partner holds the lost records, so what they leased
		// is known only to the clients: probe before offering until the
		// longest lease they could hold has run out (invariant 1).
		if lossUntil = lossWindowEnd(dc, rep.LossAt); clock.Now().Before(lossUntil) {
			eng.SetRecoveryProbing(lossUntil)
		} else {
			lossUntil = time.Time{}
			log.Info("lease records lost in an earlier recovery have all expired by now", "lost_at", rep.LossAt.UTC())
			if err := db.LossMended(); err != nil {
				log.Warn("forget the mended loss", "err", err)
			}
		}
	}
	var abandoned []lease.Lease
	db.Range(func(l lease.Lease) bool {
		if l.State == lease.StateAbandoned {
			abandoned = append(abandoned, l)
		}
		return true
	})
	eng.RecoverAbandoned(abandoned)
	srv, err := dhcpd.NewServer(dhcpd.ServerOptions{
		Interfaces: cfg.DHCP.Interfaces, Handler: eng, Logger: log, Metrics: m,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dhcp.interfaces: %w", err)
	}
	sec, err := config.SectionBytes(cfg.DHCP)
	if err != nil {
		db.Close()
		return nil, err
	}
	p := &dhcpPart{log: log, clock: clock, db: db, rep: rep, eng: eng, srv: srv, commits: cw, stateDir: cfg.Node.StateDir, lossUntil: lossUntil}
	p.setSection(cfg.DHCP, sec)
	return p, nil
}

// Run serves until ctx ends, then closes the database (every ACKed lease
// is already durable).
func (p *dhcpPart) Run(ctx context.Context) error {
	p.eng.LogPools()
	if f := os.Getenv(cpuProfileEnv); f != "" {
		if !filepath.IsAbs(f) {
			f = filepath.Join(p.stateDir, f) // one per box of a lab pair
		}
		stop, err := startCPUProfile(f)
		if err != nil {
			p.log.Warn("CPU profile not started", "env", cpuProfileEnv, "err", err)
		} else {
			p.log.Warn("writing a CPU profile of the DHCP service until it stops", "file", f)
			defer stop()
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.srv.Run(ctx) }()
	tick := time.NewTicker(dhcpTick)
	defer tick.Stop()
	summary := time.NewTicker(poolSummaryEach)
	defer summary.Stop()
	var err error
loop:
	for {
		p.live.answer()
		select {
		case <-tick.C:
			// The agent's clock, not the ticker's reading: offers and
			// probation periods were stamped with it.
			now := p.clock.Now()
			p.eng.Tick(now)
			if !p.lossUntil.IsZero() && !now.Before(p.lossUntil) {
				p.lossUntil = time.Time{}
				if err := p.db.LossMended(); err != nil {
					p.log.Warn("forget the mended loss", "err", err)
				}
			}
		case <-summary.C:
			p.eng.LogPools()
		case err = <-done:
			break loop
		}
	}
	p.eng.LogPools()
	if cerr := p.db.Close(); cerr != nil && !errors.Is(cerr, lease.ErrClosed) {
		err = errors.Join(err, fmt.Errorf("close lease database: %w", cerr))
	}
	return err
}

// probes are the DHCP part's liveness checks. wait is how long a commit
// may legitimately wait beyond probeBound: the partner's ack, up to
// failover.max_response_delay (0 for a single server).
func (p *dhcpPart) probes(wait time.Duration) []*probe {
	if p == nil {
		return nil
	}
	bound := probeBound + wait
	return []*probe{
		{name: "dhcp service loop", bound: bound, ping: p.live.ping, pong: p.live.pong},
		{name: "dhcp commit path", fail: func(now time.Time) error {
			if err := p.db.Err(); err != nil {
				return fmt.Errorf("%w: %w", ErrLeaseDB, err)
			}
			return p.commits.check(now, bound)
		}},
	}
}

// watchedDB is the engine's lease database with its commits watched
// (commitWatch): Commit and Expire are the engine's writes.
type watchedDB struct {
	dhcpd.LeaseDB
	w *commitWatch
}

func (d *watchedDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	d.w.begin()
	out, err := d.LeaseDB.Commit(ls...)
	d.w.end(err)
	return out, err
}

func (d *watchedDB) Expire(now time.Time, max int) ([]lease.Lease, error) {
	d.w.begin()
	out, err := d.LeaseDB.Expire(now, max)
	d.w.end(err)
	return out, err
}

// commitWatch follows the commit path for the watchdog: commits that wait
// while none completes for longer than a bound mean the journal writer
// (or the partner's acks, beyond max_response_delay) is stuck; an error
// that is not the caller's (a bad lease) nor the shutdown's is the lease
// database's write failure (dhcpd/lease: after a failed write or
// fdatasync it refuses every change until a retry after a backoff
// succeeds): the probe fails from then until a commit succeeds again, so
// a disk that stays full ends in the watchdog's restart (and the partner
// serving), one freed in time in none.
// A failure of a write that is not the engine's (the partner's records,
// pool moves) is seen through lease.DB.Err (dhcpPart.probes).
type commitWatch struct {
	clock dhcpd.Clock

	mu       sync.Mutex
	inflight int
	since    time.Time // the last completion, or when the oldest waiter began
	failed   error
}

func (w *commitWatch) begin() {
	now := w.clock.Now()
	w.mu.Lock()
	if w.inflight == 0 {
		w.since = now
	}
	w.inflight++
	w.mu.Unlock()
}

func (w *commitWatch) end(err error) {
	now := w.clock.Now()
	w.mu.Lock()
	w.inflight--
	w.since = now
	switch {
	case err == nil:
		w.failed = nil // the database wrote again (lease.DB.Err clears too)
	case w.failed == nil && dbFailure(err):
		w.failed = err
	}
	w.mu.Unlock()
}

// check is nil while the commit path is healthy at now.
func (w *commitWatch) check(now time.Time, bound time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return fmt.Errorf("%w: %w", ErrLeaseDB, w.failed)
	}
	if w.inflight > 0 {
		if waited := now.Sub(w.since); waited > bound {
			return fmt.Errorf("%w: %d commits waiting, none completed for %v (bound %v)", ErrStuck, w.inflight, waited.Round(time.Millisecond), bound)
		}
	}
	return nil
}

// dbFailure tells the database's own failure from errors about the
// request (an invalid lease, no pool) and from the shutdown.
func dbFailure(err error) bool {
	if err == nil {
		return false
	}
	for _, benign := range []error{lease.ErrClosed, lease.ErrInvalid, lease.ErrNoPool, lease.ErrPoolExhausted} {
		if errors.Is(err, benign) {
			return false
		}
	}
	return true
}

// cpuProfileEnv names a file (relative: in node.state_dir) to write a CPU
// profile of the DHCP service to,
// from start to a clean stop: how scripts/bench-dhcp.sh's figures are
// explained (go tool pprof). No config key: it is a developer's tool.
const cpuProfileEnv = "HADHCPD_CPUPROFILE"

func startCPUProfile(file string) (stop func(), err error) {
	w, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		w.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); w.Close() }, nil
}

// abort closes what newDHCP opened, for a start that fails later.
func (p *dhcpPart) abort() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.srv.Run(ctx) // closes the sockets at once
	_ = p.db.Close()
}

// vipServerID returns the server identifier function backed by the VRRP
// part: the virtual IP of the interface's instance (invariant 5).
func vipServerID(vr *vrrpPart) dhcpd.ServerIDFunc {
	if vr == nil {
		return nil
	}
	return func(iface string) (netip.Addr, bool) { return vr.ServerID(iface) }
}

// The dhcp: section in force can change without a restart (config
// sync): a reload of the file (SIGHUP) on a single server or a
// primary, or the primary's section received over the sync link on a
// secondary. dhcp.interfaces stays node-local: every applied section keeps
// this box's own interfaces (the sockets are bound at start).

// loadSynced reads the section a secondary last accepted from the primary
// (nil when there is none or it is no longer valid with this node's
// config: the file's own section is used then, until the primary sends).
func loadSynced(cfg *config.Config, log *slog.Logger) (*config.Built, []byte) {
	file := filepath.Join(cfg.Node.StateDir, config.SyncedFile)
	b, err := os.ReadFile(file)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("synced dhcp section not read: using the file's", "file", file, "err", err)
		}
		return nil, nil
	}
	sec, err := config.ParseSection(b)
	if err == nil {
		var built *config.Built
		if built, err = cfg.WithSection(sec); err == nil {
			log.Info("using the dhcp section last synced from the primary", "file", file, "hash", fmt.Sprintf("%x", config.SectionHash(b)))
			return built, b
		}
	}
	log.Warn("synced dhcp section not usable: using the file's", "file", file, "err", err)
	return nil, nil
}

// setSection records the section in force at start.
func (p *dhcpPart) setSection(sec *config.DHCPConfig, b []byte) {
	p.mu.Lock()
	p.section, p.hash = sec, config.SectionHash(b)
	p.mu.Unlock()
}

// ConfigHash is the hash of the section in force (hex).
func (p *dhcpPart) ConfigHash() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%x", p.hash)
}

// Apply validates sec against base (this node's config) and, when it is
// valid, swaps it into the engine (dhcpd.Engine.Reconfigure) and returns
// the keys that changed. On any error the section in force stays.
func (p *dhcpPart) Apply(base *config.Config, sec *config.DHCPConfig, source string) (changed []string, err error) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	return p.applyLocked(base, sec, source)
}

// applyLocked is Apply with applyMu held.
func (p *dhcpPart) applyLocked(base *config.Config, sec *config.DHCPConfig, source string) (changed []string, err error) {
	if p.merge != nil {
		if sec, err = p.merge(sec); err != nil {
			return nil, err
		}
	}
	built, err := base.WithSection(sec)
	if err != nil {
		return nil, err
	}
	c, dc := built.File, built.DHCP
	b, err := config.SectionBytes(c.DHCP)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	changed = config.SectionChanges(p.section, c.DHCP)
	if err := p.eng.Reconfigure(dc, p.db); err != nil {
		return nil, err
	}
	p.section, p.hash = c.DHCP, config.SectionHash(b)
	p.log.Info("dhcp config applied", "source", source, "hash", fmt.Sprintf("%x", p.hash), "changed", strings.Join(changed, ","))
	if p.applied != nil {
		p.applied(built)
	}
	return changed, nil
}

// registerLeaseDB registers the lease database's health: failed is
// lease.DB.Err (after a failed write or fdatasync the database refuses
// every change until a retry succeeds; the watchdog restarts an agent
// whose database stays failed).
func registerLeaseDB(reg prometheus.Registerer, failed func() error) error {
	if reg == nil {
		return nil
	}
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hadhcpd_lease_db_write_failed",
		Help: "1 while the lease database refuses changes after a failed write or fdatasync (it retries; a disk that stays full ends in the watchdog's restart).",
	}, func() float64 {
		if failed() != nil {
			return 1
		}
		return 0
	}))
}
