package agent

// A box in several failover relationships (config failover.relationships:
// a ring of three, a hub backing several spokes). Each relationship is
// one agent/pair.Pair, exactly as the single failover: section's, over
// the subnets it covers:
//
//   - the engine asks a gate per subnet (relGate, dhcpd.SubnetGate): the
//     gate of the subnet's relationship, or dhcpd.SingleServer for a
//     subnet in none;
//   - one lease database and one journal; the commit path (relDB) commits
//     once (one group commit) and queues each record on the link of the
//     relationship of its address, and the ACK waits for every partner
//     concerned (invariant 2 per relationship);
//   - each link sees only its relationship's leases (relView): its
//     snapshot, its sequence numbers, and the partner's records it may
//     write (a partner's record for an address outside the relationship
//     is refused: a peer is trusted for its relationships only);
//   - one listener per failover.listen address serves every relationship
//     this box is the secondary of (connMux), routing each connection by
//     its source address to the relationship with that partner.
//
// Config sync carries each relationship's part of the dhcp: section
// (config.RelationshipPart: its subnets, with the primary's global keys
// for the hash): its primary sends it on connect and on reload, its
// secondary takes the subnets (relSection), keeps them in
// node.state_dir, and serves them with its own file's other keys and
// subnets (relSet.merge, for every section applied, the file's included).
// Global keys are each box's own file's; the relationship's hash (in the
// handshake and `status`) covers them, so a difference shows.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/prometheus/client_golang/prometheus"
)

// relSet is the box's relationships at run time.
type relSet struct {
	log  *slog.Logger
	clk  clock.Clock
	rels []*relationship
	muxs []*connMux
	db   *lease.DB // set by attach

	// Config sync, guarded by the DHCP part's applyMu: file is the file's
	// dhcp section (at start, then each reload's; cand the one being
	// applied), parts the part each secondary relationship's primary sent
	// last (nil: none yet, the file's subnets serve).
	dh    *dhcpPart
	file  *config.DHCPConfig
	cand  *config.DHCPConfig
	parts map[string]*config.DHCPConfig
}

// relationship is one of them: its spec, its pair, its part of the
// database.
type relationship struct {
	spec *config.FailoverSpec
	p    *pair.Pair
	view *relView
	hash atomic.Pointer[string] // hex: its part of the section in force
}

// newRelSet builds one pair per relationship of b (nil, nil for a config
// without failover.relationships). Each pair's metrics carry the
// relationship's name as a label, and its log lines a relationship field.
func newRelSet(b *config.Built, log *slog.Logger, reg prometheus.Registerer, vr pair.VRRP, clk clock.Clock) (*relSet, error) {
	if len(b.Relationships) == 0 {
		return nil, nil
	}
	if clk == nil {
		clk = clock.Wall()
	}
	s := &relSet{log: log, clk: clk, parts: map[string]*config.DHCPConfig{}}
	for _, spec := range b.Relationships {
		one := *b
		one.Failover, one.Relationships = spec, nil
		l := log.With("relationship", spec.Name)
		r := prometheus.WrapRegistererWith(prometheus.Labels{"relationship": spec.Name}, reg)
		p, err := pair.New(&one, l, r, vr, clk)
		if err != nil {
			return nil, fmt.Errorf("failover.relationships %s: %w", spec.Name, err)
		}
		rel := &relationship{spec: spec, p: p}
		h := fmt.Sprintf("%x", spec.SectionHash)
		rel.hash.Store(&h)
		s.rels = append(s.rels, rel)
	}
	return s, nil
}

// of is the relationship of addr; nil: served by this box alone.
func (s *relSet) of(addr netip.Addr) *relationship {
	for _, r := range s.rels {
		if r.spec.Covers(addr) {
			return r
		}
	}
	return nil
}

// attach is newDHCP's wrap: every pair gets its view of the opened
// database, and the engine the commit path that feeds them.
func (s *relSet) attach(db *lease.DB) dhcpd.LeaseDB {
	s.db = db
	for _, r := range s.rels {
		r.p.Attach(db)
		r.view = &relView{db: db, spec: r.spec}
		r.p.SetView(r.view)
	}
	return &relDB{DB: db, set: s}
}

// gate is the engine's gate: per subnet, its relationship's.
func (s *relSet) gate() dhcpd.Gate {
	g := &relGate{set: s, gates: make([]dhcpd.Gate, len(s.rels))}
	for i, r := range s.rels {
		g.gates[i] = r.p.Gate()
	}
	return g
}

// start completes each pair (pair.Start) over the DHCP part dh, whose
// section in force (the file's file, with the parts kept from the
// primaries) dh was built with; each primary sends its part.
func (s *relSet) start(dh *dhcpPart, file *config.DHCPConfig, rep lease.OpenReport) error {
	s.dh, s.file = dh, file
	dh.mu.Lock()
	inForce := dh.section
	dh.mu.Unlock()
	for _, r := range s.rels {
		if err := r.p.Start(&relSection{set: s, r: r}, rep); err != nil {
			return fmt.Errorf("failover.relationships %s: %w", r.spec.Name, err)
		}
		if r.spec.Machine.Role == failover.Primary {
			if err := r.p.SendConfig(config.RelationshipPart(inForce, r.spec.Subnets)); err != nil {
				return fmt.Errorf("failover.relationships %s: %w", r.spec.Name, err)
			}
		}
	}
	dh.merge, dh.applied = s.merge, s.applied
	return nil
}

// loadParts reads the parts this box's secondary relationships last took
// from their primaries (node.state_dir) and returns b built with them
// (b itself when there is none or they do not build: the file's subnets
// serve until the primaries send).
func loadParts(b *config.Built, log *slog.Logger) (*config.Built, map[string]*config.DHCPConfig) {
	parts := map[string]*config.DHCPConfig{}
	if b.File.DHCP == nil {
		return b, parts
	}
	sec := b.File.DHCP
	for _, spec := range b.Relationships {
		if spec.Machine.Role != failover.Secondary {
			continue
		}
		file := filepath.Join(b.File.Node.StateDir, config.RelationshipSyncedFile(spec.Name))
		data, err := os.ReadFile(file)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				log.Warn("relationship's synced part not read: using the file's subnets", "relationship", spec.Name, "file", file, "err", err)
			}
			continue
		}
		part, err := config.ParseSection(data)
		var merged *config.DHCPConfig
		if err == nil {
			merged, err = config.WithRelationshipPart(sec, spec.Subnets, part)
		}
		if err != nil {
			log.Warn("relationship's synced part not usable: using the file's subnets", "relationship", spec.Name, "file", file, "err", err)
			continue
		}
		sec, parts[spec.Name] = merged, part
		log.Info("using the relationship's subnets last synced from its primary", "relationship", spec.Name, "file", file)
	}
	if len(parts) == 0 {
		return b, parts
	}
	nb, err := b.File.WithSection(sec)
	if err != nil {
		log.Warn("synced parts of the relationships do not build with this box's config: using the file's subnets", "err", err)
		return b, map[string]*config.DHCPConfig{}
	}
	return nb, parts
}

// merge is the DHCP part's: sec (the file's section, or the one in
// force) with each secondary relationship's subnets replaced by its
// primary's part. dh.applyMu held.
func (s *relSet) merge(sec *config.DHCPConfig) (*config.DHCPConfig, error) {
	s.cand = sec
	out := sec
	for _, r := range s.rels {
		part := s.parts[r.spec.Name]
		if part == nil || r.spec.Machine.Role != failover.Secondary {
			continue
		}
		m, err := config.WithRelationshipPart(out, r.spec.Subnets, part)
		if err != nil {
			return nil, fmt.Errorf("relationship %s: %w", r.spec.Name, err)
		}
		out = m
	}
	return out, nil
}

// relSection is a relationship's view of the section in force
// (pair.Section): its hash is its part's, and a section its primary
// sends is its part, merged into the box's section.
type relSection struct {
	set *relSet
	r   *relationship
}

func (x *relSection) ConfigHash() string { return *x.r.hash.Load() }

// Apply (secondary) puts the primary's part in force with the box's other
// keys and subnets; on any error the section in force and the part kept
// stay.
func (x *relSection) Apply(base *config.Config, part *config.DHCPConfig, source string) ([]string, error) {
	s, name := x.set, x.r.spec.Name
	s.dh.applyMu.Lock()
	defer s.dh.applyMu.Unlock()
	old, had := s.parts[name]
	s.parts[name] = part
	changed, err := s.dh.applyLocked(base, s.file, source+" of "+name)
	if err != nil {
		if had {
			s.parts[name] = old
		} else {
			delete(s.parts, name)
		}
	}
	return changed, err
}

// listen opens one listener per failover.listen address where this box
// is a secondary, and gives each such pair its share of it.
func (s *relSet) listen(ctx context.Context, unknown prometheus.Counter) error {
	byAddr := map[netip.AddrPort]*connMux{}
	for _, r := range s.rels {
		if r.spec.Machine.Role != failover.Secondary {
			continue
		}
		m := byAddr[r.spec.Listen]
		if m == nil {
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, "tcp", r.spec.Listen.String())
			if err != nil {
				s.close()
				return fmt.Errorf("failover.relationships %s: failover.listen %s: %w", r.spec.Name, r.spec.Listen, err)
			}
			m = newConnMux(ln, s.log.With("listen", r.spec.Listen.String()), unknown, s.clk)
			byAddr[r.spec.Listen] = m
			s.muxs = append(s.muxs, m)
		}
		r.p.SetListener(m.route(r.spec.Peer.Addr()))
	}
	return nil
}

// close closes the listeners (a start that fails after listen).
func (s *relSet) close() {
	if s == nil {
		return
	}
	for _, m := range s.muxs {
		m.ln.Close()
	}
}

// applied takes a section put in force after the start (a reload, or a
// primary's part; the relationships are those of the start: the same
// prefixes, in order): each relationship's hash, and each primary whose
// part changed sends it. dh.applyMu held.
func (s *relSet) applied(b *config.Built) {
	s.file = s.cand
	for i, r := range s.rels {
		if i >= len(b.Relationships) {
			return
		}
		h := b.Relationships[i].SectionHash
		hx := fmt.Sprintf("%x", h)
		if *r.hash.Load() == hx {
			continue
		}
		r.hash.Store(&hx)
		if err := r.p.SetSectionHash(h); err != nil {
			s.log.Error("relationship's config hash not updated", "relationship", r.spec.Name, "err", err)
			continue
		}
		s.log.Info("relationship's part of the dhcp section changed", "relationship", r.spec.Name, "hash", hx)
		if r.spec.Machine.Role == failover.Primary {
			if err := r.p.SendConfig(config.RelationshipPart(b.File.DHCP, r.spec.Subnets)); err != nil {
				s.log.Error("relationship's part not sent to the secondary", "relationship", r.spec.Name, "err", err)
			}
		}
	}
}

// maxResponseDelay is the longest a commit may wait for a partner.
func (s *relSet) maxResponseDelay() time.Duration {
	var d time.Duration
	for _, r := range s.rels {
		d = max(d, r.p.MaxResponseDelay())
	}
	return d
}

// status is every relationship's line of `hadhcpd status`.
func (s *relSet) status() []control.RelationshipStatus {
	out := make([]control.RelationshipStatus, 0, len(s.rels))
	for _, r := range s.rels {
		rs := control.RelationshipStatus{Name: r.spec.Name, VRRPInstance: r.spec.VRRPInstance, FailoverStatus: *r.p.Status()}
		for _, p := range r.spec.Subnets {
			rs.Subnets = append(rs.Subnets, p.String())
		}
		out = append(out, rs)
	}
	return out
}

// poolRelationship names the relationship of a pool (by its first
// address; a pool lies inside one subnet, a subnet inside one
// relationship), "" for a pool served alone.
func (s *relSet) poolRelationship(name string) string {
	if s == nil {
		return ""
	}
	if a, ok := poolFirst(name); ok {
		if r := s.of(a); r != nil {
			return r.spec.Name
		}
	}
	return ""
}

// poolFirst is the first address of a pool by its name, which config
// makes "FIRST-LAST" (lease.Pool.Name).
func poolFirst(name string) (netip.Addr, bool) {
	first, _, ok := strings.Cut(name, "-")
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(first)
	return a, err == nil
}

// relGate is dhcpd.SubnetGate over the relationships' gates.
type relGate struct {
	set   *relSet
	gates []dhcpd.Gate // the pairs' gates, in set.rels order
}

var _ dhcpd.SubnetGate = (*relGate)(nil)

func (g *relGate) gateOf(a netip.Addr) dhcpd.Gate {
	for i, r := range g.set.rels {
		if r.spec.Covers(a) {
			return g.gates[i]
		}
	}
	return dhcpd.SingleServer{}
}

// For is the gate of the subnet's relationship: a subnet lies inside one
// relationship's prefix or outside all of them (config checks it), so
// its network address decides.
func (g *relGate) For(subnet netip.Prefix) dhcpd.Gate { return g.gateOf(subnet.Addr()) }

// Serve is asked per subnet (For); the engine never asks the whole box.
// Were it to, nobody would be served: the safe side.
func (g *relGate) Serve(dhcpd.Client) bool { return false }

// AllocateFrom and AllocateFromAll span every subnet: the engine uses
// them only to size the pools' offer limits, so they name every state
// some relationship may allocate from.
func (g *relGate) AllocateFrom() (lease.State, bool) { return lease.StateFree, true }

func (g *relGate) AllocateFromAll() []lease.State {
	return []lease.State{lease.StateFree, lease.StateBackup}
}

// LeaseTime is the MCLT rule of the lease's relationship.
func (g *relGate) LeaseTime(l lease.Lease, want time.Duration, now time.Time) dhcpd.Grant {
	return g.gateOf(l.Addr).LeaseTime(l, want, now)
}

// relDB is the engine's lease database of a box in several
// relationships: one local commit, then each record to the partner of
// its address's relationship; Commit returns once every partner
// concerned applied its records durably (invariant 2), or is
// unreachable (the records durable here, queued for it).
type relDB struct {
	*lease.DB
	set *relSet
}

func (d *relDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	var in []*relationship
	for i := range ls {
		if r := d.set.of(ls[i].Addr); r != nil && !containsRel(in, r) {
			in = append(in, r)
		}
	}
	if len(in) == 0 {
		return d.DB.Commit(ls...) // subnets served alone: nothing to replicate
	}
	in = d.set.inOrder(in)
	lockAll(in)
	recs, err := d.DB.CommitRecords(ls...)
	if len(recs) == 0 {
		unlockAll(in)
		return nil, err
	}
	// Records of a failed journal write are written at its retry: their
	// partners get them too, and the engine the failure (no ACK).
	waits := d.set.queue(recs)
	unlockAll(in)
	if err != nil {
		return nil, err
	}
	for _, w := range waits {
		w()
	}
	return lease.Leases(recs), nil
}

// Expire's records (ACTIVE -> EXPIRED) go to their partners too; any
// relationship may have some, so every stream's order is held.
func (d *relDB) Expire(now time.Time, max int) ([]lease.Lease, error) {
	lockAll(d.set.rels)
	recs, err := d.DB.ExpireRecords(now, max)
	waits := d.set.queue(recs)
	unlockAll(d.set.rels)
	for _, w := range waits {
		w()
	}
	return lease.Leases(recs), err
}

// queue hands each relationship its records (their order locks held)
// and returns the waits.
func (s *relSet) queue(recs []lease.Record) []func() bool {
	if len(recs) == 0 {
		return nil
	}
	groups := make([][]lease.Record, len(s.rels))
	for _, rec := range recs {
		a := rec.Lease().Addr
		for i, r := range s.rels {
			if r.spec.Covers(a) {
				groups[i] = append(groups[i], rec)
				break
			}
		}
	}
	var waits []func() bool
	for i, g := range groups {
		if len(g) > 0 {
			waits = append(waits, s.rels[i].p.Queue(g))
		}
	}
	return waits
}

// inOrder sorts rs into set order: order locks are always taken in it.
func (s *relSet) inOrder(rs []*relationship) []*relationship {
	out := make([]*relationship, 0, len(rs))
	for _, r := range s.rels {
		if containsRel(rs, r) {
			out = append(out, r)
		}
	}
	return out
}

func containsRel(rs []*relationship, r *relationship) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func lockAll(rs []*relationship) {
	for _, r := range rs {
		r.p.LockOrder()
	}
}

func unlockAll(rs []*relationship) {
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].p.UnlockOrder()
	}
}

// relView is one relationship's part of the database (pair.View): the
// leases of its subnets. Sequence numbers are the database's, one
// counter for the box; a relationship's stream carries the records of
// its own addresses, so its LastSeq and PartnerSeq are the highest
// sequence numbers of those, ours and the partner's: the database's
// sequence group of the relationship (relSeqGroup), counted over every
// record written or applied, also one a later record replaced, and kept
// across restarts and compactions as lease.DB keeps its own LastSeq and
// PartnerSeq. Counted from the leases held instead, a record of ours the
// partner replaced would be missing after a restart: our LastSeq below
// what the partner acknowledged, which reads as a journal that lost
// records (RECOVER-WAIT for one MCLT).
type relView struct {
	db   *lease.DB
	spec *config.FailoverSpec
}

var _ pair.View = (*relView)(nil)

func (v *relView) LastSeq() uint64 {
	own, _ := v.db.GroupSeqs(v.spec.Name)
	return own
}

func (v *relView) PartnerSeq() uint64 {
	_, peer := v.db.GroupSeqs(v.spec.Name)
	return peer
}

// relSeqGroup is the database's sequence grouping (lease.Options.SeqGroup)
// of a box in the relationships specs: each relationship's addresses are
// the group of its name.
func relSeqGroup(specs []*config.FailoverSpec) func(netip.Addr) string {
	if len(specs) == 0 {
		return nil
	}
	return func(a netip.Addr) string {
		for _, s := range specs {
			if s.Covers(a) {
				return s.Name
			}
		}
		return ""
	}
}

// leaseOptions are the lease database's options for the box b: its
// state directory and, in several relationships, their sequence groups.
func leaseOptions(b *config.Built, clk lease.Clock, log *slog.Logger) lease.Options {
	return lease.Options{Dir: b.File.Node.StateDir, Clock: clk, Logger: log, SeqGroup: relSeqGroup(b.Relationships)}
}

func (v *relView) Get(a netip.Addr) (lease.Lease, bool) {
	if !v.spec.Covers(a) {
		return lease.Lease{}, false
	}
	return v.db.Get(a)
}

func (v *relView) Range(fn func(lease.Lease) bool) {
	v.db.Range(func(l lease.Lease) bool {
		if !v.spec.Covers(l.Addr) {
			return true
		}
		return fn(l)
	})
}

// errOutside: the partner sent a record of an address outside the
// relationship; the link closes the session.
var errOutside = fmt.Errorf("%w: a record outside the relationship's subnets", lease.ErrInvalid)

// Apply stores the partner's records: only of the relationship's
// addresses (nothing is stored when one is outside). A record of ours
// coming back (a resync after our disk was replaced: Peer from the
// partner's side) counts as ours in the relationship's group, as
// lease.DB counts it apart from the partner's.
func (v *relView) Apply(ls ...lease.Lease) error {
	for i := range ls {
		if !v.spec.Covers(ls[i].Addr) {
			return fmt.Errorf("%w: %s is not in relationship %s", errOutside, ls[i].Addr, v.spec.Name)
		}
	}
	return v.db.Apply(ls...)
}

// Stats are the pools of the relationship's subnets.
func (v *relView) Stats() []lease.PoolStats {
	var out []lease.PoolStats
	for _, st := range v.db.Stats() {
		if a, ok := poolFirst(st.Name); ok && v.spec.Covers(a) {
			out = append(out, st)
		}
	}
	return out
}

// relOperator answers the operator's commands for a box in several
// relationships. Maintenance is the box's: every relationship hands over
// (or takes back) at once, each as a lone pair's would, and the result
// names each. partner-down is one relationship's: the operator names it,
// and a request without a name (or with an unknown one) is refused with
// the names, rather than applied to a relationship the operator did not
// mean (the other partners may well be alive: invariant 1 per
// relationship).
type relOperator struct{ set *relSet }

func (o relOperator) Maintenance(ctx context.Context, start bool) (control.OperatorResult, error) {
	type res struct {
		r   control.OperatorResult
		err error
	}
	out := make([]res, len(o.set.rels))
	var wg sync.WaitGroup
	for i, r := range o.set.rels {
		wg.Go(func() {
			out[i].r, out[i].err = r.p.Maintenance(ctx, start)
		})
	}
	wg.Wait()
	// Applied when every relationship applied it; a relationship that
	// refused (its partner cannot take over) is named in Refused, and the
	// others keep what they did: each is as safe alone as a lone pair.
	all := control.OperatorResult{Applied: true, Maintenance: true, Fit: true}
	var states, msgs, refused []string
	for i, x := range out {
		name := o.set.rels[i].spec.Name
		if x.err != nil {
			all.Applied, all.Maintenance = false, false
			refused = append(refused, name+": "+x.err.Error())
			continue
		}
		all.Command = x.r.Command
		all.Applied = all.Applied && x.r.Applied
		all.Maintenance = all.Maintenance && x.r.Maintenance
		all.Fit = all.Fit && x.r.Fit
		states = append(states, name+"="+x.r.State)
		msgs = append(msgs, name+": "+x.r.Message)
		if x.r.Refused != "" {
			refused = append(refused, name+": "+x.r.Refused)
		}
	}
	all.State, all.Message, all.Refused = strings.Join(states, " "), strings.Join(msgs, "; "), strings.Join(refused, "; ")
	return all, nil
}

// PartnerDown declares the partner of the relationship named down, as a
// lone pair's partner-down; the result's message starts with the name.
func (o relOperator) PartnerDown(ctx context.Context, name string) (control.OperatorResult, error) {
	var r *relationship
	for _, x := range o.set.rels {
		if x.spec.Name == name {
			r = x
		}
	}
	if r == nil {
		if name == "" {
			return control.OperatorResult{Command: "partner-down"}, fmt.Errorf("%w; name one of: %s", control.ErrNoRelationship, control.PartnerNames(o.set.partners()))
		}
		return control.OperatorResult{Command: "partner-down"}, fmt.Errorf("relationship %q: no such failover relationship on this box; one of: %s", name, control.PartnerNames(o.set.partners()))
	}
	res, err := r.p.PartnerDown(ctx)
	if res.Message != "" {
		res.Message = name + ": " + res.Message
	}
	return res, err
}

// partners are the relationships with their partners' addresses, in
// order (what partner-down's confirmation names).
func (s *relSet) partners() []control.Partner {
	out := make([]control.Partner, len(s.rels))
	for i, r := range s.rels {
		out[i] = control.Partner{Relationship: r.spec.Name, Addr: r.spec.Peer.Addr().Unmap().String()}
	}
	return out
}

// pairOperator is the operator of a single failover: section's pair,
// which has no relationship to name.
type pairOperator struct{ *pair.Pair }

var _ control.Operator = pairOperator{}

func (o pairOperator) PartnerDown(ctx context.Context, name string) (control.OperatorResult, error) {
	if name != "" {
		return control.OperatorResult{Command: "partner-down"}, fmt.Errorf("relationship %q: this box has a single failover: section (no failover.relationships): leave the relationship out", name)
	}
	return o.Pair.PartnerDown(ctx)
}
