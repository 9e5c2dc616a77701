package peer

import (
	"sync"
	"time"

	"github.com/hadhcpd/hadhcpd/clock"
)

// RefusalLog rate-limits the log of refused connections: a peer that is
// refused redials at once, and a scan comes from many sources, so one
// line per key (a source address, with the reason when there are
// several) per RefusalLogEvery, the refusals still counted by the caller.
// The link uses it, and so does the agent's listener shared by several
// relationships (for connections from no relationship's partner). Safe
// for concurrent use.
type RefusalLog struct {
	clock clock.Clock
	mu    sync.Mutex
	last  map[string]time.Time
}

const (
	// RefusalLogEvery is how often one key is logged at most.
	RefusalLogEvery = time.Minute
	// refusalLogKeys bounds the keys remembered, under a scan from many
	// sources.
	refusalLogKeys = 1024
)

// NewRefusalLog makes a limiter reading the time from c.
func NewRefusalLog(c clock.Clock) *RefusalLog {
	return &RefusalLog{clock: c, last: make(map[string]time.Time)}
}

// Allow reports whether a refusal of key is logged now: the first, and
// the first after RefusalLogEvery. While refusalLogKeys keys were each
// logged within RefusalLogEvery, a new key waits until one ages out.
func (r *RefusalLog) Allow(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < RefusalLogEvery {
		return false
	}
	if len(r.last) >= refusalLogKeys {
		for k, t := range r.last {
			if now.Sub(t) >= RefusalLogEvery {
				delete(r.last, k)
			}
		}
		if len(r.last) >= refusalLogKeys {
			return false
		}
	}
	r.last[key] = now
	return true
}
