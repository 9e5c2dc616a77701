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
	text string
	line int
}

// lexer splits dhcpd.conf / dhcpd.leases text the way dhcpd's conflex.c
// does for everything this importer reads: `#` starts a comment to the end
// of the line (outside strings), whitespace and newlines only separate
// tokens (statements may span lines), strings are double-quoted with C-like
// escapes (\" \\ \n \t \r, \ooo octal, \xHH hex: dhcpd writes a uid
// with octal escapes).
type lexer struct {
	r    *bufio.Reader
	file string
	line int
	buf  []byte
}

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
			return token{kind: tPunct, text: punct[c], line: l.line}, nil
		case c == '"':
			return l.str()
		default:
			l.buf = append(l.buf[:0], c)
			for {
				c, err = l.r.ReadByte()
				if err != nil {
					if err != io.EOF {
						return token{}, err
					}
					break
				}
				if c <= ' ' || isPunct(c) || c == '"' || c == '#' {
					_ = l.r.UnreadByte()
					break
				}
				l.buf = append(l.buf, c)
			}
			return token{kind: tWord, text: string(l.buf), line: l.line}, nil
		}
	}
}

var punct = map[byte]string{'{': "{", '}': "}", ';': ";", ',': ",", '=': "="}

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
			return token{kind: tString, text: string(l.buf), line: start}, nil
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
