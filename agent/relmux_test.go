package agent

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock/clocktest"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// logBuffer is a log handler's output that several goroutines write.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines are the logged lines holding every one of parts.
func (l *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// strangerConn is a connection from src that records its close.
type strangerConn struct {
	net.Conn
	src    netip.Addr
	closed bool
}

func (c *strangerConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.src, 40000))
}

func (c *strangerConn) Close() error { c.closed = true; return nil }

// TestConnMuxRefusalLog: a connection from no relationship's partner is
// closed and counted every time, and logged once per source a minute
// (the link's own limiter, peer.RefusalLog, on the mux's clock).
func TestConnMuxRefusalLog(t *testing.T) {
	clk := clocktest.NewFake(time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC))
	var logs logBuffer
	unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "unknown"})
	m := newConnMux(nil, slog.New(slog.NewTextHandler(&logs, nil)), unknown, clk)
	m.routes[netip.MustParseAddr("198.51.100.2")] = &subListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	knock := func(src string) {
		t.Helper()
		c := &strangerConn{src: netip.MustParseAddr(src)}
		m.dispatch(c)
		if !c.closed {
			t.Fatalf("a connection from %s was not closed", src)
		}
	}
	refusals := func() int { return len(logs.lines("refused connection")) }
	for range 3 {
		knock("192.0.2.9")
	}
	knock("192.0.2.10")
	if n := refusals(); n != 2 {
		t.Errorf("4 connections from 2 strangers logged %d times, want once each:\n%s", n, logs.String())
	}
	clk.Advance(peer.RefusalLogEvery)
	knock("192.0.2.9")
	if n := refusals(); n != 3 {
		t.Errorf("a stranger back after a minute: %d lines, want 3", n)
	}
	var d dto.Metric
	if err := unknown.Write(&d); err != nil || d.GetCounter().GetValue() != 5 {
		t.Errorf("counted %v, want 5 (every refusal)", d.GetCounter().GetValue())
	}
}
