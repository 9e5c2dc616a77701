package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSetRegistersAndCollectsErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(reg)
	s.Counter("hadhcpd_test_total", "a counter").Inc()
	s.GaugeVec("hadhcpd_test_state", "a gauge", "instance").WithLabelValues("lan").Set(2)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 2 {
		t.Fatalf("gathered %d families, %v; want 2", len(mfs), err)
	}
	s.Counter("hadhcpd_test_total", "the same name again")
	if s.Err() == nil {
		t.Error("a duplicate registration was not reported")
	}
	// A nil registry: collectors work, nothing is registered, no error.
	n := New(nil)
	n.Histogram("hadhcpd_test_seconds", "h", LatencyBuckets()).Observe(0.001)
	if n.Err() != nil {
		t.Error(n.Err())
	}
}
