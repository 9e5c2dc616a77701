package agent

// Tracking: the instances' tracked interfaces (carrier) and check scripts
// (vrrp.scripts), combined by package vrrp/track into each instance's
// effective priority and Fault.

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hadhcpd/hadhcpd/agent/hooks"
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/netcfg"
	"github.com/hadhcpd/hadhcpd/vrrp"
	"github.com/hadhcpd/hadhcpd/vrrp/track"
)

// startTracking connects the instances to what they track: it reads the
// carrier of every tracked interface now, so the instances start with the
// truth, starts one checker per script some instance tracks (on wg, until
// ctx ends), and returns the function the link watcher calls with every
// carrier change. The checkers run the scripts through hooks.Command:
// without a shell, in a process group of their own, killed at their
// timeout.
func (p *vrrpPart) startTracking(ctx context.Context, insts map[string]*vrrp.Instance, wg *sync.WaitGroup) func(link string, up bool) {
	type linkUse struct {
		t   *track.Tracked
		idx int
	}
	links := map[string][]linkUse{}
	carrier := map[string]bool{}
	subs := map[string][]linkUse{} // script name -> the inputs it feeds
	var tracked []*track.Tracked
	for _, s := range p.specs {
		inst := insts[s.cfg.Name]
		base := s.cfg.Priority
		var inputs []track.Input
		for _, l := range s.track {
			up, seen := carrier[l.Name]
			if !seen {
				var err error
				up, err = netcfg.Carrier(l.Name)
				if err != nil {
					p.log.Warn("tracked link missing: down until it appears", "op", "track", "iface", l.Name, "err", err)
				}
				carrier[l.Name] = up
			}
			inputs = append(inputs, track.Input{Weight: l.Weight, Status: linkStatus(up)})
		}
		for _, c := range s.scripts {
			inputs = append(inputs, track.Input{Weight: c.Weight, Status: p.scriptInitial(c.Name)})
		}
		t := track.NewTracked(base, inputs, func(prio uint8, fault bool) {
			inst.SetTrack(!fault)
			if prio == base {
				prio = 0
			}
			inst.SetTrackPriority(prio)
		})
		for i, l := range s.track {
			links[l.Name] = append(links[l.Name], linkUse{t, i})
		}
		for i, c := range s.scripts {
			subs[c.Name] = append(subs[c.Name], linkUse{t, len(s.track) + i})
		}
		tracked = append(tracked, t)
	}
	for _, sc := range p.scripts {
		uses := subs[sc.Name]
		if len(uses) == 0 {
			continue // keepalived too runs only the scripts something tracks
		}
		c := track.NewChecker(track.Script{
			Name: sc.Name, Argv: sc.Argv, Interval: sc.Interval, Timeout: sc.Timeout,
			Rise: sc.Rise, Fall: sc.Fall, InitFail: sc.InitFail,
		}, track.Deps{Exec: track.Exec(hooks.Command), Log: p.log, Metrics: p.trackM}, func(st track.Status) {
			for _, u := range uses {
				u.t.Set(u.idx, st)
			}
		})
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	for _, t := range tracked {
		t.Apply()
	}
	// Called by the one watcher goroutine only.
	return func(link string, up bool) {
		was, ok := carrier[link]
		if !ok || was == up {
			return
		}
		p.log.Info("tracked link", "iface", link, "carrier", up)
		carrier[link] = up
		for _, u := range links[link] {
			u.t.Set(u.idx, linkStatus(up))
		}
	}
}

func linkStatus(up bool) track.Status {
	if up {
		return track.Up
	}
	return track.Down
}

// scriptInitial is a script's status before its first result.
func (p *vrrpPart) scriptInitial(name string) track.Status {
	for _, s := range p.scripts {
		if s.Name == name && s.InitFail {
			return track.Down
		}
	}
	return track.Unknown
}

// trackSpecsOf checks that every script an instance tracks is configured
// (config.Build did; this guards the copy).
func trackSpecsOf(specs []instSpec, scripts []config.ScriptSpec) error {
	for _, s := range specs {
		for _, c := range s.scripts {
			if !slices.ContainsFunc(scripts, func(sc config.ScriptSpec) bool { return sc.Name == c.Name }) {
				return fmt.Errorf("vrrp instance %s: track script %q is not configured", s.cfg.Name, c.Name)
			}
		}
	}
	return nil
}
