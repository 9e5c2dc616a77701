package pair

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/sync/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// gatedStore is the partner's lease store whose Apply waits for a release:
// a partner that is slow to make records durable.
type gatedStore struct {
	*lease.DB
	release chan struct{}
	once    sync.Once // entered
	opened  sync.Once // release
	entered chan struct{}
}

// open lets Apply proceed (idempotent).
func (s *gatedStore) open() { s.opened.Do(func() { close(s.release) }) }

func (s *gatedStore) Apply(ls ...lease.Lease) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.DB.Apply(ls...)
}

// TestCommitWaitsForPartnerApply is invariant 2 on the commit path: the
// engine's Commit (through the pair's replicating database) returns only
// after the partner has applied the record durably, so the ACK cannot leave
// before the lease is on both boxes. An asynchronous replication would let
// Commit return while the partner still holds Apply.
func TestCommitWaitsForPartnerApply(t *testing.T) {
	priDB, secDB := openPoolDB(t), openPoolDB(t)
	sec := &gatedStore{DB: secDB, release: make(chan struct{}), entered: make(chan struct{})}
	pri, _ := linkedPair(t, priDB, sec)
	t.Cleanup(sec.open) // runs before linkedPair's cleanup stops the links
	rdb := replicating(t, priDB, pri)
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

// replicating is the primary's replicating database over its link pri.
func replicating(t testing.TB, priDB *lease.DB, pri *peer.Link) *replicatingDB {
	t.Helper()
	met, err := newFailoverMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &replicatingDB{DB: priDB, p: &Pair{log: discardLog, link: pri, ctx: ctx, met: met}}
}

// seqStore records the sequence numbers of the records the partner
// applies, in the order it applies them.
type seqStore struct {
	*lease.DB
	mu   sync.Mutex
	seqs []uint64
}

func (s *seqStore) Apply(ls ...lease.Lease) error {
	s.mu.Lock()
	for _, l := range ls {
		s.seqs = append(s.seqs, l.Seq)
	}
	s.mu.Unlock()
	return s.DB.Apply(ls...)
}

// Concurrent commits (the engine keeps several in flight, and the pool
// balancer and expiry commit too) reach the partner in the order the
// database numbered them: the replicating database numbers and queues
// under one lock, and only waits for the ack outside it.
func TestReplicationKeepsSequenceOrder(t *testing.T) {
	priDB := openPoolDB(t)
	sec := &seqStore{DB: openPoolDB(t)}
	pri, _ := linkedPair(t, priDB, sec)
	rdb := replicating(t, priDB, pri)
	var calls atomic.Int64
	rdb.committed = func() {
		if calls.Add(1)%7 == 1 {
			time.Sleep(20 * time.Millisecond) // a slow goroutine between commit and queue
		}
	}
	const workers, each = 5, 20 // within openPoolDB's 101 addresses
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				a := netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + n)})
				_, err := rdb.Commit(lease.Lease{Addr: a, HWAddr: net.HardwareAddr{2, 0, 0, 0, byte(w), byte(i)}, State: lease.StateActive,
					Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sec.mu.Lock()
	defer sec.mu.Unlock()
	if len(sec.seqs) != workers*each {
		t.Fatalf("partner applied %d records, want %d", len(sec.seqs), workers*each)
	}
	for i := 1; i < len(sec.seqs); i++ {
		if sec.seqs[i] <= sec.seqs[i-1] {
			t.Fatalf("partner applied seq %d after %d (position %d): the stream is out of the database's order", sec.seqs[i], sec.seqs[i-1], i)
		}
	}
}
