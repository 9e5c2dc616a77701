// Package events is the operator's event stream: lease changes (granted,
// renewed, released, expired, declined) and VRRP and failover transitions,
// fanned out to any number of readers (the API's server-sent events,
// `hadhcpd events --follow`, the status page's last events).
//
// The publisher is the DHCP commit path, so publishing must never wait for
// a reader and must not allocate: every event goes into one ring of fixed
// size (Bus.Publish: a short lock, a copy of a flat value, a non-blocking
// wake-up of each reader). Each subscriber reads the ring through its own
// cursor; a subscriber that falls a whole ring behind has lost events it
// can never get back, so it is dropped (its Next returns ErrDropped) and
// counted (hadhcpd_events_dropped_subscribers_total). The ring is every
// subscriber's bounded buffer: a stalled reader costs the publisher
// nothing, and memory is the ring's whatever the readers do.
//
// Events are numbered (Event.Seq) from 1 in publishing order per process,
// so a reader that reconnects can ask for what it missed while the ring
// still holds it (Subscribe's since, SSE's Last-Event-ID).
package events
