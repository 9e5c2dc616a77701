package testnet

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestIntegrationLabPing(t *testing.T) {
	lab := New(t, "htn")
	sw := lab.Switch("lan")
	a, b := lab.Host("a"), lab.Host("b")
	a.Connect(sw, "eth0", "192.0.2.10/24")
	peer := b.Connect(sw, "eth0", "192.0.2.11/24")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := a.Output(ctx, "ping", "-c1", "-W2", "192.0.2.11"); err != nil {
		t.Fatalf("ping across the switch: %v\n%s", err, out)
	}
	if err := lab.SetPeerLink(peer, false); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Output(ctx, "ping", "-c1", "-W1", "192.0.2.11"); err == nil {
		t.Fatalf("ping succeeded with the cable pulled:\n%s", out)
	}
	if out, _ := b.Output(ctx, "ip", "link", "show", "eth0"); !strings.Contains(out, "NO-CARRIER") {
		t.Fatalf("host keeps carrier with the cable pulled:\n%s", out)
	}
}

func TestAllowed(t *testing.T) {
	for _, a := range []string{"192.0.2.1", "198.51.100.7", "203.0.113.255", "198.19.255.1"} {
		if !Allowed(mustAddr(a)) {
			t.Errorf("Allowed(%s) = false", a)
		}
	}
	for _, a := range []string{"10.0.0.1", "192.168.1.1", "8.8.8.8", "198.20.0.1"} {
		if Allowed(mustAddr(a)) {
			t.Errorf("Allowed(%s) = true", a)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
