package vrrp

import (
	"errors"
	"fmt"
	"sync"
)

// Group is a sync group: virtual routers that move together (the LAN and
// WAN side of one gateway), as keepalived's vrrp_sync_group.
//
//   - While any member's tracked interfaces are down, every other member is
//     held in Fault too (it gives up its address and stays out of the
//     election), so traffic never enters one box and leaves by the other.
//   - When a member Master loses an election (a better advert, §6.4.3),
//     every other member that is Master steps down to Backup, sending a
//     priority-0 advert so its peer takes over after Skew_Time.
//
// BUG(vrrp): unlike keepalived, a Backup member does not wait for the whole
// group before preempting; with priorities that disagree between the members
// of one box the group can move back and forth.
type Group struct {
	name    string
	mu      sync.Mutex // guards nothing but the ordering of fan-outs
	members []*Instance
}

// NewGroup joins the instances into a group. An instance may be in one
// group only; call it before the instances run.
func NewGroup(name string, members ...*Instance) (*Group, error) {
	g := &Group{name: name, members: members}
	var errs []error
	for _, m := range members {
		if m.group != nil {
			errs = append(errs, fmt.Errorf("sync group %s: instance %s is already in sync group %s", name, m.cfg.Name, m.group.name))
			continue
		}
		m.group = g
	}
	return g, errors.Join(errs...)
}

// trackChanged recomputes every member's GroupFault input: true while
// another member's own tracked interfaces are down.
func (g *Group) trackChanged() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		fault := false
		for _, o := range g.members {
			if o != m && !o.trackUp.Load() {
				fault = true
			}
		}
		if m.grpFlt.Swap(fault) != fault {
			m.poke()
		}
	}
}

// transition is called from a member's loop after each of its transitions.
// It only stores inputs and pokes the other loops (never blocks on them).
func (g *Group) transition(from *Instance, t Transition) {
	if t.From != Master || t.To != Backup || t.Cause != CausePreempted {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m != from {
			m.stepGen.Add(1)
			m.poke()
		}
	}
}
