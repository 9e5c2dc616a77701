package failover

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// times is a lease's seven times, for rows that spell them out.
type times struct {
	start, expiry, potential, acked, partner, cltt, stateStart time.Time
}

func (ts times) on(l lease.Lease) lease.Lease {
	l.Start, l.Expiry, l.PotentialExpiry, l.AckedExpiry = ts.start, ts.expiry, ts.potential, ts.acked
	l.PartnerExpiry, l.CLTT, l.StateStart = ts.partner, ts.cltt, ts.stateStart
	return l
}

func timesOf(l lease.Lease) times {
	return times{l.Start, l.Expiry, l.PotentialExpiry, l.AckedExpiry, l.PartnerExpiry, l.CLTT, l.StateStart}
}

func TestFromPartner(t *testing.T) {
	const h, s = time.Hour, time.Second
	ours := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) // our clock at receipt
	at := func(d time.Duration) time.Time { return ours.Add(d) }
	var zero time.Time
	// A bound lease as the partner wrote it, in its own clock p: started
	// 10 min ago, client told 2 h, partner may give 4 h, it holds our
	// potential of 3 h.
	theirs := func(p time.Time) times {
		return times{
			start: p.Add(-10 * time.Minute), expiry: p.Add(2 * h), potential: p.Add(4 * h),
			acked:   p.Add(99 * h), // its AckedExpiry is its own business: ignored
			partner: p.Add(3 * h), cltt: p.Add(-10 * time.Minute), stateStart: p.Add(-10 * time.Minute),
		}
	}
	// The same lease in our view, every time in our clock.
	mine := times{
		start: at(-10 * time.Minute), expiry: at(2 * h),
		potential: at(3 * h), acked: at(3 * h), partner: at(4 * h),
		cltt: at(-10 * time.Minute), stateStart: at(-10 * time.Minute),
	}
	shifted := func(ts times, d time.Duration) times {
		sh := func(t time.Time) time.Time {
			if t.IsZero() {
				return t
			}
			return t.Add(d)
		}
		return times{sh(ts.start), sh(ts.expiry), sh(ts.potential), sh(ts.acked), sh(ts.partner), sh(ts.cltt), sh(ts.stateStart)}
	}
	held := func(potential time.Time) lease.Lease { return lease.Lease{PotentialExpiry: potential} }
	minClock, maxClock := time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64) // the frame's int64 nanoseconds
	const maxDur, minDur = time.Duration(math.MaxInt64), time.Duration(math.MinInt64)

	tests := []struct {
		name           string
		in             times
		held           lease.Lease
		sent, received time.Time
		want           times
		codecErr       bool // the result is outside what a record can carry
	}{
		{name: "equal clocks", in: theirs(ours), sent: ours, received: ours, want: mine},
		{name: "partner ahead by 5s", in: theirs(at(5 * s)), sent: at(5 * s), received: ours, want: mine},
		{name: "partner behind by 5s", in: theirs(at(-5 * s)), sent: at(-5 * s), received: ours, want: mine},
		{name: "partner ahead by an hour", in: theirs(at(h)), sent: at(h), received: ours, want: mine},
		{name: "partner behind by an hour", in: theirs(at(-h)), sent: at(-h), received: ours, want: mine},
		{name: "sub-second skew moves the times by exactly the skew",
			in: theirs(at(1500 * time.Millisecond)), sent: at(1500 * time.Millisecond), received: ours, want: mine},
		{name: "transit time is not subtracted: the frame took 2s",
			in: theirs(ours), sent: ours, received: at(2 * s), want: shifted(mine, 2*s)},

		{name: "unset fields stay unset with an hour of skew",
			in:   times{start: at(h - 10*time.Minute), stateStart: at(h - 10*time.Minute)},
			sent: at(h), received: ours,
			want: times{start: at(-10 * time.Minute), stateStart: at(-10 * time.Minute)}},
		{name: "all unset", sent: at(-h), received: ours},
		{name: "free lease: no expiry, potential only",
			in:   times{potential: at(-h + 30*time.Minute), stateStart: at(-2 * h)},
			sent: at(-h), received: ours,
			want: times{partner: at(30 * time.Minute), stateStart: at(-h)}},

		{name: "potential: a later one we hold is kept, in our clock, not shifted",
			in: theirs(at(h)), held: held(at(5 * h)), sent: at(h), received: ours,
			want: times{mine.start, mine.expiry, at(5 * h), at(3 * h), mine.partner, mine.cltt, mine.stateStart}},
		{name: "potential: an earlier one we hold gives way to the acked one",
			in: theirs(at(-h)), held: held(at(2 * h)), sent: at(-h), received: ours, want: mine},
		{name: "potential: equal to the acked one",
			in: theirs(ours), held: held(at(3 * h)), sent: ours, received: ours, want: mine},
		{name: "potential: ours kept when the partner holds none from us",
			in:   times{expiry: at(h + 2*h), potential: at(h + 4*h)},
			held: held(at(6 * h)), sent: at(h), received: ours,
			want: times{expiry: at(2 * h), potential: at(6 * h), partner: at(4 * h)}},
		{name: "potential: none anywhere",
			in: times{expiry: at(2 * h)}, held: held(zero), sent: ours, received: ours,
			want: times{expiry: at(2 * h)}},

		{name: "overflow: partner clock at the int64 floor, difference saturates forward",
			in: theirs(ours), sent: minClock, received: ours, want: shifted(mine, maxDur), codecErr: true},
		{name: "overflow: difference saturates backward",
			in: theirs(ours), sent: maxClock, received: minClock, want: shifted(mine, minDur), codecErr: true},
		{name: "overflow: partner clock at the int64 ceiling, no saturation",
			in: theirs(maxClock), sent: maxClock, received: ours, want: mine},
		{name: "codec edge: partner behind by an hour lands on the last second a record carries",
			in:   times{expiry: time.Unix(math.MaxUint32-3600, 0)},
			sent: at(-h), received: ours, want: times{expiry: time.Unix(math.MaxUint32, 0)}},
		{name: "codec edge: one second past it",
			in:   times{expiry: time.Unix(math.MaxUint32-3600, 0)},
			sent: at(-h - s), received: ours, want: times{expiry: time.Unix(math.MaxUint32+1, 0)}, codecErr: true},
		{name: "codec edge: partner ahead by an hour moves a time before 1970",
			in:   times{start: time.Unix(1800, 0)},
			sent: at(h), received: ours, want: times{start: time.Unix(-1800, 0)}, codecErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in.on(lease.Lease{
				Addr: netip.MustParseAddr("192.0.2.10"), HWAddr: net.HardwareAddr{0, 0x11, 0x22, 0x33, 0x44, 0x55},
				ClientID: []byte("c1"), Hostname: "printer", State: lease.StateActive, Seq: 42, Peer: false,
			})
			got := FromPartner(in, tc.held, tc.sent, tc.received)
			g := timesOf(got)
			for _, f := range []struct {
				name      string
				got, want time.Time
			}{
				{"Start", g.start, tc.want.start}, {"Expiry", g.expiry, tc.want.expiry},
				{"PotentialExpiry", g.potential, tc.want.potential}, {"AckedExpiry", g.acked, tc.want.acked},
				{"PartnerExpiry", g.partner, tc.want.partner}, {"CLTT", g.cltt, tc.want.cltt},
				{"StateStart", g.stateStart, tc.want.stateStart},
			} {
				if !f.got.Equal(f.want) || f.got.IsZero() != f.want.IsZero() {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			// Everything but the times is the partner's record as it came.
			if a, b := (times{}).on(got), (times{}).on(in); !reflect.DeepEqual(a, b) {
				t.Errorf("non-time fields changed: %+v, want %+v", a, b)
			}
			if _, err := got.MarshalBinary(); (err != nil) != tc.codecErr || (err != nil && !errors.Is(err, lease.ErrInvalid)) {
				t.Errorf("MarshalBinary err = %v, want error %v", err, tc.codecErr)
			}
		})
	}
}

// TestFromPartnerRoundTrip: a record that goes to the partner and comes
// back (a resync) lands on the same times whatever the skew, with the
// potential expiries on their original sides.
func TestFromPartnerRoundTrip(t *testing.T) {
	ours := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	orig := lease.Lease{
		Addr: netip.MustParseAddr("192.0.2.11"), State: lease.StateActive,
		Start: ours, Expiry: ours.Add(time.Hour), PotentialExpiry: ours.Add(3 * time.Hour),
		PartnerExpiry: ours.Add(2 * time.Hour), CLTT: ours, StateStart: ours,
	}
	for _, skew := range []time.Duration{0, time.Second, -time.Second, time.Hour, -time.Hour} {
		theirs := ours.Add(skew)
		there := FromPartner(orig, lease.Lease{}, ours, theirs)
		back := FromPartner(there, lease.Lease{}, theirs, ours)
		if !back.Expiry.Equal(orig.Expiry) || !back.PartnerExpiry.Equal(orig.PartnerExpiry) ||
			!back.AckedExpiry.Equal(orig.PotentialExpiry) || !back.Start.Equal(orig.Start) {
			t.Errorf("skew %v: came back as %+v, from %+v", skew, back, orig)
		}
	}
}
