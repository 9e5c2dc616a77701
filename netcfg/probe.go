package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/arp"
)

// ErrNoCarrier: the probe's interface has no carrier (or is down): an
// unanswered probe would say nothing about the target.
var ErrNoCarrier = errors.New("netcfg: interface has no carrier")

// ProbeARP asks by ARP on ifname who has target (RFC 826) and reports
// whether target answered within timeout. An error means the probe could
// not be made or its outcome is unknown (no carrier, no IPv4 address to
// ask from, a socket error): the caller must not read it as silence.
func ProbeARP(ifname string, target netip.Addr, timeout time.Duration) (answered bool, err error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, err)
	}
	if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagRunning == 0 {
		return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, ErrNoCarrier)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return false, err
	}
	_, err = c.Resolve(target)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The request went out: check the carrier again, a link that
		// fell meanwhile makes the silence meaningless.
		if ifi, e := net.InterfaceByName(ifname); e != nil || ifi.Flags&net.FlagRunning == 0 {
			return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, ErrNoCarrier)
		}
		return false, nil
	}
	return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, err)
}

// LinkFor names the interface with carrier that has an IPv4 address in
// the same subnet as target (where to probe it from), false when none.
func LinkFor(target netip.Addr) (string, bool) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", false
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagRunning == 0 {
			continue
		}
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, err := netip.ParsePrefix(ipn.String())
			if err == nil && p.Addr().Is4() && p.Masked().Contains(target) && p.Addr() != target {
				return ifi.Name, true
			}
		}
	}
	return "", false
}

// OwnAddrs is the IPv4 addresses of the interfaces named, except those in
// exclude (the VIPs): what a node tells its partner to probe it at.
func OwnAddrs(ifnames []string, exclude []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, n := range ifnames {
		ifi, err := net.InterfaceByName(n)
		if err != nil {
			continue
		}
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
	next:
		for _, a := range as {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP.To4())
			if !ok {
				continue
			}
			for _, x := range exclude {
				if x == ip {
					continue next
				}
			}
			out = append(out, ip)
		}
	}
	return out
}
