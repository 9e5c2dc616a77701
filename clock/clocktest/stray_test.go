package clocktest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what would fail the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.TB.Fatal(args...) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.TB.Fatalf(format, args...)
}

func TestNoWallClock(t *testing.T) {
	r := &recorder{TB: t}
	NoWallClock(r, "testdata/stray", map[string]string{
		"stray.go:link.metric": "a metric's duration",
		"stray.go:gone":        "an exception that matches nothing",
	})
	var got []string
	for _, e := range r.errs {
		// Drop the position: "testdata/stray/stray.go:17:36: time.Now in …".
		if i := strings.Index(e, ": time."); i >= 0 {
			e = e[i+2:]
		}
		got = append(got, e)
	}
	slices.Sort(got)
	const tail = " reads real time: take it from the package's clock.Clock"
	want := []string{
		"NoWallClock: allowed stray.go:gone reads no real time (any more): drop the exception",
		"time.After in stray.go:pause" + tail,
		"time.Now in stray.go:deadline" + tail,
		"time.Now in stray.go:var" + tail,
	}
	if !slices.Equal(got, want) {
		t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
