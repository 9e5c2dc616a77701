package migrate

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUnsupported marks an import whose source holds something hadhcpd cannot
// express (classes, a dynamic-bootp range, ...). The command exits non-zero
// for it unless --force.
var ErrUnsupported = errors.New("source holds settings hadhcpd cannot express")

// Pos is a place in a source file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return "-"
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// SyntaxError is a source file that cannot be read as its format at all:
// it names the file and line.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf returns a *SyntaxError at pos.
func Errorf(pos Pos, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Kind is what happened to one source statement.
type Kind uint8

const (
	// Mapped: carried over to Key.
	Mapped Kind = iota + 1
	// Dropped: not carried over, and hadhcpd behaves as the user expects
	// without it (a log facility, a DDNS style of "none", ...).
	Dropped
	// Unsupported: not carried over, and the imported service would behave
	// differently; the import fails unless forced.
	Unsupported
	// Invented: a value the source does not hold that the node needs.
	Invented
	// Invalid: the source itself is wrong or unreadable there (a bad
	// address, a name where an address is expected, a statement that does
	// not parse); the statement is skipped and reading goes on. The import
	// fails unless forced, as for Unsupported.
	Invalid
)

func (k Kind) String() string {
	switch k {
	case Mapped:
		return "mapped"
	case Dropped:
		return "not carried over"
	case Unsupported:
		return "UNSUPPORTED"
	case Invented:
		return "invented"
	case Invalid:
		return "INVALID"
	}
	return "?"
}

// Item is one line of the report.
type Item struct {
	Kind   Kind
	Pos    Pos
	Source string // the source statement, shortened
	Key    string // the hadhcpd key (Mapped, Invented)
	Note   string // why (Dropped, Unsupported, Invented), or a remark
}

// Report lists what an import did with each statement. The zero value is
// ready to use.
type Report struct {
	Items []Item
}

// Map records a statement carried over to key.
func (r *Report) Map(pos Pos, src, key string) {
	r.Items = append(r.Items, Item{Kind: Mapped, Pos: pos, Source: short(src), Key: key})
}

// MapNote records a statement carried over to key with a remark.
func (r *Report) MapNote(pos Pos, src, key, note string) {
	r.Items = append(r.Items, Item{Kind: Mapped, Pos: pos, Source: short(src), Key: key, Note: note})
}

// Drop records a statement not carried over that hadhcpd does not need.
func (r *Report) Drop(pos Pos, src, why string) {
	r.Items = append(r.Items, Item{Kind: Dropped, Pos: pos, Source: short(src), Note: why})
}

// Unsupported records a statement hadhcpd cannot express.
func (r *Report) Unsupported(pos Pos, src, why string) {
	r.Items = append(r.Items, Item{Kind: Unsupported, Pos: pos, Source: short(src), Note: why})
}

// Invalid records a statement of the source that cannot be read or is
// wrong; the importer skips it and goes on.
func (r *Report) Invalid(pos Pos, src, why string) {
	r.Items = append(r.Items, Item{Kind: Invalid, Pos: pos, Source: short(src), Note: why})
}

// Error records err: a *SyntaxError as Invalid at its place, anything
// else as Invalid at pos.
func (r *Report) Error(pos Pos, src string, err error) {
	var se *SyntaxError
	if errors.As(err, &se) {
		r.Invalid(se.Pos, src, se.Msg)
		return
	}
	r.Invalid(pos, src, err.Error())
}

// Invent records a node-local value the source does not hold.
func (r *Report) Invent(key, value, why string) {
	r.Items = append(r.Items, Item{Kind: Invented, Source: value, Key: key, Note: why})
}

// Merge appends another report's items.
func (r *Report) Merge(o *Report) {
	if o != nil {
		r.Items = append(r.Items, o.Items...)
	}
}

// Count returns how many items are of kind k.
func (r *Report) Count(k Kind) int {
	n := 0
	for _, it := range r.Items {
		if it.Kind == k {
			n++
		}
	}
	return n
}

// Err returns nil when nothing is Unsupported or Invalid, else an error
// listing each such statement that matches ErrUnsupported.
func (r *Report) Err() error {
	var b strings.Builder
	n := 0
	for _, it := range r.Items {
		if it.Kind != Unsupported && it.Kind != Invalid {
			continue
		}
		n++
		fmt.Fprintf(&b, "\n  %s: %s: %s", it.Pos, it.Source, it.Note)
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w (%d statement(s); --force imports the rest):%s", ErrUnsupported, n, b.String())
}

// WriteText writes the report for a person: a summary line, then the
// statements not carried over (the ones to read), the invented values, and
// the mapped statements.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "import report: %d mapped, %d not carried over, %d unsupported, %d invalid, %d invented\n",
		r.Count(Mapped), r.Count(Dropped), r.Count(Unsupported), r.Count(Invalid), r.Count(Invented))
	for _, sec := range []struct {
		k     Kind
		title string
	}{
		{Invalid, "INVALID (errors in the source: skipped, reading went on; the import fails without --force)"},
		{Unsupported, "UNSUPPORTED (hadhcpd cannot express these; the import fails without --force)"},
		{Dropped, "not carried over (hadhcpd does not need these)"},
		{Invented, "invented (node-local values the source does not hold; check them)"},
		{Mapped, "mapped"},
	} {
		if r.Count(sec.k) == 0 {
			continue
		}
		fmt.Fprintf(ew, "\n%s:\n", sec.title)
		for _, it := range r.Items {
			if it.Kind != sec.k {
				continue
			}
			switch it.Kind {
			case Mapped:
				if it.Note != "" {
					fmt.Fprintf(ew, "  %s: %s -> %s (%s)\n", it.Pos, it.Source, it.Key, it.Note)
				} else {
					fmt.Fprintf(ew, "  %s: %s -> %s\n", it.Pos, it.Source, it.Key)
				}
			case Invented:
				fmt.Fprintf(ew, "  %s = %s: %s\n", it.Key, it.Source, it.Note)
			default:
				fmt.Fprintf(ew, "  %s: %s: %s\n", it.Pos, it.Source, it.Note)
			}
		}
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// short keeps report lines readable: one line, at most 100 characters.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
