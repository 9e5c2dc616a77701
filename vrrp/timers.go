package vrrp

import "time"

// Advertisement interval bounds: the codec carries it as a 12-bit count of
// centiseconds (RFC 5798 §5.2.7), so 10ms..40.95s with a 10ms step.
const (
	MinAdvertInterval = 10 * time.Millisecond
	MaxAdvertInterval = 4095 * 10 * time.Millisecond
	centisecond       = 10 * time.Millisecond
)

// OwnerPriority is the priority of the router that owns the virtual
// addresses (RFC 5798 §5.2.4); StopPriority (0) announces that the master
// stops (§6.4.3).
const (
	OwnerPriority = 255
	StopPriority  = 0
)

// skewTime is Skew_Time of RFC 5798 §6.1: ((256 - Priority) *
// Master_Adver_Interval) / 256. The RFC computes it in centiseconds; doing
// it on durations keeps the sub-centisecond part instead of truncating.
func skewTime(prio uint8, masterAdv time.Duration) time.Duration {
	return time.Duration(256-int(prio)) * masterAdv / 256
}

// masterDownInterval is Master_Down_Interval of RFC 5798 §6.1:
// 3 * Master_Adver_Interval + Skew_Time.
func masterDownInterval(prio uint8, masterAdv time.Duration) time.Duration {
	return 3*masterAdv + skewTime(prio, masterAdv)
}
