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

// probeTries is how many ARP requests one probe sends, spread over its
// timeout: one lost request or reply (a busy box, a full queue) must not
// read as silence.
const probeTries = 3

// ProbeARP asks by ARP on ifname who has target (RFC 826), up to
// probeTries times within timeout, and reports whether target answered.
// An error means the probe could not be made or its outcome is unknown
// (no carrier, no IPv4 address to ask from, a socket error): the caller
// must not read it as silence.
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
	answered, err = probeClient(c, target, timeout)
	if answered || err != nil {
		return answered, err
	}
	// Every request went out unanswered: check the carrier again, a link
	// that fell meanwhile makes the silence meaningless.
	if ifi, e := net.InterfaceByName(ifname); e != nil || ifi.Flags&net.FlagRunning == 0 {
		return false, fmt.Errorf("netcfg: probe %s on %s: %w", target, ifname, ErrNoCarrier)
	}
	return false, nil
}

// probeClient is ProbeARP's exchange on an open client.
func probeClient(c *arp.Client, target netip.Addr, timeout time.Duration) (bool, error) {
	end := time.Now().Add(timeout)
	for try := 1; try <= probeTries; try++ {
		if err := c.Request(target); err != nil {
			return false, fmt.Errorf("netcfg: probe %s: %w", target, err)
		}
		// Wait for the answer until the next request is due (the last
		// one until the end).
		until := end
		if try < probeTries {
			until = time.Now().Add(timeout / probeTries)
		}
		ok, err := readReply(c, target, until)
		if ok || err != nil {
			return ok, err
		}
	}
	// A reader scheduled late (a busy box) finds its deadline passed
	// before it looks at the socket: read what is queued already before
	// calling it silence.
	return readReply(c, target, time.Now().Add(drainGrace))
}

// drainGrace is the last look at the socket after a probe's time is up.
const drainGrace = 20 * time.Millisecond

// readReply reads ARP packets until until, true at target's reply.
func readReply(c *arp.Client, target netip.Addr, until time.Time) (bool, error) {
	if err := c.SetReadDeadline(until); err != nil {
		return false, err
	}
	for {
		p, _, err := c.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("netcfg: probe %s: %w", target, err)
		}
		if p.Operation == arp.OperationReply && p.SenderIP == target {
			return true, nil
		}
	}
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
