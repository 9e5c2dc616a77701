package netcfg

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// GARPShare shares one interface's sender between the VRRP instances on
// it: it announces the union of their addresses, so one instance leaving
// master does not silence another's.
type GARPShare struct {
	g   *GARP
	mu  sync.Mutex
	ips map[string][]netip.Addr // by instance
}

// NewGARPShare shares g.
func NewGARPShare(g *GARP) *GARPShare {
	return &GARPShare{g: g, ips: map[string][]netip.Addr{}}
}

// Set replaces the addresses instance announces (nil: none).
func (s *GARPShare) Set(instance string, ips []netip.Addr, sched Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ips == nil {
		delete(s.ips, instance)
	} else {
		s.ips[instance] = ips
	}
	var all []netip.Addr
	for _, v := range s.ips {
		all = append(all, v...)
	}
	if len(all) == 0 {
		s.g.Stop()
		return
	}
	s.g.Announce(all, sched)
}

// VIPs are one VRRP instance's virtual addresses on the host: Take and
// Release are what the instance does on becoming and leaving master (RFC
// 5798 §6.4.3: add the addresses, send gratuitous ARP; remove them).
type VIPs struct {
	Addrs     *Addrs
	Instance  string
	Interface string
	Prefixes  []netip.Prefix
	// Owned: the addresses are the box's own (priority 255, RFC 5798
	// §5.2.4), never removed.
	Owned bool
	GARP  *GARPShare
	Sched Schedule
}

// Take adds the addresses (one netlink request each, no listing first: this
// is the takeover path) and starts the gratuitous ARP burst.
func (v *VIPs) Take() error {
	err := v.Addrs.Add(v.Interface, v.Prefixes)
	ips := make([]netip.Addr, len(v.Prefixes))
	for i, p := range v.Prefixes {
		ips[i] = p.Addr()
	}
	v.GARP.Set(v.Instance, ips, v.Sched)
	return err
}

// Release stops announcing and removes the addresses, unless Owned.
func (v *VIPs) Release() error {
	v.GARP.Set(v.Instance, nil, v.Sched)
	if v.Owned {
		return nil
	}
	return v.Addrs.Set(v.Interface, v.Prefixes, nil)
}

// RaisePriority sets nice on every thread of the process: on Linux
// setpriority(PRIO_PROCESS, tid) is per thread, and threads the Go runtime
// starts later inherit the value of the thread that creates them.
func RaisePriority(nice int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
