package netcfg

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WatchCarrier calls fn with the carrier of every link (IFF_LOWER_UP: the
// cable, or the veth peer, is up), once for each existing link at start and
// then on every change, until ctx ends. A deleted link is reported down.
// fn runs on WatchCarrier's goroutine and must not block for long.
func WatchCarrier(ctx context.Context, fn func(link string, up bool)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	errc := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("netcfg: watch links: %w", err)
	}
	last := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("netcfg: watch links: %w", err)
		case u, ok := <-ch:
			if !ok {
				return fmt.Errorf("netcfg: watch links: subscription closed")
			}
			name := u.Attrs().Name
			up := u.Header.Type != unix.RTM_DELLINK && u.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
			if was, seen := last[name]; seen && was == up {
				continue
			}
			last[name] = up
			fn(name, up)
		}
	}
}

// Carrier reports the carrier (IFF_LOWER_UP) of one link now.
func Carrier(link string) (bool, error) {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return false, fmt.Errorf("netcfg: link %s: %w", link, err)
	}
	return l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0, nil
}
