package agent

import (
	"net/netip"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/agent/pair"
	"github.com/hadhcpd/hadhcpd/control"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// statusSource assembles the control.Status from the running parts; each part hands
// out published snapshots, never its live fields.
type statusSource struct {
	node    string
	started time.Time
	vr      *vrrpPart
	dh      *dhcpPart
	fo      *pair.Pair
	rs      *relSet // a box in several relationships
	gd      *globalDefaults
}

func (s *statusSource) status() control.Status {
	st := control.Status{Schema: control.StatusSchema, Node: s.node, Version: Version, Started: s.started,
		VRRP: []control.VRRPStatus{}, Pools: []control.PoolStatus{}}
	if s.vr != nil {
		st.VRRP = s.vr.statusView()
	}
	if s.fo != nil {
		st.Failover = s.fo.Status()
	}
	if s.rs != nil {
		st.Relationships = s.rs.status()
	}
	st.Defaults = s.gd.status()
	if s.dh != nil {
		st.Pools = s.pools()
		st.RecoveryProbingUntil = s.dh.eng.RecoveryProbing()
	}
	return st
}

func (s *statusSource) pools() []control.PoolStatus {
	out := []control.PoolStatus{}
	for _, p := range s.dh.db.Stats() {
		ps := poolStatus(p)
		ps.Relationship = s.rs.poolRelationship(p.Name)
		out = append(out, ps)
	}
	return out
}

// subnets are the served subnets of the dhcp: section in force.
func (s *statusSource) subnets() []netip.Prefix {
	s.dh.mu.Lock()
	sec := s.dh.section
	s.dh.mu.Unlock()
	var out []netip.Prefix
	if sec == nil {
		return out
	}
	for _, sn := range sec.Subnets {
		// Validated when the section was applied.
		if p, err := netip.ParsePrefix(sn.Subnet); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func poolStatus(p lease.PoolStats) control.PoolStatus {
	return control.PoolStatus{Pool: p.Name, Total: p.Total, Free: p.Free, Backup: p.Backup, Active: p.Active,
		Expired: p.Expired, Released: p.Released, Abandoned: p.Abandoned}
}

// statusView lists the instances in configuration order.
func (p *vrrpPart) statusView() []control.VRRPStatus {
	p.mu.Lock()
	insts := p.insts
	p.mu.Unlock()
	out := make([]control.VRRPStatus, 0, len(p.specs))
	for _, s := range p.specs {
		v := control.VRRPStatus{Instance: s.cfg.Name, Interface: s.cfg.Interface, VRID: int(s.cfg.VRID),
			State: "INIT", Priority: int(s.cfg.Priority)}
		if in := insts[s.cfg.Name]; in != nil {
			is := in.Status()
			v.State, v.Priority, v.Since = strings.ToUpper(is.State.String()), int(is.Priority), is.Since
			if is.MasterAddr.IsValid() {
				v.Master = is.MasterAddr.String()
			}
		}
		out = append(out, v)
	}
	return out
}

// InstanceStatus is the named instance's line of the status, for a pair's
// operator results (false for an instance that is not configured).
func (p *vrrpPart) InstanceStatus(instance string) (control.VRRPStatus, bool) {
	if p == nil {
		return control.VRRPStatus{}, false
	}
	for _, v := range p.statusView() {
		if v.Instance == instance {
			return v, true
		}
	}
	return control.VRRPStatus{}, false
}
