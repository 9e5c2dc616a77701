package failover

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/hadhcpd/hadhcpd/internal/dhcpload"
)

// none marks a duration that was not observed (no OFFER/ACK from the
// standby within the run); it sorts after every real one.
const none time.Duration = -1

// takeover is what the load saw of one failure.
type takeover struct {
	firstOffer time.Duration // failure → first OFFER from the standby
	firstAck   time.Duration // failure → first ACK from the standby, OFFER from it too
	acked      int           // clients ACKed before the failure
	lost       int           // clients with no ACK within their deadline
	started    int
}

// measure reads the population's results and replies against the failure
// time t0 and the standby's MAC (replies are told apart by their frame's
// source MAC: with hadhcpd both boxes use the VIP as identifier and source).
func measure(t0 time.Time, standby string, res []dhcpload.Result, reps []dhcpload.Reply) takeover {
	tk := takeover{firstOffer: none, firstAck: none, started: len(res)}
	for _, r := range reps {
		if r.Type == dhcpv4.MessageTypeOffer && r.At.After(t0) && r.From.MAC.String() == standby {
			if d := r.At.Sub(t0); tk.firstOffer == none || d < tk.firstOffer {
				tk.firstOffer = d
			}
		}
	}
	for _, r := range res {
		switch {
		case !r.OK():
			tk.lost++
		case r.Ack.Before(t0):
			tk.acked++
		case r.AckFrom.MAC.String() == standby && r.OfferFrom.MAC.String() == standby:
			if d := r.Ack.Sub(t0); tk.firstAck == none || d < tk.firstAck {
				tk.firstAck = d
			}
		}
	}
	return tk
}

// missing lists the leases ACKed before t0 that the standby's store does
// not hold for the same client.
func missing(t0 time.Time, res []dhcpload.Result, store leaseStore) []string {
	var out []string
	for _, r := range res {
		if !r.OK() || !r.Ack.Before(t0) {
			continue
		}
		if got, ok := store[r.Addr]; !ok || got != r.MAC.String() {
			what := "absent"
			if ok {
				what = "bound to " + got
			}
			out = append(out, fmt.Sprintf("%s ACKed to %s by %s %.3fs before the failure: %s", r.Addr, r.MAC, r.AckFrom.MAC, t0.Sub(r.Ack).Seconds(), what))
		}
	}
	return out
}

// medianDur is the median (lower middle) with none sorting last.
func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return none
	}
	s := slices.Clone(ds)
	slices.SortFunc(s, func(a, b time.Duration) int {
		switch {
		case a == b:
			return 0
		case a == none:
			return 1
		case b == none:
			return -1
		case a < b:
			return -1
		}
		return 1
	})
	return s[(len(s)-1)/2]
}

func medianInt(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func fmtDur(d time.Duration) string {
	if d == none {
		return "none"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func TestMeasure(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 3, 0, time.UTC)
	act := dhcpload.Server{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}}
	stb := dhcpload.Server{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ok := func(n int, of, af dhcpload.Server, ack int) dhcpload.Result {
		return dhcpload.Result{Client: n, MAC: net.HardwareAddr{2, 0xbf, 0, 0, 0, byte(n)}, OfferFrom: of, AckFrom: af, Offer: at(ack - 5), Ack: at(ack),
			Addr: netip.AddrFrom4([4]byte{198, 18, 1, byte(n)})}
	}
	res := []dhcpload.Result{
		ok(1, act, act, -500),
		ok(2, act, act, -10),
		ok(3, act, stb, 300),                  // OFFER from the dead box, ACK from the standby: not a full exchange
		ok(4, stb, stb, 700),                  // the first whole exchange with the standby
		ok(5, stb, stb, 450),                  // earlier: this one counts
		ok(6, act, act, 20),                   // an ACK in flight from the active box after t0: neither
		{Client: 7, Err: dhcpload.ErrTimeout}, // lost
	}
	reps := []dhcpload.Reply{
		{At: at(-20), Type: dhcpv4.MessageTypeOffer, From: stb}, // before the failure: ignored
		{At: at(400), Type: dhcpv4.MessageTypeOffer, From: stb},
		{At: at(100), Type: dhcpv4.MessageTypeOffer, From: act},
		{At: at(380), Type: dhcpv4.MessageTypeAck, From: stb},
	}
	tk := measure(t0, stb.MAC.String(), res, reps)
	want := takeover{firstOffer: 400 * time.Millisecond, firstAck: 450 * time.Millisecond, acked: 2, lost: 1, started: 7}
	if tk != want {
		t.Errorf("measure = %+v, want %+v", tk, want)
	}

	store := leaseStore{res[0].Addr: res[0].MAC.String(), res[1].Addr: "02:00:00:00:00:99"}
	if m := missing(t0, res, store); len(m) != 1 || !slices.ContainsFunc(m, func(s string) bool { return s[:10] == "198.18.1.2" }) {
		t.Errorf("missing = %q, want 198.18.1.2 (bound to another client)", m)
	}
	delete(store, res[0].Addr)
	if m := missing(t0, res, store); len(m) != 2 {
		t.Errorf("missing = %q, want 2", m)
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, none},
		{[]time.Duration{3 * ms}, 3 * ms},
		{[]time.Duration{5 * ms, none, 1 * ms}, 5 * ms},
		{[]time.Duration{none, none, 1 * ms}, none},
		{[]time.Duration{4 * ms, 2 * ms}, 2 * ms},
	} {
		if got := medianDur(tc.in); got != tc.want {
			t.Errorf("medianDur(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := medianInt([]int{7, 0, 3}); got != 3 {
		t.Errorf("medianInt = %d, want 3", got)
	}
}
