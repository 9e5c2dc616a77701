package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
)

// Clock skew end to end (invariant 6): the crash loop of
// TestIntegrationFailoverCrashLoop with one box's clock an hour ahead or an
// hour behind (`hadhcpd run --clock-offset`, the agent's own wall time:
// Go ignores libfaketime). Safety needs no
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

// clockOffsetFlag is `hadhcpd run`'s hidden test flag that moves the
// agent's wall clock (cmd/hadhcpd clockOffsetFlag; TestRunClockOffsetFlag
// there checks the flag itself).
const clockOffsetFlag = "clock-offset"

// checkSkew is checkCrash against a box whose clock is off ahead of the
// client's, plus the lease end: every unexpired ACK's lease must be kept by
// the box until the end the client was told (a box that took a partner's
// or a skewed time for its own would end it an hour early or late).
func checkSkew(acks []crashAck, db map[netip.Addr]control.LeaseInfo, box string, off time.Duration, now time.Time) crashViolation {
	v := checkCrash(acks, db, box, now)
	for _, a := range acks {
		if !a.expiry.After(now) {
			continue
		}
		l, ok := db[a.ip]
		if !ok || !strings.EqualFold(l.HWAddr, a.hw) {
			continue // lost: checkCrash said so
		}
		kept := l.Expiry.Add(-off) // the box's lease end on the client's clock
		if d := kept.Sub(a.expiry); d < -skewTolerance || d > skewTolerance {
			v.lost = append(v.lost, fmt.Sprintf("round %d: %s ACKed to %s at %s until %s: %s keeps it until %s (its clock, offset %v): %v from what the client was told",
				a.round, a.ip, a.hw, a.at.Format("15:04:05.000"), a.expiry.Format("15:04:05"),
				box, l.Expiry.Format("15:04:05"), off, d.Round(time.Millisecond)))
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
	box := func(off time.Duration, ends ...time.Time) map[netip.Addr]control.LeaseInfo {
		m := map[netip.Addr]control.LeaseInfo{}
		for i, a := range acks {
			m[a.ip] = control.LeaseInfo{IP: a.ip.String(), HWAddr: a.hw, Expiry: ends[i].Add(off)}
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		box      map[netip.Addr]control.LeaseInfo
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
		v := checkSkew(acks, tc.box, "sec", tc.off, now)
		if len(v.lost) != tc.wantLost || len(v.dups) != 0 {
			t.Errorf("%s: lost %q, dups %q; want %d lost", tc.name, v.lost, v.dups, tc.wantLost)
		}
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
	// HADHCPD_SKEW_ROUNDS: kills per skew direction (default 2, so `make
	// test` stays quick; a kill9 and a box loss).
	rounds := envCount(t, "HADHCPD_SKEW_ROUNDS", 2, 1, 100, "rounds")
	p := newLoadPair(t, "hds", crashSpec)
	skewed := p.pri
	if skewSec {
		skewed = p.sec
	}
	offsets := map[*pairBox]time.Duration{skewed: off}
	// Restart the box with its clock moved, on an empty state dir: a box
	// whose clock always was off, not one whose clock jumped. Its later
	// restarts keep the flag.
	skewed.Kill(syscall.SIGTERM, 10*time.Second)
	if err := os.RemoveAll(filepath.Join(skewed.Dir, "state")); err != nil {
		t.Fatal(err)
	}
	skewed.Args = []string{"--" + clockOffsetFlag, off.String()}
	skewed.Start()

	cl := p.net.Host("cl")
	cl.Connect(p.lan, "eth0")
	load := newLoadClient(t, cl)

	for r := range rounds {
		p.mustNormal(t, crashNormalWait)
		if r == 0 {
			skewInForce(t, p, skewed, off)
		}
		c := p.killRound(t, load, r)
		v := checkSkew(c.acks, activeLeases(t, c.standby), c.standby.Name, offsets[c.standby], time.Now())
		t.Logf("round %d (%s of %s, standby %s at offset %v): %d clients started, ACKs before the kill %d, after %d, no ACK %d; lost %d, duplicates %d; kill → standby's first ACK %v",
			r, c.kind, c.active.Name, c.standby.Name, offsets[c.standby], c.started, c.before, c.after, c.failed, len(v.lost), len(v.dups), c.firstAck.Round(time.Millisecond))
		reportViolations(t, skewLost, v)
		if t.Failed() {
			t.FailNow()
		}
		c.restart()
	}

	// Whole again: both databases hold every unexpired ACK until the end
	// its client was told, each in its own clock, and the same active
	// pairs.
	p.mustNormal(t, crashNormalWait)
	load.mu.Lock()
	acks := append([]crashAck(nil), load.acks...)
	load.mu.Unlock()
	c := p.converge(t, 30*time.Second, func(pl, sl map[netip.Addr]control.LeaseInfo, now time.Time) crashViolation {
		return bothDBs(checkSkew(acks, pl, "primary", offsets[p.pri], now), checkSkew(acks, sl, "secondary", offsets[p.sec], now))
	})
	t.Logf("after %d rounds, %s at offset %v: %d ACKs checked against both databases: lost or kept for the wrong time %d, duplicates %d, active pairs differing %d",
		rounds, skewed.Name, off, len(acks), len(c.v.lost), len(c.v.dups), len(c.diff))
	reportViolations(t, skewLost, c.v)
	reportLines(t, "active pairs differ", c.diff)
}

// skewLost names what checkSkew's lost lines are.
const skewLost = "lost or kept for the wrong time (invariants 2, 6)"

// skewInForce fails the test unless the offset is really in force on the
// sync link: the partner measures the skew at the handshake (display only,
// never trusted). A flag that did nothing would make every skew round a
// plain crash round. (That the skewed box's engine and database use the
// offset too is shown by checkSkew: it takes the offset off the lease ends
// that box keeps, which would then be an hour wrong.)
func skewInForce(t *testing.T, p *pair, skewed *pairBox, off time.Duration) {
	t.Helper()
	other := p.pri
	if skewed == p.pri {
		other = p.sec
	}
	st, err := other.TryStatus()
	if err != nil || st.Failover == nil {
		t.Fatalf("%s: status: %v %+v", other.Name, err, st.Failover)
	}
	if d := time.Duration(st.Failover.SkewSeconds*float64(time.Second)) - off; d < -time.Minute || d > time.Minute {
		t.Fatalf("%s measures the partner's clock %.0fs ahead; want ≈ %v: the offset is not in force", other.Name, st.Failover.SkewSeconds, off)
	}
	t.Logf("%s measures the partner's clock %.0fs ahead (offset %v in force)", other.Name, st.Failover.SkewSeconds, off)
}
