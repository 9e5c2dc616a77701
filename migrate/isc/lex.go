package isc

import (
	"bufio"
	"io"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// tokKind tells words from quoted strings and punctuation.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // an unquoted word: keyword, number, address, MAC, date
	tString         // a quoted string, escapes decoded (may hold any bytes)
	tPunct          // one of { } ; , =
)

type token struct {
	kind tokKind
	b    []byte // the text; points into the lexer's arena (see lexer.keep)
	line int
}

// str is the token's text as a string (a copy: it outlives the arena).
func (t token) str() string { return string(t.b) }

// is reports whether the token is the punctuation p, without allocating.
func (t token) is(p byte) bool { return t.kind == tPunct && t.b[0] == p }

// lexer splits dhcpd.conf / dhcpd.leases text the way dhcpd's conflex.c
// does for everything this importer reads: `#` starts a comment to the end
// of the line (outside strings), whitespace and newlines only separate
// tokens (statements may span lines), strings are double-quoted with C-like
// escapes (\" \\ \n \t \r, \ooo octal, \xHH hex: dhcpd writes a uid
// with octal escapes).
type lexer struct {
	r     *bufio.Reader
	file  string
	line  int
	buf   []byte
	arena []byte // token texts, appended; see keep and reset
}

// arenaChunk is the size of one arena chunk: a lease block's tokens fit
// many times over, so a lease file reuses one chunk for the whole file.
const arenaChunk = 64 << 10

// keep copies b into the arena and returns the copy. A full chunk is
// replaced by a new one, never grown in place, so earlier tokens stay valid
// (they keep the old chunk alive) until reset.
func (l *lexer) keep(b []byte) []byte {
	if len(l.arena)+len(b) > cap(l.arena) {
		l.arena = make([]byte, 0, max(arenaChunk, len(b)))
	}
	s := len(l.arena)
	l.arena = append(l.arena, b...)
	return l.arena[s:len(l.arena):len(l.arena)]
}

// reset lets the arena be overwritten: only when no token read so far is
// referenced any more (the parser's reuse mode, for lease files).
func (l *lexer) reset() { l.arena = l.arena[:0] }

func newLexer(file string, r io.Reader) *lexer {
	return &lexer{r: bufio.NewReaderSize(r, 64<<10), file: file, line: 1}
}

func (l *lexer) pos(line int) migrate.Pos { return migrate.Pos{File: l.file, Line: line} }

func isPunct(c byte) bool { return c == '{' || c == '}' || c == ';' || c == ',' || c == '=' }

func (l *lexer) next() (token, error) {
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			if err != io.EOF {
				return token{}, err
			}
			return token{kind: tEOF, line: l.line}, nil
		}
		switch {
		case c == '\n':
			l.line++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
		case c == '#':
			for {
				c, err = l.r.ReadByte()
				if err != nil || c == '\n' {
					break
				}
			}
			if err == nil {
				l.line++
			} else if err != io.EOF {
				return token{}, err
			}
		case isPunct(c):
			return token{kind: tPunct, b: punct[c : c+1 : c+1], line: l.line}, nil
		case c == '"':
			return l.str()
		default:
			w, err := l.word(c)
			if err != nil {
				return token{}, err
			}
			return token{kind: tWord, b: l.keep(w), line: l.line}, nil
		}
	}
}

// punct holds every byte value, so a punctuation token's text is a slice
// of it (no allocation).
var punct = func() (b [256]byte) {
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// endsWord reports whether c ends an unquoted word.
func endsWord(c byte) bool { return c <= ' ' || isPunct(c) || c == '"' || c == '#' }

// word reads an unquoted word starting with first (any byte that is not
// whitespace, punctuation, a quote or '#': control bytes included, as
// before). It scans bufio's buffer in place rather than a byte at a time
// (a lease file is mostly words: this loop is the importer's hot path).
// The result is valid until the next read.
func (l *lexer) word(first byte) ([]byte, error) {
	l.buf = append(l.buf[:0], first)
	for {
		if l.r.Buffered() == 0 {
			if _, err := l.r.Peek(1); err != nil {
				if err == io.EOF {
					return l.buf, nil
				}
				return nil, err
			}
		}
		b, _ := l.r.Peek(l.r.Buffered())
		for i, c := range b {
			if endsWord(c) {
				l.buf = append(l.buf, b[:i]...)
				_, _ = l.r.Discard(i)
				return l.buf, nil
			}
		}
		l.buf = append(l.buf, b...)
		_, _ = l.r.Discard(len(b))
	}
}

func (l *lexer) str() (token, error) {
	start := l.line
	l.buf = l.buf[:0]
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				return token{}, migrate.Errorf(l.pos(start), "unterminated quoted string")
			}
			return token{}, err
		}
		switch c {
		case '"':
			return token{kind: tString, b: l.keep(l.buf), line: start}, nil
		case '\n':
			l.line++
			l.buf = append(l.buf, c)
		case '\\':
			c, err = l.r.ReadByte()
			if err != nil {
				return token{}, migrate.Errorf(l.pos(start), "unterminated quoted string")
			}
			switch {
			case c == 'n':
				l.buf = append(l.buf, '\n')
			case c == 't':
				l.buf = append(l.buf, '\t')
			case c == 'r':
				l.buf = append(l.buf, '\r')
			case c >= '0' && c <= '7':
				v := int(c - '0')
				for i := 0; i < 2; i++ {
					d, err := l.r.ReadByte()
					if err != nil {
						break
					}
					if d < '0' || d > '7' {
						_ = l.r.UnreadByte()
						break
					}
					v = v*8 + int(d-'0')
				}
				if v > 255 {
					return token{}, migrate.Errorf(l.pos(l.line), "octal escape \\%o is more than one byte", v)
				}
				l.buf = append(l.buf, byte(v))
			case c == 'x':
				v, n := 0, 0
				for ; n < 2; n++ {
					d, err := l.r.ReadByte()
					if err != nil {
						break
					}
					h := strings.IndexByte("0123456789abcdef", lower(d))
					if h < 0 {
						_ = l.r.UnreadByte()
						break
					}
					v = v*16 + h
				}
				if n == 0 {
					return token{}, migrate.Errorf(l.pos(l.line), "\\x without hex digits")
				}
				l.buf = append(l.buf, byte(v))
			default:
				if c == '\n' {
					l.line++
				}
				l.buf = append(l.buf, c) // \" \\ and anything else: the byte itself
			}
		default:
			l.buf = append(l.buf, c)
		}
	}
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
