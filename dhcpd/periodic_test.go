package dhcpd

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	dto "github.com/prometheus/client_model/go"
)

// The lease gauges follow each tick, not only the periodic summary.
func TestTickRefreshesLeaseGauges(t *testing.T) {
	r := newRig(t)
	r.dora(t, macA)
	r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB))
	r.e.Tick(r.clk.Now())
	for state, want := range map[string]float64{"active": 1, "held": 1, "free": 9} {
		if got := gaugeValue(t, r.e.m.Leases.WithLabelValues(lanPool.Name, state)); got != want {
			t.Errorf("hadhcpd_dhcp_leases{pool=%q,state=%q} = %v after a tick, want %v", lanPool.Name, state, got, want)
		}
	}
}

func gaugeValue(t *testing.T, g interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
