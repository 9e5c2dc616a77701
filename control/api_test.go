package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

const testToken = "s3cret-token-0123456789"

// fakeLeases is a lease database by address that counts its reads, so a
// test can tell a page that walks from one that scans everything.
type fakeLeases struct {
	byAddr   map[netip.Addr]lease.Lease
	byClient map[string]lease.Lease
	gets     int
}

func (f *fakeLeases) Get(a netip.Addr) (lease.Lease, bool) {
	f.gets++
	l, ok := f.byAddr[a]
	return l, ok
}

func (f *fakeLeases) ByClient(key string) (lease.Lease, bool) {
	l, ok := f.byClient[key]
	return l, ok
}

func (f *fakeLeases) add(l lease.Lease) {
	f.byAddr[l.Addr] = l
	if k := l.Key(); k != "" {
		f.byClient[k] = l
	}
}

var testSubnets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/15"), netip.MustParsePrefix("192.0.2.0/24")}

// manyLeases spreads n leases over 10.0.0.0/15 (gaps of one address here
// and there); every tenth is EXPIRED, the others ACTIVE.
func manyLeases(n int) *fakeLeases {
	f := &fakeLeases{byAddr: map[netip.Addr]lease.Lease{}, byClient: map[string]lease.Lease{}}
	base := u32(netip.MustParseAddr("10.0.0.0"))
	for i := range n {
		st := lease.StateActive
		if i%10 == 0 {
			st = lease.StateExpired
		}
		hw := net.HardwareAddr{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		f.add(lease.Lease{Addr: addrOf(base + uint32(uint64(i)*(1<<17)/uint64(n))), HWAddr: hw, State: st, Seq: uint64(i + 1)})
	}
	return f
}

type testAPI struct {
	api    *API
	h      http.Handler
	ops    *fakeOperator
	db     *fakeLeases
	log    *bytes.Buffer
	reload int
}

func newTestAPI(t testing.TB, token []byte, db *fakeLeases) *testAPI {
	t.Helper()
	ta := &testAPI{ops: &fakeOperator{}, db: db, log: &bytes.Buffer{}}
	ta.api = &API{
		Log:         slog.New(slog.NewTextHandler(ta.log, nil)),
		Status:      sampleStatus,
		Pools:       func() []PoolStatus { return sampleStatus().Pools },
		Leases:      db,
		Subnets:     func() []netip.Prefix { return testSubnets },
		Ops:         ta.ops,
		PartnerAddr: "198.51.100.2",
		Reload:      func(context.Context) error { ta.reload++; return nil },
		Token:       token,
	}
	if db == nil {
		ta.api.Leases = nil
	}
	ta.h = ta.api.Handler()
	return ta
}

// do sends one request from a loopback client, with the token when tok
// is not empty.
func (ta *testAPI) do(method, target, body, tok string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	r.RemoteAddr, r.Host = "127.0.0.1:40000", "127.0.0.1:9768"
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	ta.h.ServeHTTP(w, r)
	return w
}

func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return v
}

func TestAPIStatus(t *testing.T) {
	ta := newTestAPI(t, nil, nil)
	w := ta.do("GET", "/v1/status", "", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/status: %d %q", w.Code, w.Body)
	}
	if got, want := decode[Status](t, w), sampleStatus(); !reflect.DeepEqual(got, want) {
		t.Errorf("status = %+v, want %+v", got, want)
	}
	if w := ta.do("POST", "/v1/status", "{}", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/status: %d, want 405", w.Code)
	}
	if w := ta.do("GET", "/v2/status", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET /v2/status: %d, want 404", w.Code)
	}
}

func TestAPIPools(t *testing.T) {
	ta := newTestAPI(t, nil, nil)
	w := ta.do("GET", "/v1/pools", "", "")
	got := decode[struct{ Pools []PoolUse }](t, w).Pools
	want := sampleStatus().Pools
	if w.Code != 200 || len(got) != len(want) {
		t.Fatalf("GET /v1/pools: %d %s", w.Code, w.Body)
	}
	for i, p := range got {
		if p.PoolStatus != want[i] || p.Utilization != float64(want[i].Active)/float64(want[i].Total) {
			t.Errorf("pool %d: %+v, want %+v with utilization active/total", i, p, want[i])
		}
	}
}

func TestAPIAuthToken(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer " + testToken[:len(testToken)-1] + "X", 401},
		{"prefix of the token", "Bearer " + testToken[:8], 401},
		{"not bearer", "Basic " + testToken, 401},
		{"token", "Bearer " + testToken, 200},
	} {
		for _, target := range []string{"/v1/status", "/v1/leases", "/v1/pools"} {
			r := httptest.NewRequest("GET", target, nil)
			r.RemoteAddr, r.Host = "127.0.0.1:40000", "127.0.0.1:9768" // loopback too needs it when there is one
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			ta.h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("%s, GET %s: %d, want %d", tc.name, target, w.Code, tc.want)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
			}
		}
	}
	// Writes too, and a refused write never reaches the operator.
	for _, tok := range []string{"", "wrong-token-0123456789"} {
		if w := ta.do("POST", "/v1/maintenance", `{"action":"start"}`, tok); w.Code != 401 {
			t.Errorf("maintenance with token %q: %d, want 401", tok, w.Code)
		}
	}
	if len(ta.ops.calls) != 0 {
		t.Errorf("unauthenticated writes reached the operator: %v", ta.ops.calls)
	}
	// From another host, with the token.
	r := httptest.NewRequest("GET", "/v1/status", nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	ta.h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("remote client with the token: %d", w.Code)
	}
}

// Without a token only local clients that are not web pages are served.
func TestAPIAuthLoopback(t *testing.T) {
	ta := newTestAPI(t, nil, nil)
	for _, tc := range []struct {
		name, remote, host, origin string
		want                       int
	}{
		{"loopback", "127.0.0.1:40000", "127.0.0.1:9768", "", 200},
		{"loopback v6, localhost", "[::1]:40000", "localhost:9768", "", 200},
		{"remote", "192.0.2.7:40000", "127.0.0.1:9768", "", 403},
		{"web page (Origin)", "127.0.0.1:40000", "127.0.0.1:9768", "http://evil.example", 403},
		{"rebound name (Host)", "127.0.0.1:40000", "evil.example:9768", "", 403},
	} {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		ta.h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}

func TestAPIWrites(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	for _, tc := range []struct{ path, body, call string }{
		{"/v1/maintenance", `{"action":"start"}`, "maintenance start"},
		{"/v1/maintenance", `{"action":"stop"}`, "maintenance stop"},
		{"/v1/partner-down", `{"confirm":"198.51.100.2"}`, "partner-down"},
	} {
		n := len(ta.ops.calls)
		w := ta.do("POST", tc.path, tc.body, testToken)
		if w.Code != 200 || len(ta.ops.calls) != n+1 || ta.ops.calls[n] != tc.call {
			t.Fatalf("POST %s %s: %d %s; calls %v", tc.path, tc.body, w.Code, w.Body, ta.ops.calls)
		}
		if r := decode[OperatorResult](t, w); r.Command != tc.call || !r.Applied {
			t.Errorf("POST %s: result %+v", tc.path, r)
		}
	}
	if w := ta.do("POST", "/v1/reload", "", testToken); w.Code != 200 || ta.reload != 1 {
		t.Errorf("POST /v1/reload: %d %s, reloads %d", w.Code, w.Body, ta.reload)
	}
	// Every write is logged with who made it.
	id := TokenID([]byte(testToken))
	for _, op := range []string{`op="maintenance start"`, `op="maintenance stop"`, "op=partner-down", "op=reload"} {
		if !strings.Contains(ta.log.String(), op+" who="+id+" remote=127.0.0.1:40000") {
			t.Errorf("no log line for %s by %s in\n%s", op, id, ta.log)
		}
	}
	if strings.Contains(ta.log.String(), testToken) {
		t.Error("the token itself is in the log")
	}

	// A refusal is 409 with what did happen.
	ta.ops.err = fmt.Errorf("%w: the sync link to the partner is up", errRefused)
	w := ta.do("POST", "/v1/partner-down", `{"confirm":"198.51.100.2"}`, testToken)
	if e := decode[apiError](t, w); w.Code != 409 || e.Result == nil || e.Result.Refused == "" || !strings.Contains(e.Error, "refused") {
		t.Errorf("refused partner-down: %d %s", w.Code, w.Body)
	}
	ta.ops.err = nil
}

// On a box in several relationships, partner-down names one, and confirm
// is that relationship's partner; without a name, or with another's
// partner, nothing is done and the answer lists the relationships.
func TestAPIPartnerDownRelationship(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	ta.api.Partners = []Partner{{Relationship: "seg1", Addr: "198.51.100.2"}, {Relationship: "seg3", Addr: "198.51.100.3"}}
	for _, tc := range []struct{ body, want string }{
		{`{"confirm":"198.51.100.2"}`, "relationship must name one of: seg1 (partner 198.51.100.2), seg3 (partner 198.51.100.3)"},
		{`{"confirm":"198.51.100.2","relationship":"seg2"}`, `no such failover relationship on this box; one of: seg1`},
		{`{"confirm":"198.51.100.2","relationship":"seg3"}`, "confirm must be the partner's address (the host of failover.relationships seg3's peer)"},
	} {
		w := ta.do("POST", "/v1/partner-down", tc.body, testToken)
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("POST /v1/partner-down %s: %d %s, want 400 %q", tc.body, w.Code, w.Body, tc.want)
		}
	}
	if len(ta.ops.calls) != 0 {
		t.Fatalf("refused requests reached the operator: %v", ta.ops.calls)
	}
	w := ta.do("POST", "/v1/partner-down", `{"confirm":"198.51.100.3","relationship":"seg3"}`, testToken)
	if w.Code != 200 || strings.Join(ta.ops.calls, ",") != "partner-down seg3" {
		t.Fatalf("partner-down seg3: %d %s; calls %v", w.Code, w.Body, ta.ops.calls)
	}
	if !strings.Contains(ta.log.String(), `op="partner-down relationship=seg3"`) {
		t.Errorf("write not logged:\n%s", ta.log)
	}
}

func TestAPIWritesLoggedLoopback(t *testing.T) {
	ta := newTestAPI(t, nil, nil)
	if w := ta.do("POST", "/v1/maintenance", `{"action":"start"}`, ""); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.Contains(ta.log.String(), `op="maintenance start" who=loopback`) {
		t.Errorf("write not logged as loopback:\n%s", ta.log)
	}
}

func TestAPIWritesBadArguments(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	for _, tc := range []struct {
		path, body, ctype string
		want              int
	}{
		{"/v1/maintenance", `{"action":"on"}`, "application/json", 400},
		{"/v1/maintenance", `{}`, "application/json", 400},
		{"/v1/maintenance", ``, "application/json", 400},
		{"/v1/maintenance", `{"action":"start","force":true}`, "application/json", 400},
		{"/v1/maintenance", `{"action":"start"}{"action":"stop"}`, "application/json", 400},
		{"/v1/maintenance", `{"action":`, "application/json", 400},
		{"/v1/maintenance", `action=start`, "application/x-www-form-urlencoded", 415},
		{"/v1/maintenance", `{"action":"start"}`, "text/plain", 415},
		{"/v1/partner-down", `{}`, "application/json", 400},
		{"/v1/partner-down", `{"confirm":"198.51.100.3"}`, "application/json", 400},
		{"/v1/partner-down", `{"confirm":"198.51.100.2"}`, "text/plain", 415},
		// A single pair has no relationship to name.
		{"/v1/partner-down", `{"confirm":"198.51.100.2","relationship":"seg1"}`, "application/json", 400},
		{"/v1/reload", `{"now":true}`, "application/json", 400},
		{"/v1/maintenance", `{"action":"` + strings.Repeat("x", maxBody) + `"}`, "application/json", 400},
	} {
		r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		r.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		ta.h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("POST %s %.40q (%s): %d %s, want %d", tc.path, tc.body, tc.ctype, w.Code, w.Body, tc.want)
		}
	}
	if len(ta.ops.calls) != 0 || ta.reload != 0 {
		t.Errorf("bad requests reached the operator: %v, reloads %d", ta.ops.calls, ta.reload)
	}
}

func TestAPIWritesUnavailable(t *testing.T) {
	ta := newTestAPI(t, nil, nil)
	ta.api.Ops, ta.api.Reload = nil, nil
	ta.h = ta.api.Handler()
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/maintenance", `{"action":"start"}`, "single server"},
		{"/v1/partner-down", `{"confirm":"198.51.100.2"}`, "single server"},
		{"/v1/reload", `{}`, "without a config file"},
	} {
		w := ta.do("POST", tc.path, tc.body, "")
		if w.Code != 409 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("POST %s: %d %s, want 409 %q", tc.path, w.Code, w.Body, tc.want)
		}
	}
	ta.api.Reload = func(context.Context) error { return errors.New("config not valid") }
	ta.h = ta.api.Handler()
	if w := ta.do("POST", "/v1/reload", `{}`, ""); w.Code != 409 || !strings.Contains(w.Body.String(), "config not valid") {
		t.Errorf("failed reload: %d %s", w.Code, w.Body)
	}
}

// TestAPILeasesPaging pages through 100,000 leases: every lease once, in
// address order, and each page reads about as many addresses as it
// returns, never the whole database.
func TestAPILeasesPaging(t *testing.T) {
	const n, limit = 100_000, 1000
	db := manyLeases(n)
	ta := newTestAPI(t, nil, db)
	var (
		got      int
		last     netip.Addr
		cursor   string
		pages    int
		maxReads int
	)
	for {
		db.gets = 0
		w := ta.do("GET", fmt.Sprintf("/v1/leases?limit=%d&cursor=%s", limit, cursor), "", "")
		if w.Code != 200 {
			t.Fatalf("page %d: %d %s", pages, w.Code, w.Body)
		}
		p := decode[LeasePage](t, w)
		pages++
		maxReads = max(maxReads, db.gets)
		for _, l := range p.Leases {
			a := netip.MustParseAddr(l.IP)
			if last.IsValid() && !last.Less(a) {
				t.Fatalf("page %d: %s after %s", pages, a, last)
			}
			last = a
			got++
		}
		if p.Next == "" {
			break
		}
		if pages > 2*n/limit {
			t.Fatalf("%d pages for %d leases: the cursor does not move on", pages, n)
		}
		if len(p.Leases) != limit && got < n {
			t.Fatalf("page %d: %d leases, want %d", pages, len(p.Leases), limit)
		}
		cursor = p.Next
	}
	if got != n {
		t.Errorf("paged %d leases, want %d", got, n)
	}
	// 10.0.0.0/15 holds 131,072 addresses for 100,000 leases.
	if maxReads > 2*limit {
		t.Errorf("a page of %d read %d addresses: it scans, it should walk from the cursor", limit, maxReads)
	}
	if pages < n/limit {
		t.Errorf("%d pages", pages)
	}
}

func TestAPILeasesFilters(t *testing.T) {
	db := manyLeases(1000)
	other := lease.Lease{Addr: netip.MustParseAddr("192.0.2.10"), ClientID: []byte{1, 0xaa, 0xbb, 0xcc, 0, 0, 1},
		HWAddr: net.HardwareAddr{0xaa, 0xbb, 0xcc, 0, 0, 1}, State: lease.StateActive, Hostname: "pc1"}
	db.add(other)
	// Outside every served subnet: never listed.
	db.add(lease.Lease{Addr: netip.MustParseAddr("203.0.113.5"), State: lease.StateActive})
	ta := newTestAPI(t, nil, db)
	page := func(q string) LeasePage {
		t.Helper()
		w := ta.do("GET", "/v1/leases?"+q, "", "")
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", q, w.Code, w.Body)
		}
		return decode[LeasePage](t, w)
	}
	ips := func(p LeasePage) string {
		var s []string
		for _, l := range p.Leases {
			s = append(s, l.IP)
		}
		return strings.Join(s, ",")
	}
	if p := page("ip=192.0.2.10"); ips(p) != "192.0.2.10" || p.Leases[0].ClientID != "01:aa:bb:cc:00:00:01" || p.Next != "" {
		t.Errorf("ip=192.0.2.10: %+v", p)
	}
	if p := page("ip=192.0.2.0/24"); ips(p) != "192.0.2.10" {
		t.Errorf("ip=192.0.2.0/24: %s", ips(p))
	}
	if p := page("subnet=192.0.2.0/24&state=active"); ips(p) != "192.0.2.10" {
		t.Errorf("subnet and state: %s", ips(p))
	}
	if p := page("subnet=192.0.2.0/24&state=expired"); ips(p) != "" {
		t.Errorf("subnet and state expired: %s", ips(p))
	}
	if p := page("ip=203.0.113.5"); ips(p) != "" {
		t.Errorf("a lease outside the served subnets listed: %s", ips(p))
	}
	// A hardware address finds the client that sends an identifier
	// made of it, and one that sends none; from the index, no walk.
	db.gets = 0
	if p := page("hw_address=aa:bb:cc:00:00:01"); ips(p) != "192.0.2.10" || db.gets != 0 {
		t.Errorf("hw_address (identifier 01+MAC): %s, %d reads", ips(p), db.gets)
	}
	if p := page("hw_address=02:00:00:00:00:07"); len(p.Leases) != 1 || p.Leases[0].HWAddr != "02:00:00:00:00:07" {
		t.Errorf("hw_address: %+v", p)
	}
	if p := page("client_id=01aabbcc000001"); ips(p) != "192.0.2.10" {
		t.Errorf("client_id: %s", ips(p))
	}
	if p := page("client_id=01:aa:bb:cc:00:00:01&state=expired"); ips(p) != "" {
		t.Errorf("client_id and another state: %s", ips(p))
	}
	if p := page("client_id=01:aa:bb:cc:00:00:01&subnet=10.0.0.0/15"); ips(p) != "" {
		t.Errorf("client_id in another subnet: %s", ips(p))
	}
	// State over the whole /15: every tenth lease.
	total := 0
	for cursor := ""; ; {
		p := page("state=expired&limit=1000&cursor=" + cursor)
		for _, l := range p.Leases {
			if l.State != "expired" {
				t.Fatalf("state=expired gave %+v", l)
			}
		}
		total += len(p.Leases)
		if cursor = p.Next; cursor == "" || total > 1000 {
			break
		}
	}
	if total != 100 {
		t.Errorf("state=expired: %d leases, want 100", total)
	}
	// A filter that matches nothing stops at the scan bound with a cursor.
	db.gets = 0
	if p := page("state=abandoned"); len(p.Leases) != 0 || p.Next == "" || db.gets != maxScan {
		t.Errorf("sparse filter: %d leases, next %q, %d reads (bound %d)", len(p.Leases), p.Next, db.gets, maxScan)
	}
}

func TestAPILeasesBadArguments(t *testing.T) {
	ta := newTestAPI(t, nil, manyLeases(10))
	for _, q := range []string{
		"limit=0", "limit=1001", "limit=x", "cursor=nope", "cursor=2001:db8::1", "state=bound",
		"ip=10.0.0.300", "ip=2001:db8::/64", "subnet=10.0.0.0/16", "subnet=x", "hw_address=zz",
		"client_id=xyz", "mac=02:00:00:00:00:01",
	} {
		w := ta.do("GET", "/v1/leases?"+q, "", "")
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s: %d %s, want 400", q, w.Code, w.Body)
		}
	}
}

// BenchmarkAPILeasesPage is one page of 1,000 from the middle of 100,000
// leases through the handler (the target: well under 50 ms).
func BenchmarkAPILeasesPage(b *testing.B) {
	db := manyLeases(100_000)
	ta := newTestAPI(b, nil, db)
	for b.Loop() {
		w := ta.do("GET", "/v1/leases?limit=1000&cursor=10.1.0.0", "", "")
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := ReadToken(write("ok", testToken+"\n", 0o600)); err != nil || string(tok) != testToken {
		t.Errorf("0600 token: %q, %v", tok, err)
	}
	if _, err := ReadToken(write("ro", testToken, 0o400)); err != nil {
		t.Errorf("0400 token: %v", err)
	}
	for name, tc := range map[string]struct {
		text string
		mode os.FileMode
		want string
	}{
		"group": {testToken, 0o640, "group or others"},
		"world": {testToken, 0o604, "group or others"},
		"short": {"short", 0o600, "at least 16"},
		"two":   {testToken + " " + testToken, 0o600, "without spaces"},
	} {
		if _, err := ReadToken(write(name, tc.text, tc.mode)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
	if _, err := ReadToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

// TestAPIServe runs the API on a real listener and stops it with ctx.
func TestAPIServe(t *testing.T) {
	ta := newTestAPI(t, []byte(testToken), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ta.api.Serve(ctx, ln) }()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
