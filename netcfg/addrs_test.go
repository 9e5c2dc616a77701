package netcfg

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeKernel keeps addresses per link and writes each change as the `ip`
// command that would make it, so tests compare transcripts.
type fakeKernel struct {
	links map[string][]netip.Prefix
	log   []string
	// failAdd makes the next add of this address fail with this errno,
	// as the kernel does when the address appeared meanwhile.
	failAdd map[netip.Addr]error
	failDel map[netip.Addr]error
}

func newFake(links ...string) *fakeKernel {
	f := &fakeKernel{links: map[string][]netip.Prefix{}, failAdd: map[netip.Addr]error{}, failDel: map[netip.Addr]error{}}
	for _, l := range links {
		f.links[l] = nil
	}
	return f
}

func (f *fakeKernel) addrList(link string) ([]netip.Prefix, error) {
	ps, ok := f.links[link]
	if !ok {
		return nil, unix.ENODEV
	}
	return slices.Clone(ps), nil
}

func (f *fakeKernel) addrAdd(link string, p netip.Prefix) error {
	if err := f.failAdd[p.Addr()]; err != nil {
		delete(f.failAdd, p.Addr())
		return err
	}
	if slices.Contains(f.links[link], p) { // the kernel keys by address and prefix length
		return unix.EEXIST
	}
	f.links[link] = append(f.links[link], p)
	f.log = append(f.log, fmt.Sprintf("ip addr add %s dev %s", p, link))
	return nil
}

func (f *fakeKernel) addrDel(link string, p netip.Prefix) error {
	if err := f.failDel[p.Addr()]; err != nil {
		delete(f.failDel, p.Addr())
		return err
	}
	i := slices.Index(f.links[link], p)
	if i < 0 {
		return unix.EADDRNOTAVAIL
	}
	f.links[link] = slices.Delete(f.links[link], i, i+1)
	f.log = append(f.log, fmt.Sprintf("ip addr del %s dev %s", p, link))
	return nil
}

func (f *fakeKernel) transcript() string {
	s := strings.Join(f.log, "\n")
	f.log = nil
	return s
}

// state renders what is on the links, sorted.
func (f *fakeKernel) state() string {
	var lines []string
	for l, ps := range f.links {
		for _, p := range ps {
			lines = append(lines, fmt.Sprintf("%s dev %s", p, l))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, x := range s {
		out[i] = netip.MustParsePrefix(x)
	}
	return out
}

var (
	own     = pfx("192.0.2.10/24")
	managed = pfx("192.0.2.1/24", "198.51.100.1/24")
)

func TestAddrsSetTranscript(t *testing.T) {
	f := newFake("lan0")
	f.links["lan0"] = slices.Clone(own)
	a := &Addrs{k: f}
	for _, step := range []struct {
		want []netip.Prefix
		log  string
	}{
		{managed[:1], "ip addr add 192.0.2.1/24 dev lan0"},
		{managed[:1], ""}, // idempotent
		{managed[1:], "ip addr add 198.51.100.1/24 dev lan0\nip addr del 192.0.2.1/24 dev lan0"}, // add before delete
		{managed, "ip addr add 192.0.2.1/24 dev lan0"},
		{nil, "ip addr del 192.0.2.1/24 dev lan0\nip addr del 198.51.100.1/24 dev lan0"},
		{nil, ""},
	} {
		if err := a.Set("lan0", managed, step.want); err != nil {
			t.Fatalf("Set(%v): %v", step.want, err)
		}
		if got := f.transcript(); got != step.log {
			t.Fatalf("Set(%v):\n got %q\nwant %q", step.want, got, step.log)
		}
		if !hasAddr(f.links["lan0"], own[0].Addr()) {
			t.Fatalf("Set(%v) removed the box's own address", step.want)
		}
	}
}

// TestAddrsSetRandomOrder replays states in random order from random
// starting points (a crashed master's leftovers included, even with another
// prefix length): the result is always exactly the wanted state.
func TestAddrsSetRandomOrder(t *testing.T) {
	states := [][]netip.Prefix{nil, managed[:1], managed[1:], managed}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		f := newFake("lan0")
		f.links["lan0"] = slices.Clone(own)
		if r.IntN(2) == 0 {
			f.links["lan0"] = append(f.links["lan0"], netip.MustParsePrefix("192.0.2.1/32")) // stale, other length
		}
		a := &Addrs{k: f}
		for range 6 {
			want := states[r.IntN(len(states))]
			if err := a.Set("lan0", managed, want); err != nil {
				t.Fatal(err)
			}
			exp := newFake("lan0")
			exp.links["lan0"] = append(slices.Clone(own), want...)
			if got, w := f.state(), exp.state(); got != w {
				t.Fatalf("after Set(%v):\n got %s\nwant %s", want, got, w)
			}
		}
	}
}

func TestAddrsErrno(t *testing.T) {
	f := newFake("lan0")
	a := &Addrs{k: f}
	// The address appeared between list and add: EEXIST is success.
	f.failAdd[managed[0].Addr()] = unix.EEXIST
	if err := a.Set("lan0", managed, managed[:1]); err != nil {
		t.Fatalf("EEXIST on add: %v", err)
	}
	if err := a.Set("lan0", managed, managed[:1]); err != nil {
		t.Fatal(err)
	}
	f.links["lan0"] = slices.Clone(managed[:1])
	f.failDel[managed[0].Addr()] = unix.EADDRNOTAVAIL
	if err := a.Set("lan0", managed, nil); err != nil {
		t.Fatalf("EADDRNOTAVAIL on delete: %v", err)
	}
	// Any other errno is an error naming the operation, link and prefix.
	f.failAdd[managed[1].Addr()] = unix.EPERM
	err := a.Set("lan0", managed, managed[1:])
	var op *OpError
	if !errors.As(err, &op) || op.Op != "add" || op.Link != "lan0" || op.Prefix != managed[1] || !errors.Is(err, unix.EPERM) {
		t.Fatalf("got %v, want an add OpError with EPERM", err)
	}
	if err := a.Set("nosuch0", managed, nil); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("missing link: %v", err)
	}
}
