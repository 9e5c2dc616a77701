package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/events"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// The HTTP API of a pair, from an operator's machine on the LAN: each box
// serves node.api_listen on its own LAN address with a bearer token.

const apiToken = "hops-e2e-token-0123456789abcdef"

// apiPair is a pair with the API on (prefix "hops") and an operator host
// (192.0.2.250) on its LAN that reaches both boxes' APIs.
type apiPair struct {
	*pair
	ops  *testnet.Host
	http *http.Client
}

func newAPIPair(t *testing.T) *apiPair {
	t.Helper()
	testnet.RequireCmd(t, "dhclient")
	tok := filepath.Join(t.TempDir(), "api.token")
	lab.WriteFile(t, tok, apiToken+"\n")
	p := newPairLab(t, "hops", netip.MustParsePrefix("192.0.2.0/24"), 60, func(r boxRole, dir, psk string) string {
		addr := "192.0.2.2"
		if r.name == "sec" {
			addr = "192.0.2.3"
		}
		c := fmt.Sprintf(pairConfig, r.name, dir, r.prio, r.role, r.listen, r.peer, psk, "")
		return strings.Replace(c, "  log_level: debug\n",
			fmt.Sprintf("  log_level: debug\n  api_listen: \"%s:9768\"\n  api_token_file: %s\n", addr, tok), 1)
	})
	ap := &apiPair{pair: p, ops: p.net.Host("ops")}
	ap.ops.Connect(p.lan, "eth0", "192.0.2.250/24")
	ap.http = nsHTTPClient(ap.ops)
	return ap
}

// nsHTTPClient is an HTTP client whose connections are opened in h's
// namespace (the transport dials on goroutines of its own: each dial
// switches its thread in and out, lab.Host.Do).
func nsHTTPClient(h *testnet.Host) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := h.Do(func() error {
				var d net.Dialer
				var err error
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		DisableKeepAlives: true,
	}}
}

// apiBase is a box's API address.
func apiBase(b *pairBox) string {
	if b.Name == "sec" {
		return "http://192.0.2.3:9768"
	}
	return "http://192.0.2.2:9768"
}

// call sends one request with the token (tok false: without) and decodes
// a JSON answer into v (when not nil); it returns the status code.
func (ap *apiPair) call(t *testing.T, method, url string, tok bool, v any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok {
		req.Header.Set("Authorization", "Bearer "+apiToken)
	}
	resp, err := ap.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %d %v: %s", method, url, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// sseReader follows a box's GET /v1/events in the background.
type sseReader struct {
	mu  sync.Mutex
	evs []events.Event
	err error
}

// leaseAndLeave: a new client c1 on the LAN gets a lease from the pair
// and stops without releasing it (dhclient -x); it returns the client and
// its address.
func (ap *apiPair) leaseAndLeave(t *testing.T) (*dhcpClient, string) {
	t.Helper()
	c1 := newClient(t, ap.net.Host("c1"))
	c1.h.Connect(ap.lan, "eth0")
	out, err := c1.dhclient(t)
	m := ackRx.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("c1: no lease from the pair: %v\n%s", err, out)
	}
	if out, err := c1.dhclient(t, "-x"); err != nil { // stop it without a release
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}
	return c1, m[1]
}

func (ap *apiPair) follow(t *testing.T, b *pairBox) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", apiBase(b)+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := ap.http.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("%s: GET /v1/events: %v", b.Name, err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("%s: GET /v1/events: %s", b.Name, resp.Status)
	}
	r := &sseReader{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev events.Event
			err := json.Unmarshal([]byte(data), &ev)
			r.mu.Lock()
			if err != nil {
				r.err = err
			} else {
				r.evs = append(r.evs, ev)
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// wait waits, bounded by d, for an event match accepts and returns it.
func (r *sseReader) wait(t *testing.T, what string, d time.Duration, match func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		for _, ev := range r.evs {
			if match(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		seen, err := len(r.evs), r.err
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("event stream: no %s within %v (%d events seen, err %v)", what, d, seen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIntegrationAPIPair: the API of a hot-standby pair. A lease granted
// by the primary appears on its event stream; the operator's DELETE on the
// primary releases it on both boxes (the partner acked it before the
// answer) and is published with who made it; with the sync link cut
// (COMMUNICATIONS-INTERRUPTED) the same request is refused and changes
// nothing; `hadhcpd events` prints the same events; no token, no answer.
func TestIntegrationAPIPair(t *testing.T) {
	ap := newAPIPair(t)
	ap.waitReady(t)
	if code := ap.call(t, "GET", apiBase(ap.pri)+"/v1/status", false, nil); code != http.StatusUnauthorized {
		t.Fatalf("status without the token: %d, want 401", code)
	}
	var st control.Status
	if code := ap.call(t, "GET", apiBase(ap.sec)+"/v1/status", true, &st); code != 200 || st.Failover == nil || st.Failover.State != "NORMAL" {
		t.Fatalf("secondary status: %d %+v", code, st.Failover)
	}
	priEvents := ap.follow(t, ap.pri)

	c1, ip := ap.leaseAndLeave(t)
	granted := priEvents.wait(t, "granted "+ip, 5*time.Second, func(ev events.Event) bool {
		return ev.Type == events.TypeLease && ev.Action == events.Granted && ev.IP.String() == ip
	})
	if granted.Box != "pri" || len(granted.HWAddr) != 6 || granted.Expiry.IsZero() {
		t.Errorf("granted event %+v: want box pri, the client's MAC, the expiry", granted)
	}
	for _, b := range []*pairBox{ap.pri, ap.sec} {
		if s := leaseState(b.leases(), ip); s != "active" {
			t.Fatalf("%s: %s is %q before the release, want active", b.Name, ip, s)
		}
	}

	// The release: on both boxes by the time of the answer.
	var res control.ReleaseResult
	if code := ap.call(t, "DELETE", apiBase(ap.pri)+"/v1/leases/"+ip, false, nil); code != http.StatusUnauthorized {
		t.Fatalf("DELETE without the token: %d, want 401", code)
	}
	if code := ap.call(t, "DELETE", apiBase(ap.pri)+"/v1/leases/"+ip, true, &res); code != 200 || res.State != "RELEASED" || !res.PartnerAcked {
		t.Fatalf("DELETE %s on the primary: %d %+v, want 200 RELEASED acked by the partner", ip, code, res)
	}
	for _, b := range []*pairBox{ap.pri, ap.sec} {
		if s := leaseState(b.leases(), ip); s != "released" {
			t.Errorf("%s: %s is %q after the API's release, want released", b.Name, ip, s)
		}
	}
	var page control.LeasePage
	if code := ap.call(t, "GET", apiBase(ap.sec)+"/v1/leases?state=active", true, &page); code != 200 {
		t.Fatalf("secondary leases: %d", code)
	}
	for _, l := range page.Leases {
		if l.IP == ip {
			t.Errorf("the secondary's API still lists %s as active", ip)
		}
	}
	rel := priEvents.wait(t, "released "+ip, 5*time.Second, func(ev events.Event) bool {
		return ev.Type == events.TypeLease && ev.Action == events.Released && ev.IP.String() == ip
	})
	if !strings.HasPrefix(rel.By, "token:") {
		t.Errorf("release event by %q, want the token's identity", rel.By)
	}
	ap.pri.WaitLog(`msg="api write".* op="lease release" ip=`+strings.ReplaceAll(ip, ".", `\.`)+` who=token:`, 5*time.Second)
	if code := ap.call(t, "DELETE", apiBase(ap.pri)+"/v1/leases/"+ip, true, nil); code != http.StatusNotFound {
		t.Errorf("DELETE of a released lease: %d, want 404", code)
	}

	// `hadhcpd events` over the control socket: the same events.
	out2, err := ap.pri.Run("events", "--recent", "100")
	if err != nil || !strings.Contains(out2, `"action":"granted","ip":"`+ip+`"`) || !strings.Contains(out2, `"action":"released","ip":"`+ip+`"`) {
		t.Errorf("hadhcpd events: %v\n%s", err, out2)
	}

	// The client comes back (same address: the record kept it), then the
	// sync cable is cut: COMMUNICATIONS-INTERRUPTED, and a release would
	// race the partner's view of the client. Refused; nothing changes.
	out, err := c1.dhclient(t)
	if m := ackRx.FindStringSubmatch(out); err != nil || m == nil || m[1] != ip {
		t.Fatalf("c1 again: want %s back: %v\n%s", ip, err, out)
	}
	if out, err := c1.dhclient(t, "-x"); err != nil {
		t.Fatalf("dhclient -x: %v\n%s", err, out)
	}
	ap.sec.Host.MustIP("link", "set", "sync0", "down")
	priEvents.wait(t, "failover transition to COMMUNICATIONS-INTERRUPTED", 15*time.Second, func(ev events.Event) bool {
		return ev.Type == events.TypeFailover && ev.To == "COMMUNICATIONS-INTERRUPTED"
	})
	var refusal struct{ Error string }
	if code := ap.call(t, "DELETE", apiBase(ap.pri)+"/v1/leases/"+ip, true, &refusal); code != http.StatusConflict ||
		!strings.Contains(refusal.Error, "COMMUNICATIONS-INTERRUPTED") {
		t.Errorf("DELETE in COMMUNICATIONS-INTERRUPTED: %d %q, want 409 naming the state", code, refusal.Error)
	}
	if s := leaseState(ap.pri.leases(), ip); s != "active" {
		t.Errorf("primary: %s is %q after the refused release, want active", ip, s)
	}
	ap.sec.Host.MustIP("link", "set", "sync0", "up")
}
