package peer

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blackhole is a loopback TCP relay between the two ends of a link that
// can be cut silently: after cut, whatever either end writes is read and
// dropped, and nothing reaches the other end; no FIN, no RST. It is the
// sync cable pulled between two boxes (PEERS.md "kill -9 is not a box
// failure"), without root: the kernel sockets at both ends stay open.
type blackhole struct {
	ln  net.Listener
	cut atomic.Bool
	wg  sync.WaitGroup
}

func newBlackhole(tb testing.TB, target string) *blackhole {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &blackhole{ln: ln}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			h.wg.Go(func() { h.pipe(u, c) })
			h.wg.Go(func() { h.pipe(c, u) })
		}
	})
	tb.Cleanup(func() { ln.Close(); h.wg.Wait() })
	return h
}

// pipe copies src to dst until either closes; after cut it drops.
func (h *blackhole) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !h.cut.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// BenchmarkAckPauseSilentCut measures how long the primary's commits wait
// for a partner that went silent (sync cable cut, no FIN) while it
// replicates a steady stream: the longest Replicate call that started
// after the cut, i.e. the pause of ACKs a DHCP client sees before the link
// is declared down and commits proceed under COMMUNICATIONS-INTERRUPTED
// rules. Wall clock, real loopback sockets, max_response_delay 3 s as in
// the partition test. Reported as pause-ms (one cut per iteration; run
// with -benchtime=1x or 3x).
func BenchmarkAckPauseSilentCut(b *testing.B) {
	const mrd = 3 * time.Second
	var pauses []time.Duration
	for range b.N {
		pauses = append(pauses, ackPauseOnce(b, mrd))
	}
	var worst, sum time.Duration
	for _, p := range pauses {
		worst = max(worst, p)
		sum += p
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(pauses)), "pause-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-pause-ms")
	b.ReportMetric(0, "ns/op")
}

func ackPauseOnce(b *testing.B, mrd time.Duration) time.Duration {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hole := newBlackhole(b, ln.Addr().String())
	mod := func(o *Options) { o.Clock = nil; o.MaxResponseDelay = mrd; o.MaxUnacked = 1000 }
	p := newNode(b, "gw1", Primary, nil, func(o *Options) { mod(o); o.Listen = "127.0.0.1:0"; o.Peer = hole.ln.Addr().String() })
	s := newNode(b, "gw2", Secondary, nil, mod)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.l.Serve(ctx, ln) })
	wg.Go(func() { _ = p.l.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	waitFor[Up](b, p.events)
	waitFor[ResyncDone](b, s.events)

	// 200 commits/s from 4 goroutines, as the partition test's load.
	var (
		mu    sync.Mutex
		cutAt time.Time
		pause time.Duration
		down  = make(chan struct{})
		once  sync.Once
	)
	var lwg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		lwg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-down:
					return
				case <-tick.C:
				}
				i := int(next.Add(1))
				pl := p.store.commit(b, i%60000, time.Now())
				start := time.Now()
				err := p.l.Replicate(ctx, pl)
				end := time.Now()
				mu.Lock()
				if !cutAt.IsZero() && !start.Before(cutAt) {
					pause = max(pause, end.Sub(start))
				}
				mu.Unlock()
				if errors.Is(err, ErrPartnerUnreachable) {
					once.Do(func() { close(down) })
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	cutAt = time.Now()
	mu.Unlock()
	hole.cut.Store(true)
	select {
	case <-down:
	case <-time.After(3 * mrd):
		once.Do(func() { close(down) })
		b.Fatalf("commits still waiting %v after the cut", 3*mrd)
	}
	lwg.Wait()
	return pause
}
