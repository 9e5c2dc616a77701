package pair

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
	"github.com/hadhcpd/hadhcpd/sync/failover"
	"github.com/hadhcpd/hadhcpd/sync/peer"
)

// TestRunReturnsLinkError: when the link cannot run (here failover.listen
// is taken by another socket), Run returns its error at once, not when
// its context ends, so the agent stops instead of keeping a pair whose
// link never comes up.
func TestRunReturnsLinkError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p := newTestFailover(t)
	link, err := peer.New(peer.Options{FromPartner: failover.FromPartner, Name: "gw2", Role: peer.Secondary,
		Listen: busy.Addr().String(), Peer: "127.0.0.1:1", PSK: []byte(strings.Repeat("k", peer.MinPSKLen)),
		MaxResponseDelay: time.Second, MaxUnacked: 10, Store: nopStore{}, Clock: clock.Wall()})
	if err != nil {
		t.Fatal(err)
	}
	p.link = link
	p.db = openPoolDB(t)
	p.sec = &fakeSection{hash: "h"}
	p.ctx, p.cancel = context.WithCancel(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "failover.listen") {
			t.Errorf("Run = %v, want the link's EADDRINUSE naming failover.listen", err)
		}
	case <-time.After(2 * time.Second):
		cancel()
		<-done
		t.Fatal("Run still running 2s after its link failed")
	}
}
