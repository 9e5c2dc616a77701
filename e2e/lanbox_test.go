package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/dhcpload"
	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// lanBox puts a host "srv" at 192.0.2.1/24 on a new switch "lan" of n and
// runs hadhcpd there as name, with config(dir) for a fresh dir, until it
// serves. The end of its log is printed when the test fails.
func lanBox(t *testing.T, n *testnet.Lab, name string, config func(dir string) string) (lan string, srv *testnet.Host, box *lab.Box) {
	t.Helper()
	lan = n.Switch("lan")
	srv = n.Host("srv")
	srv.Connect(lan, "eth0", "192.0.2.1/24")
	dir := t.TempDir()
	box = lab.NewBox(t, srv, name, dir, config(dir))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hadhcpd log:\n%s", lab.Tail(box.Log.String(), 200))
		}
	})
	box.Start()
	box.WaitLog("hadhcpd running", 10*time.Second)
	return lan, srv, box
}

// withDir is the config of a format whose only verb is the state dir.
func withDir(format string) func(dir string) string {
	return func(dir string) string { return fmt.Sprintf(format, dir) }
}

// lanPopulation is a dhcpload population (MACs starting with prefix) on
// a new host of lan, closed when the test ends.
func lanPopulation(t *testing.T, n *testnet.Lab, lan, host string, prefix [2]byte) *dhcpload.Population {
	t.Helper()
	h := n.Host(host)
	h.Connect(lan, "eth0")
	var link *dhcpload.PacketLink
	if err := h.Do(func() (err error) { link, err = dhcpload.OpenPacketLink("eth0"); return }); err != nil {
		t.Fatal(err)
	}
	pop, err := dhcpload.New(link, dhcpload.Config{MACPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pop.Close() })
	return pop
}
