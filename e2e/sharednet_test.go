package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/internal/lab"
	"github.com/hadhcpd/hadhcpd/internal/testnet"
)

// Shared networks and authoritative: false with real clients. The
// server's namespaces start with "h18b".

// sharedConfig: floor1 is the server's own link (the box has an address in
// its first subnet only); floor2 is behind a relay whose giaddr is in its
// first subnet. Each first pool holds two addresses; the second subnets
// have their own routers (and floor1's its own mask and a 12 s lease, so
// that the client renews within the test).
const sharedConfig = `node:
  name: h18b
  state_dir: %[1]s/state
  control_socket: %[1]s/ctl.sock
  metrics_listen: ""
  log_level: debug
dhcp:
  interfaces: [eth0]
  default_lease_time: 1h
  min_lease_time: 10s
  options: {domain_name_servers: [192.0.2.53]}
  shared_networks:
    - name: floor1
      subnets:
        - subnet: 192.0.2.0/24
          pools: [{range: 192.0.2.100-192.0.2.101}]
          options: {routers: [192.0.2.1]}
        - subnet: 198.51.100.0/25
          pools: [{range: 198.51.100.100-198.51.100.120}]
          options: {routers: [198.51.100.1]}
          default_lease_time: 12s
    - name: floor2
      subnets:
        - subnet: 198.18.0.0/24
          pools: [{range: 198.18.0.100-198.18.0.101}]
          options: {routers: [198.18.0.1]}
        - subnet: 198.18.1.0/24
          pools: [{range: 198.18.1.100-198.18.1.120}]
          options: {routers: [198.18.1.1]}
`

// sharedScript logs "EVENT ADDRESS MASK ROUTERS" (dhclient's and udhcpc's
// variables) and configures the address in the client's namespace only.
const sharedScript = `#!/bin/sh
ev="${reason:-$1}"; addr="${new_ip_address:-$ip}"; mask="${new_subnet_mask:-$subnet}"; gw="${new_routers:-$router}"
echo "$ev $addr $mask $gw" >> "$EVLOG"
case "$ev" in
BOUND|REBOOT|RENEW|REBIND|bound|renew) [ -n "$addr" ] && ip addr replace "$addr/$mask" dev "${interface:-eth0}" ;;
esac
exit 0
`

func sharedClient(t *testing.T, h *testnet.Host) *dhcpClient {
	c := newClient(t, h)
	if err := os.WriteFile(c.script, []byte(strings.Replace(sharedScript, "$EVLOG", c.events, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIntegrationSharedNetwork(t *testing.T) {
	testnet.RequireCmd(t, "dhclient", "busybox", "dhcrelay")
	lab.Bin.Path(t)
	n := testnet.New(t, "h18b")
	lan, srv, box := lanBox(t, n, "srv", withDir(sharedConfig))

	t.Run("direct", func(t *testing.T) {
		// The link's second subnet is on-link for the server and the
		// clients (a router would carry it on a real shared network):
		// the renewal is a unicast to the server identifier 192.0.2.1.
		srv.MustIP("route", "add", "198.51.100.0/25", "dev", "eth0")
		for i := 1; i <= 2; i++ {
			c := sharedClient(t, addClient(t, n, lan, fmt.Sprintf("d%d", i)))
			if out, err := c.dhclient(t); err != nil || !strings.Contains(out, "DHCPACK of 192.0.2.10") {
				t.Fatalf("client %d: no lease from the first subnet: %v\n%s", i, err, out)
			}
		}
		h := addClient(t, n, lan, "d3")
		h.MustIP("route", "add", "192.0.2.0/24", "dev", "eth0")
		c := sharedClient(t, h)
		out, err := c.dhclient(t)
		if err != nil || !strings.Contains(out, "DHCPACK of 198.51.100.100 from 192.0.2.1") {
			t.Fatalf("third client: want 198.51.100.100 from server id 192.0.2.1 (the first pool is full): %v\n%s", err, out)
		}
		c.waitEvent(t, `BOUND (198\.51\.100\.100 255\.255\.255\.128 198\.51\.100\.1)\n`, 5*time.Second)
		// dhclient stays in the background and renews at T1 (6 s): the
		// same address, with the second subnet's mask and router.
		box.WaitLog(`msg="lease renew" .*ip=198\.51\.100\.100 `, 20*time.Second)
		c.waitEvent(t, `(?:RENEW|REBIND) (198\.51\.100\.100 255\.255\.255\.128 198\.51\.100\.1)\n`, 5*time.Second)
	})

	t.Run("relayed", func(t *testing.T) {
		far := n.Switch("far")
		relay := n.Host("rly")
		relay.Connect(lan, "eth0", "192.0.2.2/24")
		relay.Connect(far, "eth1", "198.18.0.1/24")
		srv.MustIP("route", "add", "198.18.0.0/23", "via", "192.0.2.2")
		relay.Start(nil, "dhcrelay", "-d", "-4", "-iu", "eth0", "-id", "eth1", "192.0.2.1")
		var got []string
		for i := 1; i <= 3; i++ {
			h := n.Host(fmt.Sprintf("r%d", i))
			h.Connect(far, "eth0")
			c := sharedClient(t, h)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			// dhcrelay needs a moment to open its sockets: udhcpc retries.
			out, err := h.Output(ctx, "busybox", "udhcpc", "-n", "-q", "-i", "eth0", "-s", c.script, "-t", "8", "-T", "1")
			cancel()
			if err != nil {
				t.Fatalf("udhcpc %d through dhcrelay: %v\n%s", i, err, out)
			}
			got = append(got, c.waitEvent(t, `bound (\S+ \S+ \S+)\n`, 2*time.Second))
		}
		want := []string{"198.18.0.100 255.255.255.0 198.18.0.1", "198.18.0.101 255.255.255.0 198.18.0.1", "198.18.1.100 255.255.255.0 198.18.1.1"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("relayed clients got %q, want %q", got, want)
		}
	})
}

func addClient(t *testing.T, n *testnet.Lab, sw, name string) *testnet.Host {
	t.Helper()
	h := n.Host(name)
	h.Connect(sw, "eth0")
	return h
}

// TestIntegrationNotAuthoritative: dhclient starts in INIT-REBOOT with a
// lease of another network. A client the server has no record of gets a
// NAK from an authoritative server and silence from one that is not (it
// falls back to DISCOVER after its reboot timeout); a client the server
// knows gets the NAK either way (RFC 2131 §4.3.2).
func TestIntegrationNotAuthoritative(t *testing.T) {
	testnet.RequireCmd(t, "dhclient")
	lab.Bin.Path(t)
	stale := `lease {
  interface "eth0";
  fixed-address 203.0.113.77;
  option subnet-mask 255.255.255.0;
  renew 4 2099/01/01 00:00:00;
  rebind 4 2099/01/01 00:00:00;
  expire 4 2099/01/01 00:00:00;
}
`
	for _, auth := range []bool{true, false} {
		t.Run(fmt.Sprintf("authoritative=%v", auth), func(t *testing.T) {
			n := testnet.New(t, "h18b")
			lan, _, _ := lanBox(t, n, "srv", func(dir string) string {
				return strings.Replace(fmt.Sprintf(sharedConfig, dir), "dhcp:\n", fmt.Sprintf("dhcp:\n  authoritative: %v\n", auth), 1)
			})
			initReboot := func(c *dhcpClient) string {
				t.Helper()
				if err := os.WriteFile(filepath.Join(c.dir, "leases"), []byte(stale), 0o600); err != nil {
					t.Fatal(err)
				}
				c.h.MustIP("addr", "flush", "dev", "eth0")
				// Bound the INIT-REBOOT phase (dhclient's default is 10 s).
				c.conf(t, "reboot 3;")
				out, err := c.dhclient(t)
				if err != nil || !strings.Contains(out, "DHCPREQUEST for 203.0.113.77") {
					t.Fatalf("dhclient: %v\n%s", err, out)
				}
				if !regexp.MustCompile(`DHCPACK of 192\.0\.2\.10[01]`).MatchString(out) {
					t.Fatalf("the client got no lease in the end:\n%s", out)
				}
				return out
			}
			// A client the server has never seen.
			out := initReboot(sharedClient(t, addClient(t, n, lan, "c1")))
			if nak := strings.Contains(out, "DHCPNAK from 192.0.2.1"); nak != auth {
				t.Fatalf("unknown client, authoritative %v: NAK %v, want %v:\n%s", auth, nak, auth, out)
			}
			// A client with a lease here asking for another network's
			// address: a NAK whatever authoritative says.
			c := sharedClient(t, addClient(t, n, lan, "c2"))
			if out, err := c.dhclient(t); err != nil || !strings.Contains(out, "DHCPACK of 192.0.2.10") {
				t.Fatalf("c2 first lease: %v\n%s", err, out)
			}
			if out, err := c.dhclient(t, "-x"); err != nil {
				t.Fatalf("dhclient -x: %v\n%s", err, out)
			}
			if out := initReboot(c); !strings.Contains(out, "DHCPNAK from 192.0.2.1") {
				t.Fatalf("known client, authoritative %v: no NAK:\n%s", auth, out)
			}
		})
	}
}
