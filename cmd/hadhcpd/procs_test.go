package main

import "testing"

func TestAgentProcs(t *testing.T) {
	for _, c := range []struct {
		env           string
		current, want int
	}{
		{"", 1, 1}, // pinned to one core (taskset, a cgroup quota of one CPU)
		{"", 2, 1}, // the two-core gateway: the other core is left to forwarding
		{"", 3, 1},
		{"", 8, 4},
		{"2", 2, 2}, // the operator's GOMAXPROCS stands
		{"8", 8, 8},
	} {
		if got := agentProcs(c.env, c.current); got != c.want {
			t.Errorf("agentProcs(%q, %d) = %d, want %d", c.env, c.current, got, c.want)
		}
	}
}
