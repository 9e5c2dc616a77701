package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// gatedStore is the partner's lease store whose Apply waits for a release:
// a partner that is slow to make records durable.
type gatedStore struct {
	leaseStore
	release chan struct{}
	once    sync.Once // entered
	opened  sync.Once // release
	entered chan struct{}
}

// open lets Apply proceed (idempotent).
func (s *gatedStore) open() { s.opened.Do(func() { close(s.release) }) }

func (s *gatedStore) Apply(payloads ...[]byte) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.leaseStore.Apply(payloads...)
}

// TestCommitWaitsForPartnerApply is invariant 2 on the commit path: the
// engine's Commit (through the pair's replicating database) returns only
// after the partner has applied the record durably, so the ACK cannot leave
// before the lease is on both boxes. An asynchronous replication would let
// Commit return while the partner still holds Apply.
func TestCommitWaitsForPartnerApply(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *lease.DB {
		db, _, err := lease.Open(lease.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.SetPools([]lease.Pool{{Name: "p", First: netip.MustParseAddr("192.0.2.100"), Last: netip.MustParseAddr("192.0.2.200")}}); err != nil {
			t.Fatal(err)
		}
		return db
	}
	priDB, secDB := open(), open()
	sec := &gatedStore{leaseStore: leaseStore{secDB}, release: make(chan struct{}), entered: make(chan struct{})}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	psk := []byte("0123456789abcdef0123456789abcdef")
	mk := func(name string, role peer.Role, store peer.Store) *peer.Link {
		l, err := peer.New(peer.Options{Name: name, Role: role, Listen: "127.0.0.1:0", Peer: ln.Addr().String(),
			PSK: psk, MaxResponseDelay: 3 * time.Second, MaxUnacked: 100, Store: store, Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	secLink := mk("sec", peer.Secondary, sec)
	priLink := mk("pri", peer.Primary, leaseStore{priDB})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = secLink.Serve(ctx, ln) })
	wg.Go(func() { _ = priLink.Run(ctx) })
	defer func() { sec.open(); cancel(); wg.Wait() }()
	for deadline := time.Now().Add(5 * time.Second); !priLink.Up(); {
		if time.Now().After(deadline) {
			t.Fatal("the link did not come up within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	met, err := newFailoverMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	p := &failoverPart{log: discard, link: priLink, ctx: ctx, met: met}
	rdb := &replicatingDB{DB: priDB, p: p}
	addr := netip.MustParseAddr("192.0.2.150")
	now := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := rdb.Commit(lease.Lease{Addr: addr, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, State: lease.StateActive,
			Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now})
		done <- err
	}()
	select {
	case <-sec.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the partner never got the record")
	}
	select {
	case err := <-done:
		t.Fatalf("Commit returned (err %v) while the partner had not applied the record: an ACK could leave before the lease is on both boxes", err)
	case <-time.After(200 * time.Millisecond):
	}
	sec.open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Commit did not return after the partner applied the record")
	}
	if l, ok := secDB.Get(addr); !ok || l.State != lease.StateActive {
		t.Fatalf("partner's database: %+v, %v; want the ACTIVE lease", l, ok)
	}
}
