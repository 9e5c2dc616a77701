// Package metrics builds hadhcpd's Prometheus collectors and registers
// them. Every part (dhcpd, vrrp, sync/peer, the agent) makes its
// collectors through one Set: the registry is the agent's (never the
// global default one), a nil registry leaves them unregistered for tests,
// and a registration error is collected rather than lost or a panic.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Set makes collectors and registers each with its registry.
type Set struct {
	reg  prometheus.Registerer
	errs []error
}

// New returns a Set registering with reg; nil: the collectors work but are
// registered nowhere.
func New(reg prometheus.Registerer) *Set { return &Set{reg: reg} }

// Err is every registration error so far, joined.
func (s *Set) Err() error { return errors.Join(s.errs...) }

func register[C prometheus.Collector](s *Set, c C) C {
	if s.reg != nil {
		if err := s.reg.Register(c); err != nil {
			s.errs = append(s.errs, err)
		}
	}
	return c
}

// Counter is a counter named name (the full name: hadhcpd_<part>_<what>_total).
func (s *Set) Counter(name, help string) prometheus.Counter {
	return register(s, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec is a counter with labels.
func (s *Set) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(s, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// Gauge is a gauge.
func (s *Set) Gauge(name, help string) prometheus.Gauge {
	return register(s, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

// GaugeVec is a gauge with labels.
func (s *Set) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(s, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

// Histogram is a histogram with the given buckets.
func (s *Set) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(s, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

// LatencyBuckets are the buckets of the data path's latencies (a lease
// commit, the partner's ack, an apply): 50 µs doubling to about 1.6 s, so
// the same durations fall in the same buckets in every histogram.
func LatencyBuckets() []float64 { return prometheus.ExponentialBuckets(50e-6, 2, 16) }
