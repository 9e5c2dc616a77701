package agent

import (
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/dhcpd"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// lbRingConfig is ringConfig in load-balance mode, with relationship
// rel's split.
func lbRingConfig(t *testing.T, box string, port int, keys map[string]string, rel string, split int) *config.Config {
	t.Helper()
	cfg := ringConfig(t, box, port, keys)
	cfg.Failover.Mode = "load-balance"
	setRelSplit(t, cfg, rel, split)
	return cfg
}

// setRelSplit sets relationship rel's split in cfg (its own list: a copy
// of the file's list of relationships).
func setRelSplit(t *testing.T, cfg *config.Config, rel string, split int) {
	t.Helper()
	cfg.Failover.Relationships = append([]config.RelationshipConfig(nil), cfg.Failover.Relationships...)
	for i := range cfg.Failover.Relationships {
		if cfg.Failover.Relationships[i].Name == rel {
			cfg.Failover.Relationships[i].Split = &split
			return
		}
	}
	t.Fatalf("no relationship %s", rel)
}

// bucketClient is a client whose RFC 3074 hash bucket is in lo..hi-1.
func bucketClient(t *testing.T, lo, hi int) dhcpd.Client {
	t.Helper()
	for i := range 1 << 16 {
		hw := net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
		if b := int(failover.LoadBalanceHash(hw)); b >= lo && b < hi {
			return dhcpd.Client{Key: hw.String(), HWAddr: hw}
		}
	}
	t.Fatalf("no client in buckets %d..%d", lo, hi-1)
	return dhcpd.Client{}
}

// TestRelationshipSplitReload: on a box in several relationships, a new
// split for one of them in the file of its primary, and a reload (as
// SIGHUP's and the API's), moves that relationship's ownership without
// a restart: the primary answers the buckets it gained and its
// secondary, which took the split over the link, stops answering them;
// the primary balances the free addresses to the new share. The box's
// other relationship keeps its split.
func TestRelationshipSplitReload(t *testing.T) {
	port := freePort(t)
	keys := ringKeys(t)
	// A is seg1's primary (split 128), B its secondary (its own 64 is
	// ignored: the primary's is in force).
	a := startRingBoxWith(t, "a", port, lbRingConfig(t, "a", port, keys, "seg1", 128), nil, nil)
	b := startRingBoxWith(t, "b", port, lbRingConfig(t, "b", port, keys, "seg1", 64), nil, nil)
	splits := func() string {
		return fmt.Sprintf("A seg1 %d, A seg3 %d, B seg1 %d", a.rel("seg1").p.Agreed().Split, a.rel("seg3").p.Agreed().Split, b.rel("seg1").p.Agreed().Split)
	}
	eventually(t, "seg1 NORMAL on both at the primary's split 128", func() bool {
		return a.rel("seg1").p.Status().State == "NORMAL" && b.rel("seg1").p.Status().State == "NORMAL" && splits() == "A seg1 128, A seg3 128, B seg1 128"
	})
	moved := bucketClient(t, 128, 192) // the secondary's at 128, the primary's at 192
	stays := bucketClient(t, 192, 256) // the secondary's at both
	serves := func(box *ringBox, c dhcpd.Client) bool { return box.rel("seg1").p.Gate().Serve(c) }
	if serves(a, moved) || !serves(b, moved) || serves(a, stays) || !serves(b, stays) {
		t.Fatalf("at split 128: A serves %v/%v, B %v/%v (want the secondary's buckets on B only)",
			serves(a, moved), serves(a, stays), serves(b, moved), serves(b, stays))
	}

	next, fo := *a.cfg, *a.cfg.Failover
	next.Failover = &fo
	setRelSplit(t, &next, "seg1", 192)
	var logs logBuffer
	err := reload(slog.New(slog.NewTextHandler(&logs, nil)), func() (*config.Config, error) { return &next, nil }, a.cfg, a.dh, nil, a.rs)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if len(logs.lines("reload: failover split applied", "relationship=seg1", "split=192")) != 1 {
		t.Errorf("reload log:\n%s", logs.String())
	}
	eventually(t, "split 192 in force on both boxes of seg1, seg3's unchanged", func() bool {
		return splits() == "A seg1 192, A seg3 128, B seg1 192"
	})
	eventually(t, "the moved buckets answered by A only", func() bool {
		return serves(a, moved) && !serves(b, moved) && !serves(a, stays) && serves(b, stays)
	})
	// Pool balance to the new share: B owns (256-192)/256 of seg1's free
	// addresses (51 in all), within the balancer's threshold.
	backup := func() (int, int) {
		free, bk := 0, 0
		for _, st := range a.rel("seg1").view.Stats() {
			free, bk = free+st.Free, bk+st.Backup
		}
		return bk, free + bk
	}
	eventually(t, "seg1's pool balanced to a quarter for B", func() bool {
		bk, all := backup()
		return bk*4 >= all-4 && bk*4 <= all+4
	})
}
