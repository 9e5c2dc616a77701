package e2e

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/dhcpload"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// stormConfig is a single server with one pool of 101 addresses and its
// metrics on loopback (the drops by reason are read there).
const stormConfig = `node:
  name: storm
  state_dir: %[1]s/state
  control_socket: %[1]s/ctl.sock
  metrics_listen: "127.0.0.1:9767"
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  subnets:
    - subnet: 192.0.2.0/24
      pools: [{range: 192.0.2.100-192.0.2.200}]
      options: {routers: [192.0.2.1]}
`

// Storm knobs: 5,000 random-MAC DISCOVERs a second for 10 s, 50 known
// clients renewing throughout.
const (
	stormRate     = 5000
	stormFor      = 10 * time.Second
	stormKnown    = 50
	stormPoolSize = 101
	stormOffer    = 10 * time.Second // dhcp.offer_hold's default
)

// TestIntegrationLANStorm: a host on the LAN floods the server with
// DISCOVERs from random hardware addresses (DHCP starvation) while 50
// clients that hold leases renew (RENEWING, then REBINDING). Every renewal
// is answered; the storm's drops are counted by reason; and when the storm
// ends the pool is not held by it: a new client is served at once, and
// after offer_hold no address is held by an offer.
func TestIntegrationLANStorm(t *testing.T) {
	testnet.RequireCmd(t, "curl")
	lab.Bin.Path(t)
	n := testnet.New(t, "hhard")
	lan, srv, box := lanBox(t, n, "storm", withDir(stormConfig))
	pop := lanPopulation(t, n, lan, "known", [2]byte{0x5e, 0x01})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held := make([]dhcpload.Result, stormKnown)
	for i := range held {
		if held[i] = pop.DORA(ctx, i); !held[i].OK() {
			t.Fatalf("known client %d before the storm: %v", i, held[i].Err)
		}
	}

	flooder := n.Host("flood")
	flooder.Connect(lan, "eth0", "192.0.2.9/24")
	var sent atomic.Int64
	stormDone := make(chan error, 1)
	start := time.Now()
	var took time.Duration // the storm's own length
	go func() {
		err := flooder.Do(func() error { return storm(ctx, &sent) })
		took = time.Since(start)
		stormDone <- err
	}()

	// Each known client renews about every 2 s while the storm lasts.
	type outcome struct {
		client int
		err    error
		typ    dhcpv4.MessageType
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	for i := range held {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 2 * time.Second / stormKnown) // spread over the first round
			for time.Since(start) < stormFor-time.Second {
				rr, err := pop.Renew(ctx, held[i], 3*time.Second, 3*time.Second)
				mu.Lock()
				outcomes = append(outcomes, outcome{i, err, rr.Type})
				mu.Unlock()
				time.Sleep(2 * time.Second)
			}
		})
	}
	wg.Wait()
	if err := <-stormDone; err != nil {
		t.Fatalf("storm: %v", err)
	}
	stormEnd := time.Now()

	renewed := map[int]int{}
	for _, o := range outcomes {
		if o.err != nil || o.typ != dhcpv4.MessageTypeAck {
			t.Errorf("known client %d: renewal during the storm: %v %v, want an ACK", o.client, o.typ, o.err)
			continue
		}
		renewed[o.client]++
	}
	if len(renewed) != stormKnown {
		t.Errorf("%d of %d known clients renewed during the storm", len(renewed), stormKnown)
	}

	// Right after the storm a new client is not locked out (the storm's
	// oldest offers give way).
	if r := pop.DORA(ctx, 1000); !r.OK() {
		t.Errorf("a new client right after the storm: %v", r.Err)
	}
	drops := dropsByReason(t, srv)
	var dropped float64
	for _, v := range drops {
		dropped += v
	}
	offers := metricSum(t, srv, `hadhcpd_dhcp_packets_total{outcome="offer",type="discover"}`)
	t.Logf("storm: %d DISCOVERs sent in %v (%.0f/s), %.0f offered, %.0f dropped by reason %v; %d renewals of %d known clients, all ACKed: %v",
		sent.Load(), took.Round(time.Millisecond), float64(sent.Load())/took.Seconds(),
		offers, dropped, drops, len(outcomes), stormKnown, !t.Failed())
	if drops["offers-pool"]+drops["offers-chaddr"] == 0 {
		t.Errorf("no drop counted for the offer bounds: %v", drops)
	}
	if rate := float64(sent.Load()) / stormFor.Seconds(); rate < 0.9*stormRate {
		t.Errorf("the storm reached %.0f DISCOVERs/s, want %d: the test host is too slow", rate, stormRate)
	}
	// Every DISCOVER the storm sent is offered or counted as a drop
	// (a few percent may be lost before hadhcpd sees them: the kernel's
	// socket buffers under the flood).
	if acc := offers + dropped; acc < 0.95*float64(sent.Load()) {
		t.Errorf("%.0f of %d storm DISCOVERs offered or counted as dropped, want at least 95%%", acc, sent.Load())
	}

	// After offer_hold nothing of the storm holds an address: every
	// address of the pool is free or leased.
	deadline := stormEnd.Add(stormOffer + 5*time.Second)
	for {
		st, err := box.TryStatus()
		if err == nil && len(st.Pools) == 1 {
			p := st.Pools[0]
			if p.Free+p.Active == p.Total && p.Total == stormPoolSize {
				t.Logf("pool after the storm: %d free, %d active of %d", p.Free, p.Active, p.Total)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pool %+v %v after the storm: addresses still held by its offers", p, time.Since(stormEnd).Round(time.Second))
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("status: %v %+v", err, st.Pools)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// storm sends stormRate DISCOVERs a second from random hardware addresses
// for stormFor, as broadcasts on eth0 (run inside the flooding host).
func storm(ctx context.Context, sent *atomic.Int64) error {
	c, err := net.ListenPacket("udp4", "0.0.0.0:68")
	if err != nil {
		return err
	}
	defer c.Close()
	rc, err := c.(*net.UDPConn).SyscallConn()
	if err != nil {
		return err
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		_ = unix.BindToDevice(int(fd), "eth0")
	})
	to := &net.UDPAddr{IP: net.IPv4bcast, Port: 67}
	rng := rand.New(rand.NewPCG(5000, 10))
	tmpl, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
		dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 0}), dhcpv4.WithBroadcast(true))
	if err != nil {
		return err
	}
	pkt := tmpl.ToBytes()
	// Paced by the clock, not by ticks: a late batch catches up.
	start := time.Now()
	for {
		el := time.Since(start)
		if el >= stormFor {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for due := int64(el.Seconds() * stormRate); sent.Load() < due; {
			// xid (RFC 2131 §2: bytes 4-7) and chaddr (bytes 28-33).
			rnd := rng.Uint64()
			for i := range 4 {
				pkt[4+i] = byte(rnd >> (8 * i))
			}
			for i := range 5 {
				pkt[29+i] = byte(rnd >> (32 + 8*i))
			}
			if _, err := c.WriteTo(pkt, to); err != nil {
				return err
			}
			sent.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// scrapeMetrics returns the server's /metrics lines.
func scrapeMetrics(t *testing.T, h *testnet.Host) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := h.Output(ctx, "curl", "-sS", "--max-time", "3", "http://127.0.0.1:9767/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, out)
	}
	return strings.Split(out, "\n")
}

// dropsByReason reads hadhcpd_dhcp_drops_total by reason.
func dropsByReason(t *testing.T, h *testnet.Host) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range scrapeMetrics(t, h) {
		rest, ok := strings.CutPrefix(line, `hadhcpd_dhcp_drops_total{reason="`)
		if !ok {
			continue
		}
		reason, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[reason] = v
		}
	}
	return out
}

// metricSum is the value of one series (0 when absent).
func metricSum(t *testing.T, h *testnet.Host, series string) float64 {
	t.Helper()
	for _, line := range scrapeMetrics(t, h) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}
