package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// TestIntegrationPeerHostileHandshakes: a host on the sync network opens
// 2,000 connections to the secondary's failover.listen, from 16 source
// addresses, each sending only a frame header that announces an unknown
// type and 1 MiB, and holds them open. Before authentication that costs
// the secondary at most a handshake frame per connection and a few
// admission slots (invariant 8): its RSS grows by less than 20 MB, every
// connection is refused and counted in /metrics, and the pair stays
// NORMAL with its link up throughout. Then 2,000 more that send nothing:
// the admission limits close most at once, the rest time out.
func TestIntegrationPeerHostileHandshakes(t *testing.T) {
	testnet.RequireCmd(t, "curl")
	binary(t)
	n := testnet.New(t, "h12")
	g := &gPair{pair: &pair{net: n, lan: n.Switch("lan")}, sync: n.Switch("sync"), dir: t.TempDir()}
	g.psk = filepath.Join(g.dir, "peer.key")
	lab.WritePSK(t, g.psk)
	auth := "{psk_file: " + g.psk + "}"
	g.pri = g.box(t, "pri", g.lan, "primary", "192.0.2.2/24", "198.51.100.1/24", "198.51.100.1:647", "198.51.100.2:647", 200, auth)
	g.sec = g.box(t, "sec", g.lan, "secondary", "192.0.2.3/24", "198.51.100.2/24", "198.51.100.2:647", "198.51.100.1:647", 100, auth)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("primary log:\n%s", lab.Tail(g.pri.Log.String(), 60))
			t.Logf("secondary log:\n%s", lab.Tail(g.sec.Log.String(), 60))
		}
	})
	g.sec.Start()
	g.pri.Start()
	g.waitReady(t)

	const sources, conns = 16, 2000
	atk := n.Host("atk")
	var addrs []string
	var srcs []net.IP
	for i := range sources {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		addrs = append(addrs, a.String()+"/24")
		srcs = append(srcs, a.AsSlice())
	}
	atk.Connect(g.sync, "sync0", addrs...)

	pid := g.sec.Proc.Cmd.Process.Pid
	logFrom := len(g.sec.Log.String())
	rss0 := rssKiB(t, pid)
	refused0 := g.refusedTotal(t)

	header := []byte{0xee, 0x00, 0x10, 0x00, 0x00}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	dialErrs := 0
	start := time.Now()
	err := atk.Do(func() error {
		for i := range conns {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: srcs[i%sources]}, Timeout: 3 * time.Second}
			c, err := d.Dial("tcp", "198.51.100.2:647")
			if err != nil {
				dialErrs++
				continue
			}
			_, _ = c.Write(header) // a refused connection may already be closed
			held = append(held, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	flood := time.Since(start)
	rss1 := rssKiB(t, pid)
	t.Logf("%d connections in %v (%d dials failed); secondary RSS %d KiB before, %d KiB with them open",
		len(held), flood.Round(time.Millisecond), dialErrs, rss0, rss1)

	// Every connection that got through is refused and counted, once.
	var refused float64
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		refused = g.refusedTotal(t) - refused0
		if refused >= float64(len(held)) || time.Now().After(deadline) {
			break
		}
	}
	rss2 := rssKiB(t, pid)
	t.Logf("refused %v; by reason: %s; secondary RSS %d KiB after", refused, g.refusedByReason(t), rss2)
	if refused < float64(len(held)) {
		t.Errorf("%v refusals counted for %d connections", refused, len(held))
	}
	if grow := max(rss1, rss2) - rss0; grow > 20<<10 {
		t.Errorf("secondary RSS grew by %d KiB under the flood, want < 20 MiB", grow)
	}
	if len(held) < conns/2 {
		t.Errorf("only %d of %d connections were made", len(held), conns)
	}

	// Then 2,000 that send nothing at all: 64 wait in the handshake (4
	// per source), the rest are closed at once, and the 64 time out after
	// max_response_delay; each is counted once.
	refused0, rss0 = g.refusedTotal(t), rssKiB(t, pid)
	silent := 0
	err = atk.Do(func() error {
		for i := range conns {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: srcs[i%sources]}, Timeout: 3 * time.Second}
			c, err := d.Dial("tcp", "198.51.100.2:647")
			if err != nil {
				continue
			}
			silent++
			held = append(held, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rss1 = rssKiB(t, pid)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		refused = g.refusedTotal(t) - refused0
		if refused >= float64(silent) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("silent: %d connections, refused %v; by reason (cumulative): %s; secondary RSS %d KiB before, %d KiB with them open",
		silent, refused, g.refusedByReason(t), rss0, rss1)
	if refused < float64(silent) {
		t.Errorf("%v refusals counted for %d silent connections", refused, silent)
	}
	if grow := rss1 - rss0; grow > 20<<10 {
		t.Errorf("secondary RSS grew by %d KiB under the silent flood, want < 20 MiB", grow)
	}

	for _, b := range []*pairBox{g.pri, g.sec} {
		if st := b.Status(); st.Failover == nil || !st.Failover.LinkUp || st.Failover.State != "NORMAL" {
			t.Errorf("%s after the floods: failover %+v, want NORMAL with the link up", b.Name, st.Failover)
		}
	}
	if strings.Contains(g.sec.Log.String()[logFrom:], "peer link down") {
		t.Error("the secondary's link went down during the floods")
	}
	g.pri.Stop(t)
	g.sec.Stop(t)
}

// rssKiB is a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kib
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}

// hostileReasons are the refusals a connection that only sends a huge
// header can get.
var hostileReasons = []string{"oversize", "malformed", "source_limit", "total_limit", "timeout", "closed"}

func (g *gPair) refusedTotal(t *testing.T) float64 {
	t.Helper()
	v := 0.0
	for _, r := range hostileReasons {
		v += g.sec.metric(t, `hadhcpd_peer_refused_peers_total{reason="`+r+`"}`)
	}
	return v
}

func (g *gPair) refusedByReason(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, r := range hostileReasons {
		parts = append(parts, fmt.Sprintf("%s=%v", r, g.sec.metric(t, `hadhcpd_peer_refused_peers_total{reason="`+r+`"}`)))
	}
	return strings.Join(parts, " ")
}
