package failover

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// The property test drives two machines through random histories --
// crashes, restarts, journal loss, partitions of one path at a time,
// clock offsets of up to ±1 h -- with a tiny model of two lease databases
// replicated over the link, and checks that no address
// is held by two clients at overlapping (true) times.

const (
	pAddrs   = 6
	pClients = 9
	pMCLT    = time.Hour
	pDesired = 3 * time.Hour
)

type pRec struct {
	st                                  lease.State
	client                              int
	expiry, potential, acked, partnerEx time.Time // local clock of the box holding it
	seq                                 uint64
	fromPartner                         bool // written by the partner: it has this state
}

func (r pRec) lease() lease.Lease {
	return lease.Lease{State: r.st, Expiry: r.expiry, PotentialExpiry: r.potential,
		AckedExpiry: r.acked, PartnerExpiry: r.partnerEx, Seq: r.seq}
}

type pMsg struct {
	addr int
	rec  pRec // in the sender's clock
	seq  uint64
}

type pBox struct {
	role       Role
	off        time.Duration
	alive      bool
	m          *Machine
	db         [pAddrs]pRec
	seq        uint64 // last written
	partnerAck uint64 // highest of our seqs the partner applied
	pending    []pMsg // written, not yet applied by the partner
	lost       bool   // journal lost: needs a snapshot
	master     bool
	heard      vrrpView
	timer      time.Time // true time the machine's timer fires; zero: none
}

type pLease struct {
	addr, client int
	from, to     time.Time
}

type pWorld struct {
	t      *testing.T
	rng    *rand.Rand
	now    time.Time // true time
	b      [2]*pBox
	linkOK bool // the sync link's path is not partitioned
	vrrpOK bool // the VRRP path is not partitioned
	linkUp bool // the link is established (both alive, path OK)
	held   []pLease
	holds  [pClients]struct {
		addr int
		to   time.Time
	}
	log []string
}

func (w *pWorld) local(i int) time.Time { return w.now.Add(w.b[i].off) }

func (w *pWorld) logf(format string, args ...any) {
	w.log = append(w.log, fmt.Sprintf("%s ", w.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// feed delivers an event to box i and executes the resulting actions.
func (w *pWorld) feed(i int, ev Event) {
	b := w.b[i]
	if !b.alive {
		return
	}
	for _, a := range b.m.Handle(w.local(i), ev) {
		switch a := a.(type) {
		case Transition:
			w.logf("box%d %v -> %v: %s", i, a.From, a.To, a.Reason)
		case SendState:
			if w.linkUp {
				defer w.feed(1-i, PartnerState(a))
			}
		case ArmTimer:
			b.timer = w.now.Add(a.After)
		case StopTimer:
			b.timer = time.Time{}
		}
	}
}

func (w *pWorld) commit(i, addr int, r pRec) {
	b := w.b[i]
	b.seq++
	r.seq, r.fromPartner = b.seq, false
	b.db[addr] = r
	msg := pMsg{addr, r, b.seq}
	if w.linkUp {
		w.apply(1-i, msg)
		b.db[addr].acked = r.potential // synchronous ack: the partner applied it before the ACK
		b.partnerAck = b.seq
	} else {
		b.pending = append(b.pending, msg)
	}
}

// apply stores the partner's record, converting its times to our clock by
// the true offset (what carrying durations on the wire achieves).
func (w *pWorld) apply(j int, msg pMsg) {
	conv := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(w.b[j].off - w.b[1-j].off)
	}
	r := msg.rec
	local := w.b[j].db[msg.addr]
	if local.st == lease.StateActive && local.expiry.After(conv(r.expiry)) {
		// A binding the partner had not seen when it wrote this record
		// (a renewal in COMMUNICATIONS-INTERRUPTED, or an allocation in
		// PARTNER-DOWN after the partner's old records): the binding
		// that ends later wins, as ISC's binding_state_transition_check
		// refuses to free an address whose lease has not ended. The local
		// record travels to the partner by the resume.
		return
	}
	// The record carries both servers' potential expiries: the sender's
	// own becomes our PartnerExpiry, the one it holds from us (and so
	// has acknowledged) our AckedExpiry.
	w.b[j].db[msg.addr] = pRec{st: r.st, client: r.client, expiry: conv(r.expiry),
		partnerEx: conv(r.potential), acked: conv(r.partnerEx), fromPartner: true}
}

func (w *pWorld) vrrp() {
	alive := func(i int) bool { return w.b[i].alive }
	// Adverts of a partner that is (still) master reach us whatever our
	// own state: after a VRRP partition heals, both masters hear each
	// other before the lower one steps down (RFC 5798 §6.4.3).
	for i := 0; i < 2; i++ {
		if b := w.b[i]; b.alive && w.vrrpOK && alive(1-i) && w.b[1-i].master && b.heard != vrrpHeard {
			b.heard = vrrpHeard
			w.feed(i, VRRPAdvert{})
		}
	}
	for i := 0; i < 2; i++ {
		b := w.b[i]
		if !b.alive {
			continue
		}
		master := true
		if w.vrrpOK && alive(1-i) {
			prio := func(k int) int {
				p := 10
				if w.b[k].m.Status().Fit {
					p = 100
				}
				if w.b[k].role == Primary {
					p++
				}
				return p
			}
			master = prio(i) > prio(1-i)
		}
		if master != b.master {
			b.master = master
			w.feed(i, VRRPMaster{master})
		}
	}
	for i := 0; i < 2; i++ {
		b := w.b[i]
		if !b.alive {
			continue
		}
		hears := w.vrrpOK && alive(1-i) && w.b[1-i].master && !b.master
		switch {
		case hears && b.heard != vrrpHeard:
			b.heard = vrrpHeard
			w.feed(i, VRRPAdvert{})
		case !hears && (!alive(1-i) || !w.vrrpOK) && b.heard != vrrpSilent:
			b.heard = vrrpSilent
			w.feed(i, VRRPMasterDown{})
		case !hears && b.heard == vrrpSilent && alive(1-i) && w.vrrpOK:
			b.heard = vrrpUnknown // partner back as a silent backup: no event
		}
	}
}

func (w *pWorld) link() {
	up := w.linkOK && w.b[0].alive && w.b[1].alive
	if up == w.linkUp {
		return
	}
	w.linkUp = up
	if !up {
		for i := 0; i < 2; i++ {
			w.feed(i, LinkDown{})
		}
		return
	}
	for i := 0; i < 2; i++ {
		p := w.b[1-i].m.Status()
		w.feed(i, LinkUp{Partner: p.State, PartnerMaintenance: p.Maintenance,
			PartnerAckedSeq: w.b[i].partnerAck, OurLastSeq: w.b[i].seq})
	}
	// Resume both ways, or a snapshot for a box that lost its journal.
	for i := 0; i < 2; i++ {
		if w.b[i].lost {
			for a := 0; a < pAddrs; a++ {
				w.apply(i, pMsg{addr: a, rec: w.b[1-i].db[a]})
			}
			w.b[i].lost = false
		}
		for _, msg := range w.b[1-i].pending {
			w.apply(i, msg)
			w.b[1-i].db[msg.addr].acked = msg.rec.potential
		}
		if n := len(w.b[1-i].pending); n > 0 {
			w.b[1-i].partnerAck = w.b[1-i].pending[n-1].seq
		}
		w.b[1-i].pending = nil
	}
	for i := 0; i < 2; i++ {
		if w.linkUp {
			w.feed(i, ResyncDone{})
		}
	}
}

func (w *pWorld) crash(i int, loseJournal bool) {
	b := w.b[i]
	b.alive, b.m, b.master, b.heard, b.timer = false, nil, false, vrrpUnknown, time.Time{}
	if loseJournal {
		b.db = [pAddrs]pRec{}
		b.seq, b.pending, b.lost = 0, nil, true
	}
	w.logf("box%d crash (journal lost %v)", i, loseJournal)
}

func (w *pWorld) restart(i int) {
	b := w.b[i]
	cfg := testCfg
	cfg.Role = b.role
	m, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	b.m, b.alive = m, true
	w.logf("box%d restart", i)
	w.feed(i, Start{LastSeq: b.seq, SeqKnown: !b.lost})
}

func (w *pWorld) grantTo(i, c, addr int, renewal bool) {
	b := w.b[i]
	now := w.local(i)
	p := b.m.Policy()
	r := b.db[addr]
	g, pot := p.LeaseTime(now, r.lease(), pDesired)
	if g <= 0 {
		return
	}
	// The failover times stay with the address, whoever holds it: the
	// partner keeps it bound until what it knows + MCLT.
	r = pRec{st: lease.StateActive, client: c, expiry: now.Add(g), potential: pot,
		acked: r.acked, partnerEx: r.partnerEx}
	w.commit(i, addr, r)
	w.held = append(w.held, pLease{addr, c, w.now, w.now.Add(g)})
	w.holds[c].addr, w.holds[c].to = addr, w.now.Add(g)
	w.logf("box%d gives %d to client %d for %v (renewal %v)", i, addr, c, g, renewal)
	w.check()
}

func (w *pWorld) check() {
	last := w.held[len(w.held)-1]
	for _, h := range w.held[:len(w.held)-1] {
		if h.addr == last.addr && h.client != last.client && h.from.Before(last.to) && last.from.Before(h.to) {
			w.t.Fatalf("address %d held by clients %d [%v,%v) and %d [%v,%v)\n%s",
				h.addr, h.client, h.from.Sub(t0), h.to.Sub(t0), last.client, last.from.Sub(t0), last.to.Sub(t0),
				fmt.Sprint(w.log[max(0, len(w.log)-60):]))
		}
	}
}

func (w *pWorld) client(c int) {
	var serving []int
	for i := 0; i < 2; i++ {
		if w.b[i].alive {
			serving = append(serving, i)
		}
	}
	w.rng.Shuffle(len(serving), func(a, b int) { serving[a], serving[b] = serving[b], serving[a] })
	h := w.holds[c]
	renewal := !h.to.IsZero() && w.now.Before(h.to)
	for _, i := range serving {
		b := w.b[i]
		p := b.m.Policy()
		now := w.local(i)
		if !p.Serve(now, Request{HWAddr: []byte{byte(c)}, Renewal: renewal}) {
			continue
		}
		if renewal {
			if r := b.db[h.addr]; r.st == lease.StateActive && r.client == c {
				w.grantTo(i, c, h.addr, true)
			}
			return // NAK or ACK: the client got an answer
		}
		start := w.rng.IntN(pAddrs)
		for k := 0; k < pAddrs; k++ {
			a := (start + k) % pAddrs
			st := b.db[a].st
			if st == 0 {
				st = lease.StateFree // no record: FREE (lease/api.go)
			}
			if p.MayAllocate(now, st) {
				w.grantTo(i, c, a, false)
				return
			}
		}
	}
}

func (w *pWorld) housekeeping() {
	for i := 0; i < 2; i++ {
		b := w.b[i]
		if !b.alive {
			continue
		}
		now := w.local(i)
		p := b.m.Policy()
		for a := 0; a < pAddrs; a++ {
			r := b.db[a]
			if r.st == lease.StateActive && now.After(r.expiry) {
				r.st = lease.StateExpired
				w.commit(i, a, r)
			} else if r.st == lease.StateExpired && p.Reclaimable(now, r.lease(), r.fromPartner || (r.seq != 0 && r.seq <= b.partnerAck)) {
				w.commit(i, a, pRec{st: lease.StateFree})
			}
		}
		free, backup := 0, 0
		for a := 0; a < pAddrs; a++ {
			switch b.db[a].st {
			case 0, lease.StateFree:
				free++
			case lease.StateBackup:
				backup++
			}
		}
		if n, from, to := p.Transfer(lease.PoolStats{Free: free, Backup: backup}); n > 0 {
			for a := 0; a < pAddrs && n > 0; a++ {
				st := b.db[a].st
				if st == 0 {
					st = lease.StateFree
				}
				if st == from {
					w.commit(i, a, pRec{st: to})
					n--
				}
			}
		}
	}
}

func TestPropertyNoDoubleAllocation(t *testing.T) {
	runs, steps := 300, 400
	if testing.Short() {
		runs = 50
	}
	for run := 0; run < runs; run++ {
		rng := rand.New(rand.NewPCG(uint64(run), 0x5eed))
		w := &pWorld{t: t, rng: rng, now: t0, linkOK: true, vrrpOK: true}
		for i := 0; i < 2; i++ {
			w.b[i] = &pBox{role: Role(i), off: time.Duration(rng.Int64N(int64(2*time.Hour))) - time.Hour}
			w.restart(i)
		}
		for s := 0; s < steps; s++ {
			w.vrrp()
			w.link()
			switch x := rng.IntN(100); {
			case x < 40:
				w.client(rng.IntN(pClients))
			case x < 70:
				w.now = w.now.Add(time.Duration(rng.Int64N(int64(pMCLT / 2))))
			case x < 75:
				if i := rng.IntN(2); w.b[i].alive && w.b[1-i].alive {
					w.crash(i, rng.IntN(4) == 0)
				}
			case x < 82:
				for i := 0; i < 2; i++ {
					if !w.b[i].alive {
						w.restart(i)
					}
				}
			case x < 90:
				// Partition one path at a time (both at once is the
				// double failure the draft cannot make safe either).
				switch rng.IntN(3) {
				case 0:
					w.linkOK, w.vrrpOK = true, true
				case 1:
					w.linkOK, w.vrrpOK = false, true
				case 2:
					w.linkOK, w.vrrpOK = true, false
				}
				w.logf("paths: link %v vrrp %v", w.linkOK, w.vrrpOK)
			case x < 92:
				if i := rng.IntN(2); w.b[i].alive {
					if w.b[i].m.Status().Maintenance {
						w.feed(i, MaintenanceStop{})
					} else {
						w.feed(i, MaintenanceStart{})
					}
				}
			default:
				w.housekeeping()
			}
			for i := 0; i < 2; i++ {
				if b := w.b[i]; b.alive && !b.timer.IsZero() && !w.now.Before(b.timer) {
					b.timer = time.Time{}
					w.feed(i, TimerFired{})
				}
			}
		}
	}
}
