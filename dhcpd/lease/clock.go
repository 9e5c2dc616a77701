package lease

import "time"

// wallClock is the default Clock, and the only place this package reads the
// system time (TestNoStrayTimeNow checks it).
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
