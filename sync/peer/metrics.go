package peer

import (
	"github.com/hadhcpd/hadhcpd/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the peer link's collectors; the agent owns the registry.
type Metrics struct {
	Refused      *prometheus.CounterVec // reason: connections refused before or during authentication
	AcceptErrors prometheus.Counter     // transient accept errors on failover.listen, each retried
	Integrity    prometheus.Counter     // sealed records that failed to open (PSK): each dropped its session
	LinkUp       prometheus.Gauge       // 1 while a session is up
	Sessions     prometheus.Counter     // sessions established
	Sent         prometheus.Counter     // update records sent (resends included)
	Applied      prometheus.Counter     // update and snapshot records applied from the partner
	Unacked      prometheus.Gauge       // records of our stream the partner has not acknowledged (replication lag)
	SnapPages    *prometheus.CounterVec // direction (sent|received): snapshot pages
	Skew         prometheus.Gauge       // partner clock minus ours, seconds (display only, invariant 6)
	ReplicateErr *prometheus.CounterVec // reason: Replicate calls that failed
	// AckSeconds is Send to the partner's ack (its durable apply included):
	// what replication adds to every ACK (the partner applies durably first).
	AckSeconds prometheus.Histogram
	// ApplySeconds is one durable apply of the partner's records here
	// (records merged from the frames read meanwhile), fsync included.
	ApplySeconds prometheus.Histogram
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Refused:      s.CounterVec("hadhcpd_peer_refused_peers_total", "Peer connections refused, by reason.", "reason"),
		AcceptErrors: s.Counter("hadhcpd_peer_accept_errors_total", "Transient errors accepting peer connections (out of descriptors or memory), each retried after a pause."),
		Integrity: s.Counter("hadhcpd_peer_integrity_failures_total",
			"Frames from the partner that failed authentication after a PSK handshake (tampered, injected or replayed on the path); each dropped its session."),
		LinkUp:       s.Gauge("hadhcpd_peer_link_up", "1 while the sync link to the partner is up."),
		Sessions:     s.Counter("hadhcpd_peer_sessions_total", "Authenticated sync link sessions established."),
		Sent:         s.Counter("hadhcpd_peer_updates_sent_total", "Lease update records sent to the partner, resends included."),
		Applied:      s.Counter("hadhcpd_peer_records_applied_total", "Lease records from the partner applied durably."),
		Unacked:      s.Gauge("hadhcpd_peer_unacked_updates", "Lease updates the partner has not acknowledged yet (replication lag)."),
		SnapPages:    s.CounterVec("hadhcpd_peer_snapshot_pages_total", "Snapshot pages, by direction.", "direction"),
		Skew:         s.Gauge("hadhcpd_peer_clock_skew_seconds", "Partner's clock minus ours (display only; safety never depends on it)."),
		ReplicateErr: s.CounterVec("hadhcpd_peer_replicate_errors_total", "Replicate calls that did not get the partner's ack, by reason.", "reason"),
		AckSeconds: s.Histogram("hadhcpd_peer_ack_seconds",
			"Time from queueing lease updates to the partner's ack of all of them (its durable apply included).", metrics.LatencyBuckets()),
		ApplySeconds: s.Histogram("hadhcpd_peer_apply_seconds",
			"Time of one durable apply of the partner's lease updates (fsync included).", metrics.LatencyBuckets()),
	}
	return m, s.Err()
}
