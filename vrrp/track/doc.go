// Package track is what a VRRP instance depends on besides its peers, as
// keepalived users configure it (keepalived.conf(5): vrrp_script,
// track_script, track_interface):
//
//   - hysteresis.go: a check's rise/fall counter, keepalived's exactly: a
//     check starts Unknown (one result decides) or Down (init_fail), needs
//     rise successes in a row to come Up and fall failures in a row to go
//     Down.
//   - effective.go: the priority and Fault an instance gets from its
//     tracked inputs and their weights (pure).
//   - tracked.go: the inputs of one instance, fed from any goroutine,
//     handing each new result to the instance without blocking.
//   - checker.go: one goroutine per check that runs its command at its
//     interval under a timeout (the injected clock) and feeds the
//     hysteresis; the command runs through an injected Exec.
//
// The priority that results is what the instance advertises and elects
// with (RFC 5798 §6.4.3: a master whose priority falls below a preempting
// backup's loses the election to it).
package track
