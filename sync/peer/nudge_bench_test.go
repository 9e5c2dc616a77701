package peer

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkAckBusyProcess is one Replicate round trip (records out, the
// partner's durable apply, its ack read back) over loopback TCP to a
// partner in another process (this test binary, see
// TestAckPartnerProcess), while this process runs Go with one thread for
// goroutines (the agent's default on a two-core box) and a goroutine
// shaped like the DHCP server's reader keeps that thread busy: short
// blocking ppoll(2) calls, a little work, runtime.Gosched every 8 rounds.
// "poller" reads the ack only when Go's scheduler asks the network poller
// (under such load: sysmon, every 10 ms); "nudge" is the session as it
// runs (nudge.go). Reports µs per round trip; compare the two in one run.
func BenchmarkAckBusyProcess(b *testing.B) {
	for _, bc := range []struct {
		name  string
		nudge time.Duration
	}{{"poller", 0}, {"nudge", nudgeEvery}} {
		b.Run(bc.name, func(b *testing.B) {
			addr := partnerProcess(b)
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			p := newNode(b, "gw1", Primary, nil, func(o *Options) {
				o.Clock, o.MaxUnacked, o.Listen, o.Peer = nil, 1000, "127.0.0.1:0", addr
			})
			p.l.nudge = bc.nudge
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = p.l.Run(ctx) })
			defer func() { cancel(); wg.Wait() }()
			waitFor[ResyncDone](b, p.events)
			stop := busyReader(b)
			defer stop()
			start := time.Now()
			for i := range b.N {
				if err := p.l.Replicate(ctx, p.store.commit(b, i%60000, time.Now())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/ack")
		})
	}
}

// partnerEnv names the address file of TestAckPartnerProcess.
const partnerEnv = "HADHCPD_PEER_PARTNER_ADDR_FILE"

// partnerProcess starts TestAckPartnerProcess in a child process and
// returns its listening address; the child ends with the benchmark.
func partnerProcess(b *testing.B) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAckPartnerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), partnerEnv+"="+file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if a, err := os.ReadFile(file); err == nil && len(a) > 0 && a[len(a)-1] == '\n' {
			return strings.TrimSpace(string(a))
		}
		if time.Now().After(deadline) {
			b.Fatal("the partner process did not report its address within 10 s")
		}
	}
}

// TestAckPartnerProcess is BenchmarkAckBusyProcess's partner: a
// secondary link over a memory store, in a process of its own, until its
// standard input closes. It does nothing unless the benchmark started it.
func TestAckPartnerProcess(t *testing.T) {
	file := os.Getenv(partnerEnv)
	if file == "" {
		t.Skip("run by BenchmarkAckBusyProcess only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newNode(t, "gw2", Secondary, nil, func(o *Options) { o.Clock, o.MaxUnacked = nil, 1000 })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.l.Serve(ctx, ln) })
	go func() {
		for range s.events { // drained (OnEvent must not block); never closed
		}
	}()
	if err := os.WriteFile(file, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	wg.Wait()
}

// busyReader runs a goroutine like dhcpd's Server.readLoop under load
// until the returned stop is called: it blocks in ppoll(2) for up to
// 30 µs (packets arrive every few tens of µs), works ~10 µs, and yields
// every 8 rounds.
func busyReader(b *testing.B) (stop func()) {
	fds := make([]int, 2)
	if err := unix.Pipe2(fds, unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		b.Fatal(err)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		pfd := []unix.PollFd{{Fd: int32(fds[0]), Events: unix.POLLIN}}
		ts := unix.NsecToTimespec(30_000)
		for i := 0; !done.Load(); i++ {
			_, _ = unix.Ppoll(pfd, &ts, nil)
			for t := time.Now(); time.Since(t) < 10*time.Microsecond; {
			}
			if i%8 == 7 {
				runtime.Gosched()
			}
		}
	})
	return func() {
		done.Store(true)
		wg.Wait()
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
}
