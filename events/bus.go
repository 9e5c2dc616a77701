package events

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadhcpd/hadhcpd/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultRing is the ring's size in events when Options.Ring is 0: a few
// seconds of a busy server's lease changes (10,000 a second), about 1 MiB.
const DefaultRing = 8192

// ErrDropped ends a subscription that fell a whole ring behind: the
// events it missed are gone, and a reader that wants them all must
// reconnect and read the leases instead.
var ErrDropped = errors.New("events: subscriber too slow: dropped (it fell a whole ring of events behind)")

// ErrClosed ends a subscription after Close (or Bus.Close).
var ErrClosed = errors.New("events: subscription closed")

// Clock is the bus's time source (a clock.Clock serves).
type Clock interface{ Now() time.Time }

// Options configure a Bus.
type Options struct {
	Box   string // node.name: Event.Box when the publisher leaves it empty
	Clock Clock  // stamps Event.Time when the publisher leaves it zero; nil: time.Now
	// Ring is the number of events kept (rounded up to a power of two);
	// 0 is DefaultRing.
	Ring    int
	Metrics *Metrics // nil: unregistered collectors
}

// Metrics are the bus's collectors.
type Metrics struct {
	Published   prometheus.Counter
	Subscribers prometheus.Gauge
	Dropped     prometheus.Counter
}

// NewMetrics makes the bus's collectors and registers them with reg (nil:
// unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Published:   s.Counter("hadhcpd_events_published_total", "Events published to the event stream (lease changes, VRRP and failover transitions)."),
		Subscribers: s.Gauge("hadhcpd_events_subscribers", "Readers of the event stream now (API server-sent events, hadhcpd events --follow)."),
		Dropped:     s.Counter("hadhcpd_events_dropped_subscribers_total", "Readers of the event stream dropped because they fell a whole ring of events behind."),
	}
	return m, s.Err()
}

// Bus is the fan-out. The zero Bus is not usable: NewBus.
type Bus struct {
	box   string
	clock Clock
	m     *Metrics
	mask  uint64

	// mu guards the following; it is held only to copy events in or out.
	mu     sync.Mutex
	ring   []Event // event seq s is at ring[s&mask]
	last   uint64  // seq of the last event published (0: none yet)
	subs   []*Sub  // replaced, never changed in place (Publish iterates a snapshot)
	closed bool
}

// NewBus makes a bus.
func NewBus(o Options) *Bus {
	n := o.Ring
	if n <= 0 {
		n = DefaultRing
	}
	size := 1
	for size < n {
		size <<= 1
	}
	m := o.Metrics
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	return &Bus{box: o.Box, clock: o.Clock, m: m, mask: uint64(size - 1), ring: make([]Event, size)}
}

// Publish adds ev to the stream (its Seq is assigned; Box and Time are
// filled when empty). It never waits for a reader: a subscriber that the
// new event laps is dropped and counted, and readers are woken without
// blocking. Safe for concurrent use; it does not allocate.
func (b *Bus) Publish(ev Event) {
	if b == nil {
		return
	}
	if ev.Box == "" {
		ev.Box = b.box
	}
	if ev.Time.IsZero() {
		if b.clock != nil {
			ev.Time = b.clock.Now()
		} else {
			ev.Time = time.Now()
		}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.last++
	ev.Seq = b.last
	b.ring[ev.Seq&b.mask] = ev
	subs := b.subs
	b.mu.Unlock()
	b.m.Published.Inc()
	size := b.mask + 1
	for _, s := range subs {
		// s.next is the seq it reads next: once that slot is overwritten
		// (next ≤ seq − size) the subscriber can never catch up.
		if ev.Seq >= size && s.next.Load() <= ev.Seq-size {
			if s.drop() {
				// Off the list at once: a reader stuck elsewhere (a
				// stalled connection) costs later events nothing.
				b.remove(s)
			}
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Last is the seq of the last event published (0: none yet).
func (b *Bus) Last() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// Recent returns up to n of the last events the ring holds, oldest first
// (the status page's last events).
func (b *Bus) Recent(n int) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := b.oldestLocked()
	if b.last >= uint64(n) && b.last-uint64(n)+1 > first {
		first = b.last - uint64(n) + 1
	}
	out := make([]Event, 0, b.last+1-first)
	for s := first; s <= b.last; s++ {
		out = append(out, b.ring[s&b.mask])
	}
	return out
}

// oldestLocked is the seq of the oldest event the ring holds (last+1 when
// it holds none).
func (b *Bus) oldestLocked() uint64 {
	if size := b.mask + 1; b.last >= size {
		return b.last - size + 1
	}
	return 1
}

// Subscribe starts a reader. With since = 0 it reads the events published
// from now on; with since = k it reads from event k+1 (a reconnecting
// reader's last seen, SSE's Last-Event-ID), or from the oldest the ring
// still holds when k+1 is gone (the reader sees the gap in Seq). Close it
// when done.
func (b *Bus) Subscribe(since uint64) *Sub {
	return b.subscribe(func() uint64 {
		if since > 0 && since < b.last {
			return max(since+1, b.oldestLocked())
		}
		return b.last + 1
	})
}

// SubscribeRecent starts a reader that first reads the last n events the
// ring holds, then every new one (the status page's last events).
func (b *Bus) SubscribeRecent(n int) *Sub {
	return b.subscribe(func() uint64 {
		next := b.last + 1
		if uint64(n) < next {
			next -= uint64(n)
		} else {
			next = 1
		}
		return max(next, b.oldestLocked())
	})
}

// subscribe adds a reader starting at the seq first gives (b.mu held
// while it runs).
func (b *Bus) subscribe(first func() uint64) *Sub {
	s := &Sub{b: b, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.mu.Lock()
	s.next.Store(first())
	if b.closed {
		s.close()
	} else {
		b.subs = append(append([]*Sub(nil), b.subs...), s)
		b.m.Subscribers.Inc()
	}
	b.mu.Unlock()
	return s
}

// After returns the events after seq the ring still holds, oldest first
// (a reader that asks for what it missed without following).
func (b *Bus) After(seq uint64) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := max(seq+1, b.oldestLocked())
	var out []Event
	for s := first; s <= b.last; s++ {
		out = append(out, b.ring[s&b.mask])
	}
	return out
}

// Close ends every subscription (their Next returns ErrClosed); later
// Publish calls are no-ops. For the agent's stop.
func (b *Bus) Close() {
	b.mu.Lock()
	subs := b.subs
	b.subs, b.closed = nil, true
	b.mu.Unlock()
	for _, s := range subs {
		s.close()
	}
}

func (b *Bus) remove(s *Sub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.subs {
		if x == s {
			subs := make([]*Sub, 0, len(b.subs)-1)
			subs = append(append(subs, b.subs[:i]...), b.subs[i+1:]...)
			b.subs = subs
			b.m.Subscribers.Dec()
			return
		}
	}
}

// Sub is one reader of the stream. Next is for one goroutine.
type Sub struct {
	b       *Bus
	next    atomic.Uint64 // the seq Next returns next
	wake    chan struct{} // a publish happened (capacity 1: wake-ups fold)
	dropped atomic.Bool
	done    chan struct{} // closed by close
	once    sync.Once
}

// drop marks the subscriber dropped; true the first time.
func (s *Sub) drop() bool {
	if s.dropped.CompareAndSwap(false, true) {
		s.b.m.Dropped.Inc()
		return true
	}
	return false
}

func (s *Sub) close() {
	s.once.Do(func() { close(s.done) })
}

// Close ends the subscription.
func (s *Sub) Close() {
	s.b.remove(s)
	s.close()
}

// Next waits for events and copies up to len(buf) of them into buf,
// oldest first, returning the filled part. It returns ErrDropped once the
// subscriber was lapped (the events it holds are still returned first
// only if they were copied before), ErrClosed after Close, or ctx's
// error.
func (s *Sub) Next(ctx context.Context, buf []Event) ([]Event, error) {
	for {
		if s.dropped.Load() {
			return nil, ErrDropped
		}
		b := s.b
		next := s.next.Load()
		b.mu.Lock()
		if b.last >= next && next < b.oldestLocked() {
			b.mu.Unlock()
			if s.drop() {
				b.remove(s)
			}
			return nil, ErrDropped
		}
		n := 0
		for seq := next; seq <= b.last && n < len(buf); seq++ {
			buf[n] = b.ring[seq&b.mask]
			n++
		}
		// Under the lock, so a publisher never judges a copy already
		// made as missing.
		s.next.Store(next + uint64(n))
		b.mu.Unlock()
		if n > 0 {
			return buf[:n], nil
		}
		select {
		case <-s.wake:
		case <-s.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
