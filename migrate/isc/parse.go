package isc

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hadhcpd/hadhcpd/migrate"
)

// Stmt is one statement: words up to `;`, or words followed by a block.
type Stmt struct {
	Pos      migrate.Pos
	Words    []token // commas and `=` are kept as tPunct tokens
	HasBlock bool
	Block    []*Stmt
}

// word returns the i-th token's text, or "".
func (s *Stmt) word(i int) string {
	if i < len(s.Words) {
		return s.Words[i].str()
	}
	return ""
}

// wordb is word without the copy: valid only while the statement is (in a
// lease file, until the parser reads the next top-level statement).
func (s *Stmt) wordb(i int) []byte {
	if i < len(s.Words) {
		return s.Words[i].b
	}
	return nil
}

// String renders the statement's words for the report.
func (s *Stmt) String() string {
	var b strings.Builder
	for i, t := range s.Words {
		if i > 0 && !t.is(',') && !t.is(';') {
			b.WriteByte(' ')
		}
		if t.kind == tString {
			fmt.Fprintf(&b, "%q", t.b)
		} else {
			b.Write(t.b)
		}
	}
	if s.HasBlock {
		b.WriteString(" { ... }")
	}
	return b.String()
}

// Loader reads an included file.
type Loader func(path string) ([]byte, error)

// maxInclude bounds include nesting (an include loop is an error, not a
// stack overflow).
const maxInclude = 16

// maxDepth bounds block nesting for the same reason.
const maxDepth = 64

// parser turns tokens into statements, following `include "file";` into
// the named file (a relative path is relative to the including file).
type parser struct {
	stack []*lexer
	load  Loader

	// reuse: each statement next returns is dead once next is called
	// again, so its Stmts and token texts are recycled. A lease file is a
	// long run of short-lived blocks; reuse makes reading one allocate
	// almost nothing per block (BenchmarkImportISC250k: 250,000 blocks in well under 5 s).
	reuse bool
	last  *Stmt
	free  []*Stmt

	// tolerant (dhcpd.conf): a statement that does not parse is recorded
	// in errs and skipped, and reading goes on, so the report lists every
	// problem of the file at once. A lease file stops at the first.
	tolerant bool
	errs     []error
	// back is a '}' that ended a statement missing its ';', to be read
	// again as the end of the enclosing block.
	back *token
}

// soft records err and returns nil when the parser is tolerant.
func (p *parser) soft(err error) error {
	if !p.tolerant {
		return err
	}
	p.errs = append(p.errs, err)
	return nil
}

// newStmt returns an empty statement, recycled when possible.
func (p *parser) newStmt(pos migrate.Pos) *Stmt {
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		*s = Stmt{Pos: pos, Words: s.Words[:0], Block: s.Block[:0]}
		return s
	}
	// Most statements have up to 4 words (a lease file's
	// `starts 4 2024/01/04 10:00:00`): one allocation each.
	return &Stmt{Pos: pos, Words: make([]token, 0, 4)}
}

// recycle returns s and its block to the free list (reuse mode only).
func (p *parser) recycle(s *Stmt) {
	if !p.reuse || s == nil || s == included {
		return
	}
	for _, c := range s.Block {
		p.recycle(c)
	}
	p.free = append(p.free, s)
}

func newParser(lx *lexer, load Loader) *parser {
	return &parser{stack: []*lexer{lx}, load: load}
}

func (p *parser) top() *lexer { return p.stack[len(p.stack)-1] }

// next returns the next top-level statement, or nil at the end of the
// main file.
func (p *parser) next() (*Stmt, error) {
	if p.reuse && p.last != nil {
		p.recycle(p.last)
		p.last = nil
		for _, lx := range p.stack {
			lx.reset()
		}
	}
	for {
		s, err := p.stmt(1)
		if s == included {
			continue
		}
		if s != nil && len(s.Words) == 0 && !s.HasBlock {
			if err := p.soft(migrate.Errorf(s.Pos, "'}' without a block to close")); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil || s != nil {
			p.last = s
			return s, err
		}
		if len(p.stack) == 1 {
			return nil, nil
		}
		p.stack = p.stack[:len(p.stack)-1]
	}
}

// stmt reads one statement from the current file. It returns nil, nil at
// the file's EOF (the caller pops an included file, or reports an
// unterminated block when the block was opened in this file); at a `}` it
// returns a statement with no words and no block.
func (p *parser) stmt(depth int) (*Stmt, error) {
	lx := p.top()
	var s *Stmt
	for {
		var t token
		var err error
		if p.back != nil {
			t, p.back = *p.back, nil
		} else if t, err = lx.next(); err != nil {
			return nil, err
		}
		if s == nil {
			switch {
			case t.kind == tEOF:
				return nil, nil
			case t.is(';'):
				continue // an empty statement
			case t.is('}'):
				return p.newStmt(lx.pos(t.line)), nil
			}
			s = p.newStmt(lx.pos(t.line))
		}
		switch {
		case t.kind == tEOF:
			if err := p.soft(migrate.Errorf(s.Pos, "statement %q has no ';' before the end of the file", s.String())); err != nil {
				return nil, err
			}
			return nil, nil
		case t.is('{') && len(s.Words) > 0 && s.Words[len(s.Words)-1].is('='):
			// A record type: `option NAME code N = { ip-address, text };`
			// keeps its braces as words.
			s.Words = append(s.Words, t)
			for {
				t, err = lx.next()
				if err != nil {
					return nil, err
				}
				if t.kind == tEOF || t.is(';') {
					return nil, p.soft(migrate.Errorf(s.Pos, "record type of %q has no '}'", s.String()))
				}
				s.Words = append(s.Words, t)
				if t.is('}') {
					break
				}
			}
		case t.is(';'):
			if string(s.wordb(0)) == "include" {
				return p.include(s)
			}
			return s, nil
		case t.is('}'):
			if len(s.Words) == 0 {
				return s, nil
			}
			if err := p.soft(migrate.Errorf(lx.pos(t.line), "missing ';' after %q", s.String())); err != nil {
				return nil, err
			}
			p.back = &t
			return s, nil
		case t.is('{'):
			if len(s.Words) == 0 {
				if err := p.soft(migrate.Errorf(lx.pos(t.line), "'{' without a statement")); err != nil {
					return nil, err
				}
				s.Words = append(s.Words, token{kind: tWord, b: []byte("{"), line: t.line})
			}
			if depth > maxDepth {
				return nil, migrate.Errorf(s.Pos, "blocks nested more than %d deep", maxDepth)
			}
			s.HasBlock = true
			return s, p.block(s, depth+1)
		default:
			s.Words = append(s.Words, t)
		}
	}
}

// block reads statements up to the `}` that closes s. A file included
// inside the block returns to the including file at its EOF; EOF of the
// file the block was opened in is an unterminated block.
func (p *parser) block(s *Stmt, depth int) error {
	base := len(p.stack)
	if s.Block == nil {
		s.Block = make([]*Stmt, 0, 12)
	}
	for {
		c, err := p.stmt(depth)
		if err != nil {
			return err
		}
		if c == included {
			continue
		}
		if c == nil { // EOF of the current file
			if len(p.stack) > base {
				p.stack = p.stack[:len(p.stack)-1]
				continue
			}
			return p.soft(migrate.Errorf(s.Pos, "block %q is not closed: no '}' before the end of %s", s.String(), p.top().file))
		}
		if len(c.Words) == 0 && !c.HasBlock {
			p.recycle(c)
			return nil // the closing brace
		}
		s.Block = append(s.Block, c)
	}
}

// included is what stmt returns for an include statement: the callers
// read on, now from the included file.
var included = &Stmt{}

// include pushes the named file.
func (p *parser) include(s *Stmt) (*Stmt, error) {
	if len(s.Words) != 2 || s.Words[1].kind != tString {
		if err := p.soft(migrate.Errorf(s.Pos, "include needs one quoted file name")); err != nil {
			return nil, err
		}
		return included, nil
	}
	if len(p.stack) >= maxInclude {
		return nil, migrate.Errorf(s.Pos, "includes nested more than %d deep (an include loop?)", maxInclude)
	}
	if p.load == nil {
		if err := p.soft(migrate.Errorf(s.Pos, "include %q: includes are not allowed here", s.Words[1].b)); err != nil {
			return nil, err
		}
		return included, nil
	}
	path := s.Words[1].str()
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.top().file), path)
	}
	data, err := p.load(path)
	if err != nil {
		if err := p.soft(migrate.Errorf(s.Pos, "include: %v (with --root, absolute paths are read under the copy of the old server's files)", err)); err != nil {
			return nil, err
		}
		return included, nil
	}
	p.stack = append(p.stack, newLexer(path, bytes.NewReader(data)))
	return included, nil
}
