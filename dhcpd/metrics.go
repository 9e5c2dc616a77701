package dhcpd

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the DHCP service's collectors; the agent owns the registry.
type Metrics struct {
	Packets *prometheus.CounterVec // type, outcome (offer, ack, nak, noreply, drop)
	Drops   *prometheus.CounterVec // reason
	Events  *prometheus.CounterVec // lease events: bind, renew, release, decline, expire
	Commit  prometheus.Histogram   // lease commit latency (durable before ACK)
	Batch   prometheus.Histogram   // leases per group commit (one fsync)
	Leases  *prometheus.GaugeVec   // pool, state
	Queue   prometheus.Gauge       // requests waiting for a worker
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "packets_total",
			Help: "DHCP requests handled, by message type and outcome.",
		}, []string{"type", "outcome"}),
		Drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "drops_total",
			Help: "Packets dropped without a reply, by reason.",
		}, []string{"reason"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "lease_events_total",
			Help: "Lease events: bind, renew, release, decline, expire, reclaim.",
		}, []string{"event"}),
		Commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "commit_seconds",
			Help:    "Time to make a lease durable before its ACK.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "commit_batch_leases",
			Help:    "Leases made durable together by one group commit (one fsync).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		Leases: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "leases",
			Help: "Addresses per pool by binding state.",
		}, []string{"pool", "state"}),
		Queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hadhcpd", Subsystem: "dhcp", Name: "queue_length",
			Help: "Requests received and waiting for a worker.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Packets, m.Drops, m.Events, m.Commit, m.Batch, m.Leases, m.Queue)
	}
	return m
}
