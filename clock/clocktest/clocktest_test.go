package clocktest

import (
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

var _ clock.Clock = (*Fake)(nil)

// recv returns the pending expiry of tm, false when there is none.
func recv(tm clock.Timer) (time.Time, bool) {
	select {
	case v := <-tm.C():
		return v, true
	default:
		return time.Time{}, false
	}
}

// TestAdvanceOwnDeadlines: one Advance past several deadlines delivers
// each timer its own deadline, not the end of the step.
func TestAdvanceOwnDeadlines(t *testing.T) {
	c := NewFake(t0)
	late := c.NewTimer(3 * time.Second)
	early := c.NewTimer(time.Second)
	never := c.NewTimer(time.Minute)
	c.Advance(10 * time.Second)
	if v, ok := recv(early); !ok || !v.Equal(t0.Add(time.Second)) {
		t.Errorf("early timer: %v %v, want %v", v, ok, t0.Add(time.Second))
	}
	if v, ok := recv(late); !ok || !v.Equal(t0.Add(3*time.Second)) {
		t.Errorf("late timer: %v %v, want %v", v, ok, t0.Add(3*time.Second))
	}
	if v, ok := recv(never); ok {
		t.Errorf("a 1m timer fired at %v after 10s", v)
	}
	if got := c.Now(); !got.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("Now = %v, want %v", got, t0.Add(10*time.Second))
	}
	if d, ok := c.Pending(); !ok || d != 50*time.Second {
		t.Errorf("Pending = %v %v, want 50s true", d, ok)
	}
}

// TestAdvanceExactDeadline: a timer fires when the clock reaches its
// deadline, not a step later.
func TestAdvanceExactDeadline(t *testing.T) {
	c := NewFake(t0)
	tm := c.NewTimer(time.Second)
	c.Advance(999 * time.Millisecond)
	if _, ok := recv(tm); ok {
		t.Fatal("fired before its deadline")
	}
	c.Advance(time.Millisecond)
	if _, ok := recv(tm); !ok {
		t.Fatal("did not fire at its deadline")
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer reports it live")
	}
}

// TestStopResetDiscard: a fired but unread expiry is never delivered after
// Stop or Reset; the stale value of the old deadline cannot be mistaken
// for the new one.
func TestStopResetDiscard(t *testing.T) {
	c := NewFake(t0)
	tm := c.NewTimer(time.Second)
	c.Advance(time.Second)
	if tm.Reset(5 * time.Second) {
		t.Error("Reset of a fired timer reports it live")
	}
	if v, ok := recv(tm); ok {
		t.Fatalf("stale expiry %v delivered after Reset", v)
	}
	c.Advance(4 * time.Second)
	if _, ok := recv(tm); ok {
		t.Fatal("fired before the reset deadline")
	}
	c.Advance(time.Second)
	if v, ok := recv(tm); !ok || !v.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("after Reset: %v %v, want %v", v, ok, t0.Add(6*time.Second))
	}

	tm = c.NewTimer(time.Second)
	c.Advance(time.Second)
	if tm.Stop() {
		t.Error("Stop of a fired timer reports it live")
	}
	if v, ok := recv(tm); ok {
		t.Fatalf("stale expiry %v delivered after Stop", v)
	}
	if _, ok := c.Pending(); ok {
		t.Error("Pending reports a timer after Stop")
	}
}

// TestStopLive: Stop of an armed timer reports true and it never fires;
// Reset of an armed timer moves its deadline.
func TestStopLive(t *testing.T) {
	c := NewFake(t0)
	tm := c.NewTimer(time.Second)
	if !tm.Stop() {
		t.Error("Stop of an armed timer reports it expired")
	}
	c.Advance(time.Hour)
	if _, ok := recv(tm); ok {
		t.Error("a stopped timer fired")
	}
	tm = c.NewTimer(time.Second)
	if !tm.Reset(3 * time.Second) {
		t.Error("Reset of an armed timer reports it expired")
	}
	if d, ok := c.Pending(); !ok || d != 3*time.Second {
		t.Errorf("Pending = %v %v, want 3s true", d, ok)
	}
	c.Advance(2 * time.Second)
	if _, ok := recv(tm); ok {
		t.Error("fired at the deadline before Reset")
	}
}

// TestOffset: an offset view reads the shared time moved, and its timers
// are the fake's.
func TestOffset(t *testing.T) {
	c := NewFake(t0)
	o := c.Offset(time.Hour)
	if got := o.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("Offset(1h).Now = %v, want %v", got, t0.Add(time.Hour))
	}
	tm := o.NewTimer(time.Second)
	c.Advance(time.Second)
	if v, ok := recv(tm); !ok || !v.Equal(t0.Add(time.Second)) {
		t.Errorf("offset view's timer: %v %v, want %v (the fake's time)", v, ok, t0.Add(time.Second))
	}
	if got := o.Now(); !got.Equal(t0.Add(time.Hour + time.Second)) {
		t.Errorf("after Advance: %v", got)
	}
}
