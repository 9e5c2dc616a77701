package peer

import (
	"fmt"
	"testing"
	"time"
)

// TestRefusalLog: one line per key per RefusalLogEvery, keys apart; under
// a scan from more sources than it remembers, new keys wait (the map
// stays bounded) until the old ones age out.
func TestRefusalLog(t *testing.T) {
	clk := newFakeClock()
	r := NewRefusalLog(clk)
	if !r.Allow("192.0.2.9 auth") || !r.Allow("192.0.2.10 auth") || !r.Allow("192.0.2.9 integrity") {
		t.Fatal("a first refusal of a key not logged")
	}
	clk.Advance(RefusalLogEvery - time.Second)
	if r.Allow("192.0.2.9 auth") {
		t.Error("a key logged twice within RefusalLogEvery")
	}
	clk.Advance(time.Second)
	if !r.Allow("192.0.2.9 auth") {
		t.Error("a key not logged again after RefusalLogEvery")
	}

	r = NewRefusalLog(clk)
	for i := range refusalLogKeys {
		if !r.Allow(fmt.Sprint(i)) {
			t.Fatalf("key %d of the first %d not logged", i, refusalLogKeys)
		}
	}
	if r.Allow("one too many") {
		t.Error("a new key logged while every remembered one is recent")
	}
	if len(r.last) > refusalLogKeys {
		t.Errorf("%d keys remembered, bound %d", len(r.last), refusalLogKeys)
	}
	clk.Advance(RefusalLogEvery)
	if !r.Allow("one too many") || len(r.last) != 1 {
		t.Errorf("after the others aged out: not logged, or %d keys remembered", len(r.last))
	}
}
