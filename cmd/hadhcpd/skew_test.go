package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/agent"
)

// Clock skew end to end (issue 8, point 5): the crash loop of
// TestIntegrationFailoverCrashLoop with one box's clock an hour ahead or an
// hour behind (`hadhcpd run --clock-offset`, the agent's own wall time:
// Go ignores libfaketime). DESIGN.md invariant 6: safety needs no
// synchronised clocks, the peer protocol carries both clocks and each box
// keeps every lease time in its own.
//
// The load client keeps its ACKs in real time (the test's clock); a box's
// database keeps its times in the box's clock. The checker therefore moves
// a database's times back by that box's offset before it compares them
// with what the client was told, and then asks more than the crash loop
// does: every unexpired ACKed lease is ACTIVE for its client AND the box
// holds it until the end the client was told (within skewTolerance, far
// below the hour a clock bug would show).

// skewTolerance bounds the difference between the lease end a client was
// told (its receive time + option 51) and the end the box keeps (its
// commit time + the same duration, moved by its offset): the ACK's way
// back, a retry's second ACK, the sub-millisecond error of the clock
// conversion over the sync link (sync/peer doc.go "Records and clocks").
const skewTolerance = 5 * time.Second

// skewRounds is HADHCPD_SKEW_ROUNDS: kills per skew direction (default 2,
// so `make test` stays quick; a kill9 and a box loss).
func skewRounds(t *testing.T) int {
	s := os.Getenv("HADHCPD_SKEW_ROUNDS")
	if s == "" {
		return 2
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		t.Fatalf("HADHCPD_SKEW_ROUNDS=%q: want a number of rounds 1–100", s)
	}
	return n
}

// skewStart (re)starts a box with its wall clock moved by off, appending
// to its log (crashStart with the hidden test flag).
func skewStart(b *pairBox, off time.Duration) {
	b.t.Helper()
	_, _ = fmt.Fprintf(b.log, "--- start %s, clock offset %v ---\n", time.Now().Format(time.RFC3339Nano), off)
	b.proc = b.host.Start(b.log, binary(b.t), "run", "-c", b.cfg, "--"+clockOffsetFlag, off.String())
}

// checkSkew is checkCrash against a box whose clock is off ahead of the
// client's, plus the lease end: every unexpired ACK's lease must be kept by
// the box until the end the client was told (a box that took a partner's
// or a skewed time for its own would end it an hour early or late).
func checkSkew(acks []crashAck, box map[netip.Addr]agent.LeaseInfo, off time.Duration, now time.Time) crashViolation {
	v := checkCrash(acks, box, now)
	for _, a := range acks {
		if !a.expiry.After(now) {
			continue
		}
		l, ok := box[a.ip]
		if !ok || !strings.EqualFold(l.HWAddr, a.hw) {
			continue // lost: checkCrash said so
		}
		kept := l.Expiry.Add(-off) // the box's lease end on the client's clock
		if d := kept.Sub(a.expiry); d < -skewTolerance || d > skewTolerance {
			v.lost = append(v.lost, fmt.Sprintf("round %d: %s ACKed to %s at %s until %s: the box keeps it until %s (its clock, offset %v): %v from what the client was told",
				a.round, a.ip, a.hw, a.at.Format("15:04:05.000"), a.expiry.Format("15:04:05"),
				l.Expiry.Format("15:04:05"), off, d.Round(time.Millisecond)))
		}
	}
	return v
}

// TestSkewCheckerDetects guards checkSkew: a lease kept an hour short or
// long is found on a box with or without an offset; the same lease on a
// box whose clock is an hour ahead is fine once the offset is taken off.
func TestSkewCheckerDetects(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr
	at := now.Add(-time.Minute)
	acks := []crashAck{
		{hw: "02:cc:00:00:00:01", ip: ip("198.18.1.1"), at: at, expiry: at.Add(time.Hour)},
		{hw: "02:cc:00:00:00:02", ip: ip("198.18.1.2"), at: at, expiry: at.Add(time.Hour)},
	}
	box := func(off time.Duration, ends ...time.Time) map[netip.Addr]agent.LeaseInfo {
		m := map[netip.Addr]agent.LeaseInfo{}
		for i, a := range acks {
			m[a.ip] = agent.LeaseInfo{IP: a.ip.String(), HWAddr: a.hw, Expiry: ends[i].Add(off)}
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		box      map[netip.Addr]agent.LeaseInfo
		off      time.Duration
		wantLost int
	}{
		{"in sync", box(0, acks[0].expiry, acks[1].expiry.Add(-time.Second)), 0, 0},
		{"box +1h, compensated", box(time.Hour, acks[0].expiry, acks[1].expiry), time.Hour, 0},
		{"box -1h, compensated", box(-time.Hour, acks[0].expiry, acks[1].expiry), -time.Hour, 0},
		{"box +1h, not compensated", box(time.Hour, acks[0].expiry, acks[1].expiry), 0, 2},
		{"an hour short", box(0, acks[0].expiry.Add(-time.Hour), acks[1].expiry), 0, 1},
		{"an hour long on a -1h box", box(-time.Hour, acks[0].expiry, acks[1].expiry.Add(time.Hour)), -time.Hour, 1},
	} {
		v := checkSkew(acks, tc.box, tc.off, now)
		if len(v.lost) != tc.wantLost || len(v.dups) != 0 {
			t.Errorf("%s: lost %q, dups %q; want %d lost", tc.name, v.lost, v.dups, tc.wantLost)
		}
	}
}

// TestRunClockOffsetFlag: the hidden flag refuses what it cannot mean
// before it reads the config (exit 2, a usage error).
func TestRunClockOffsetFlag(t *testing.T) {
	for _, tc := range []struct {
		arg, want string
	}{
		{"25h", "clock offset outside ±24h"},
		{"-24h0m1s", "clock offset outside ±24h"},
		{"soon", "invalid argument"},
	} {
		cmd := exec.Command(binary(t), "run", "-c", filepath.Join(t.TempDir(), "absent.yaml"), "--"+clockOffsetFlag, tc.arg)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("run --%s %s: %v, %q; want an error with %q", clockOffsetFlag, tc.arg, err, out, tc.want)
		}
		if tc.want != "invalid argument" && cmd.ProcessState.ExitCode() != exitConfig {
			t.Errorf("run --%s %s: exit %d, want %d", clockOffsetFlag, tc.arg, cmd.ProcessState.ExitCode(), exitConfig)
		}
	}
	out, err := exec.Command(binary(t), "run", "--help").CombinedOutput()
	if err != nil || strings.Contains(string(out), clockOffsetFlag) {
		t.Errorf("run --help shows the hidden test flag (or failed: %v):\n%s", err, out)
	}
}

// TestIntegrationFailoverSkew: the crash loop with the secondary's clock an
// hour ahead, then with the primary's an hour behind. The surviving
// standby's database is checked after each kill (in the first case the
// skewed one, holding its times in its own clock; in the second the true
// one, holding the skewed primary's leases converted), and both databases
// once the pair is whole again (the restarted box resynchronised from a
// partner whose clock differs by an hour).
func TestIntegrationFailoverSkew(t *testing.T) {
	for _, tc := range []struct {
		name string
		sec  bool // which box is skewed: the secondary, or the primary
		off  time.Duration
	}{
		{"secondary+1h", true, time.Hour},
		{"primary-1h", false, -time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) { skewLoop(t, tc.sec, tc.off) })
	}
}

func skewLoop(t *testing.T, skewSec bool, off time.Duration) {
	rounds := skewRounds(t)
	p := newLoadPair(t, "hds")
	skewed := p.pri
	if skewSec {
		skewed = p.sec
	}
	offsets := map[*pairBox]time.Duration{skewed: off}
	// Restart the box with its clock moved, on an empty state dir: a box
	// whose clock always was off, not one whose clock jumped.
	if err := skewed.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exited, _ := skewed.proc.Wait(10 * time.Second); !exited {
		t.Fatalf("%s did not stop within 10s of SIGTERM", skewed.name)
	}
	if err := os.RemoveAll(filepath.Join(skewed.dir, "state")); err != nil {
		t.Fatal(err)
	}
	skewStart(skewed, off)

	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	for r := range rounds {
		kind := "kill9"
		if r%2 == 1 {
			kind = "crash"
		}
		active, standby := p.waitNormal(t, 90*time.Second)
		if r == 0 {
			skewInForce(t, p, skewed, off)
		}

		load.mu.Lock()
		start := len(load.acks)
		load.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- load.run(ctx, r) }()

		time.Sleep(time.Second + mrand.N(2*time.Second))
		marker := fmt.Sprintf("--- round %d: %s of %s ---\n", r, kind, active.name)
		_, _ = fmt.Fprint(standby.log, marker)
		killAt := time.Now()
		if kind == "crash" {
			// Box loss: cables first, so no FIN leaves (PEERS.md).
			active.host.MustIP("link", "set", "eth0", "down")
			active.host.MustIP("link", "set", "sync0", "down")
		}
		if err := active.proc.Signal(syscall.SIGKILL); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(crashAfterKill)
		cancel()
		var started int
		select {
		case started = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("load client did not stop within 10s")
		}
		if exited, _ := active.proc.Wait(10 * time.Second); !exited {
			t.Fatalf("%s did not die of SIGKILL within 10s", active.name)
		}

		load.mu.Lock()
		all := append([]crashAck(nil), load.acks...)
		failed := load.failed
		load.failed = 0
		load.mu.Unlock()
		var before, after int
		for _, a := range all[start:] {
			if a.at.Before(killAt) {
				before++
			} else {
				after++
			}
		}
		firstAck := firstBindAfter(standby.log.String(), marker, killAt)
		v := checkSkew(all, activeLeases(t, standby), offsets[standby], time.Now())
		t.Logf("round %d (%s of %s, standby %s at offset %v): %d clients started, ACKs before the kill %d, after %d, no ACK %d; lost %d, duplicates %d; kill → standby's first ACK %v",
			r, kind, active.name, standby.name, offsets[standby], started, before, after, failed, len(v.lost), len(v.dups), firstAck.Round(time.Millisecond))
		reportViolations(t, v)
		if before == 0 {
			t.Errorf("round %d: no ACK before the kill: the load client did not work", r)
		}
		if after == 0 || firstAck < 0 {
			t.Errorf("round %d: the standby %s ACKed no new client within %v of the kill", r, standby.name, crashAfterKill)
		}
		if t.Failed() {
			t.FailNow()
		}

		if kind == "crash" {
			active.host.MustIP("link", "set", "eth0", "up")
			active.host.MustIP("link", "set", "sync0", "up")
		}
		skewStart(active, offsets[active])
	}

	// Whole again: both databases hold every unexpired ACK until the end
	// its client was told, each in its own clock, and the same active
	// pairs (re-read until then, bounded: NORMAL is reported by each box
	// on its own and a copy takes a moment to read).
	p.waitNormal(t, 90*time.Second)
	load.mu.Lock()
	acks := append([]crashAck(nil), load.acks...)
	load.mu.Unlock()
	var (
		v    crashViolation
		diff []string
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := time.Now()
		pl, sl := activeLeases(t, p.pri), activeLeases(t, p.sec)
		vp, vs := checkSkew(acks, pl, offsets[p.pri], now), checkSkew(acks, sl, offsets[p.sec], now)
		v = crashViolation{dups: vp.dups}
		for _, l := range vp.lost {
			v.lost = append(v.lost, "primary: "+l)
		}
		for _, l := range vs.lost {
			v.lost = append(v.lost, "secondary: "+l)
		}
		diff = pairsDiff(activePairs(pl), activePairs(sl))
		if len(v.lost) == 0 && len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("after %d rounds, %s at offset %v: %d ACKs checked against both databases: lost or kept for the wrong time %d, duplicates %d, active pairs differing %d",
		rounds, skewed.name, off, len(acks), len(v.lost), len(v.dups), len(diff))
	reportViolations(t, v)
	for i, d := range diff {
		if i == 20 {
			t.Errorf("… %d more", len(diff)-i)
			break
		}
		t.Errorf("active pairs differ: %s", d)
	}
}

// skewInForce fails the test unless the offset is really in force on the
// sync link: the partner measures the skew at the handshake (display only,
// never trusted). A flag that did nothing would make every skew round a
// plain crash round. (That the skewed box's engine and database use the
// offset too is shown by checkSkew: it takes the offset off the lease ends
// that box keeps, which would then be an hour wrong.)
func skewInForce(t *testing.T, p *crashPair, skewed *pairBox, off time.Duration) {
	t.Helper()
	other := p.pri
	if skewed == p.pri {
		other = p.sec
	}
	st, err := tryStatus(other)
	if err != nil || st.Failover == nil {
		t.Fatalf("%s: status: %v %+v", other.name, err, st.Failover)
	}
	if d := time.Duration(st.Failover.SkewSeconds*float64(time.Second)) - off; d < -time.Minute || d > time.Minute {
		t.Fatalf("%s measures the partner's clock %.0fs ahead; want ≈ %v: the offset is not in force", other.name, st.Failover.SkewSeconds, off)
	}
	t.Logf("%s measures the partner's clock %.0fs ahead (offset %v in force)", other.name, st.Failover.SkewSeconds, off)
}

// reportViolations fails the test with each broken invariant, at most 20
// lines of each kind.
func reportViolations(t *testing.T, v crashViolation) {
	t.Helper()
	for i, l := range v.lost {
		if i == 20 {
			t.Errorf("… %d more", len(v.lost)-i)
			break
		}
		t.Errorf("lost or kept for the wrong time (invariants 2, 6): %s", l)
	}
	for i, d := range v.dups {
		if i == 20 {
			t.Errorf("… %d more", len(v.dups)-i)
			break
		}
		t.Errorf("duplicate (invariant 1): %s", d)
	}
}
