package peer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// Store is what the link needs from the lease database (lease.DB with a
// thin adapter, see Apply).
type Store interface {
	// LastSeq is the highest sequence number of our own stream.
	LastSeq() uint64
	// PartnerSeq is the highest of the partner's sequence numbers we
	// hold (reported to the partner as its PartnerAckedSeq).
	PartnerSeq() uint64
	// Get returns the lease of an address.
	Get(addr netip.Addr) (lease.Lease, bool)
	// Range calls fn for every lease until fn returns false.
	Range(fn func(lease.Lease) bool)
	// Apply stores the partner's records, converted by
	// Options.FromPartner, durably and in order: when it returns nil all
	// are on stable storage; after a crash, what is stored is a prefix of
	// them. Seq and Peer are as the partner wrote them (see
	// lease.DB.Apply, which flips Peer).
	Apply(ls ...lease.Lease) error
}

// Errors callers branch on.
var (
	// ErrPartnerUnreachable: the link is down or was marked unreachable;
	// the caller serves under COMMUNICATIONS-INTERRUPTED rules. The
	// records stay queued and are sent when the link is back.
	ErrPartnerUnreachable = errors.New("peer: partner unreachable")
	// ErrInvalidRecord: a record given to Replicate is the zero Record
	// or a partner's record (Peer set).
	ErrInvalidRecord = errors.New("peer: invalid record")
	// ErrNotPrimary: only the primary sends its configuration.
	ErrNotPrimary = errors.New("peer: only the primary sends its configuration")
	// ErrOptions wraps every New error.
	ErrOptions = errors.New("peer: invalid options")
	// ErrProtocol: the partner broke the protocol; the session is closed.
	ErrProtocol = errors.New("peer: protocol error")
	// ErrParams: the partner's pair parameters were refused
	// (Options.CheckParams); the session is closed.
	ErrParams = errors.New("peer: pair parameters refused")
	// ErrTimeout: nothing heard from the partner for max_response_delay.
	ErrTimeout = errors.New("peer: no frame from partner within max_response_delay")
	// ErrReplaced: a newer authenticated session took over.
	ErrReplaced = errors.New("peer: replaced by a newer session")
	// ErrClosed: the link was stopped.
	ErrClosed = errors.New("peer: link closed")
	errMarked = errors.New("peer: partner marked unreachable")
)

// Options configure New. The agent fills them from failover: and node:.
type Options struct {
	Name string // node.name; must differ from the partner's
	Role Role
	// Listen (failover.listen) is where the secondary accepts; the
	// primary dials from its host address, so the link runs between the
	// boxes' own addresses.
	Listen string
	// Peer (failover.peer) is what the primary dials.
	Peer string
	// Exactly one of PSK (LoadPSK) and TLS (LoadTLS).
	PSK []byte
	TLS *tls.Config

	MaxResponseDelay time.Duration // failover.max_response_delay
	MaxUnacked       int           // failover.max_unacked_updates: the window
	// Retain is how many records of our stream are kept in memory for a
	// resume (acknowledged ones included); 0 = max(4*MaxUnacked, 4096).
	Retain int
	// PageSize is the number of leases per snapshot page; 0 = 500
	// (about 40 KiB).
	PageSize int
	// Epoch identifies our stream; 0 = random. It must change whenever
	// the numbering of our records may repeat (see doc.go "Epochs").
	Epoch uint64
	// ConfigHash is a hash of our dhcp: section, reported in the handshake.
	ConfigHash []byte
	// Params are the parameters the pair must agree on (failover.Agreed,
	// encoded; at most 255 bytes), sent in the handshake. CheckParams,
	// when set, gets the partner's: an error refuses the link (both
	// sides check, so both refuse and log why). The agent connects them
	// to sync/failover, which this package does not import.
	Params      []byte
	CheckParams func(partner []byte) error

	Store   Store
	Clock   clock.Clock  // nil = clock.Wall()
	Logger  *slog.Logger // nil = discard
	Metrics *Metrics     // nil = unregistered collectors
	// OnEvent receives link events in order, from the link's goroutines;
	// it must not block (hand them to a channel) nor call the Link.
	OnEvent func(Event)
	// OnConfig (secondary) gets the primary's dhcp: section; its error
	// is the rejection reason sent back. nil rejects every config.
	OnConfig func(hash, config []byte) error
	// OnDefaults gets the global defaults a partner sends (FrameDefaults,
	// defaults.go), from the session's reader goroutine, which holds no
	// lock then (it may call SendDefaults, on this link too); nil ignores
	// them. The next frame is read when it returns.
	OnDefaults func(Defaults)
	// FromPartner turns each record the partner sends into our view
	// before it is stored (doc.go "Records and clocks"): in is the
	// record as the partner wrote it, held our lease for the address (the
	// zero Lease when we hold none), sent the partner's clock in the
	// frame and received ours when the frame arrived. The agent passes
	// failover.FromPartner, which owns that arithmetic (this package
	// does not import sync/failover: the agent connects them). Required.
	FromPartner func(in, held lease.Lease, sent, received time.Time) lease.Lease
}

// Link is this node's end of the sync link. Its methods are safe for
// concurrent use.
type Link struct {
	opts    Options
	clock   clock.Clock
	lg      *slog.Logger
	m       *Metrics
	epoch   uint64
	retain  int
	refused *RefusalLog
	admit   *admission // Serve's limits on unauthenticated connections
	// nudge is the session reader's deadline while an ack is owed
	// (nudge.go); 0 leaves it to the runtime's poller (benchmarks).
	nudge time.Duration

	evMu sync.Mutex // serialises OnEvent; never held with mu

	// mu guards everything below. Do not call the Store, OnEvent or
	// OnConfig while holding it.
	mu          sync.Mutex
	cur         *session // nil while down
	unreachable bool
	closed      bool
	// Our stream. log holds records in send order: [0,acked) are
	// acknowledged (kept for resume), [acked,sent) are in flight in the
	// current session, [sent,len) are queued. prevSeq is the sequence of
	// the last record trimmed from the front (the position before log[0]).
	log     []*entry
	acked   int
	sent    int
	prevSeq uint64
	// The partner's stream: its epoch, our position in it, and whether we
	// hold it completely (a snapshot or resume finished).
	inEpoch    uint64
	inPos      uint64
	inComplete bool
	// Our announced failover state and our config (primary).
	state    uint8
	maint    bool
	cfgHash  []byte
	cfgData  []byte
	cfgIsSet bool
	// hash is the hash of the dhcp: section in force here, announced in
	// every handshake (Options.ConfigHash at first; SetConfigHash and
	// SendConfig keep it current across reloads and applied syncs).
	hash []byte
	// params are our pair parameters, announced in every handshake
	// (Options.Params at first; SendParams after a reload).
	params []byte
	// defaults is the FrameDefaults payload sent on every connect
	// (SendDefaults); nil: none.
	defaults []byte
}

type entry struct {
	seq     uint64
	payload []byte
	c       *call
	sentAt  time.Time // when the current session's writer took it (liveness)
}

// call is one Replicate call waiting for its records' acks.
type call struct {
	remaining int
	finished  bool // guarded by Link.mu
	err       error
	done      chan struct{}
}

// finish completes the call once. Link.mu held.
func (c *call) finish(err error) {
	if c.finished {
		return
	}
	c.finished = true
	c.err = err
	close(c.done)
}

// New checks the options and returns a link; Run starts it.
func New(opts Options) (*Link, error) {
	var errs []error
	if opts.Name == "" || len(opts.Name) > 255 {
		errs = append(errs, fmt.Errorf("%w: node name must be 1..255 bytes", ErrOptions))
	}
	if opts.Role != Primary && opts.Role != Secondary {
		errs = append(errs, fmt.Errorf("%w: role %d", ErrOptions, opts.Role))
	}
	if (opts.PSK == nil) == (opts.TLS == nil) {
		errs = append(errs, fmt.Errorf("%w: exactly one of PSK and TLS must be set", ErrOptions))
	}
	if opts.FromPartner == nil {
		errs = append(errs, fmt.Errorf("%w: FromPartner must be set (failover.FromPartner)", ErrOptions))
	}
	if opts.PSK != nil && len(opts.PSK) < MinPSKLen {
		errs = append(errs, fmt.Errorf("%w: PSK of %d bytes, need %d", ErrOptions, len(opts.PSK), MinPSKLen))
	}
	if opts.MaxResponseDelay <= 0 {
		errs = append(errs, fmt.Errorf("%w: max_response_delay must be positive", ErrOptions))
	}
	if opts.MaxUnacked <= 0 {
		errs = append(errs, fmt.Errorf("%w: max_unacked_updates must be positive", ErrOptions))
	}
	if opts.Store == nil {
		errs = append(errs, fmt.Errorf("%w: no store", ErrOptions))
	}
	if len(opts.ConfigHash) > maxHash {
		errs = append(errs, fmt.Errorf("%w: config hash longer than %d bytes", ErrOptions, maxHash))
	}
	if len(opts.Params) > maxParams {
		errs = append(errs, fmt.Errorf("%w: params longer than %d bytes", ErrOptions, maxParams))
	}
	if opts.PageSize < 0 || opts.Retain < 0 {
		errs = append(errs, fmt.Errorf("%w: negative page size or retain", ErrOptions))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l := &Link{opts: opts, clock: opts.Clock, lg: opts.Logger, m: opts.Metrics, epoch: opts.Epoch, retain: opts.Retain,
		hash: append([]byte(nil), opts.ConfigHash...), params: append([]byte(nil), opts.Params...), nudge: nudgeEvery}
	if l.clock == nil {
		l.clock = clock.Wall()
	}
	if l.lg == nil {
		l.lg = slog.New(slog.DiscardHandler)
	}
	if l.m == nil {
		l.m, _ = NewMetrics(nil)
	}
	if l.retain == 0 {
		l.retain = max(4*opts.MaxUnacked, 4096)
	}
	if l.opts.PageSize == 0 {
		l.opts.PageSize = 500
	}
	for l.epoch == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("peer: epoch: %w", err)
		}
		l.epoch = binary.BigEndian.Uint64(b[:])
	}
	l.refused = NewRefusalLog(l.clock)
	l.admit = newAdmission(maxPendingPerSource, maxPending, hostIP(opts.Peer))
	return l, nil
}

// Epoch is our stream's epoch.
func (l *Link) Epoch() uint64 { return l.epoch }

// Replicate queues records of our own stream (as lease.DB.CommitRecords
// returned them) and returns once the partner has applied every one
// durably. It returns ErrPartnerUnreachable at once while the link is down
// or marked unreachable, and when the link goes down or is marked
// unreachable while it waits; the records stay queued for the partner
// either way. Concurrent calls share frames.
func (l *Link) Replicate(ctx context.Context, rs ...lease.Record) error {
	return l.Send(rs...)(ctx)
}

// Send is the first half of Replicate: it queues the records and returns
// at once with the wait for the partner's durable apply (the second half,
// to call exactly once). A caller that numbers records under a lock of
// its own (the agent: lease.DB.CommitRecords, then Send) holds that lock
// across both, so records enter the stream in sequence order, and waits
// after releasing it: the next group commit then runs while this one's
// records are on their way (pipelining; the window is
// max_unacked_updates). Each record's payload goes on the wire as it is:
// the lease package made it, so it is not decoded again here.
func (l *Link) Send(rs ...lease.Record) (wait func(context.Context) error) {
	if len(rs) == 0 {
		return func(context.Context) error { return nil }
	}
	es := make([]*entry, len(rs))
	for i := range rs {
		p, ls := rs[i].Payload(), rs[i].Lease()
		if p == nil {
			err := fmt.Errorf("%w: record %d has no payload", ErrInvalidRecord, i)
			return func(context.Context) error { return err }
		}
		if ls.Peer {
			err := fmt.Errorf("%w: %v is the partner's record (seq %d)", ErrInvalidRecord, ls.Addr, ls.Seq)
			return func(context.Context) error { return err }
		}
		es[i] = &entry{seq: ls.Seq, payload: p}
	}
	c := &call{remaining: len(es), done: make(chan struct{})}
	t0 := time.Now() // a metric's duration: monotonic, not the link's clock
	l.mu.Lock()
	down := l.cur == nil || l.unreachable || l.closed
	for _, e := range es {
		if !down {
			e.c = c
		}
		l.insertLocked(e)
	}
	l.trimLocked()
	cur := l.cur
	l.m.Unacked.Set(float64(len(l.log) - l.acked))
	l.mu.Unlock()
	if down {
		l.m.ReplicateErr.WithLabelValues("unreachable").Inc()
		return func(context.Context) error { return ErrPartnerUnreachable }
	}
	cur.wakeWriter()
	return func(ctx context.Context) error {
		select {
		case <-c.done:
			if c.err != nil {
				l.m.ReplicateErr.WithLabelValues("unreachable").Inc()
			} else {
				l.m.AckSeconds.Observe(time.Since(t0).Seconds())
			}
			return c.err
		case <-ctx.Done():
			l.m.ReplicateErr.WithLabelValues("canceled").Inc()
			return ctx.Err()
		}
	}
}

// insertLocked appends e, keeping the queued (unsent) tail in sequence
// order so that concurrent callers' records leave in the order the
// database numbered them.
func (l *Link) insertLocked(e *entry) {
	i := len(l.log)
	l.log = append(l.log, e)
	for i > l.sent && l.log[i-1].seq > e.seq {
		l.log[i] = l.log[i-1]
		i--
	}
	l.log[i] = e
}

// trimLocked drops the oldest records beyond Retain: acknowledged ones
// first; queued ones only while the link is down (their callers have
// already been told ErrPartnerUnreachable), which forces a snapshot later.
func (l *Link) trimLocked() {
	n := len(l.log) - l.retain
	if n <= 0 {
		return
	}
	if l.cur != nil {
		n = min(n, l.acked)
	}
	if n <= 0 {
		return
	}
	for _, e := range l.log[:n] {
		if e.c != nil {
			e.c.finish(ErrPartnerUnreachable)
		}
	}
	l.prevSeq = l.log[n-1].seq
	l.log = append(l.log[:0:0], l.log[n:]...)
	l.acked = max(0, l.acked-n)
	l.sent = max(0, l.sent-n)
	if l.cur != nil {
		l.cur.syncTarget = max(0, l.cur.syncTarget-n)
	}
}

// MarkUnreachable is called by the agent when VRRP says the partner is
// gone: every waiting and future Replicate fails with
// ErrPartnerUnreachable at once, and the current session (if any) is
// closed, until a new session is established.
func (l *Link) MarkUnreachable() {
	l.mu.Lock()
	l.unreachable = true
	l.failCallsLocked()
	cur := l.cur
	l.mu.Unlock()
	if cur != nil {
		cur.close(errMarked)
	}
}

// PartnerSilent is called by the agent when the VRRP path says the
// partner stopped advertising (a master-down takeover). If the sync link
// is quiet too (no frame for quietBound, two heartbeat intervals), the
// partner is gone: it acts as MarkUnreachable, so no commit of the
// takeover waits for it, and returns true. Otherwise the link is
// demonstrably alive (a VRRP-only partition) and stays up, and it returns
// false; the session is marked suspect, so from then on commits wait at
// most quietBound of silence for the partner's ack instead of ackBound.
func (l *Link) PartnerSilent() bool {
	now := l.clock.Now()
	mrd := l.opts.MaxResponseDelay
	l.mu.Lock()
	cur := l.cur
	if cur != nil && cur.established && !cur.livenessLocked().quietNow(now, mrd) {
		cur.suspect = true
		// Check again the moment the link would have been quiet long
		// enough, not at the watchdog's next tick: a box lost just after
		// a heartbeat leaves the link short of quietBound at the takeover,
		// and every commit of the takeover waits for this verdict.
		wait := cur.livenessLocked().quietIn(now, mrd)
		l.mu.Unlock()
		go cur.recheckSilent(wait)
		return false
	}
	l.unreachable = true
	l.failCallsLocked()
	l.mu.Unlock()
	if cur != nil {
		cur.close(ErrSilentBoth)
	}
	return true
}

// PartnerAbsent is called by the agent when its LAN witness found the
// partner silent on every served link it could probe (no ARP answer),
// asked after a Quiet event; since is when it began to ask. If the link
// has heard nothing from the partner since then either (and is quiet),
// the partner is gone on both paths: it acts as MarkUnreachable, so no
// commit waits for the partner's ack, closes the session with
// ErrAbsentBoth and returns true. A frame heard meanwhile, or a session
// newer than the question, wins: nothing changes and it returns false.
// Unlike PartnerSilent it never marks a live session suspect: the VRRP
// path said nothing.
func (l *Link) PartnerAbsent(since time.Time) bool {
	now := l.clock.Now()
	l.mu.Lock()
	cur := l.cur
	if cur == nil || !cur.established {
		l.mu.Unlock()
		return false
	}
	lv := cur.livenessLocked()
	if q, ok := lv.quietSince(); !ok || q.After(since) || !lv.quietNow(now, l.opts.MaxResponseDelay) {
		l.mu.Unlock()
		return false
	}
	l.unreachable = true
	l.failCallsLocked()
	l.mu.Unlock()
	cur.close(ErrAbsentBoth)
	return true
}

// Quiet reports whether the link is up but has heard nothing from the
// partner for two heartbeat intervals while our reader could hear it
// (quietBound: 250 ms at the default max_response_delay). A live partner
// heartbeats every interval, so a quiet link is a partner that may be
// gone; the link itself stays up until its verdict (Link's watchdog).
// A load-balancing pair answers every client meanwhile.
func (l *Link) Quiet() bool {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.cur
	return cur != nil && cur.established && cur.livenessLocked().quietNow(now, l.opts.MaxResponseDelay)
}

// PartnerHeard is called when the VRRP path hears the partner again: the
// current session is no longer suspect.
func (l *Link) PartnerHeard() {
	l.mu.Lock()
	if l.cur != nil {
		l.cur.suspect = false
	}
	l.mu.Unlock()
}

func (l *Link) failCallsLocked() {
	for _, e := range l.log[l.acked:] {
		if e.c != nil {
			e.c.finish(ErrPartnerUnreachable)
			e.c = nil
		}
	}
}

// SetState sets the failover state we announce (a failover.State value)
// and sends it at once when the link is up.
func (l *Link) SetState(state uint8, maintenance bool) {
	l.mu.Lock()
	l.state, l.maint = state, maintenance
	cur := l.cur
	if cur != nil && cur.established {
		cur.queueLocked(FrameState, marshalState(state, maintenance))
	}
	l.mu.Unlock()
}

// SendConfig (primary) sets the dhcp: section sent to the secondary on
// every connect, and sends it now when the link is up. The verdict comes
// back as a ConfigVerdict event.
func (l *Link) SendConfig(hash, config []byte) error {
	if l.opts.Role != Primary {
		return ErrNotPrimary
	}
	if len(hash) > maxHash || len(config)+1+len(hash) > maxConfigLen {
		return fmt.Errorf("%w: config of %d bytes or hash of %d bytes is too large", ErrOptions, len(config), len(hash))
	}
	l.mu.Lock()
	l.cfgHash, l.cfgData, l.cfgIsSet = append([]byte(nil), hash...), append([]byte(nil), config...), true
	l.hash = l.cfgHash
	cur := l.cur
	if cur != nil && cur.established {
		cur.queueLocked(FrameConfig, (&configMsg{Hash: l.cfgHash, Config: l.cfgData}).marshal())
	}
	l.mu.Unlock()
	return nil
}

// SendParams (primary) puts new pair parameters in force for the link:
// the next handshakes carry them, and a session up now gets them at once
// in a FrameParams, which the secondary checks and takes
// (Options.CheckParams); a secondary that refuses them ends the session,
// and the next handshake refuses the link with its reason.
func (l *Link) SendParams(params []byte) error {
	if l.opts.Role != Primary {
		return ErrNotPrimary
	}
	if len(params) > maxParams {
		return fmt.Errorf("%w: params of %d bytes is too large", ErrOptions, len(params))
	}
	l.mu.Lock()
	l.params = append([]byte(nil), params...)
	if cur := l.cur; cur != nil && cur.established {
		cur.queueLocked(FrameParams, l.params)
	}
	l.mu.Unlock()
	return nil
}

// SetConfigHash sets the hash of the dhcp: section now in force, which the
// next handshake announces (a secondary calls it after applying a section
// from the primary; SendConfig does it for the primary).
func (l *Link) SetConfigHash(hash []byte) error {
	if len(hash) > maxHash {
		return fmt.Errorf("%w: config hash of %d bytes is too large", ErrOptions, len(hash))
	}
	l.mu.Lock()
	l.hash = append([]byte(nil), hash...)
	l.mu.Unlock()
	return nil
}

// Unacked is the replication lag: updates sent or queued that the partner
// has not acknowledged yet.
func (l *Link) Unacked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.log) - l.acked
}

// Up reports whether a session is established.
func (l *Link) Up() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur != nil && l.cur.established
}
