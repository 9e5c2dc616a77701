package lease

import "time"

// This file is the only place the package reads the system time
// (TestNoStrayTimeNow checks it): lease times come from Options.Clock
// (clock.Wall() by default), and paced times background disk work.

// paced runs fn, then idles twice as long as fn took, so that compaction's
// disk work (snapshot slices, freeing replaced files) leaves the disk to
// the journal's fdatasyncs two thirds of the time. Monotonic time, not the
// DB's Clock: pacing is plumbing, and a test's fake clock must not stall it.
func paced(fn func() error) error {
	t := time.Now()
	err := fn()
	time.Sleep(2 * time.Since(t))
	return err
}
