package dhcpload

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

const iscConf = `authoritative;
ddns-update-style none;
ping-check false;
default-lease-time 600;
max-lease-time 600;
subnet 198.18.0.0 netmask 255.255.0.0 {
  range 198.18.1.0 198.18.1.250;
}
`

// TestIntegrationPopulationISC runs the population over a real AF_PACKET
// link against ISC dhcpd in a lab: DORA at a rate with unicast replies to
// the made-up MACs, then a RENEWING exchange (dhcpd unicasts the ACK to
// ciaddr, so it must resolve it through the population's ARP responder).
func TestIntegrationPopulationISC(t *testing.T) {
	testnet.RequireRoot(t)
	testnet.RequireCmd(t, "dhcpd")
	lab := testnet.New(t, "hbfl")
	lan := lab.Switch("lan")
	srv := lab.Host("srv")
	srv.Connect(lan, "eth0", "198.18.0.2/16")
	cl := lab.Host("cl")
	cl.Connect(lan, "eth0")

	dir := t.TempDir()
	conf, leases := filepath.Join(dir, "dhcpd.conf"), filepath.Join(dir, "dhcpd.leases")
	if err := os.WriteFile(conf, []byte(iscConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leases, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := &testnet.Buffer{}
	srv.Start(log, "dhcpd", "-f", "-d", "-4", "-cf", conf, "-lf", leases, "-pf", filepath.Join(dir, "dhcpd.pid"), "eth0")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dhcpd log:\n%s", log.String())
		}
	})
	srvMAC := linkMAC(t, srv)

	var link *PacketLink
	if err := cl.Do(func() (err error) { link, err = OpenPacketLink("eth0"); return }); err != nil {
		t.Fatal(err)
	}
	p, err := New(link, Config{Rate: 100, StepTimeout: 300 * time.Millisecond, Deadline: 5 * time.Second, MACPrefix: [2]byte{0x1b, 0xf0}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// dhcpd is ready when a first client gets its lease (bounded).
	first := p.DORA(context.Background(), 1000)
	if !first.OK() {
		t.Fatalf("first client: %v", first.Err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	n := p.Run(ctx)
	res := p.Results()
	if n < 10 || len(res) != n+1 {
		t.Fatalf("started %d (+1), finished %d", n, len(res))
	}
	addrs := map[string]bool{}
	for _, r := range res {
		if !r.OK() {
			t.Errorf("client %d: %v", r.Client, r.Err)
			continue
		}
		if addrs[r.Addr.String()] {
			t.Errorf("%s ACKed twice", r.Addr)
		}
		addrs[r.Addr.String()] = true
		if r.AckFrom.MAC.String() != srvMAC || r.AckFrom.ID.String() != "198.18.0.2" || r.LeaseTime != 600*time.Second {
			t.Errorf("client %d: ACK from %v for %v, want 198.18.0.2 at %s for 10m", r.Client, r.AckFrom, r.LeaseTime, srvMAC)
		}
	}
	rr, err := p.Renew(context.Background(), first, time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Mode != "renewing" || rr.Addr != first.Addr {
		t.Errorf("Renew = %+v, want renewing ACK of %s", rr, first.Addr)
	}
	if !strings.Contains(log.String(), fmt.Sprintf("DHCPACK on %s to %s", first.Addr, first.MAC)) {
		t.Errorf("dhcpd log has no ACK of %s to %s", first.Addr, first.MAC)
	}
}

func linkMAC(t *testing.T, h *testnet.Host) string {
	t.Helper()
	var mac string
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}
