// Package clock is the tree's one notion of time (STYLE.md §3): packages
// take a Clock instead of calling time.Now or time.NewTimer, so tests can
// drive them with clocktest.Fake. Wall and Offset are the only clocks that
// read real time.
package clock

import "time"

// Clock is every read of time a package does: the current time and
// one-shot timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the loops use. As with *time.Timer
// since Go 1.23, Stop and Reset discard an expiry not yet received, so a
// receive after either never sees a stale time.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Wall returns the real clock.
func Wall() Clock { return offset{} }

// Offset returns real time moved by d, with real timers: an offset moves
// the wall clock, not the speed of time. It lets a test run two boxes
// whose clocks disagree without libfaketime; Offset(0) is Wall.
func Offset(d time.Duration) Clock { return offset{d} }

type offset struct{ d time.Duration }

// Now keeps the monotonic reading (Add moves both), so durations between
// two readings stay immune to wall-clock steps.
func (o offset) Now() time.Time { return time.Now().Add(o.d) }

func (offset) NewTimer(d time.Duration) Timer { return timer{time.NewTimer(d)} }

type timer struct{ t *time.Timer }

func (t timer) C() <-chan time.Time        { return t.t.C }
func (t timer) Stop() bool                 { return t.t.Stop() }
func (t timer) Reset(d time.Duration) bool { return t.t.Reset(d) }
