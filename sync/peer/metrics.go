package peer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the peer link's collectors; the agent owns the registry.
type Metrics struct {
	Refused      *prometheus.CounterVec // reason: connections refused before or during authentication
	LinkUp       prometheus.Gauge       // 1 while a session is up
	Sessions     prometheus.Counter     // sessions established
	Sent         prometheus.Counter     // update records sent (resends included)
	Applied      prometheus.Counter     // update and snapshot records applied from the partner
	Unacked      prometheus.Gauge       // records of our stream the partner has not acknowledged (replication lag)
	SnapPages    *prometheus.CounterVec // direction (sent|received): snapshot pages
	Skew         prometheus.Gauge       // partner clock minus ours, seconds (display only, invariant 6)
	ReplicateErr *prometheus.CounterVec // reason: Replicate calls that failed
	// AckSeconds is Send to the partner's ack (its durable apply included):
	// what replication adds to every ACK (DESIGN.md data path, 4-5).
	AckSeconds prometheus.Histogram
	// ApplySeconds is one durable apply of the partner's records here
	// (records merged from the frames read meanwhile), fsync included.
	ApplySeconds prometheus.Histogram
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_peer_refused_peers_total", Help: "Peer connections refused, by reason.",
		}, []string{"reason"}),
		LinkUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hadhcpd_peer_link_up", Help: "1 while the sync link to the partner is up.",
		}),
		Sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hadhcpd_peer_sessions_total", Help: "Authenticated sync link sessions established.",
		}),
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hadhcpd_peer_updates_sent_total", Help: "Lease update records sent to the partner, resends included.",
		}),
		Applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hadhcpd_peer_records_applied_total", Help: "Lease records from the partner applied durably.",
		}),
		Unacked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hadhcpd_peer_unacked_updates", Help: "Lease updates the partner has not acknowledged yet (replication lag).",
		}),
		SnapPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_peer_snapshot_pages_total", Help: "Snapshot pages, by direction.",
		}, []string{"direction"}),
		Skew: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hadhcpd_peer_clock_skew_seconds", Help: "Partner's clock minus ours (display only; safety never depends on it).",
		}),
		ReplicateErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_peer_replicate_errors_total", Help: "Replicate calls that did not get the partner's ack, by reason.",
		}, []string{"reason"}),
		AckSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hadhcpd_peer_ack_seconds", Help: "Time from queueing lease updates to the partner's ack of all of them (its durable apply included).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // as the engine's commit histogram
		}),
		ApplySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hadhcpd_peer_apply_seconds", Help: "Time of one durable apply of the partner's lease updates (fsync included).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // as the engine's commit histogram
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Refused, m.LinkUp, m.Sessions, m.Sent, m.Applied, m.Unacked, m.SnapPages, m.Skew, m.ReplicateErr, m.AckSeconds, m.ApplySeconds} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
