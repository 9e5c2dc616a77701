// Package kea imports a Kea DHCPv4 server: its JSON configuration (with
// the libdhcp_ha.so hook) and its memfile lease CSV.
package kea

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// Kind of a JSON value.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Num
	Str
	Arr
	Obj
)

// Value is a JSON value with the place it was read from, so the report
// can name file:line for every key.
type Value struct {
	Pos  migrate.Pos
	Kind Kind
	Str  string // Str; the literal text for Num
	Bool bool
	Arr  []*Value
	Obj  []Member
}

// Member is one "key": value of an object.
type Member struct {
	Key string
	Pos migrate.Pos
	Val *Value
}

// Get returns the member named key, or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != Obj {
		return nil
	}
	for _, m := range v.Obj {
		if m.Key == key {
			return m.Val
		}
	}
	return nil
}

type src struct {
	data []byte
	i    int
	file string
	line int
}

// jparser reads Kea's JSON dialect: `#`, `//` and `/* */` comments, and
// `<?include "path"?>` anywhere whitespace may stand (the path relative
// to the including file), which Kea's own parser also handles as text
// substitution.
type jparser struct {
	stack []*src
	load  func(string) ([]byte, error)
	depth int
}

const (
	maxInclude = 16
	maxDepth   = 128
)

// ParseJSON parses one document.
func ParseJSON(name string, data []byte, load func(string) ([]byte, error)) (*Value, error) {
	p := &jparser{stack: []*src{{data: data, file: name, line: 1}}, load: load}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if c, ok := p.peek(); ok {
		return nil, p.errf("unexpected %q after the end of the document", c)
	}
	return v, nil
}

func (p *jparser) cur() *src { return p.stack[len(p.stack)-1] }

func (p *jparser) pos() migrate.Pos { s := p.cur(); return migrate.Pos{File: s.file, Line: s.line} }

func (p *jparser) errf(format string, args ...any) error {
	return migrate.Errorf(p.pos(), format, args...)
}

// peek returns the next byte, popping finished included files.
func (p *jparser) peek() (byte, bool) {
	for {
		s := p.cur()
		if s.i < len(s.data) {
			return s.data[s.i], true
		}
		if len(p.stack) == 1 {
			return 0, false
		}
		p.stack = p.stack[:len(p.stack)-1]
	}
}

func (p *jparser) space() error {
	for {
		c, ok := p.peek()
		if !ok {
			return nil
		}
		s := p.cur()
		rest := s.data[s.i:]
		switch {
		case c == '\n':
			s.line++
			s.i++
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '#' || (c == '/' && len(rest) > 1 && rest[1] == '/'):
			for s.i < len(s.data) && s.data[s.i] != '\n' {
				s.i++
			}
		case c == '/' && len(rest) > 1 && rest[1] == '*':
			start := p.pos()
			end := strings.Index(string(rest[2:]), "*/")
			if end < 0 {
				return migrate.Errorf(start, "unterminated /* comment")
			}
			s.line += strings.Count(string(rest[:end+4]), "\n")
			s.i += end + 4
		case c == '<' && len(rest) > 1 && rest[1] == '?':
			if err := p.include(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *jparser) include() error {
	s := p.cur()
	at := p.pos()
	rest := string(s.data[s.i:])
	// The "?>" is searched after the "<?": in "<?>" they overlap.
	end := strings.Index(rest[2:], "?>")
	if end < 0 {
		return migrate.Errorf(at, "unterminated <? directive")
	}
	end += 2
	dir := strings.TrimSpace(rest[2:end])
	name, ok := strings.CutPrefix(dir, "include")
	name = strings.TrimSpace(name)
	if !ok || len(name) < 2 || name[0] != '"' || name[len(name)-1] != '"' {
		return migrate.Errorf(at, "unknown directive <?%s?> (only <?include \"file\"?>)", dir)
	}
	s.line += strings.Count(rest[:end], "\n")
	s.i += end + 2
	if p.load == nil {
		return migrate.Errorf(at, "include: includes are not allowed here")
	}
	if len(p.stack) >= maxInclude {
		return migrate.Errorf(at, "includes nested more than %d deep (an include loop?)", maxInclude)
	}
	path := name[1 : len(name)-1]
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(s.file), path)
	}
	data, err := p.load(path)
	if err != nil {
		return migrate.Errorf(at, "include: %v (with --root, absolute paths are read under the copy of the old server's files)", err)
	}
	p.stack = append(p.stack, &src{data: data, file: path, line: 1})
	return nil
}

func (p *jparser) value() (*Value, error) {
	if err := p.space(); err != nil {
		return nil, err
	}
	c, ok := p.peek()
	if !ok {
		return nil, p.errf("unexpected end of file: a value is missing")
	}
	v := &Value{Pos: p.pos()}
	s := p.cur()
	switch {
	case c == '{' || c == '[':
		if p.depth >= maxDepth {
			return nil, p.errf("nested more than %d deep", maxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
		s.i++
		if c == '{' {
			v.Kind = Obj
			return v, p.object(v)
		}
		v.Kind = Arr
		return v, p.array(v)
	case c == '"':
		str, err := p.str()
		v.Kind, v.Str = Str, str
		return v, err
	case c == '-' || c == '.' || (c >= '0' && c <= '9'):
		// Kea's parser takes ".5" as a number too.
		j := s.i
		for j < len(s.data) && strings.IndexByte("+-0123456789.eE", s.data[j]) >= 0 {
			j++
		}
		v.Kind, v.Str = Num, string(s.data[s.i:j])
		if _, err := strconv.ParseFloat(v.Str, 64); err != nil {
			return nil, p.errf("%q is not a number", v.Str)
		}
		s.i = j
		return v, nil
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(string(s.data[s.i:min(len(s.data), s.i+5)]), lit) {
			s.i += len(lit)
			switch lit {
			case "true":
				v.Kind, v.Bool = Bool, true
			case "false":
				v.Kind = Bool
			}
			return v, nil
		}
	}
	return nil, p.errf("unexpected %q where a value should be", c)
}

func (p *jparser) object(v *Value) error {
	start := v.Pos
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return err
		}
		c, ok := p.peek()
		if !ok {
			return migrate.Errorf(start, "object is not closed: no '}' before the end of the file")
		}
		if c == '}' {
			p.cur().i++
			return nil
		}
		if !first {
			if c != ',' {
				return p.errf("expected ',' or '}' in the object, found %q", c)
			}
			p.cur().i++
			if err := p.space(); err != nil {
				return err
			}
			c, ok = p.peek()
			if !ok {
				return migrate.Errorf(start, "object is not closed: no '}' before the end of the file")
			}
			if c == '}' { // a trailing comma, which Kea accepts
				p.cur().i++
				return nil
			}
		}
		if c, ok = p.peek(); !ok || c != '"' {
			return p.errf("expected a quoted key in the object")
		}
		kpos := p.pos()
		k, err := p.str()
		if err != nil {
			return err
		}
		if err := p.space(); err != nil {
			return err
		}
		if c, ok = p.peek(); !ok || c != ':' {
			return p.errf("expected ':' after key %q", k)
		}
		p.cur().i++
		val, err := p.value()
		if err != nil {
			return err
		}
		v.Obj = append(v.Obj, Member{Key: k, Pos: kpos, Val: val})
	}
}

func (p *jparser) array(v *Value) error {
	start := v.Pos
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return err
		}
		c, ok := p.peek()
		if !ok {
			return migrate.Errorf(start, "array is not closed: no ']' before the end of the file")
		}
		if c == ']' {
			p.cur().i++
			return nil
		}
		if !first {
			if c != ',' {
				return p.errf("expected ',' or ']' in the array, found %q", c)
			}
			p.cur().i++
			if err := p.space(); err != nil {
				return err
			}
			if c, ok = p.peek(); ok && c == ']' {
				p.cur().i++
				return nil
			}
		}
		e, err := p.value()
		if err != nil {
			return err
		}
		v.Arr = append(v.Arr, e)
	}
}

func (p *jparser) str() (string, error) {
	s := p.cur()
	start := p.pos()
	s.i++ // the opening quote
	var b strings.Builder
	for s.i < len(s.data) {
		c := s.data[s.i]
		s.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\n':
			return "", migrate.Errorf(start, "unterminated string")
		case '\\':
			if s.i >= len(s.data) {
				return "", migrate.Errorf(start, "unterminated string")
			}
			e := s.data[s.i]
			s.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if s.i+4 > len(s.data) {
					return "", migrate.Errorf(start, "bad \\u escape")
				}
				n, err := strconv.ParseUint(string(s.data[s.i:s.i+4]), 16, 16)
				if err != nil {
					return "", migrate.Errorf(start, "bad \\u escape")
				}
				b.WriteRune(rune(n))
				s.i += 4
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", migrate.Errorf(start, "unterminated string")
}

// arr is v's elements, none when v is absent or not a list.
func arr(v *Value) []*Value {
	if v == nil || v.Kind != Arr {
		return nil
	}
	return v.Arr
}
