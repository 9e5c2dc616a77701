package clock

import (
	"testing"
	"time"
)

func TestWall(t *testing.T) {
	c := Wall()
	before := time.Now()
	now := c.Now()
	if now.Before(before) || now.Sub(before) > time.Minute {
		t.Fatalf("Wall().Now() = %v, real time %v", now, before)
	}
	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("a 1ms timer did not fire within 10s")
	}
	if tm.Stop() {
		t.Error("Stop after the expiry was received reports the timer live")
	}
}

func TestOffset(t *testing.T) {
	c := Offset(time.Hour)
	got := time.Until(c.Now())
	if got < 59*time.Minute || got > 61*time.Minute {
		t.Fatalf("Offset(1h).Now() is %v ahead of real time", got)
	}
	// Timers run at real speed: an hour's offset does not fire a 1h timer.
	tm := c.NewTimer(time.Hour)
	select {
	case <-tm.C():
		t.Fatal("a 1h timer of an offset clock fired at once")
	case <-time.After(10 * time.Millisecond):
	}
	if !tm.Stop() {
		t.Error("Stop of a pending timer reports it expired")
	}
}

// TestResetDiscards: a fired but unread expiry is dropped by Reset, as
// Timer promises (Go ≥1.23 *time.Timer).
func TestResetDiscards(t *testing.T) {
	tm := Wall().NewTimer(time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	tm.Reset(time.Hour)
	select {
	case v := <-tm.C():
		t.Fatalf("stale expiry %v delivered after Reset", v)
	case <-time.After(10 * time.Millisecond):
	}
	tm.Stop()
}
