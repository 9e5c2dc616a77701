package lease

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// logBuf collects log lines for tests that check what was said.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openT(t testing.TB, dir string, logs *logBuf) (*DB, OpenReport) {
	t.Helper()
	opts := Options{Dir: dir, Clock: &fakeClock{t: t0}}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	db, rep, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, rep
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func mac(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func active(a netip.Addr, i int, start time.Time, d time.Duration) Lease {
	return Lease{
		Addr: a, HWAddr: mac(i), Hostname: fmt.Sprintf("host%d", i), State: StateActive,
		Start: start, Expiry: start.Add(d), StateStart: start, CLTT: start,
	}
}

func mustCommit(t testing.TB, db *DB, ls ...Lease) []Lease {
	t.Helper()
	out, err := db.Commit(ls...)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return out
}

func TestCommitGetReopen(t *testing.T) {
	dir := t.TempDir()
	db, rep := openT(t, dir, nil)
	if rep.Records != 0 || rep.LastSeq != 0 || rep.TruncatedAt != -1 {
		t.Fatalf("fresh report = %+v", rep)
	}
	l := active(ip("192.0.2.10"), 1, t0, time.Hour)
	l.ClientID = []byte{1, 2, 3}
	l.PotentialExpiry = t0.Add(2 * time.Hour)
	l.AckedExpiry = t0.Add(90 * time.Minute)
	l.PartnerExpiry = t0.Add(80 * time.Minute)
	out := mustCommit(t, db, l)
	if out[0].Seq != 1 {
		t.Fatalf("seq = %d, want 1", out[0].Seq)
	}
	l.Seq = 1
	if got, _ := db.Get(l.Addr); !leaseEqual(got, l) {
		t.Fatalf("Get = %+v\nwant %+v", got, l)
	}
	if got, ok := db.ByClient(ClientKey(l.ClientID, l.HWAddr)); !ok || got.Addr != l.Addr {
		t.Fatalf("ByClient(id) = %v %v", got, ok)
	}
	if _, ok := db.ByClient(ClientKey(nil, l.HWAddr)); ok {
		t.Fatal("ByClient(hw) found a lease keyed by its client id")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, rep := openT(t, dir, nil)
	if rep.Records != 1 || rep.LastSeq != 1 || rep.NeedResync {
		t.Fatalf("reopen report = %+v", rep)
	}
	if got, _ := db2.Get(l.Addr); !leaseEqual(got, l) {
		t.Fatalf("after reopen Get = %+v\nwant %+v", got, l)
	}
	out = mustCommit(t, db2, active(ip("192.0.2.11"), 2, t0, time.Hour))
	if out[0].Seq != 2 {
		t.Fatalf("seq after reopen = %d, want 2", out[0].Seq)
	}
}

func leaseEqual(a, b Lease) bool {
	return a.Addr == b.Addr && bytes.Equal(a.HWAddr, b.HWAddr) && bytes.Equal(a.ClientID, b.ClientID) &&
		a.Hostname == b.Hostname && a.State == b.State && a.Start.Equal(b.Start) && a.Expiry.Equal(b.Expiry) &&
		a.PotentialExpiry.Equal(b.PotentialExpiry) && a.AckedExpiry.Equal(b.AckedExpiry) &&
		a.PartnerExpiry.Equal(b.PartnerExpiry) && a.CLTT.Equal(b.CLTT) && a.StateStart.Equal(b.StateStart) &&
		a.Seq == b.Seq && a.Peer == b.Peer
}

func TestCommitRejectsInvalid(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	for name, l := range map[string]Lease{
		"ipv6":      {Addr: ip("2001:db8::1"), State: StateActive},
		"no addr":   {State: StateActive},
		"state 0":   {Addr: ip("192.0.2.1")},
		"state 8":   {Addr: ip("192.0.2.1"), State: 8},
		"long hw":   {Addr: ip("192.0.2.1"), State: StateFree, HWAddr: make([]byte, 17)},
		"long host": {Addr: ip("192.0.2.1"), State: StateFree, Hostname: strings.Repeat("a", 256)},
		"1969":      {Addr: ip("192.0.2.1"), State: StateFree, Start: time.Unix(-5, 0)},
		"2107":      {Addr: ip("192.0.2.1"), State: StateFree, Expiry: time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := db.Commit(l); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if db.Len() != 0 {
		t.Fatalf("an invalid lease was stored")
	}
}

func TestAllocateOrder(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	if _, err := db.Allocate("p", netip.Addr{}, StateFree); !errors.Is(err, ErrNoPool) {
		t.Fatalf("before SetPools: err = %v, want ErrNoPool", err)
	}
	if err := db.SetPools([]Pool{{Name: "p", First: ip("192.0.2.10"), Last: ip("192.0.2.15")}}); err != nil {
		t.Fatal(err)
	}
	// .10 expired long ago, .11 released recently, .12 active, .13 abandoned,
	// .14 backup; .15 never used.
	ls := []Lease{
		{Addr: ip("192.0.2.10"), State: StateExpired, HWAddr: mac(10), StateStart: t0.Add(-2 * time.Hour)},
		{Addr: ip("192.0.2.11"), State: StateReleased, HWAddr: mac(11), StateStart: t0.Add(-time.Hour)},
		active(ip("192.0.2.12"), 12, t0, time.Hour),
		{Addr: ip("192.0.2.13"), State: StateAbandoned, StateStart: t0},
		{Addr: ip("192.0.2.14"), State: StateBackup, StateStart: t0},
	}
	mustCommit(t, db, ls...)
	for _, rebuilt := range []bool{false, true} {
		if rebuilt {
			// The same order must come out of the structures SetPools builds.
			for _, a := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.15", "192.0.2.14"} {
				db.Unhold(ip(a))
			}
			if err := db.SetPools([]Pool{{Name: "p", First: ip("192.0.2.10"), Last: ip("192.0.2.15")}}); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for {
			a, err := db.Allocate("p", netip.Addr{}, StateFree)
			if errors.Is(err, ErrPoolExhausted) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, a.String())
		}
		want := "192.0.2.15 192.0.2.10 192.0.2.11"
		if rebuilt {
			// Unhold sent .10 and .11 to the back in that order; .15 is
			// never-used again.
			want = "192.0.2.15 192.0.2.10 192.0.2.11"
		}
		if g := strings.Join(got, " "); g != want {
			t.Fatalf("rebuilt=%v: FREE allocation order %q, want %q (never-used, then longest free; no ACTIVE/ABANDONED/BACKUP)", rebuilt, g, want)
		}
		b, err := db.Allocate("p", netip.Addr{}, StateBackup)
		if err != nil || b != ip("192.0.2.14") {
			t.Fatalf("backup allocation = %v, %v", b, err)
		}
		if _, err := db.Allocate("p", netip.Addr{}, StateBackup); !errors.Is(err, ErrPoolExhausted) {
			t.Fatalf("second backup allocation: %v", err)
		}
		st := db.Stats()[0]
		if st.Held != 4 || st.Free != 0 || st.Active != 1 || st.Abandoned != 1 || st.Backup != 0 || st.Total != 6 {
			t.Fatalf("stats with everything held = %+v", st)
		}
	}
}

func TestAllocateHint(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	if err := db.SetPools([]Pool{{Name: "p", First: ip("192.0.2.0"), Last: ip("192.0.2.255")}}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db,
		Lease{Addr: ip("192.0.2.7"), State: StateExpired, HWAddr: mac(7), StateStart: t0},
		active(ip("192.0.2.8"), 8, t0, time.Hour),
		Lease{Addr: ip("192.0.2.9"), State: StateBackup, StateStart: t0},
	)
	for _, c := range []struct {
		hint string
		from State
		want string
	}{
		{"192.0.2.200", StateFree, "192.0.2.200"}, // never used
		{"192.0.2.200", StateFree, "192.0.2.0"},   // now held: ignored
		{"192.0.2.7", StateFree, "192.0.2.7"},     // expired: the returning client's address
		{"192.0.2.8", StateFree, "192.0.2.1"},     // active: ignored
		{"192.0.2.9", StateFree, "192.0.2.2"},     // backup, not for FREE
		{"198.51.100.1", StateFree, "192.0.2.3"},  // outside the pool
		{"192.0.2.9", StateBackup, "192.0.2.9"},   // backup for BACKUP
	} {
		got, err := db.Allocate("p", ip(c.hint), c.from)
		if err != nil || got != ip(c.want) {
			t.Fatalf("Allocate(hint %s, %v) = %v, %v; want %s", c.hint, c.from, got, err, c.want)
		}
	}
	// Unhold of a never-used address makes it allocatable again, first.
	db.Unhold(ip("192.0.2.200"))
	if got, _ := db.Allocate("p", netip.Addr{}, StateFree); got != ip("192.0.2.200") {
		t.Fatalf("after Unhold got %v, want 192.0.2.200", got)
	}
	// A commit ends the hold.
	mustCommit(t, db, active(ip("192.0.2.200"), 200, t0, time.Hour))
	st := db.Stats()[0]
	if st.Held != 6 || st.Active != 2 {
		t.Fatalf("stats = %+v, want 6 held, 2 active", st)
	}
	if _, err := db.Allocate("p", netip.Addr{}, StateActive); !errors.Is(err, ErrInvalid) {
		t.Fatalf("from ACTIVE: %v", err)
	}
}

func TestSetPoolsKeepsLeases(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	p1 := Pool{Name: "a", First: ip("192.0.2.0"), Last: ip("192.0.2.9")}
	if err := db.SetPools([]Pool{p1}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db, active(ip("192.0.2.1"), 1, t0, time.Hour), active(ip("198.51.100.1"), 2, t0, time.Hour))
	for name, ps := range map[string][]Pool{
		"overlap":   {p1, {Name: "b", First: ip("192.0.2.9"), Last: ip("192.0.2.20")}},
		"dup name":  {p1, {Name: "a", First: ip("198.51.100.0"), Last: ip("198.51.100.9")}},
		"reversed":  {{Name: "r", First: ip("192.0.2.9"), Last: ip("192.0.2.1")}},
		"ipv6":      {{Name: "v6", First: ip("2001:db8::1"), Last: ip("2001:db8::9")}},
		"no name":   {{First: ip("192.0.2.1"), Last: ip("192.0.2.9")}},
		"too large": {{Name: "big", First: ip("10.0.0.0"), Last: ip("12.0.0.0")}},
	} {
		if err := db.SetPools(ps); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if st := db.Stats(); len(st) != 1 || st[0].Active != 1 || st[0].Free != 9 {
		t.Fatalf("a refused SetPools changed the pools: %+v", st)
	}
	if err := db.SetPools([]Pool{{Name: "b", First: ip("198.51.100.0"), Last: ip("198.51.100.3")}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Get(ip("192.0.2.1")); !ok {
		t.Fatal("lease outside every pool was dropped")
	}
	st := db.Stats()
	if len(st) != 1 || st[0].Name != "b" || st[0].Active != 1 || st[0].Free != 3 || st[0].Total != 4 {
		t.Fatalf("stats = %+v", st)
	}
	for range 3 {
		if a, err := db.Allocate("b", netip.Addr{}, StateFree); err != nil || a == ip("198.51.100.1") {
			t.Fatalf("Allocate = %v, %v", a, err)
		}
	}
	if _, err := db.Allocate("a", netip.Addr{}, StateFree); !errors.Is(err, ErrNoPool) {
		t.Fatalf("removed pool: %v", err)
	}
}

func TestExpire(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	if err := db.SetPools([]Pool{{Name: "p", First: ip("192.0.2.0"), Last: ip("192.0.2.9")}}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, db,
		active(ip("192.0.2.1"), 1, t0, 3*time.Minute),
		active(ip("192.0.2.2"), 2, t0, time.Minute),
		active(ip("192.0.2.3"), 3, t0, 2*time.Minute),
		active(ip("192.0.2.4"), 4, t0, time.Hour),
	)
	// A renewal moves .2 past the others.
	mustCommit(t, db, active(ip("192.0.2.2"), 2, t0, 10*time.Minute))
	now := t0.Add(5 * time.Minute)
	got, err := db.Expire(now, 1)
	if err != nil || len(got) != 1 || got[0].Addr != ip("192.0.2.3") {
		t.Fatalf("Expire(max 1) = %v, %v; want .3", got, err)
	}
	got, err = db.Expire(now, 0)
	if err != nil || len(got) != 1 || got[0].Addr != ip("192.0.2.1") {
		t.Fatalf("Expire = %v, %v; want .1", got, err)
	}
	if got[0].State != StateExpired || !got[0].StateStart.Equal(now) || !got[0].Expiry.IsZero() || got[0].HWAddr.String() != mac(1).String() {
		t.Fatalf("expired lease = %+v", got[0])
	}
	if got, _ := db.Expire(now, 0); len(got) != 0 {
		t.Fatalf("second Expire = %v", got)
	}
	// The returning client finds its expired lease, and its address is
	// allocatable after the never-used ones.
	if l, ok := db.ByClient(ClientKey(nil, mac(1))); !ok || l.State != StateExpired {
		t.Fatalf("ByClient after expiry = %+v %v", l, ok)
	}
	st := db.Stats()[0]
	if st.Expired != 2 || st.Active != 2 || st.Free != 6 {
		t.Fatalf("stats = %+v", st)
	}
	db.Close()
	db2, _ := openT(t, dir, nil)
	if l, _ := db2.Get(ip("192.0.2.3")); l.State != StateExpired {
		t.Fatalf("expiry not durable: %+v", l)
	}
	if got, _ := db2.Expire(t0.Add(11*time.Minute), 0); len(got) != 1 || got[0].Addr != ip("192.0.2.2") {
		t.Fatalf("expiry queue after reopen: %v", got)
	}
}

// TestLeaseNeverEndsEarly: the database keeps whole seconds, and a lease
// bound at a sub-second instant must not end, in Get or in Expire, before
// the expiry the client was told (invariant 2; a partner taking over with
// the lease ended early lacks it, invariant 3). The failover expiries
// round the same way (they bound what a partner may extend the lease to).
func TestLeaseNeverEndsEarly(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	bound := t0.Add(700 * time.Millisecond)
	l := active(ip("192.0.2.1"), 1, bound, time.Minute)
	l.PotentialExpiry = bound.Add(90 * time.Second)
	l.AckedExpiry = l.PotentialExpiry
	l.PartnerExpiry = bound.Add(80 * time.Second)
	mustCommit(t, db, l)
	got, _ := db.Get(l.Addr)
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"expiry", got.Expiry, l.Expiry},
		{"potential expiry", got.PotentialExpiry, l.PotentialExpiry},
		{"acked expiry", got.AckedExpiry, l.AckedExpiry},
		{"partner expiry", got.PartnerExpiry, l.PartnerExpiry},
	} {
		if f.got.Before(f.want) || f.got.After(f.want.Add(time.Second)) {
			t.Errorf("stored %s %s, want within a second at or after %s", f.name, f.got.Format(time.StampMilli), f.want.Format(time.StampMilli))
		}
	}
	if !got.Start.After(bound.Add(-time.Second)) || got.Start.After(bound) {
		t.Errorf("stored start %s, want the whole second at or before %s", got.Start.Format(time.StampMilli), bound.Format(time.StampMilli))
	}
	// 100 ms before the client's lease ends, in the same whole second.
	if ex, _ := db.Expire(l.Expiry.Add(-100*time.Millisecond), 0); len(ex) != 0 {
		t.Fatalf("Expire before the client's lease ended: %v", ex)
	}
	if ex, _ := db.Expire(l.Expiry.Add(time.Second), 0); len(ex) != 1 {
		t.Fatalf("Expire a second after the client's lease ended = %v, want the lease", ex)
	}
}

func TestByClientPrefersActive(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	old := Lease{Addr: ip("192.0.2.1"), HWAddr: mac(1), State: StateExpired, Start: t0.Add(-time.Hour), StateStart: t0}
	cur := active(ip("192.0.2.2"), 1, t0, time.Hour)
	mustCommit(t, db, cur)
	mustCommit(t, db, old) // a late update of an older binding
	if l, _ := db.ByClient(ClientKey(nil, mac(1))); l.Addr != cur.Addr {
		t.Fatalf("ByClient = %v, want the active binding %v", l.Addr, cur.Addr)
	}
	// The address is given to another client: the index follows.
	mustCommit(t, db, active(ip("192.0.2.2"), 9, t0.Add(time.Minute), time.Hour))
	if l, ok := db.ByClient(ClientKey(nil, mac(9))); !ok || l.Addr != ip("192.0.2.2") {
		t.Fatalf("new client: %v %v", l, ok)
	}
	if l, ok := db.ByClient(ClientKey(nil, mac(1))); ok && l.Addr == ip("192.0.2.2") {
		t.Fatalf("old client still indexed at an address it lost")
	}
}

func TestApplyIdempotentPeerFlag(t *testing.T) {
	dir := t.TempDir()
	db, _ := openT(t, dir, nil)
	l := active(ip("192.0.2.5"), 5, t0, time.Hour)
	l.Seq = 77
	for range 2 {
		if err := db.Apply(l); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := db.Get(l.Addr)
	if got.Seq != 77 || !got.Peer {
		t.Fatalf("applied lease = seq %d peer %v, want 77 true", got.Seq, got.Peer)
	}
	if db.PartnerSeq() != 77 || db.LastSeq() != 0 {
		t.Fatalf("PartnerSeq %d LastSeq %d", db.PartnerSeq(), db.LastSeq())
	}
	// Our own record coming back from the partner keeps our origin.
	mine := mustCommit(t, db, active(ip("192.0.2.6"), 6, t0, time.Hour))[0]
	mine.Peer = true // as the partner stores it
	if err := db.Apply(mine); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.Get(mine.Addr); g.Peer || g.Seq != mine.Seq {
		t.Fatalf("round-tripped lease = %+v", g)
	}
	if err := db.Apply(Lease{Addr: ip("192.0.2.7")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("lease without a state: %v", err)
	}
	db.Close()
	db2, rep := openT(t, dir, nil)
	if rep.Records != 2 { // the duplicate was not written twice
		t.Fatalf("records = %d, want 2", rep.Records)
	}
	if db2.PartnerSeq() != 77 || db2.LastSeq() != 1 {
		t.Fatalf("after reopen PartnerSeq %d LastSeq %d", db2.PartnerSeq(), db2.LastSeq())
	}
}

func TestClosed(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	db.Close()
	if _, err := db.Commit(active(ip("192.0.2.1"), 1, t0, time.Hour)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	if err := db.Compact(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact after Close: %v", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, nil)
	if _, _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
}

// A failed journal write is visible through Err (the agent's watchdog
// reads it), whoever's write failed, and refuses changes until the
// backoff has passed (the clock here stands still).
func TestErrAfterWriteFailure(t *testing.T) {
	db, _ := openT(t, t.TempDir(), nil)
	if err := db.Err(); err != nil {
		t.Fatalf("Err on a fresh database: %v", err)
	}
	mustCommit(t, db, active(ip("192.0.2.10"), 1, t0, time.Hour))
	db.jf.Close() // the disk goes away under the writer
	if _, err := db.Commit(active(ip("192.0.2.11"), 2, t0, time.Hour)); err == nil {
		t.Fatal("Commit succeeded on a closed journal")
	}
	if err := db.Err(); err == nil {
		t.Fatal("Err is nil after a failed journal write")
	}
	if _, err := db.Commit(active(ip("192.0.2.12"), 3, t0, time.Hour)); err == nil {
		t.Fatal("a later Commit succeeded before the backoff passed")
	}
}
