package track

import "fmt"

// Status is a tracked input's state as an instance sees it.
type Status uint8

const (
	// Unknown: a check that has not reported yet. A weight-0 check keeps
	// its instance in Fault until it does (keepalived keeps the instance
	// down until its unweighted scripts reported); a weighted one adds
	// nothing yet.
	Unknown Status = iota
	Up
	Down
)

func (s Status) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Hysteresis is one check's rise/fall counter, keepalived's
// (vrrp_scheduler.c, vrrp_script_child_thread): n counts in 0..rise+fall-1
// and the check is Up from rise on. Coming Up sets n to the top, so fall
// failures in a row take it Down; going Down sets n to 0, so rise
// successes in a row take it Up. A check that never reported sits at
// rise-1: its first result decides either way.
type Hysteresis struct {
	rise, fall int
	n          int
	status     Status
}

// NewHysteresis returns a counter; rise and fall below 1 count as 1.
// initFail starts it Down (keepalived's init_fail) instead of Unknown.
func NewHysteresis(rise, fall int, initFail bool) *Hysteresis {
	h := &Hysteresis{rise: max(rise, 1), fall: max(fall, 1)}
	if initFail {
		h.status = Down
	} else {
		h.n = h.rise - 1
	}
	return h
}

// Status is the check's current state.
func (h *Hysteresis) Status() Status { return h.status }

// Observe records one result of the check and reports the state after it
// and whether that changed.
func (h *Hysteresis) Observe(ok bool) (Status, bool) {
	was := h.status
	top := h.rise + h.fall - 1
	if ok {
		if h.n < h.rise-1 {
			h.n++
		} else {
			h.n = top
			h.status = Up
		}
	} else {
		if h.n > h.rise {
			h.n--
		} else {
			h.n = 0
			h.status = Down
		}
	}
	return h.status, h.status != was
}
