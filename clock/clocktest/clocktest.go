// Package clocktest is the fake clock for code that takes a clock.Clock.
package clocktest

import (
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

// Fake is a manual clock: time moves only with Advance, which fires every
// timer that falls due, in deadline order, each with its own deadline.
// Stop and Reset discard a fired but unread expiry, as *time.Timer does
// since Go 1.23, so a loop never sees a stale one.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// NewFake returns a clock at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now implements clock.Clock.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer implements clock.Clock.
func (c *Fake) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), live: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock by d, firing due timers at their own deadlines:
// a receiver sees the time its timer was due, not the end of the step.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		var next *timer
		for _, t := range c.timers {
			if t.live && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.live = false
		select {
		case next.ch <- c.now:
		default:
		}
	}
	c.now = end
}

// Pending reports the time left until the earliest live timer, false when
// none is armed.
func (c *Fake) Pending() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Duration
	ok := false
	for _, t := range c.timers {
		if t.live && (!ok || t.at.Sub(c.now) < best) {
			best, ok = t.at.Sub(c.now), true
		}
	}
	return best, ok
}

// Offset returns a view of c whose Now is off ahead (behind, if negative)
// and whose timers are c's: two boxes with disagreeing wall clocks under
// one Advance, as clock.Offset is for real time.
func (c *Fake) Offset(off time.Duration) clock.Clock { return offset{c, off} }

type offset struct {
	c   *Fake
	off time.Duration
}

func (o offset) Now() time.Time                       { return o.c.Now().Add(o.off) }
func (o offset) NewTimer(d time.Duration) clock.Timer { return o.c.NewTimer(d) }

type timer struct {
	c    *Fake
	ch   chan time.Time
	at   time.Time
	live bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live = false
	select {
	case <-t.ch:
	default:
	}
	return was
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	select {
	case <-t.ch:
	default:
	}
	t.at, t.live = t.c.now.Add(d), true
	return was
}
