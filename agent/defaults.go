package agent

// Global defaults from a named source (failover.defaults_from): on a box
// in several relationships each relationship's primary is the source of
// its subnets (relationships.go); the section's global keys
// (config.GlobalKeys) come from the one node the operator names.
//
//   - The source publishes its own file's global keys as a set with a
//     serial that only grows (sync/defaults.Book.Publish: bumped when
//     they change, at start or on reload, kept in node.state_dir) and
//     sends it over every relationship's link.
//   - Every other box takes a newer set from that source only, keeps it
//     in node.state_dir, serves it with its own local keys and subnets
//     (config.WithGlobals, in every section applied: the same path as a
//     reload, no restart), and forwards it to its other partners, so a
//     box several links away gets it (flooding; sync/defaults says why it
//     ends). Until it has adopted any, its own file's keys serve; a set
//     kept in node.state_dir serves from the start, while the source is
//     away.
//   - A set that does not build with this box's subnets (a class a pool
//     names is missing) is refused here (status, log); the one in force
//     stays, and the set still goes on to the other partners.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/sync/defaults"
	"github.com/prometheus/client_golang/prometheus"
)

// globalDefaults is failover.defaults_from at run time.
type globalDefaults struct {
	log      *slog.Logger
	stateDir string
	base     *config.Config // this node's file: sections are built with it

	// Set by attach.
	set *relSet
	dh  *dhcpPart

	// mu guards what follows. The DHCP part's applyMu is taken before
	// it, never after.
	mu   sync.Mutex
	book *defaults.Book
	// globals are the global keys served in place of the file's (nil:
	// the file's: on the source, and before any set was adopted); serial
	// and hash are the set they came from; via its relationship.
	globals *config.DHCPConfig
	serial  uint64
	hash    []byte
	via     string
	refused string // why the newest set heard does not serve here
	// heardVia is the relationship the newest set came over.
	heardVia string
}

// startDefaults reads failover.defaults_from and the set kept in
// node.state_dir; b comes back built with the global keys in force (the
// kept set's on a box that adopted one). nil without defaults_from.
func startDefaults(b *config.Built, log *slog.Logger) (*globalDefaults, *config.Built) {
	f := b.File.Failover
	if f == nil || f.DefaultsFrom == "" || b.File.DHCP == nil || len(b.Relationships) == 0 {
		return nil, b
	}
	g := &globalDefaults{log: log, stateDir: b.File.Node.StateDir, base: b.File, book: defaults.New(b.File.Node.Name, f.DefaultsFrom)}
	file := filepath.Join(g.stateDir, config.DefaultsFile)
	if data, err := os.ReadFile(file); err == nil {
		s, err := defaults.Decode(data)
		if err == nil {
			err = g.book.Restore(s)
		}
		if err != nil {
			log.Warn("global defaults kept in node.state_dir not usable", "file", file, "err", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("global defaults kept in node.state_dir not read", "file", file, "err", err)
	}
	if g.book.IsSource() {
		g.publish(b.File.DHCP, "start")
		return g, b
	}
	cur, ok := g.book.Current()
	if !ok {
		log.Info("global defaults: none adopted yet from the source: this box's own keys serve until it sends", "source", f.DefaultsFrom)
		return g, b
	}
	gl, err := config.ParseGlobals(cur.Body)
	var nb *config.Built
	if err == nil {
		nb, err = b.File.WithSection(config.WithGlobals(b.File.DHCP, gl))
	}
	if err != nil {
		g.refused = err.Error()
		log.Warn("global defaults kept in node.state_dir do not build with this box's config: its own keys serve until the source sends",
			"source", cur.Source, "serial", cur.Serial, "err", err)
		return g, b
	}
	g.globals, g.serial, g.hash = gl, cur.Serial, cur.Hash
	log.Info("global defaults: serving the set last adopted", "source", cur.Source, "serial", cur.Serial, "hash", fmt.Sprintf("%x", cur.Hash))
	return g, nb
}

// publish (the source) makes sec's global keys the set in force: a
// change gets the next serial, is kept and goes to every partner (once
// attached). why names the occasion for the log.
func (g *globalDefaults) publish(sec *config.DHCPConfig, why string) {
	body, err := config.GlobalsBytes(sec)
	if err != nil {
		g.log.Error("global defaults not published", "err", err)
		return
	}
	g.mu.Lock()
	s, changed := g.book.Publish(body)
	g.serial, g.hash = s.Serial, s.Hash
	g.mu.Unlock()
	if !changed {
		return
	}
	g.keep(s)
	g.log.Info("global defaults published", "source", s.Source, "serial", s.Serial, "hash", fmt.Sprintf("%x", s.Hash), "on", why)
	g.send(s)
}

// hook registers the receiver on every relationship's link (before the
// pairs start).
func (g *globalDefaults) hook(set *relSet) {
	if g == nil {
		return
	}
	g.set = set
	for _, r := range set.rels {
		r.p.OnDefaults(func(s defaults.Set) { g.receive(r, s) })
	}
}

// attach puts the global keys in force into every section the DHCP part
// applies, has the source publish on each reload, and sends the set in
// force to every partner (after relSet.start).
func (g *globalDefaults) attach(dh *dhcpPart) {
	if g == nil {
		return
	}
	dh.applyMu.Lock()
	g.dh = dh
	merge, applied := dh.merge, dh.applied
	dh.merge = func(sec *config.DHCPConfig) (*config.DHCPConfig, error) {
		out, err := merge(sec)
		if err != nil {
			return nil, err
		}
		g.mu.Lock()
		gl := g.globals
		g.mu.Unlock()
		if gl != nil {
			out = config.WithGlobals(out, gl)
		}
		return out, nil
	}
	dh.applied = func(b *config.Built) {
		// The set first: a partner takes it before the relationship parts
		// applied sends (built with it), so both ends' hashes agree.
		if g.book.IsSource() {
			g.publish(b.File.DHCP, "reload") // the source's globals are its file's
		}
		applied(b)
		if g.pending() {
			// A set refused here may build with the section just applied
			// (a reload that fixed this box's subnets): try it again, once,
			// after this apply (applyMu is held now).
			go g.apply(g.lastVia())
		}
	}
	dh.applyMu.Unlock()
	g.mu.Lock()
	cur, ok := g.book.Current()
	g.mu.Unlock()
	if ok {
		g.send(cur)
	}
}

// receive weighs a set the partner of relationship from sent (its link's
// reader goroutine).
func (g *globalDefaults) receive(from *relationship, in defaults.Set) {
	g.mu.Lock()
	v, out := g.book.Offer(in)
	g.mu.Unlock()
	lg := g.log.With("relationship", from.spec.Name, "source", in.Source, "serial", in.Serial)
	switch v {
	case defaults.Adopted:
		g.mu.Lock()
		g.heardVia = from.spec.Name
		g.mu.Unlock()
		g.keep(out)
		// On to every partner before applying: applying sends the parts
		// this box is the primary of, built with the new set, which the
		// partner must then hold (frames of a link stay in order). The
		// one it came from too: it goes back (and is dropped there, the
		// same serial) only once, and that link then holds it for its
		// next connect, when the source may have lost its serial.
		g.send(out)
		g.apply(from.spec.Name)
	case defaults.Reclaimed:
		lg.Warn("global defaults: a partner holds a serial of ours at or past our own (node.state_dir lost?): ours jumps past it", "ours_now", out.Serial)
		g.mu.Lock()
		g.serial = out.Serial
		g.mu.Unlock()
		g.keep(out)
		g.send(out)
	case defaults.WrongSource:
		lg.Warn("global defaults ignored: not from failover.defaults_from's node", "defaults_from", g.book.Source())
	case defaults.Conflict, defaults.Invalid:
		lg.Warn("global defaults ignored", "verdict", v.String(), "hash", fmt.Sprintf("%x", in.Hash))
	default: // older or the same: the usual echo of a flood
		lg.Debug("global defaults ignored", "verdict", v.String())
	}
}

// apply puts the newest adopted set in force, as a reload would (under
// the DHCP part's applyMu, so sets applied concurrently end with the
// newest); on error the keys in force stay.
func (g *globalDefaults) apply(via string) {
	dh := g.dh
	if dh == nil {
		return
	}
	dh.applyMu.Lock()
	defer dh.applyMu.Unlock()
	g.mu.Lock()
	cur, _ := g.book.Current()
	prev, prevSerial, prevHash, prevVia := g.globals, g.serial, g.hash, g.via
	gl, err := config.ParseGlobals(cur.Body)
	if err == nil {
		g.globals, g.serial, g.hash, g.via = gl, cur.Serial, cur.Hash, via
	}
	g.mu.Unlock()
	if err == nil {
		_, err = dh.applyLocked(g.base, g.set.file, fmt.Sprintf("global defaults %d from %s via %s", cur.Serial, cur.Source, via))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.globals, g.serial, g.hash, g.via = prev, prevSerial, prevHash, prevVia
		g.refused = fmt.Sprintf("serial %d: %v", cur.Serial, err)
		g.log.Error("global defaults refused: they do not build with this box's config; the keys in force stay",
			"source", cur.Source, "serial", cur.Serial, "relationship", via, "err", err)
		return
	}
	g.refused = ""
	g.log.Info("global defaults adopted", "source", cur.Source, "serial", cur.Serial, "hash", fmt.Sprintf("%x", cur.Hash), "relationship", via)
}

// pending reports whether the newest set heard is not the one in force
// (it was refused here).
func (g *globalDefaults) pending() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, ok := g.book.Current()
	return ok && !g.book.IsSource() && cur.Serial != g.serial
}

// lastVia is the relationship of the last set heard ("" before any).
func (g *globalDefaults) lastVia() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heardVia
}

// keep writes s to node.state_dir (the set a restart serves first).
func (g *globalDefaults) keep(s defaults.Set) {
	b, err := defaults.Encode(s)
	if err == nil {
		err = config.WriteSyncedAs(g.stateDir, config.DefaultsFile, b)
	}
	if err != nil {
		g.log.Error("global defaults not kept in node.state_dir (in force, but a restart serves the previous)", "serial", s.Serial, "err", err)
	}
}

// send gives s to every relationship's link.
func (g *globalDefaults) send(s defaults.Set) {
	if g.set == nil {
		return
	}
	for _, r := range g.set.rels {
		if err := r.p.SendDefaults(s); err != nil {
			g.log.Error("global defaults not sent", "relationship", r.spec.Name, "serial", s.Serial, "err", err)
		}
	}
}

// status is the `status` view.
func (g *globalDefaults) status() *control.DefaultsStatus {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := &control.DefaultsStatus{Source: g.book.Source(), Serial: g.serial, Via: g.via, Error: g.refused}
	if g.hash != nil {
		st.Hash = fmt.Sprintf("%x", g.hash)
	}
	return st
}

// register exports the serial in force and a refusal, so an alert can
// tell a box that is not on the source's serial.
func (g *globalDefaults) register(reg prometheus.Registerer) error {
	if g == nil || reg == nil {
		return nil
	}
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			g.mu.Lock()
			defer g.mu.Unlock()
			return f()
		}
	}
	return errors.Join(
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hadhcpd_defaults_serial",
			Help: "Serial of failover.defaults_from's global dhcp defaults in force (0: none adopted yet, this box's own keys serve)."},
			locked(func() float64 { return float64(g.serial) }))),
		reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hadhcpd_defaults_refused",
			Help: "1 while the newest global defaults heard do not build with this box's config (the previous set serves)."},
			locked(func() float64 {
				if g.refused != "" {
					return 1
				}
				return 0
			}))),
	)
}
