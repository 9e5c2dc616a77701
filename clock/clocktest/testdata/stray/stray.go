package stray

import (
	"time"

	tm "time"
)

type link struct{}

// metric is allowed: a duration observed, not the link's time.
func (*link) metric() time.Duration {
	t0 := time.Now()
	return time.Since(t0)
}

func deadline() time.Time { return tm.Now().Add(time.Second) }

var now = time.Now

func pause() { <-time.After(time.Second) }

func pure(d time.Duration) time.Time { return time.Unix(0, 0).Add(d) }
