package netcfg

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// TestIntegrationProbes: ARP and ICMP echo find an address in use on a
// link and report a free one as free once the timeout passes.
func TestIntegrationProbes(t *testing.T) {
	lab := testnet.New(t, "hhard")
	srv, cli := lab.Host("srv"), lab.Host("cli")
	lab.Cable(srv, "lan0", "192.0.2.1/24", cli, "eth0", "192.0.2.2/24")
	const timeout = 300 * time.Millisecond
	probe := func(kind string, a netip.Addr) (inUse bool, took time.Duration) {
		t.Helper()
		err := srv.Do(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			var err error
			switch kind {
			case "arp":
				ifi, ierr := net.InterfaceByName("lan0")
				if ierr != nil {
					return ierr
				}
				inUse, err = ARPProbe(ctx, ifi.Index, a)
			case "icmp":
				inUse, err = ICMPProbe(ctx, a)
			}
			took = time.Since(start)
			return err
		})
		if err != nil {
			t.Fatalf("%s probe of %s: %v", kind, a, err)
		}
		return inUse, took
	}
	used, free := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	for _, kind := range []string{"arp", "icmp"} {
		if in, took := probe(kind, used); !in {
			t.Errorf("%s probe of %s (in use) = free after %v", kind, used, took)
		}
		in, took := probe(kind, free)
		if in {
			t.Errorf("%s probe of %s (free) = in use", kind, free)
		}
		if took < timeout-50*time.Millisecond || took > timeout+500*time.Millisecond {
			t.Errorf("%s probe of a free address took %v, want about the %v timeout", kind, took, timeout)
		}
	}
}
