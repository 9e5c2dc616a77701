package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Track scripts and weights (keepalived.conf(5): vrrp_script,
// track_script, track_interface), checked here and run by the agent with
// package vrrp/track.

// Defaults and bounds of vrrp.scripts.
const (
	defaultScriptInterval = time.Second // keepalived's
	// A check more often than ten times a second is a fork storm; one
	// less often than hourly no longer protects anything.
	minScriptInterval = 100 * time.Millisecond
	maxScriptInterval = time.Hour
	minScriptTimeout  = 10 * time.Millisecond
	maxScriptTimeout  = time.Hour
	// Beyond this a check could never change state in a day at 1s.
	maxRiseFall = 1000
	// keepalived's -253..253: with a priority of 1..254 one weight can move
	// it over the whole range.
	minWeight = -253
	maxWeight = 253
)

// ScriptSpec is one vrrp.scripts entry, typed, with defaults applied.
type ScriptSpec struct {
	Name     string
	Argv     []string // argv[0] absolute, or a bare name found in PATH at each run
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	InitFail bool
}

// TrackSpec is one input an instance tracks, with the weight that applies
// (a track_scripts entry's own, else its script's).
type TrackSpec struct {
	Name   string
	Weight int
}

// trackHook decodes the short forms of track_interfaces and
// track_scripts entries: a bare name is {name: NAME}.
func trackHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String {
		return data, nil
	}
	switch to {
	case reflect.TypeFor[TrackInterface](), reflect.TypeFor[TrackScript]():
		return map[string]any{"name": data}, nil
	}
	return data, nil
}

// scriptSpecs checks vrrp.scripts.
func (c *Config) scriptSpecs(v *validator) []ScriptSpec {
	var out []ScriptSpec
	names := map[string]bool{}
	for i, s := range c.VRRP.Scripts {
		k := fmt.Sprintf("vrrp.scripts[%d]", i)
		sp := ScriptSpec{Name: s.Name, Interval: s.Interval, Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail}
		if s.Name == "" {
			v.add(k+".name", "must be set")
		} else if names[s.Name] {
			v.add(k+".name", "%q is used by another script", s.Name)
		}
		names[s.Name] = true
		if strings.TrimSpace(s.Script) == "" {
			v.add(k+".script", "must be set")
		} else if argv, err := SplitCommand(s.Script); err != nil {
			v.add(k+".script", "%q: %v", s.Script, err)
		} else if !filepath.IsAbs(argv[0]) && strings.ContainsRune(argv[0], '/') {
			// A bare name is searched in PATH as keepalived does
			// (killall, pidof); a relative path has no directory to be
			// relative to.
			v.add(k+".script", "%q is a relative path: give an absolute path or a bare command name", argv[0])
		} else {
			sp.Argv = argv
		}
		if sp.Interval == 0 {
			sp.Interval = defaultScriptInterval
		} else {
			bound(v, k+".interval", s.Interval, minScriptInterval, maxScriptInterval, "")
		}
		if sp.Timeout == 0 {
			sp.Timeout = sp.Interval // keepalived's default
		} else {
			bound(v, k+".timeout", s.Timeout, minScriptTimeout, maxScriptTimeout, "")
		}
		for _, x := range []struct {
			key string
			n   int
			to  *int
		}{{"rise", s.Rise, &sp.Rise}, {"fall", s.Fall, &sp.Fall}} {
			switch {
			case x.n < 0 || x.n > maxRiseFall:
				v.add(k+"."+x.key, "%d is outside 1..%d", x.n, maxRiseFall)
			case x.n == 0:
				*x.to = 1
			}
		}
		if s.Weight < minWeight || s.Weight > maxWeight {
			v.add(k+".weight", "%d is outside %d..%d", s.Weight, minWeight, maxWeight)
		}
		out = append(out, sp)
	}
	return out
}

// trackSpecs checks one instance's track_interfaces and track_scripts (k
// is its key) and returns them with their weights; the instance's own
// interface is tracked first, with weight 0 (Fault while it has no
// carrier).
func (in *VRRPInstance) trackSpecs(v *validator, k string, scripts []VRRPScript) (links, checks []TrackSpec) {
	owner := in.Priority == 255
	ownerNote := "an address owner (priority 255) never changes its priority (RFC 5798 §5.2.4): use weight 0 (Fault while down) or a priority below 255"
	weight := func(key string, w int) {
		switch {
		case w < minWeight || w > maxWeight:
			v.add(key, "%d is outside %d..%d", w, minWeight, maxWeight)
		case w != 0 && owner:
			v.add(key, "%d: %s", w, ownerNote)
		}
	}
	links = []TrackSpec{{Name: in.Interface}}
	seen := map[string]bool{in.Interface: true}
	for j, t := range in.TrackInterfaces {
		tk := fmt.Sprintf("%s.track_interfaces[%d]", k, j)
		switch {
		case t.Name == "":
			v.add(tk+".name", "must be set")
			continue
		case t.Name == in.Interface && t.Weight != 0:
			v.add(tk+".weight", "%d: the instance's own interface %s always puts it in Fault when down (weight 0)", t.Weight, t.Name)
			continue
		case t.Name == in.Interface:
			continue
		case seen[t.Name]:
			v.add(tk+".name", "%q is tracked twice", t.Name)
			continue
		}
		seen[t.Name] = true
		weight(tk+".weight", t.Weight)
		links = append(links, TrackSpec(t))
	}
	seen = map[string]bool{}
	for j, t := range in.TrackScripts {
		tk := fmt.Sprintf("%s.track_scripts[%d]", k, j)
		var s *VRRPScript
		for i := range scripts {
			if scripts[i].Name == t.Name {
				s = &scripts[i]
				break
			}
		}
		switch {
		case t.Name == "":
			v.add(tk+".name", "must be set")
			continue
		case s == nil:
			v.add(tk+".name", "%q is not in vrrp.scripts", t.Name)
			continue
		case seen[t.Name]:
			v.add(tk+".name", "%q is tracked twice", t.Name)
			continue
		}
		seen[t.Name] = true
		w := s.Weight
		if t.Weight != nil {
			w = *t.Weight
			weight(tk+".weight", w)
		} else if w != 0 && owner {
			v.add(tk+".name", "script %q has weight %d: %s", t.Name, w, ownerNote)
		}
		checks = append(checks, TrackSpec{Name: t.Name, Weight: w})
	}
	return links, checks
}
