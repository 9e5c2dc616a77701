package vrrp

import (
	"github.com/hadhcpd/hadhcpd/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the VRRP collectors; the agent owns the registry.
type Metrics struct {
	Drops       *prometheus.CounterVec // instance, reason: received adverts dropped (RFC 5798 §7.1)
	Received    *prometheus.CounterVec // instance: adverts accepted
	Sent        *prometheus.CounterVec // instance: adverts sent
	SendErrors  *prometheus.CounterVec // instance
	Transitions *prometheus.CounterVec // instance, to
	State       *prometheus.GaugeVec   // instance: 0 initialize, 1 backup, 2 master, 3 fault
	Priority    *prometheus.GaugeVec   // instance: the priority advertised (after tracking and overrides)
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metrics.New(reg)
	m := &Metrics{
		Drops:       s.CounterVec("hadhcpd_vrrp_adverts_dropped_total", "Received VRRP adverts dropped, by reason.", "instance", "reason"),
		Received:    s.CounterVec("hadhcpd_vrrp_adverts_received_total", "Received VRRP adverts that passed validation.", "instance"),
		Sent:        s.CounterVec("hadhcpd_vrrp_adverts_sent_total", "VRRP adverts sent.", "instance"),
		SendErrors:  s.CounterVec("hadhcpd_vrrp_advert_send_errors_total", "VRRP adverts that could not be sent.", "instance"),
		Transitions: s.CounterVec("hadhcpd_vrrp_transitions_total", "VRRP state changes, by new state.", "instance", "to"),
		State:       s.GaugeVec("hadhcpd_vrrp_state", "VRRP state: 0 initialize, 1 backup, 2 master, 3 fault.", "instance"),
		Priority:    s.GaugeVec("hadhcpd_vrrp_priority", "VRRP priority the instance advertises and elects with: the configured one moved by track weights, or lowered while the node is unfit.", "instance"),
	}
	return m, s.Err()
}
