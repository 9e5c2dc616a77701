package control

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// TestAPILeasesLiveDB pages over a real lease database, as the agent
// hands it to the API: every committed lease once, client lookups by the
// database's own index.
func TestAPILeasesLiveDB(t *testing.T) {
	db, _, err := lease.Open(lease.Options{Dir: t.TempDir(), CompactBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SetPools([]lease.Pool{{Name: "p", First: netip.MustParseAddr("10.0.0.10"), Last: netip.MustParseAddr("10.0.7.250")}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	var ls []lease.Lease
	for i := range 1500 {
		a := addrOf(u32(netip.MustParseAddr("10.0.0.10")) + uint32(i))
		l := lease.Lease{Addr: a, HWAddr: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}, State: lease.StateActive,
			Start: now, Expiry: now.Add(time.Hour)}
		if i == 700 {
			l.ClientID = []byte{1, 2, 0, 0, 0, 2, 188}
		}
		ls = append(ls, l)
	}
	if _, err := db.Commit(ls...); err != nil {
		t.Fatal(err)
	}
	ta := newTestAPI(t, nil, nil)
	ta.api.Leases = db
	ta.api.Subnets = func() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("10.0.0.0/21")} }
	ta.h = ta.api.Handler()
	n, cursor := 0, ""
	for pages := 0; pages < 10; pages++ {
		w := ta.do("GET", "/v1/leases?limit=400&cursor="+cursor, "", "")
		p := decode[LeasePage](t, w)
		n += len(p.Leases)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if n != db.Len() || n != 1500 {
		t.Errorf("paged %d leases, the database holds %d", n, db.Len())
	}
	w := ta.do("GET", "/v1/leases?hw_address=02:00:00:00:02:bc", "", "")
	if p := decode[LeasePage](t, w); len(p.Leases) != 1 || p.Leases[0].IP != "10.0.2.198" || p.Leases[0].ClientID != "01:02:00:00:00:02:bc" {
		t.Errorf("hw_address of a client with identifier 01+MAC: %+v", p)
	}
}
