package vrrp

import (
	"errors"

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
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_vrrp_adverts_dropped_total", Help: "Received VRRP adverts dropped, by reason.",
		}, []string{"instance", "reason"}),
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_vrrp_adverts_received_total", Help: "Received VRRP adverts that passed validation.",
		}, []string{"instance"}),
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_vrrp_adverts_sent_total", Help: "VRRP adverts sent.",
		}, []string{"instance"}),
		SendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_vrrp_advert_send_errors_total", Help: "VRRP adverts that could not be sent.",
		}, []string{"instance"}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hadhcpd_vrrp_transitions_total", Help: "VRRP state changes, by new state.",
		}, []string{"instance", "to"}),
		State: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hadhcpd_vrrp_state", Help: "VRRP state: 0 initialize, 1 backup, 2 master, 3 fault.",
		}, []string{"instance"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Drops, m.Received, m.Sent, m.SendErrors, m.Transitions, m.State} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
