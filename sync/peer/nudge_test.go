package peer

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// scriptConn is a net.Conn whose Reads return a script of results and
// which records every read deadline set on it.
type scriptConn struct {
	net.Conn
	reads     []scriptRead
	deadlines []time.Time
}

type scriptRead struct {
	data string
	err  error
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.reads) == 0 {
		return 0, io.EOF
	}
	r := c.reads[0]
	c.reads = c.reads[1:]
	return copy(p, r.data), r.err
}

func (c *scriptConn) SetReadDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

// timeout is the error net.Conn.Read returns when a read deadline passes.
var timeout = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

func TestNudgeReader(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return t0 }
	const every = time.Millisecond
	for _, tc := range []struct {
		name     string
		armed    bool // the writer sent something the partner acks
		owed     bool // still owed when the deadline passes
		reads    []scriptRead
		want     string
		wantErr  error
		wantDLs  []time.Time // deadlines set, in order
		wantArmd bool
	}{{
		name:  "an ack owed: the deadline passes, is renewed, and the read is tried again",
		armed: true, owed: true,
		reads:   []scriptRead{{err: timeout}, {err: timeout}, {data: "ack"}},
		want:    "ack",
		wantDLs: []time.Time{t0.Add(every), t0.Add(every), t0.Add(every)}, wantArmd: true,
	}, {
		name:  "nothing owed any more: the deadline is cleared and the read waits",
		armed: true, owed: false,
		reads:   []scriptRead{{err: timeout}, {data: "update"}},
		want:    "update",
		wantDLs: []time.Time{t0.Add(every), {}},
	}, {
		name:  "a timeout that is not ours goes to the caller",
		armed: false, owed: true,
		reads:   []scriptRead{{err: timeout}, {data: "never read"}},
		wantErr: os.ErrDeadlineExceeded,
	}, {
		name:  "other errors go to the caller",
		armed: true, owed: true,
		reads:   []scriptRead{{err: io.ErrUnexpectedEOF}},
		wantErr: io.ErrUnexpectedEOF,
		wantDLs: []time.Time{t0.Add(every)}, wantArmd: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &scriptConn{reads: tc.reads}
			r := &nudgeReader{c: c, owed: func() bool { return tc.owed }, every: every, now: now}
			if tc.armed {
				r.arm()
			}
			buf := make([]byte, 16)
			n, err := r.Read(buf)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Read: err %v, want %v", err, tc.wantErr)
			}
			if got := string(buf[:n]); got != tc.want {
				t.Errorf("Read: %q, want %q", got, tc.want)
			}
			if len(c.deadlines) != len(tc.wantDLs) {
				t.Fatalf("deadlines set %v, want %v", c.deadlines, tc.wantDLs)
			}
			for i := range c.deadlines {
				if !c.deadlines[i].Equal(tc.wantDLs[i]) {
					t.Errorf("deadline %d: %v, want %v", i, c.deadlines[i], tc.wantDLs[i])
				}
			}
			if r.armed != tc.wantArmd {
				t.Errorf("armed after the read: %v, want %v", r.armed, tc.wantArmd)
			}
		})
	}
}

// TestWriterArmsReader: once the writer has sent records, the session's
// reader waits with a deadline of ours (the partner owes an ack); once
// they are acknowledged and nothing else is in flight, it has none, so an
// idle link costs no wakeups.
func TestWriterArmsReader(t *testing.T) {
	p, s, _, _ := upPair(t, nil)
	armed := func() bool {
		p.l.mu.Lock()
		cur := p.l.cur
		p.l.mu.Unlock()
		if cur == nil {
			t.Fatal("no session")
		}
		cur.nudge.mu.Lock()
		defer cur.nudge.mu.Unlock()
		return cur.nudge.armed
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitNothingPending(t, p.l)
	waitUntil("the reader holds a deadline on an idle link", func() bool { return !armed() })
	s.store.block(t)
	done := make(chan error, 1)
	go func() { done <- p.l.Replicate(t.Context(), p.store.commit(t, 1, time.Now())) }()
	waitUntil("no deadline on the reader while the partner owes an ack", armed)
	s.store.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitUntil("the reader still holds a deadline 5 s after the ack", func() bool { return !armed() })
}
