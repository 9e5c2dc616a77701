// Package keepalived imports the VRRP part of a keepalived.conf
// (keepalived.conf(5)) into hadhcpd's vrrp: section.
package keepalived

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// Stmt is one line of keepalived.conf: its words, and the block that
// follows when the line ends with `{`.
type Stmt struct {
	Pos      migrate.Pos
	Words    []string
	HasBlock bool
	Block    []*Stmt
}

func (s *Stmt) word(i int) string {
	if i < len(s.Words) {
		return s.Words[i]
	}
	return ""
}

func (s *Stmt) String() string {
	t := strings.Join(s.Words, " ")
	if s.HasBlock {
		t += " { ... }"
	}
	return t
}

// Loader reads an included file; Glob expands an include pattern.
type Loader struct {
	ReadFile func(string) ([]byte, error)
	Glob     func(string) ([]string, error)
}

const (
	maxInclude = 16
	maxDepth   = 32
)

type lexer struct {
	data []byte
	i    int
	file string
	line int
}

type tok struct {
	text string // "{", "}", "\n" or a word
	line int
	word bool
}

// next splits keepalived's syntax: `#` and `!` start comments, a newline
// ends a statement, braces open and close blocks, "quoted strings" are one
// word.
func (l *lexer) next() (tok, bool, error) {
	for l.i < len(l.data) {
		c := l.data[l.i]
		switch {
		case c == '\n':
			l.i++
			l.line++
			return tok{text: "\n", line: l.line - 1}, true, nil
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case c == '#' || c == '!':
			for l.i < len(l.data) && l.data[l.i] != '\n' {
				l.i++
			}
		case c == '{' || c == '}':
			l.i++
			return tok{text: string(c), line: l.line}, true, nil
		case c == '"':
			j := l.i + 1
			for j < len(l.data) && l.data[j] != '"' && l.data[j] != '\n' {
				j++
			}
			if j >= len(l.data) || l.data[j] != '"' {
				return tok{}, false, migrate.Errorf(migrate.Pos{File: l.file, Line: l.line}, "unterminated quoted string")
			}
			w := string(l.data[l.i+1 : j])
			l.i = j + 1
			return tok{text: w, line: l.line, word: true}, true, nil
		default:
			j := l.i
			for j < len(l.data) && !strings.ContainsRune(" \t\r\n{}#!\"", rune(l.data[j])) {
				j++
			}
			w := string(l.data[l.i:j])
			l.i = j
			return tok{text: w, line: l.line, word: true}, true, nil
		}
	}
	return tok{}, false, nil
}

type parser struct {
	load  Loader
	depth int
}

// Parse reads a keepalived.conf, following `include` (a glob, relative to
// the including file's directory).
func Parse(name string, data []byte, load Loader) ([]*Stmt, error) {
	p := &parser{load: load}
	return p.file(name, data, nil)
}

func (p *parser) file(name string, data []byte, at *migrate.Pos) ([]*Stmt, error) {
	if p.depth >= maxInclude {
		return nil, migrate.Errorf(*at, "includes nested more than %d deep (an include loop?)", maxInclude)
	}
	p.depth++
	defer func() { p.depth-- }()
	l := &lexer{data: data, file: name, line: 1}
	stmts, closed, err := p.block(l, 0)
	if err != nil {
		return nil, err
	}
	if closed != nil {
		return nil, migrate.Errorf(*closed, "'}' without a block to close")
	}
	return stmts, nil
}

// block reads statements until EOF or a `}`; it returns the position of
// that `}` (nil at EOF).
func (p *parser) block(l *lexer, depth int) ([]*Stmt, *migrate.Pos, error) {
	var out []*Stmt
	var cur *Stmt
	flush := func() error {
		if cur == nil {
			return nil
		}
		s := cur
		cur = nil
		if s.word(0) == "include" && !s.HasBlock {
			inc, err := p.include(l, s)
			if err != nil {
				return err
			}
			out = append(out, inc...)
			return nil
		}
		out = append(out, s)
		return nil
	}
	for {
		t, ok, err := l.next()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return out, nil, flush()
		}
		pos := migrate.Pos{File: l.file, Line: t.line}
		switch {
		case t.text == "\n" && !t.word:
			if err := flush(); err != nil {
				return nil, nil, err
			}
		case t.text == "{" && !t.word:
			if cur == nil {
				return nil, nil, migrate.Errorf(pos, "'{' without a statement")
			}
			if depth >= maxDepth {
				return nil, nil, migrate.Errorf(pos, "blocks nested more than %d deep", maxDepth)
			}
			s := cur
			s.HasBlock = true
			inner, closed, err := p.block(l, depth+1)
			if err != nil {
				return nil, nil, err
			}
			if closed == nil {
				return nil, nil, migrate.Errorf(s.Pos, "block %q is not closed: no '}' before the end of %s", s.String(), l.file)
			}
			s.Block = inner
			if err := flush(); err != nil {
				return nil, nil, err
			}
		case t.text == "}" && !t.word:
			if err := flush(); err != nil {
				return nil, nil, err
			}
			return out, &pos, nil
		default:
			if cur == nil {
				cur = &Stmt{Pos: pos}
			}
			cur.Words = append(cur.Words, t.text)
		}
	}
}

func (p *parser) include(l *lexer, s *Stmt) ([]*Stmt, error) {
	if len(s.Words) != 2 {
		return nil, migrate.Errorf(s.Pos, "include needs one file name or pattern")
	}
	if p.load.ReadFile == nil {
		return nil, migrate.Errorf(s.Pos, "include %q: includes are not allowed here", s.Words[1])
	}
	pat := s.Words[1]
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(filepath.Dir(l.file), pat)
	}
	files := []string{pat}
	if p.load.Glob != nil && strings.ContainsAny(pat, "*?[") {
		m, err := p.load.Glob(pat)
		if err != nil {
			return nil, migrate.Errorf(s.Pos, "include %q: %v", s.Words[1], err)
		}
		sort.Strings(m)
		files = m
	}
	var out []*Stmt
	for _, f := range files {
		data, err := p.load.ReadFile(f)
		if err != nil {
			return nil, migrate.Errorf(s.Pos, "include: %v", err)
		}
		st, err := p.file(f, data, &s.Pos)
		if err != nil {
			return nil, err
		}
		out = append(out, st...)
	}
	return out, nil
}
