package defaults

import (
	"fmt"
	"testing"
)

func set(src string, serial uint64, body string) Set {
	return Set{Source: src, Serial: serial, Hash: HashOf([]byte(body)), Body: []byte(body)}
}

// One row per adoption rule, on a box (b) that takes its defaults from a
// and holds a's serial 5.
func TestOfferRules(t *testing.T) {
	bad := set("a", 9, "x")
	bad.Body = []byte("y")
	for _, c := range []struct {
		name string
		in   Set
		want Verdict
		cur  uint64 // serial in force after
	}{
		{"newer from the source", set("a", 6, "new"), Adopted, 6},
		{"much newer", set("a", 60, "new"), Adopted, 60},
		{"same serial and hash", set("a", 5, "five"), Same, 5},
		{"older", set("a", 4, "four"), Older, 5},
		{"same serial, other hash", set("a", 5, "other"), Conflict, 5},
		{"wrong source", set("c", 99, "c's"), WrongSource, 5},
		{"hash not the body's", bad, Invalid, 5},
		{"serial 0", set("a", 0, "zero"), Invalid, 5},
		{"no source", set("", 7, "anon"), Invalid, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := New("b", "a")
			if err := b.Restore(set("a", 5, "five")); err != nil {
				t.Fatal(err)
			}
			v, out := b.Offer(c.in)
			if v != c.want {
				t.Fatalf("verdict %v, want %v", v, c.want)
			}
			cur, _ := b.Current()
			if cur.Serial != c.cur {
				t.Errorf("serial in force %d, want %d", cur.Serial, c.cur)
			}
			if v.Forward() != (c.want == Adopted) || (v == Adopted && out.Serial != c.in.Serial) {
				t.Errorf("forward %v out %+v", v.Forward(), out)
			}
		})
	}
}

// A box that adopted nothing takes the source's first set; its own
// file's keys serve until then.
func TestFirstAdoption(t *testing.T) {
	b := New("c", "a")
	if _, ok := b.Current(); ok {
		t.Fatal("a set in force before any was adopted")
	}
	if v, _ := b.Offer(set("a", 1, "one")); v != Adopted {
		t.Fatalf("%v", v)
	}
	if err := b.Restore(set("x", 3, "x")); err == nil {
		t.Error("a kept set of another source was restored")
	}
}

// The source publishes a new serial only when its keys change, and
// counts on from the serial it kept.
func TestPublish(t *testing.T) {
	a := New("a", "a")
	if !a.IsSource() {
		t.Fatal("not the source")
	}
	if err := a.Restore(set("a", 7, "seven")); err != nil {
		t.Fatal(err)
	}
	if s, changed := a.Publish([]byte("seven")); changed || s.Serial != 7 {
		t.Errorf("unchanged keys: %d %v", s.Serial, changed)
	}
	if s, changed := a.Publish([]byte("eight")); !changed || s.Serial != 8 {
		t.Errorf("changed keys: %d %v", s.Serial, changed)
	}
	// The source never adopts its own sets coming back, nor older ones.
	for _, in := range []Set{set("a", 8, "eight"), set("a", 3, "three")} {
		if v, _ := a.Offer(in); v != Same {
			t.Errorf("%d: %v", in.Serial, v)
		}
	}
}

// A source that lost its state_dir counts from 1 again; hearing its old
// serial back, it jumps past it and its set goes out again.
func TestSourceReclaims(t *testing.T) {
	a := New("a", "a")
	a.Publish([]byte("fresh")) // serial 1
	v, out := a.Offer(set("a", 12, "old"))
	if v != Reclaimed || out.Serial != 13 || string(out.Body) != "fresh" {
		t.Fatalf("%v %+v", v, out)
	}
	b := New("b", "a")
	b.Restore(set("a", 12, "old"))
	if v, _ := b.Offer(out); v != Adopted {
		t.Errorf("b: %v", v)
	}
}

// net is boxes joined by sync links; deliver floods as the agent does.
type net struct {
	books map[string]*Book
	links map[string][]string
	sent  int
}

type msg struct {
	from, to string
	s        Set
}

func newNet(source string, links ...[2]string) *net {
	n := &net{books: map[string]*Book{}, links: map[string][]string{}}
	for _, l := range links {
		for _, x := range l {
			if n.books[x] == nil {
				n.books[x] = New(x, source)
			}
		}
		n.links[l[0]] = append(n.links[l[0]], l[1])
		n.links[l[1]] = append(n.links[l[1]], l[0])
	}
	return n
}

// send delivers s from box to every partner but skip, and what they
// forward, until nothing moves; it fails after limit frames (a loop).
func (n *net) send(t *testing.T, box, skip string, s Set) {
	t.Helper()
	var q []msg
	out := func(from, skip string, s Set) {
		for _, to := range n.links[from] {
			if to != skip {
				q = append(q, msg{from, to, s})
			}
		}
	}
	out(box, skip, s)
	for len(q) > 0 {
		m := q[0]
		q = q[1:]
		n.sent++
		if n.sent > 1000 {
			t.Fatal("flooding does not end")
		}
		// As the agent does: to every partner, the sender included (it
		// drops the echo: the same serial).
		if v, fwd := n.books[m.to].Offer(m.s); v.Forward() {
			out(m.to, "", fwd)
		}
	}
}

func (n *net) converged(t *testing.T, serial uint64, body string) {
	t.Helper()
	for name, b := range n.books {
		cur, ok := b.Current()
		if !ok || cur.Serial != serial || string(cur.Body) != body {
			t.Errorf("%s holds %d %q, want %d %q", name, cur.Serial, cur.Body, serial, body)
		}
	}
}

// A ring of three, a chain (the source partner of one box only) and a
// hub with spokes all converge, each frame crossing a link at most once
// per direction and serial.
func TestFloodConverges(t *testing.T) {
	for _, c := range []struct {
		name   string
		source string
		links  [][2]string
	}{
		{"ring of three", "a", [][2]string{{"a", "b"}, {"b", "c"}, {"c", "a"}}},
		{"chain a-b-c", "a", [][2]string{{"a", "b"}, {"b", "c"}}},
		{"chain, source at the end", "c", [][2]string{{"a", "b"}, {"b", "c"}}},
		{"hub and spokes, a spoke the source", "s2", [][2]string{{"h", "s1"}, {"h", "s2"}, {"h", "s3"}}},
		{"ring of five", "a", [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}, {"d", "e"}, {"e", "a"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNet(c.source, c.links...)
			src := n.books[c.source]
			for gen := 1; gen <= 3; gen++ {
				body := fmt.Sprintf("lease %dh", gen)
				s, changed := src.Publish([]byte(body))
				if !changed {
					t.Fatal("not published")
				}
				n.sent = 0
				n.send(t, c.source, "", s)
				n.converged(t, uint64(gen), body)
				if max := 2 * len(c.links); n.sent > max {
					t.Errorf("generation %d: %d frames over %d links (at most %d)", gen, n.sent, len(c.links), max)
				}
			}
			// A box that restarts sends what it holds on connect: nothing
			// moves, nothing loops.
			for name := range n.books {
				cur, _ := n.books[name].Current()
				n.sent = 0
				n.send(t, name, "", cur)
				if n.sent != len(n.links[name]) {
					t.Errorf("%s's resend: %d frames, want %d", name, n.sent, len(n.links[name]))
				}
			}
		})
	}
}

// The wrong source's sets go nowhere: no box adopts or forwards them.
func TestFloodWrongSourceStops(t *testing.T) {
	n := newNet("a", [2]string{"a", "b"}, [2]string{"b", "c"}, [2]string{"c", "a"})
	n.send(t, "c", "", set("c", 1, "c's own"))
	if n.sent != 2 {
		t.Errorf("%d frames, want 2 (c's partners, who drop it)", n.sent)
	}
	for name, b := range n.books {
		if _, ok := b.Current(); ok {
			t.Errorf("%s took c's set", name)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	s := set("a", 3, `{"DefaultLeaseTime":2400000000000}`)
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got.Serial != 3 || string(got.Body) != string(s.Body) {
		t.Fatalf("%+v %v", got, err)
	}
	s.Body = []byte("tampered")
	b, _ = Encode(s)
	if _, err := Decode(b); err == nil {
		t.Error("a kept set whose hash is not its body's decoded")
	}
}
