package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime/pprof"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/prometheus/client_golang/prometheus"
)

// dhcpPart is the DHCP service: the lease database, the engine and the
// sockets.
type dhcpPart struct {
	log *slog.Logger
	db  *lease.DB
	rep lease.OpenReport // what recovery found (the failover machine's Start)
	eng *dhcpd.Engine
	srv *dhcpd.Server
}

// How often the engine's timed work runs and the pool summary is logged.
const (
	dhcpTick        = time.Second
	poolSummaryEach = 10 * time.Minute
)

// newDHCP opens the lease database and the sockets and builds the engine.
// serverID gives the VRRP virtual IP of an interface when there is one. It
// returns nil, nil for a config without a dhcp section. wrap, when set,
// puts a layer between the engine and the database (the failover part's
// replicating commit path, DESIGN.md invariant 2).
func newDHCP(cfg *Config, log *slog.Logger, reg prometheus.Registerer, gate dhcpd.Gate, serverID dhcpd.ServerIDFunc, wrap func(*lease.DB) dhcpd.LeaseDB) (*dhcpPart, error) {
	var v validator
	dc := cfg.dhcpConfig(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	if dc == nil {
		return nil, nil
	}
	db, rep, err := lease.Open(lease.Options{Dir: cfg.Node.StateDir, Logger: log.With("component", "lease")})
	if err != nil {
		return nil, fmt.Errorf("node.state_dir: open lease database: %w", err)
	}
	log.Info("lease database open", "dir", cfg.Node.StateDir, "snapshot_leases", rep.SnapshotLeases,
		"records", rep.Records, "last_seq", rep.LastSeq)
	if rep.TruncatedAt >= 0 {
		log.Warn("lease journal had a torn tail: truncated", "offset", rep.TruncatedAt)
	}
	if rep.MovedAside != "" {
		log.Error("lease journal had a corrupt record: it and everything after it were moved aside", "file", rep.MovedAside, "need_resync", rep.NeedResync)
	}
	if err := db.SetPools(dc.Pools()); err != nil {
		db.Close()
		return nil, fmt.Errorf("dhcp.subnets: pools: %w", err)
	}
	m := dhcpd.NewMetrics(reg)
	var edb dhcpd.LeaseDB = db
	if wrap != nil {
		edb = wrap(db)
	}
	eng, err := dhcpd.NewEngine(dhcpd.EngineOptions{
		Config: dc, DB: edb, Gate: gate, ServerID: serverID,
		Logger: log, Metrics: m,
	})
	if err != nil {
		db.Close()
		return nil, err
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
	return &dhcpPart{log: log, db: db, rep: rep, eng: eng, srv: srv}, nil
}

// Run serves until ctx ends, then closes the database (every ACKed lease
// is already durable).
func (p *dhcpPart) Run(ctx context.Context) error {
	p.eng.LogPools()
	if f := os.Getenv(cpuProfileEnv); f != "" {
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
		select {
		case now := <-tick.C:
			p.eng.Tick(now)
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

// cpuProfileEnv names a file to write a CPU profile of the DHCP service to,
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
