package peer

import (
	"errors"
	"time"
)

// Liveness of a session (doc.go "Liveness"): the pure decisions the
// watchdog takes at each tick. Everything is a time of the injected Clock.

var (
	// ErrAckTimeout: updates (or a snapshot page) of ours awaited the
	// partner's ack for ackBound and nothing at all came from the partner
	// in that time, although a live partner answers any update within a
	// watchdog tick (an ack, or a heartbeat while it is still applying).
	ErrAckTimeout = errors.New("peer: updates unacknowledged and no frame from partner within max_response_delay/6")
	// ErrSilentBoth: the agent reported the partner silent on the VRRP
	// path (Link.PartnerSilent) and the sync link was quiet too.
	ErrSilentBoth = errors.New("peer: partner silent on the VRRP path and on the sync link")
	// ErrAbsentBoth: the sync link was quiet and the agent's LAN witness
	// found the partner silent on every served link (Link.PartnerAbsent).
	ErrAbsentBoth = errors.New("peer: partner silent on the LAN (ARP) and on the sync link")
)

// tickEvery is the watchdog's period and the heartbeat interval:
// max_response_delay/24 (125 ms at the default 3 s). Heartbeats are
// small (13 bytes), so a frequent one costs nothing and lets an end tell
// a quiet link from a live one within a fraction of a second; the
// rule (down after max_response_delay without a frame) then
// tolerates 23 lost heartbeats.
func tickEvery(mrd time.Duration) time.Duration {
	return max(mrd/24, time.Millisecond)
}

// ackBound is how long our oldest update may wait for its ack while the
// partner says nothing at all before the link is declared down:
// max_response_delay/6, four heartbeat intervals, so three may be late
// on a loaded box. A live partner heartbeats every tick even while its
// reader applies a large batch (the watchdog, not the reader, sends
// them). With nothing pending the link stays up for max_response_delay
// without a frame.
func ackBound(mrd time.Duration) time.Duration { return mrd / 6 }

// quietBound is how long a link must be silent to count as quiet once the
// VRRP path says the partner is silent (Link.PartnerSilent): two
// heartbeat intervals. At a takeover after a box loss the link has been
// silent since the loss, Master_Down_Interval ago (RFC 5798 §6.4.2), so
// commits are released at once; in a VRRP-only partition the partner's
// heartbeats keep the link below it and it stays up.
func quietBound(mrd time.Duration) time.Duration { return 2 * tickEvery(mrd) }

// liveness is what the watchdog knows at one tick.
type liveness struct {
	// heard is when the last frame from the partner was read (the
	// session's start before the first one).
	heard time.Time
	// ready is when our reader last finished handling a frame. While it
	// handles one (busy) it reads nothing, so frames the partner sent
	// meanwhile wait in the socket: quiet is counted from the later of
	// heard and ready, and not at all while busy.
	ready time.Time
	busy  bool
	// pending is when the oldest update (or snapshot page) of ours that
	// awaits the partner's ack was sent; zero when none does.
	pending time.Time
	// suspect: the VRRP path said the partner is silent.
	suspect bool
}

// verdict returns why the link is down at now, or nil. The rules, in
// order:
//
//   - nothing heard for max_response_delay: ErrTimeout (always,
//     busy or not);
//   - the VRRP path says the partner is silent (suspect) and the partner
//     said nothing for quietBound while our reader could hear it:
//     ErrSilentBoth;
//   - our oldest update waited ackBound and the partner said nothing for
//     ackBound while our reader could hear it: ErrAckTimeout. Commits
//     waiting for the partner are then
//     released as "partner unreachable" (COMMUNICATIONS-INTERRUPTED rules,
//     safe without the partner) instead of stalling for max_response_delay.
func (lv liveness) verdict(now time.Time, mrd time.Duration) error {
	if now.Sub(lv.heard) >= mrd {
		return ErrTimeout
	}
	if lv.busy {
		return nil
	}
	quiet := lv.heard
	if lv.ready.After(quiet) {
		quiet = lv.ready
	}
	// Silent on both paths: down whatever is pending. The age of the
	// oldest update does not matter here: a takeover's first commit is
	// new, but the partner has been silent since before the takeover.
	if lv.suspect && now.Sub(quiet) >= quietBound(mrd) {
		return ErrSilentBoth
	}
	if lv.pending.IsZero() {
		return nil
	}
	if bound := ackBound(mrd); now.Sub(lv.pending) >= bound && now.Sub(quiet) >= bound {
		return ErrAckTimeout
	}
	return nil
}

// quietSince is when the current quiet stretch began: the later of the
// last frame read and the end of its handling; ok is false while our
// reader is busy (frames may be waiting in the socket, so nothing
// counts as quiet). Two calls return the same time exactly while nothing
// was heard between them: the watchdog names a quiet episode by it and
// reports each one once (Quiet).
func (lv liveness) quietSince() (since time.Time, ok bool) {
	if lv.busy {
		return time.Time{}, false
	}
	since = lv.heard
	if lv.ready.After(since) {
		since = lv.ready
	}
	return since, true
}

// quietIn is how long until quietNow becomes true if nothing is heard
// meanwhile (0: it is already); while our reader is busy, a full
// quietBound.
func (lv liveness) quietIn(now time.Time, mrd time.Duration) time.Duration {
	if lv.busy {
		return quietBound(mrd)
	}
	quiet := lv.heard
	if lv.ready.After(quiet) {
		quiet = lv.ready
	}
	return max(quietBound(mrd)-now.Sub(quiet), 0)
}

// quietNow reports whether the link is quiet, when the VRRP path says
// the partner is silent: no frame for quietBound while our reader could
// hear one.
func (lv liveness) quietNow(now time.Time, mrd time.Duration) bool {
	if lv.busy {
		return false
	}
	quiet := lv.heard
	if lv.ready.After(quiet) {
		quiet = lv.ready
	}
	return now.Sub(quiet) >= quietBound(mrd)
}
