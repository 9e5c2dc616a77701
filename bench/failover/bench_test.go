package failover

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/internal/dhcpload"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Load and timing of one run (50 new clients/s, failure 3 s in).
const (
	loadRate      = 50
	failAfter     = 3 * time.Second
	stepTimeout   = time.Second      // client retransmission interval
	afterTakeover = 2 * time.Second  // load kept on after the standby's first ACK
	takeoverCap   = 30 * time.Second // Kea's box loss takes ~10 s (PEERS.md)
	renewClients  = 3                // clients renewing after the failure
	renewFor      = 2 * time.Second  // RENEWING (unicast) before REBINDING
	rebindFor     = 10 * time.Second
	// The RFC 5798 §6.1 Master_Down_Interval of the standby (priority 100)
	// with 100 ms adverts: 3 × 10 cs + (256 − 100) × 10 / 256 cs.
	masterDown = 300*time.Millisecond + (256-100)*100*time.Millisecond/256
)

// TestMain removes the hadhcpd binary the run built (lab.Bin).
func TestMain(m *testing.M) {
	code := m.Run()
	lab.Bin.Remove()
	os.Exit(code)
}

// clientDeadline is how long a client may take to get its ACK before it
// counts as lost: HADHCPD_BENCH_CLIENT_DEADLINE, default 5s.
func clientDeadline(t *testing.T) time.Duration {
	s := os.Getenv("HADHCPD_BENCH_CLIENT_DEADLINE")
	if s == "" {
		return 5 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < stepTimeout || d > time.Minute {
		t.Fatalf("HADHCPD_BENCH_CLIENT_DEADLINE=%q: want a duration between %v and 1m", s, stepTimeout)
	}
	return d
}

func repeats(t *testing.T) int {
	s := os.Getenv("HADHCPD_BENCH_REPEAT")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 20 {
		t.Fatalf("HADHCPD_BENCH_REPEAT=%q: want 1–20 runs per cell", s)
	}
	return n
}

// selected filters names by a comma-separated env list (empty: all).
func selected(t *testing.T, env string, all []string) []string {
	s := os.Getenv(env)
	if s == "" {
		return all
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(all, f) {
			t.Fatalf("%s=%q: %q is not one of %v", env, s, f, all)
		}
		out = append(out, f)
	}
	return out
}

// run is one (stack × failure) sample.
type run struct {
	takeover
	missing    []string
	renewKept  int
	renewModes []string
}

type cellKey struct{ stack, failure string }

// TestBenchFailover is `make bench-failover`: see the package comment.
func TestBenchFailover(t *testing.T) {
	if os.Getenv("HADHCPD_BENCH_FAILOVER") != "1" {
		t.Skip("skipped: the failover benchmark runs only with HADHCPD_BENCH_FAILOVER=1 (make bench-failover)")
	}
	testnet.RequireRoot(t)
	testnet.RequireCmd(t, "kea-dhcp4", "dhcpd", "keepalived")
	n := repeats(t)
	deadline := clientDeadline(t)
	all := map[string]stack{"hadhcpd": hadhcpdStack{}, "kea-ha": keaStack{}, "isc-dhcpd": iscStack{}}
	stackNames := selected(t, "HADHCPD_BENCH_STACKS", []string{"hadhcpd", "kea-ha", "isc-dhcpd"})
	failures := selected(t, "HADHCPD_BENCH_FAILURES", []string{"kill9", "boxloss"})

	results := map[cellKey][]run{}
	for _, sn := range stackNames {
		for _, f := range failures {
			for i := range n {
				t.Run(fmt.Sprintf("%s/%s/%d", sn, f, i+1), func(t *testing.T) {
					r := runOnce(t, all[sn], f, deadline, i)
					results[cellKey{sn, f}] = append(results[cellKey{sn, f}], r)
				})
			}
		}
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\nfailover benchmark: %d new clients/s (DORA, %v retransmission, lost = no ACK within %v of the client's start), failure %v in; median of %d run(s) per row\n",
		loadRate, stepTimeout, deadline, failAfter, n)
	for _, sn := range stackNames {
		fmt.Fprintf(&out, "  timers %-9s %s\n", sn+":", all[sn].timers())
	}
	fmt.Fprintln(&out, "  kill9 = SIGKILL of the active DHCP server process (keepalived keeps running); boxloss = active box's links down, then SIGKILL of everything on it")
	fmt.Fprintln(&out, "  first OFFER/ACK: failure → first from the standby for a new client (the ACK only when the standby also sent its OFFER)")
	fmt.Fprintf(&out, "  keeps address: of %d clients ACKed just before the failure, how many renewed the same address at the standby (RENEWING to the server id for %v, then REBINDING)\n\n", renewClients, renewFor)
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stack\tfailure\tfirst OFFER\tfirst ACK\tlost\tleases missing\tkeeps address\trenewal via\truns")
	for _, sn := range stackNames {
		for _, f := range failures {
			rs := results[cellKey{sn, f}]
			if len(rs) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t(no run finished)\t\t\t\t\t\t0\n", sn, f)
				continue
			}
			var offers, acks []time.Duration
			var lost, miss, kept []int
			modes := map[string]int{}
			for _, r := range rs {
				offers = append(offers, r.firstOffer)
				acks = append(acks, r.firstAck)
				lost = append(lost, r.lost)
				miss = append(miss, len(r.missing))
				kept = append(kept, r.renewKept)
				for _, m := range r.renewModes {
					modes[m]++
				}
			}
			var ms []string
			for m, c := range modes {
				ms = append(ms, fmt.Sprintf("%s %d", m, c))
			}
			slices.Sort(ms)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d/%d\t%s\t%d\n", sn, f, fmtDur(medianDur(offers)), fmtDur(medianDur(acks)),
				medianInt(lost), medianInt(miss), medianInt(kept), renewClients, strings.Join(ms, ", "), len(rs))
		}
	}
	tw.Flush()

	if rs, ok := results[cellKey{"hadhcpd", "boxloss"}]; ok {
		var acks []time.Duration
		for _, r := range rs {
			acks = append(acks, r.firstAck)
		}
		m, lim := medianDur(acks), masterDown+100*time.Millisecond
		fmt.Fprintf(&out, "\ntarget hadhcpd first ACK after a box loss ≤ Master_Down_Interval + 100 ms = %v: median %s — %s\n",
			lim.Round(time.Millisecond), fmtDur(m), verdict(m != none && m <= lim))
	}
	var missTotal, keptTotal, tried, hadRuns int
	for _, f := range failures {
		for _, r := range results[cellKey{"hadhcpd", f}] {
			hadRuns++
			missTotal += len(r.missing)
			keptTotal += r.renewKept
			tried += renewClients
		}
	}
	if hadRuns > 0 {
		fmt.Fprintf(&out, "target hadhcpd leases missing on the standby = 0 (all %d runs): %d — %s\n", hadRuns, missTotal, verdict(missTotal == 0))
		fmt.Fprintf(&out, "target hadhcpd clients keep their address at the standby: %d/%d — %s\n", keptTotal, tried, verdict(keptTotal == tried))
		// Correctness, not speed: no ACKed lease may be lost to one box's failure.
		if missTotal != 0 {
			t.Errorf("hadhcpd lost %d ACKed leases to a failure", missTotal)
		}
	}
	fmt.Print(out.String())
	if p := os.Getenv("HADHCPD_BENCH_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(out.String()), 0o644); err != nil {
			t.Errorf("HADHCPD_BENCH_OUT: %v", err)
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// runOnce builds a fresh lab, starts the stack, runs the load, fails the
// active box 3 s in and measures.
func runOnce(t *testing.T, st stack, failure string, deadline time.Duration, rep int) run {
	p := newPair(t)
	st.start(t, p)
	st.ready(t, p)

	var link *dhcpload.PacketLink
	if err := p.clients.Do(func() (err error) { link, err = dhcpload.OpenPacketLink("eth0"); return }); err != nil {
		t.Fatal(err)
	}
	pop, err := dhcpload.New(link, dhcpload.Config{Rate: loadRate, StepTimeout: stepTimeout, Deadline: deadline, MACPrefix: [2]byte{0xbf, byte(rep)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()

	// The active box answers (bounded): probes are numbered above the load.
	probe := 1 << 23
	lab.WaitFor(t, 30*time.Second, "a first lease from the active box", func() (bool, string) {
		probe++
		r := pop.DORA(context.Background(), probe)
		return r.OK() && r.AckFrom.MAC.String() == p.a.mac, fmt.Sprintf("probe: %v, ACK from %v", r.Err, r.AckFrom)
	})

	loadStart := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- pop.Run(ctx) }()
	time.Sleep(failAfter)

	t0 := time.Now()
	switch failure {
	case "kill9":
		if err := p.a.dhcp.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	case "boxloss":
		lab.KillBox(t, p.a.host, "eth0", "sync0")
	default:
		t.Fatalf("unknown failure %q", failure)
	}

	for time.Since(t0) < takeoverCap {
		if tk := measure(t0, p.b.mac, pop.Results(), pop.Replies()); tk.firstAck != none {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(afterTakeover)

	// Renewals by the clients ACKed last before the failure: the leases
	// most likely to be missing on the standby.
	var held []dhcpload.Result
	for _, r := range pop.Results() {
		if r.OK() && r.Ack.Before(t0) {
			held = append(held, r)
		}
	}
	slices.SortFunc(held, func(a, b dhcpload.Result) int { return a.Ack.Compare(b.Ack) })
	held = held[max(0, len(held)-renewClients):]
	var res run
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range held {
		wg.Go(func() {
			rr, err := pop.Renew(context.Background(), h, renewFor, rebindFor)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Logf("renew %s (%s): %v", h.Addr, h.MAC, err)
				res.renewModes = append(res.renewModes, "none")
			case rr.Type == dhcpv4.MessageTypeAck && rr.Addr == h.Addr && rr.From.MAC.String() == p.b.mac:
				t.Logf("renew %s (%s, ACKed %+.3fs by %v): %s ACK %+.3fs from %v", h.Addr, h.MAC, h.Ack.Sub(t0).Seconds(), h.AckFrom, rr.Mode, rr.At.Sub(t0).Seconds(), rr.From)
				res.renewKept++
				res.renewModes = append(res.renewModes, rr.Mode)
			default:
				t.Logf("renew %s (%s): %s %s of %s from %v", h.Addr, h.MAC, rr.Mode, rr.Type, rr.Addr, rr.From)
				res.renewModes = append(res.renewModes, rr.Mode+" "+strings.ToLower(rr.Type.String()))
			}
		})
	}
	wg.Wait()
	cancel()
	var started int
	select {
	case started = <-done:
	case <-time.After(deadline + 10*time.Second):
		t.Fatal("load did not stop")
	}

	all := pop.Results()
	var load []dhcpload.Result
	for _, r := range all {
		if !r.Start.Before(loadStart) && r.Client < 1<<23 {
			load = append(load, r)
		}
	}
	res.takeover = measure(t0, p.b.mac, load, pop.Replies())
	// The first whole exchanges with the standby, to see where time goes.
	var first []dhcpload.Result
	for _, r := range load {
		if r.OK() && r.Ack.After(t0) && r.AckFrom.MAC.String() == p.b.mac && r.OfferFrom.MAC.String() == p.b.mac {
			first = append(first, r)
		}
	}
	slices.SortFunc(first, func(a, b dhcpload.Result) int { return a.Ack.Compare(b.Ack) })
	for _, r := range first[:min(3, len(first))] {
		t.Logf("standby exchange: client %d started %+.3fs, OFFER %+.3fs, ACK %+.3fs (DISCOVERs %d, REQUESTs %d, NAKs %d)",
			r.Client, r.Start.Sub(t0).Seconds(), r.Offer.Sub(t0).Seconds(), r.Ack.Sub(t0).Seconds(), r.Discovers, r.Requests, r.Naks)
	}
	store, err := st.leases(t, p.b)
	if err != nil {
		t.Fatalf("standby lease store: %v", err)
	}
	res.missing = missing(t0, all, store)
	for i, m := range res.missing {
		if i == 10 {
			t.Logf("… %d more missing", len(res.missing)-10)
			break
		}
		t.Logf("missing on the standby: %s", m)
	}
	t.Logf("%s %s: %d clients started, %d ACKed before the failure, lost %d; first OFFER %s, first ACK %s from the standby; %d leases missing; %d/%d keep their address %v",
		st.name(), failure, started, res.acked, res.lost, fmtDur(res.firstOffer), fmtDur(res.firstAck), len(res.missing), res.renewKept, len(held), res.renewModes)
	if res.acked == 0 {
		t.Errorf("no client was ACKed before the failure: the load did not work")
	}
	return res
}
