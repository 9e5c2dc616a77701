package netcfg

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
	"github.com/vishvananda/netns"
)

func TestIntegrationAddrsAndFirewall(t *testing.T) {
	lab := testnet.New(t, "hdv")
	sw := lab.Switch("lan")
	h := lab.Host("gw")
	h.Connect(sw, "lan0", "192.0.2.10/24")
	ns, err := netns.GetFromName(h.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	a, err := NewAddrsAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/32")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	show := func() string {
		out, err := h.Output(ctx, "ip", "-4", "-o", "addr", "show", "dev", "lan0")
		if err != nil {
			t.Fatalf("ip addr: %v: %s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			got = append(got, f[3])
		}
		slices.Sort(got)
		return strings.Join(got, " ")
	}
	for _, step := range []struct {
		want []netip.Prefix
		kern string
	}{
		{vips, "192.0.2.1/24 192.0.2.10/24 192.0.2.2/32"},
		{vips, "192.0.2.1/24 192.0.2.10/24 192.0.2.2/32"}, // EEXIST is success
		{vips[1:], "192.0.2.10/24 192.0.2.2/32"},
		{nil, "192.0.2.10/24"},
		{nil, "192.0.2.10/24"}, // EADDRNOTAVAIL is success
	} {
		if err := a.Set("lan0", vips, step.want); err != nil {
			t.Fatalf("Set(%v): %v", step.want, err)
		}
		if got := show(); got != step.kern {
			t.Fatalf("Set(%v): kernel has %q, want %q", step.want, got, step.kern)
		}
	}

	fw := NewFirewall(nftables.WithNetNSFd(int(ns)))
	for range 2 { // replacing must not duplicate rules
		if err := fw.Apply(FirewallRules{VRRP: true, DHCP: true, PeerPort: 647}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := h.Output(ctx, "nft", "list", "table", "inet", TableName)
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	for _, want := range []string{"hook input priority filter; policy accept;", "meta l4proto vrrp accept", "udp dport 67 accept", "udp dport 68 accept", "tcp dport 647 accept"} {
		if strings.Count(out, want) != 1 {
			t.Errorf("nft table: want %q once in\n%s", want, out)
		}
	}
	if err := fw.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if out, err := h.Output(ctx, "nft", "list", "tables"); err != nil || strings.Contains(out, TableName) {
		t.Fatalf("table still there after Remove: %v %s", err, out)
	}
}
