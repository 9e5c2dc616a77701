package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// OpError is a failed kernel operation on one link and prefix.
type OpError struct {
	Op     string // "add", "del", "list", "link"
	Link   string
	Prefix netip.Prefix // invalid for "list" and "link"
	Err    error
}

func (e *OpError) Error() string {
	if e.Prefix.IsValid() {
		return fmt.Sprintf("netcfg: %s %s dev %s: %v", e.Op, e.Prefix, e.Link, e.Err)
	}
	return fmt.Sprintf("netcfg: %s dev %s: %v", e.Op, e.Link, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// kernel is the narrow netlink surface Addrs needs; the fake in the tests
// renders it as `ip addr` lines.
type kernel interface {
	addrList(link string) ([]netip.Prefix, error) // IPv4 only
	addrAdd(link string, p netip.Prefix) error
	addrDel(link string, p netip.Prefix) error
}

// Addrs manages addresses on links.
type Addrs struct {
	k kernel
}

// NewAddrs manages addresses in the caller's network namespace.
func NewAddrs() (*Addrs, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netcfg: netlink: %w", err)
	}
	return &Addrs{k: &nlKernel{h: h}}, nil
}

// NewAddrsAt manages addresses in the namespace ns (tests).
func NewAddrsAt(ns netns.NsHandle) (*Addrs, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netcfg: netlink: %w", err)
	}
	return &Addrs{k: &nlKernel{h: h}}, nil
}

// Set makes the managed addresses of link exactly want (want ⊆ managed):
// it adds the missing ones first, then deletes the managed ones no longer
// wanted, so a move between two sets never leaves the link without an
// address it should have. Addresses outside managed (the box's own) are
// never touched. A managed address with another prefix length than the
// wanted one (a leftover of an older config) is replaced.
// Set is idempotent; errors name the operation, link and prefix, joined.
func (a *Addrs) Set(link string, managed, want []netip.Prefix) error {
	have, err := a.k.addrList(link)
	if err != nil {
		return &OpError{Op: "list", Link: link, Err: err}
	}
	var errs []error
	for _, w := range want {
		if slices.Contains(have, w) {
			continue
		}
		if err := a.k.addrAdd(link, w); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, &OpError{Op: "add", Link: link, Prefix: w, Err: err})
		}
	}
	// Delete in the order of managed, so the result does not depend on
	// the order the kernel lists addresses in.
	for _, m := range managed {
		for _, h := range have {
			if h.Addr() != m.Addr() || slices.Contains(want, h) {
				continue
			}
			if err := a.k.addrDel(link, h); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, &OpError{Op: "del", Link: link, Prefix: h, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

// Add adds want to link (idempotent) without looking at what is there:
// the fast path on becoming VRRP master, one netlink request per address.
func (a *Addrs) Add(link string, want []netip.Prefix) error {
	var errs []error
	for _, w := range want {
		if err := a.k.addrAdd(link, w); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, &OpError{Op: "add", Link: link, Prefix: w, Err: err})
		}
	}
	return errors.Join(errs...)
}

// List returns link's IPv4 addresses.
func (a *Addrs) List(link string) ([]netip.Prefix, error) {
	have, err := a.k.addrList(link)
	if err != nil {
		return nil, &OpError{Op: "list", Link: link, Err: err}
	}
	return have, nil
}

func hasAddr(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr() == a })
}

type nlKernel struct{ h *netlink.Handle }

func (k *nlKernel) link(name string) (netlink.Link, error) {
	return k.h.LinkByName(name)
}

func (k *nlKernel) addrList(link string) ([]netip.Prefix, error) {
	l, err := k.link(link)
	if err != nil {
		return nil, err
	}
	as, err := k.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(as))
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 32)}}
}

func (k *nlKernel) addrAdd(link string, p netip.Prefix) error {
	l, err := k.link(link)
	if err != nil {
		return err
	}
	// AddrAdd is NLM_F_CREATE|NLM_F_EXCL: an address already there is
	// EEXIST, which Set treats as done.
	return k.h.AddrAdd(l, nlAddr(p))
}

func (k *nlKernel) addrDel(link string, p netip.Prefix) error {
	l, err := k.link(link)
	if err != nil {
		return err
	}
	return k.h.AddrDel(l, nlAddr(p))
}
