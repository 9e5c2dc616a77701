// Package vrrp is hadhcpd's VRRPv3 speaker for IPv4 (RFC 5798).
//
// It owns the protocol and nothing of the kernel but its packet socket:
//
//   - advert.go: the advertisement codec (RFC 5798 §5.1, §5.2) with the
//     checksum over the IPv4 pseudo-header (§5.2.8) and sentinel errors for
//     every reason a received advert is dropped (§7.1).
//   - timers.go: Skew_Time and Master_Down_Interval (§6.1), always computed
//     from their inputs, never cached.
//   - machine.go: the state machine of §6.4 as a pure step function
//     (Machine.Handle): no sockets, no goroutines, no clock reads.
//   - instance.go: one goroutine per virtual router that feeds the machine
//     with received adverts, timer expiries and admin events, executes its
//     actions and publishes a Status snapshot. Resign is the deliberate
//     handover of a Master (priority-0 advert, then Backup, §6.4.3); Ping
//     and Pong let the agent's watchdog see that the loop goes round.
//   - group.go: sync groups (instances that move together).
//   - SetTrack and SetTrackPriority (instance.go) take what package
//     vrrp/track computes from the tracked interfaces and check scripts:
//     Fault, or the effective priority the instance advertises (§6.4.3:
//     a master whose priority falls below a preempting backup's loses
//     mastership to it).
//   - conn_linux.go: the IP protocol 112 raw socket behind the Conn interface.
//
// The kernel side (virtual IPs, gratuitous ARP) is reached through the Owner
// interface, which the agent implements with package netcfg; vrrp imports
// neither netcfg nor the agent. Time is read only through a clock.Clock
// (clocktest.Fake in the tests; TestNoWallClock catches a stray time.Now).
package vrrp
