package peer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestParamsMismatchRefused: each side sends its Params in the handshake
// and CheckParams refuses a partner whose parameters differ: the link
// does not come up, both sides count a "params" refusal, and the error
// says what the check said (the key and both values).
func TestParamsMismatchRefused(t *testing.T) {
	check := func(ours []byte) func([]byte) error {
		return func(theirs []byte) error {
			if !bytes.Equal(ours, theirs) {
				return fmt.Errorf("failover.split: ours %s, partner's %s", ours, theirs)
			}
			return nil
		}
	}
	clk := newFakeClock()
	p := newNode(t, "gw1", Primary, clk, func(o *Options) { o.Params, o.CheckParams = []byte("128"), check([]byte("128")) })
	s := newNode(t, "gw2", Secondary, clk, func(o *Options) { o.Params, o.CheckParams = []byte("64"), check([]byte("64")) })
	ca, cb := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var perr, serr error
	wg.Go(func() { perr = p.l.HandleConn(ctx, ca, true) })
	wg.Go(func() { serr = s.l.HandleConn(ctx, cb, false) })
	wg.Wait()
	if p.l.Up() || s.l.Up() {
		t.Fatal("link up with parameters that differ")
	}
	for _, c := range []struct {
		n    *node
		err  error
		want string
	}{{p, perr, "failover.split: ours 128, partner's 64"}, {s, serr, "failover.split: ours 64, partner's 128"}} {
		if c.err == nil || !bytes.Contains([]byte(c.err.Error()), []byte(c.want)) {
			t.Errorf("%s: HandleConn = %v, want it to say %q", c.n.l.opts.Name, c.err, c.want)
		}
		if got := counterValue(t, c.n.l.m.Refused.WithLabelValues("params")); got != 1 {
			t.Errorf("%s: refused{params} = %v, want 1", c.n.l.opts.Name, got)
		}
	}
}

// TestParamsAgreeUp: the same parameters on both sides: the link comes up.
func TestParamsAgreeUp(t *testing.T) {
	var got [][]byte
	var mu sync.Mutex
	mod := func(o *Options) {
		o.Params = []byte{1, 2, 3}
		o.CheckParams = func(b []byte) error {
			mu.Lock()
			got = append(got, bytes.Clone(b))
			mu.Unlock()
			return nil
		}
	}
	upPair(t, mod)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !bytes.Equal(got[0], []byte{1, 2, 3}) || !bytes.Equal(got[1], []byte{1, 2, 3}) {
		t.Errorf("CheckParams saw %v, want the partner's params on both sides", got)
	}
}

// TestSendParams: the primary's new parameters reach the secondary's
// CheckParams over the live link and are announced in later handshakes;
// a secondary that refuses them ends the session.
func TestSendParams(t *testing.T) {
	seen := make(chan []byte, 4)
	var refuse bool
	var mu sync.Mutex
	p, s, _, _ := upPair(t, func(o *Options) {
		o.Params = []byte("128")
		if o.Role == Secondary {
			o.CheckParams = func(b []byte) error {
				seen <- bytes.Clone(b)
				mu.Lock()
				defer mu.Unlock()
				if refuse {
					return fmt.Errorf("no %s", b)
				}
				return nil
			}
		}
	})
	if got := <-seen; string(got) != "128" {
		t.Fatalf("handshake params %q", got)
	}
	if err := s.l.SendParams([]byte("1")); err != ErrNotPrimary {
		t.Errorf("secondary SendParams: %v", err)
	}
	if err := p.l.SendParams([]byte("64")); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; string(got) != "64" {
		t.Fatalf("new params %q, want 64", got)
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	if err := p.l.SendParams([]byte("32")); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; string(got) != "32" {
		t.Fatalf("new params %q, want 32", got)
	}
	d := waitFor[Down](t, s.events)
	if d.Reason == nil || !bytes.Contains([]byte(d.Reason.Error()), []byte("no 32")) {
		t.Errorf("down: %v, want the refusal", d.Reason)
	}
	// A new connection's handshake announces the parameters now in force.
	ca, cb := tcpPair(t)
	connectConns(t, p, s, ca, cb)
	select {
	case got := <-seen:
		if string(got) != "32" {
			t.Errorf("the next handshake announced %q, want 32", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("no handshake on the new connection")
	}
}
