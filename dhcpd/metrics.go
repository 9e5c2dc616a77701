package dhcpd

import (
	"github.com/hadhcpd/hadhcpd/metrics"
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
	Ignored *prometheus.CounterVec // reason: a field or option of an answered request not believed where it came from
	// Probes before offers (probe.go), by result: free, in-use, error;
	// ProbeWindow is 1 while a recovery probing window is active.
	Probes      *prometheus.CounterVec
	ProbeWindow prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Packets: s.CounterVec("hadhcpd_dhcp_packets_total", "DHCP requests handled, by message type and outcome.", "type", "outcome"),
		Drops:   s.CounterVec("hadhcpd_dhcp_drops_total", "Packets dropped without a reply, by reason.", "reason"),
		Events:  s.CounterVec("hadhcpd_dhcp_lease_events_total", "Lease events: bind, renew, release, decline, expire, reclaim, offer-evict (an unrequested offer gave way at its pool's bound).", "event"),
		Commit:  s.Histogram("hadhcpd_dhcp_commit_seconds", "Time to make a lease durable before its ACK.", metrics.LatencyBuckets()),
		Batch: s.Histogram("hadhcpd_dhcp_commit_batch_leases", "Leases made durable together by one group commit (one fsync).",
			prometheus.ExponentialBuckets(1, 2, 10)),
		Leases: s.GaugeVec("hadhcpd_dhcp_leases", "Addresses per pool by binding state.", "pool", "state"),
		Queue:  s.Gauge("hadhcpd_dhcp_queue_length", "Requests received and waiting for a worker."),
		Ignored: s.CounterVec("hadhcpd_dhcp_ignored_total",
			"Requests answered with a field or option ignored because it cannot be true where the request came from, by reason.", "reason"),
		Probes: s.CounterVec("hadhcpd_dhcp_probes_total",
			"Addresses probed (ARP or ICMP echo) before they were offered, by result: free, in-use (then abandoned), error (offered unprobed).", "result"),
		ProbeWindow: s.Gauge("hadhcpd_dhcp_recovery_probing",
			"1 while every address offered is probed first because a recovery lost lease records and no partner could restore them."),
	}
	return m, s.Err()
}
