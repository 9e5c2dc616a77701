package lease

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fullLease() Lease {
	return Lease{
		Addr:            ip("192.0.2.77"),
		HWAddr:          net.HardwareAddr{0, 1, 2, 3, 4, 5},
		ClientID:        []byte{1, 0, 1, 2, 3, 4, 5},
		Hostname:        "printer",
		State:           StateActive,
		Start:           t0,
		Expiry:          t0.Add(time.Hour),
		PotentialExpiry: t0.Add(2 * time.Hour),
		AckedExpiry:     t0.Add(90 * time.Minute),
		PartnerExpiry:   t0.Add(80 * time.Minute),
		CLTT:            t0.Add(time.Second),
		StateStart:      t0,
		Seq:             0x0102030405060708,
		Peer:            true,
	}
}

// The payload layout of doc.go, byte by byte.
func TestPayloadGolden(t *testing.T) {
	b, err := fullLease().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	u := uint32(t0.Unix()) // 0x683c4000
	want := []byte{
		1,    // payload version
		0x01, // flags: peer
		2,    // ACTIVE
		192, 0, 2, 77,
		1, 2, 3, 4, 5, 6, 7, 8, // seq
	}
	for _, d := range []uint32{0, 3600, 7200, 5400, 4800, 1, 0} {
		v := u + d
		want = append(want, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	want = append(want, 6, 0, 1, 2, 3, 4, 5)
	want = append(want, 7, 1, 0, 1, 2, 3, 4, 5)
	want = append(want, 7)
	want = append(want, "printer"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("payload\n got %x\nwant %x", b, want)
	}
	var l Lease
	if err := l.UnmarshalBinary(b); err != nil || !leaseEqual(l, fullLease()) {
		t.Fatalf("round trip = %+v, %v", l, err)
	}
}

func TestPayloadErrors(t *testing.T) {
	good, _ := fullLease().MarshalBinary()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, p := range map[string][]byte{
		"empty":         nil,
		"short":         good[:payloadFixed],
		"version":       mut(func(b []byte) []byte { b[0] = 2; return b }),
		"flags":         mut(func(b []byte) []byte { b[1] = 0x82; return b }),
		"state":         mut(func(b []byte) []byte { b[2] = 0; return b }),
		"hw too long":   mut(func(b []byte) []byte { b[payloadFixed] = 17; return b }),
		"overrun":       mut(func(b []byte) []byte { b[len(b)-8] = 200; return b }),
		"trailing byte": append(append([]byte(nil), good...), 0),
		"cut":           good[:len(good)-1],
	} {
		var l Lease
		if err := l.UnmarshalBinary(p); !errors.Is(err, ErrBadPayload) {
			t.Errorf("%s: err = %v, want ErrBadPayload", name, err)
		}
	}
}

func TestEpochReadsBackZero(t *testing.T) {
	l := Lease{Addr: ip("192.0.2.1"), State: StateFree, Start: time.Unix(0, 0), Expiry: t0.Add(500 * time.Millisecond)}
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Lease
	got.UnmarshalBinary(b)
	// An expiry rounds up: the lease must not end before the client's.
	if !got.Start.IsZero() || !got.Expiry.Equal(t0.Add(time.Second)) {
		t.Fatalf("Start %v Expiry %v: want zero and the next whole second", got.Start, got.Expiry)
	}
}

// FuzzPayload: any input decodes without panicking, and what decodes
// encodes back to the same bytes (one encoding per value).
func FuzzPayload(f *testing.F) {
	good, _ := fullLease().MarshalBinary()
	f.Add(good)
	f.Add([]byte{1, 0, 1})
	f.Add(make([]byte, payloadFixed+3))
	f.Fuzz(func(t *testing.T, p []byte) {
		var l Lease
		if err := l.UnmarshalBinary(p); err != nil {
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error %v is not ErrBadPayload", err)
			}
			return
		}
		b, err := l.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded lease does not encode: %v", err)
		}
		if !bytes.Equal(b, p) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", p, b)
		}
	})
}

// FuzzHeader: header parsing never panics and accepts only what it wrote.
func FuzzHeader(f *testing.F) {
	f.Add((&fileHeader{magic: magicJournal, version: 1, gen: 7}).marshal())
	f.Add([]byte(magicJournal))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b, magicJournal)
		if err != nil {
			return
		}
		if !bytes.Equal(h.marshal(), b[:headerSize]) {
			t.Fatalf("accepted header %x re-encodes as %x", b[:headerSize], h.marshal())
		}
	})
}

// FuzzJournal: Open on an arbitrary journal never panics; it either refuses
// with a FileError or opens, and a second open of what it left is clean:
// nothing more to repair, the same leases, and a loss the first open found
// still remembered (it is mended only by a resync or the probing window).
func FuzzJournal(f *testing.F) {
	hdr := (&fileHeader{magic: magicJournal, version: formatVersion, gen: 1}).marshal()
	r, _ := toRec(&Lease{Addr: ip("192.0.2.1"), State: StateActive, Hostname: "x"})
	one := appendFrame(append([]byte(nil), hdr...), &r)
	f.Add(one)
	f.Add(append(append([]byte(nil), one...), 0, 0, 0, 0, 0))
	f.Add(append(append([]byte(nil), one...), one[headerSize:]...))
	f.Add(hdr[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, journalName(1)), b, 0o600)
		db, rep, err := Open(Options{Dir: dir})
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal without a FileError: %v", err)
			}
			return
		}
		n := db.Len()
		db.Close()
		db, rep2, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("second open after a successful one: %v (first %+v)", err, rep)
		}
		defer db.Close()
		if rep2.NeedResync != rep.NeedResync || len(rep2.Damage) > 0 || rep2.TruncatedAt >= 0 || db.Len() != n {
			t.Fatalf("second open not clean: %+v, Len %d want %d", rep2, db.Len(), n)
		}
	})
}

// TestNoStrayTimeNow: the package reads time only through its Clock; the
// wall clock in clock.go is the one exception.
func TestNoStrayTimeNow(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "clock.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" {
					switch sel.Sel.Name {
					case "Now", "Since", "Until", "Sleep", "After", "Tick", "NewTimer", "NewTicker", "AfterFunc":
						t.Errorf("%s: time.%s outside clock.go", fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
}
