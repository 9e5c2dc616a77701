package failover

import (
	"testing"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

func TestRebalance(t *testing.T) {
	tests := []struct {
		name             string
		free, backup     int
		share            float64
		threshold        int
		toBackup, toFree int
	}{
		{"fresh pool 101 at 10%", 101, 0, 0.10, 2, 10, 0},
		{"balanced", 90, 10, 0.10, 2, 0, 0},
		{"within threshold", 92, 8, 0.10, 2, 0, 0},
		{"secondary used its share", 90, 2, 0.10, 1, 7, 0},
		{"too much backup: give back", 50, 50, 0.10, 2, 0, 40},
		{"flipped share: secondary serving", 90, 10, 0.90, 2, 80, 0},
		{"limited by free", 3, 0, 0.90, 0, 3, 0},
		{"share 0 returns all", 10, 5, 0, 0, 0, 5},
		{"nothing available", 0, 0, 0.5, 0, 0, 0},
		{"bad share", 10, 0, 1.5, 0, 0, 0},
		{"negative threshold = 0", 9, 0, 0.10, -5, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, f := Rebalance(lease.PoolStats{Free: tc.free, Backup: tc.backup}, tc.share, tc.threshold)
			if b != tc.toBackup || f != tc.toFree {
				t.Errorf("Rebalance = (%d, %d), want (%d, %d)", b, f, tc.toBackup, tc.toFree)
			}
		})
	}
	if got := DefaultThreshold(lease.PoolStats{Free: 1000}); got != 20 {
		t.Errorf("DefaultThreshold(1000) = %d", got)
	}
	if got := DefaultThreshold(lease.PoolStats{Free: 3}); got != 1 {
		t.Errorf("DefaultThreshold(3) = %d", got)
	}
}
