package dhcpd

import (
	"hash/maphash"
	"math"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Limits bound what one source may ask of the engine and what clients
// without a binding may hold in offers. Without them, DISCOVERs from random
// hardware addresses (DHCP starvation) hold a whole pool in offers for
// OfferHold, and one client in a retransmission loop keeps the engine and
// the lease journal busy. Clients with a binding are charged nothing
// against the offer bounds: a renewal, an INIT-REBOOT or a known client's
// DISCOVER takes no address from the free set, so they are served through
// a storm that has used up the new clients' share.
//
// A zero field takes its default (DefaultLimits); a negative one turns
// that limit off.
type Limits struct {
	// ClientRate is the requests per second one client may send, measured
	// per lease key (client identifier, else chaddr); ClientBurst how many
	// may come at once. A client's own exchanges (RFC 2131 §4.1: DORA,
	// retransmissions after 4, 8, 16 s; renewals at T1 and T2) stay far
	// below; a PXE chain (firmware, boot loader, system) fits the burst.
	ClientRate  float64
	ClientBurst int
	// CircuitRate and CircuitBurst are the same per relay agent and
	// circuit (giaddr and RFC 3046 sub-option 1), for relayed requests
	// that carry a circuit id: one subscriber port.
	CircuitRate  float64
	CircuitBurst int
	// HWOffers bounds the offers to new clients held at once per chaddr
	// (a host cycling client identifiers behind one hardware address).
	HWOffers int
	// CircuitOffers bounds the offers to new clients held at once per
	// relay circuit.
	CircuitOffers int
	// PoolShare is the share of a pool's available addresses (free, or
	// held in offers to new clients) that offers to new clients may hold
	// at once; the rest stays free for clients returning to their
	// expired or released address. At the bound the oldest unrequested
	// offer gives way (evictAge), so a storm's offers churn rather than
	// lock new clients out until they lapse.
	PoolShare float64
}

// DefaultLimits returns the limits an engine applies where
// EngineOptions.Limits leaves a field zero.
func DefaultLimits() Limits {
	return Limits{
		ClientRate: 2, ClientBurst: 16,
		CircuitRate: 20, CircuitBurst: 64,
		HWOffers: 4, CircuitOffers: 16,
		PoolShare: 0.5,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.ClientRate == 0 {
		l.ClientRate = d.ClientRate
	}
	if l.ClientBurst == 0 {
		l.ClientBurst = d.ClientBurst
	}
	if l.CircuitRate == 0 {
		l.CircuitRate = d.CircuitRate
	}
	if l.CircuitBurst == 0 {
		l.CircuitBurst = d.CircuitBurst
	}
	if l.HWOffers == 0 {
		l.HWOffers = d.HWOffers
	}
	if l.CircuitOffers == 0 {
		l.CircuitOffers = d.CircuitOffers
	}
	if l.PoolShare == 0 {
		l.PoolShare = d.PoolShare
	}
	return l
}

// Table sizes (powers of two). The tables are indexed by a seeded hash of
// the source, not keyed by it: constant memory, no allocation and no
// eviction under a storm of new sources. Two sources sharing a slot share
// its limit, which errs on the side of limiting; the seed is per engine so
// nobody outside can aim for a known client's slot. A rate slot is 8
// bytes, a count slot 4.
const (
	clientSlots  = 1 << 15 // 256 KiB: a random-MAC storm drains a slot only above ~65,000 requests/s at the default rate
	circuitSlots = 1 << 12
	hwSlots      = 1 << 12
)

// rateTable is a GCRA (the virtual scheduling form of the leaky bucket,
// ITU-T I.371) per slot: a slot stores the theoretical arrival time of the
// next request; one word and one compare-and-swap per request, no lock.
type rateTable struct {
	tat      []atomic.Int64 // nanoseconds since limiter.epoch
	interval int64          // nanoseconds per request at the sustained rate
	slack    int64          // how far ahead of now a slot may run: (burst-1) intervals
}

// newRateTable returns nil (no limit) for a rate or burst that is not
// positive.
func newRateTable(slots int, rate float64, burst int) *rateTable {
	if rate <= 0 || burst <= 0 {
		return nil
	}
	iv := int64(math.Max(1, float64(time.Second)/rate))
	return &rateTable{tat: make([]atomic.Int64, slots), interval: iv, slack: int64(burst-1) * iv}
}

// allow charges one request to slot h at now and reports whether it is
// within the rate.
func (r *rateTable) allow(h uint64, now int64) bool {
	if r == nil {
		return true
	}
	s := &r.tat[h&uint64(len(r.tat)-1)]
	for {
		old := s.Load()
		t := old
		if t < now || t > now+r.slack+r.interval {
			// Behind now: the slot has refilled. Further ahead than
			// any request can put it: the clock went back (a stepped
			// clock without a monotonic reading); start afresh rather
			// than refuse the slot for the size of the step.
			t = now
		}
		if t-now > r.slack {
			return false
		}
		if s.CompareAndSwap(old, t+r.interval) {
			return true
		}
	}
}

// source is where a request comes from, as the offer bounds count it: a
// slot of the engine's per-chaddr and per-circuit counts, -1 for none.
type source struct {
	hw, circuit int32
}

// poolOffers counts one pool's offers to new clients against its share.
// Engine.mu guards it.
type poolOffers struct {
	offers int
	limit  int // <0: no limit (PoolShare off, or the pool's size not known yet)
	// q holds the pool's charged offers, oldest first (entries whose
	// offer has gone are skipped and trimmed): at the bound, the oldest
	// offer a new client left unrequested gives way to the next one.
	q []*offer
}

// evictAge is how old an unrequested offer must be before a new client's
// DISCOVER may take its place at the pool's bound: a client completing
// its DORA sends REQUEST within milliseconds of the OFFER (RFC 2131
// §4.4.1: it waits for offers, then requests one), so it keeps its offer,
// while a storm's offers, never requested, churn instead of holding the
// pool for offer_hold and locking out new clients after the storm.
const evictAge = time.Second

// limiter is the engine's state for Limits.
type limiter struct {
	lim Limits
	// epoch is what the rate tables measure time from: the engine's
	// clock at start. now.Sub(epoch) uses the monotonic reading that
	// time.Now (and so clock.Wall) carries, which a step of the wall
	// clock (NTP at boot) does not move; rateTable.allow copes with the
	// clocks that do move back.
	epoch       time.Time
	seed        maphash.Seed
	client      *rateTable
	circuit     *rateTable
	hwHeld      []int32                // Engine.mu: offers to new clients by chaddr slot
	circuitHeld []int32                // Engine.mu: offers to new clients by circuit slot
	pools       map[string]*poolOffers // Engine.mu: by pool name
}

func newLimiter(l Limits, epoch time.Time) *limiter {
	l = l.withDefaults()
	return &limiter{
		lim:         l,
		epoch:       epoch,
		seed:        maphash.MakeSeed(),
		client:      newRateTable(clientSlots, l.ClientRate, l.ClientBurst),
		circuit:     newRateTable(circuitSlots, l.CircuitRate, l.CircuitBurst),
		hwHeld:      make([]int32, hwSlots),
		circuitHeld: make([]int32, circuitSlots),
		pools:       map[string]*poolOffers{},
	}
}

// admit applies the per-source rates to a request and returns its source
// for the offer bounds. rai is the relay agent information of a request
// that came through a relay (nil otherwise): only a relay's circuit id
// can be trusted to name a port (RFC 3046 §2.1: a relay on an untrusted
// circuit drops option 82 a client sent).
func (e *Engine) admit(c client, gi netip.Addr, rai *dhcpv4.RelayOptions, now time.Time) (source, error) {
	l := e.lim
	src := source{hw: -1, circuit: -1}
	t := int64(now.Sub(l.epoch))
	if rai != nil {
		if cid := rai.Get(dhcpv4.AgentCircuitIDSubOption); len(cid) > 0 {
			sum := l.circuitHash(gi, cid)
			if !l.circuit.allow(sum, t) {
				return src, ErrCircuitRate
			}
			src.circuit = int32(sum & (circuitSlots - 1))
		}
	}
	if !l.client.allow(maphash.String(l.seed, c.key), t) {
		return src, ErrClientRate
	}
	if hasHW(c.hw) {
		src.hw = int32(maphash.Bytes(l.seed, c.hw) & (hwSlots - 1))
	}
	return src, nil
}

// circuitHash is the hash of a relay agent's circuit: giaddr (which relay)
// and the circuit id (which of its ports; RFC 3046 §3.1).
func (l *limiter) circuitHash(gi netip.Addr, cid []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	g := gi.As4()
	_, _ = h.Write(g[:])
	_, _ = h.Write(cid)
	return h.Sum64()
}

// hasHW reports whether hw can tell clients apart: not empty, not all
// zeros (RFC 4390: IPoIB clients send no chaddr and are told apart by
// their client identifier alone).
func hasHW(hw net.HardwareAddr) bool {
	for _, b := range hw {
		if b != 0 {
			return true
		}
	}
	return false
}

// newcomerLocked reports whether a client without a binding may take a
// new address of pool now, and the pool's count to charge. Engine.mu held.
func (e *Engine) newcomerLocked(c client, pool string, now time.Time) (*poolOffers, error) {
	l := e.lim
	if n := l.lim.HWOffers; n > 0 && c.src.hw >= 0 && int(l.hwHeld[c.src.hw]) >= n {
		return nil, ErrHWOffers
	}
	if n := l.lim.CircuitOffers; n > 0 && c.src.circuit >= 0 && int(l.circuitHeld[c.src.circuit]) >= n {
		return nil, ErrCircuitOffers
	}
	po := l.pools[pool]
	if po != nil && po.limit >= 0 && po.offers >= po.limit && !e.evictLocked(po, now) {
		return nil, ErrPoolOffers
	}
	return po, nil
}

// evictLocked drops the pool's oldest charged offer if it has waited
// evictAge unrequested, and reports whether one went. Engine.mu held.
func (e *Engine) evictLocked(po *poolOffers, now time.Time) bool {
	for len(po.q) > 0 {
		o := po.q[0]
		if !o.charged || o.pool != po || e.offers[o.addr] != o {
			po.q = po.q[1:] // gone already
			continue
		}
		if now.Sub(o.until.Add(-e.cfg.Load().OfferHold)) < evictAge {
			return false
		}
		po.q = po.q[1:]
		e.dropOfferLocked(o)
		e.m.Events.WithLabelValues("offer-evict").Inc()
		return true
	}
	return false
}

// chargeLocked counts a new offer to a client without a binding against
// its source and pool; uncharge undoes it when the offer goes.
func (e *Engine) chargeLocked(o *offer, po *poolOffers, src source) {
	if o.charged {
		return
	}
	o.charged, o.pool, o.src = true, po, src
	if src.hw >= 0 {
		e.lim.hwHeld[src.hw]++
	}
	if src.circuit >= 0 {
		e.lim.circuitHeld[src.circuit]++
	}
	if po != nil {
		po.offers++
		if len(po.q) > 2*po.offers+64 {
			// Offers taken or lapsed leave their entries behind.
			live := po.q[:0]
			for _, q := range po.q {
				if q.charged && q.pool == po {
					live = append(live, q)
				}
			}
			clear(po.q[len(live):])
			po.q = live
		}
		po.q = append(po.q, o)
	}
}

func (e *Engine) unchargeLocked(o *offer) {
	if !o.charged {
		return
	}
	o.charged = false
	if o.src.hw >= 0 {
		e.lim.hwHeld[o.src.hw]--
	}
	if o.src.circuit >= 0 {
		e.lim.circuitHeld[o.src.circuit]--
	}
	if o.pool != nil {
		o.pool.offers--
	}
}

// poolLimitsLocked sets each pool's bound on offers to new clients from
// the database's counts: PoolShare of what new clients could have now
// (the addresses the gate lets us allocate from, FREE and reclaimable or
// BACKUP, and those new clients already hold in offers), at least one so
// a small pool still serves. Engine.mu held.
func (e *Engine) poolLimitsLocked(stats []lease.PoolStats) {
	l := e.lim
	var buf [1]lease.State
	states := e.allocStates(nil, &buf)
	seen := make(map[string]bool, len(stats))
	for _, s := range stats {
		seen[s.Name] = true
		po := l.pools[s.Name]
		if po == nil {
			po = &poolOffers{}
			l.pools[s.Name] = po
		}
		po.limit = -1
		if share := l.lim.PoolShare; share > 0 {
			avail := po.offers
			for _, st := range states {
				switch st {
				case lease.StateFree:
					avail += s.Free + s.Expired + s.Released + s.Reset
				case lease.StateBackup:
					avail += s.Backup
				}
			}
			po.limit = max(1, int(math.Ceil(share*float64(avail))))
		}
	}
	for name := range l.pools {
		if !seen[name] {
			// Offers of a pool that left the config keep their pointer
			// and uncharge it when they lapse.
			delete(l.pools, name)
		}
	}
}
