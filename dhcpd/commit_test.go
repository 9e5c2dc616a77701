package dhcpd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// gatedDB holds the first Commit until released, so that the requests
// arriving meanwhile queue up for the engine's committer; it records the
// size of every Commit call and refuses any batch holding bad.
type gatedDB struct {
	*fakeDB
	entered, release chan struct{}
	bad              netip.Addr
	mu               sync.Mutex
	sizes            []int
}

func (g *gatedDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.sizes = append(g.sizes, len(ls))
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	for _, l := range ls {
		if l.Addr == g.bad {
			return nil, errors.New("refused")
		}
	}
	return g.fakeDB.Commit(ls...)
}

// REQUESTs that arrive while a commit runs share the next db.Commit (one
// fsync), each ACK is built only after that commit, and a lease the
// database refuses fails only its own ACK, not the batch's others.
func TestCommitterBatchesAndIsolatesFailures(t *testing.T) {
	r := newRig(t)
	r.e.maxFlight = 1 // batching while a commit runs, not pipelining
	g := &gatedDB{fakeDB: r.db, entered: make(chan struct{}), release: make(chan struct{}), bad: ip("192.0.2.102")}
	r.e.db = g
	hws := make([]net.HardwareAddr, 5)
	reqs := make([]*dhcpv4.DHCPv4, len(hws))
	for i := range hws {
		hws[i] = net.HardwareAddr{2, 9, 0, 0, 0, byte(i)}
		off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hws[i]))
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = msg(t, dhcpv4.MessageTypeRequest, hws[i],
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr)))
	}
	type result struct {
		rep Reply
		err error
	}
	res := make([]chan result, len(reqs))
	for i, req := range reqs {
		res[i] = make(chan result, 1)
		r.e.HandleAsync(req, lanIn, func(rep Reply, err error) { res[i] <- result{rep, err} })
		if i == 0 {
			<-g.entered // the first commit is running: the others queue
		}
	}
	for i := 1; i < len(res); i++ {
		select {
		case <-res[i]:
			t.Fatalf("request %d answered before its lease was committed", i)
		default:
		}
	}
	close(g.release)
	for i := range res {
		got := <-res[i]
		yi := addr4(reqs[i].RequestedIPAddress())
		if yi == g.bad {
			if Reason(got.err) != string(ErrCommit) {
				t.Errorf("refused lease %s: %v, want %s", yi, got.err, ErrCommit)
			}
			continue
		}
		if got.err != nil || got.rep.Resp.MessageType() != dhcpv4.MessageTypeAck {
			t.Errorf("request %d (%s): %v %v, want ACK", i, yi, got.rep.Resp, got.err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// [1] held, then [4] together, refused because of bad, then 1 by 1.
	if len(g.sizes) < 2 || g.sizes[0] != 1 || g.sizes[1] != 4 {
		t.Fatalf("Commit call sizes %v, want [1 4 ...]: the queued requests share one commit", g.sizes)
	}
	if r.db.commits != 4 {
		t.Fatalf("%d leases committed, want the 4 not refused", r.db.commits)
	}
}

// stampDB records when each Commit call starts (monotonic time).
type stampDB struct {
	*fakeDB
	mu sync.Mutex
	at []time.Time
}

func (s *stampDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.fakeDB.Commit(ls...)
}

// Group commits under load start at least the commit spacing apart (so
// each fsync carries more leases); only a lower bound is checked, which a
// slow machine cannot break.
func TestCommitSpacing(t *testing.T) {
	r := newRig(t)
	const spacing = 40 * time.Millisecond
	r.e.spacing = spacing
	s := &stampDB{fakeDB: r.db}
	r.e.db = s
	for i := range 3 {
		r.dora(t, net.HardwareAddr{2, 8, 0, 0, 0, byte(i)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) != 3 {
		t.Fatalf("%d commits, want 3", len(s.at))
	}
	// The engine spaces the starts of its commit loops; the stamps are
	// taken a little later, with scheduling jitter (a few µs, more under
	// -race): hence the millisecond of slack. Unspaced commits would be
	// microseconds apart.
	for i := 1; i < len(s.at); i++ {
		if d := s.at[i].Sub(s.at[i-1]); d < spacing-time.Millisecond {
			t.Errorf("commit %d started %v after the previous one, want >= %v", i, d, spacing)
		}
	}
}

// With more than one commit in flight (a pair, where a commit waits for
// the partner's ack), requests arriving while a commit is held are
// committed and ACKed without waiting for it; with one, they wait.
func TestCommitsInFlight(t *testing.T) {
	for _, flight := range []int{1, 2} {
		t.Run(fmt.Sprint(flight), func(t *testing.T) {
			r := newRig(t)
			r.e.maxFlight = flight
			r.e.spacing = -1
			g := &gatedDB{fakeDB: r.db, entered: make(chan struct{}), release: make(chan struct{})}
			r.e.db = g
			offerReq := func(hw net.HardwareAddr) *dhcpv4.DHCPv4 {
				off, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, hw))
				if err != nil {
					t.Fatal(err)
				}
				return msg(t, dhcpv4.MessageTypeRequest, hw,
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice()))),
					dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.Resp.YourIPAddr)))
			}
			first, second := offerReq(net.HardwareAddr{2, 3, 0, 0, 0, 1}), offerReq(net.HardwareAddr{2, 3, 0, 0, 0, 2})
			held := make(chan error, 1)
			r.e.HandleAsync(first, lanIn, func(_ Reply, err error) { held <- err })
			<-g.entered
			done := make(chan error, 1)
			r.e.HandleAsync(second, lanIn, func(_ Reply, err error) { done <- err })
			select {
			case err := <-done:
				if flight == 1 {
					t.Fatalf("second request answered (%v) while the first commit was held, with one commit in flight", err)
				}
			case <-time.After(200 * time.Millisecond):
				if flight > 1 {
					t.Fatal("second request waited for the held commit although two may be in flight")
				}
			}
			close(g.release)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sizesDB records the size of each Commit call.
type sizesDB struct {
	*fakeDB
	mu    sync.Mutex
	sizes []int
}

func (s *sizesDB) Commit(ls ...lease.Lease) ([]lease.Lease, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(ls))
	s.mu.Unlock()
	for _, l := range ls {
		if err := l.Validate(); err != nil {
			return nil, err
		}
	}
	return s.fakeDB.Commit(ls...)
}

// A lease the database cannot store fails alone, before the group commit:
// the rest of its batch is committed in one call, not retried one by one.
func TestCommitBatchRefusesUnstorableAlone(t *testing.T) {
	r := newRig(t)
	db := &sizesDB{fakeDB: r.db}
	r.e.db = db
	batch := make([]*pendingCommit, 4)
	for i := range batch {
		l := lease.Lease{Addr: lanPool.First.Next(), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, State: lease.StateActive, Start: t0, Expiry: t0.Add(time.Hour)}
		for range i {
			l.Addr = l.Addr.Next()
		}
		if i == 2 {
			l.ClientID = make([]byte, maxClientID+1)
		}
		batch[i] = &pendingCommit{lease: l}
	}
	errs := r.e.commitBatch(batch)
	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Errorf("lease %d: %v", i, err)
		}
	}
	if len(db.sizes) != 1 || db.sizes[0] != 3 {
		t.Fatalf("Commit call sizes %v, want one call with the 3 storable leases", db.sizes)
	}
}
