package isc

import (
	"fmt"
	"net"
	"strings"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// class is an ISC class (dhcpd.conf(5) "CLIENT CLASSING"), a subclass
// with its own parameters, or a conditional block turned into a class.
type class struct {
	name    string
	pos     migrate.Pos
	par     *params
	test    string
	match   string
	mdata   data // the match expression, for its subclasses' keys
	members []string
	// only: the condition stood inside this subnet or shared network in
	// dhcpd; as a class it applies everywhere (reported when that
	// differs, finish).
	only string
}

func (c *conv) class(s *Stmt, sc *scope) error {
	if len(s.Words) != 2 || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `class \"NAME\" { ... }`")
	}
	switch sc.kind {
	case "global", "group", "shared-network", "subnet":
		// dhcpd's classes are global wherever they are declared: a
		// client anywhere may be a member and gets its statements.
	default:
		return migrate.Errorf(s.Pos, "class inside %s", sc.kind)
	}
	name := s.word(1)
	if name == "known" || name == "unknown" {
		return migrate.Errorf(s.Pos, "class %q: the name is hadhcpd's for clients with or without a reservation", name)
	}
	if o, ok := c.classes[name]; ok {
		return migrate.Errorf(s.Pos, "a second class %q (the first is at %s)", name, o.pos)
	}
	cl := &class{name: className(name), pos: s.Pos, par: newParams()}
	c.classes[name] = cl
	key := "dhcp.client_classes[" + cl.name + "]"
	if cl.name != name {
		c.rep.MapNote(s.Pos, s.String(), key, "quotes are not allowed in hadhcpd's class names")
	} else {
		c.rep.Map(s.Pos, s.String(), key)
	}
	c.order = append(c.order, cl)
	c.block(s.Block, &scope{kind: "class", name: cl.name, key: key, class: cl, par: cl.par, parent: sc, cond: "member('" + cl.name + "')"})
	for e := sc; e != nil; e = e.parent {
		e.classes = append(e.classes, cl)
	}
	return nil
}

// classStmt: match if, match, spawn with, lease limit.
func (c *conv) classStmt(s *Stmt, sc *scope) error {
	cl := sc.class
	key := sc.reportKey()
	switch {
	case s.word(0) == "match" && s.word(1) == "if":
		t, err := c.translateBool(s.Words[2:])
		if err != nil {
			c.rep.Unsupported(s.Pos, s.String(), "cannot translate the test: "+err.Error())
			return nil
		}
		cl.test = t
		c.rep.MapNote(s.Pos, s.String(), key+".test", t)
	case s.word(0) == "match":
		d, err := c.translateData(s.Words[1:])
		if err != nil {
			c.rep.Unsupported(s.Pos, s.String(), "cannot translate the match: "+err.Error())
			return nil
		}
		cl.match, cl.mdata = d.s, d
		c.rep.MapNote(s.Pos, s.String(), key+".match", d.s)
	case s.word(0) == "spawn" && s.word(1) == "with":
		d, err := c.translateData(s.Words[2:])
		if err != nil || d.exist == "" {
			why := "only an option's value can be spawned on"
			if err != nil {
				why = err.Error()
			}
			c.rep.Unsupported(s.Pos, s.String(), "spawn: "+why)
			return nil
		}
		// A spawning class holds every client whose value is present;
		// the subclass per value it creates only counts leases for
		// `lease limit` (reported apart).
		cl.test = d.exist
		c.rep.MapNote(s.Pos, s.String(), key+".test", d.exist+": spawn makes a subclass per value, which only matters for lease limits; membership is kept")
	case s.word(0) == "lease" && s.word(1) == "limit":
		c.rep.Unsupported(s.Pos, s.String(), "lease limits per class are not supported")
	default:
		c.rep.Unsupported(s.Pos, s.String(), "unknown class statement (skipped)")
	}
	return nil
}

// subclass: `subclass "CLASS" KEY;` adds KEY to the class's lookup table;
// with a block, the members with that key also get the block's
// parameters: a class of their own, placed before its parent so its
// parameters win as in dhcpd.
func (c *conv) subclass(s *Stmt, sc *scope) error {
	if len(s.Words) != 3 {
		return migrate.Errorf(s.Pos, "want `subclass \"CLASS\" KEY;`")
	}
	name := s.word(1)
	cl, ok := c.classes[name]
	if !ok {
		return migrate.Errorf(s.Pos, "subclass of %q: no class %q declared before it", name, name)
	}
	if cl.match == "" {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("class %q has no translated `match` to key its subclasses on", name))
		return nil
	}
	k, err := memberKey(s.Words[2], cl.mdata)
	if err != nil {
		return migrate.Errorf(s.Pos, "subclass key: %v", err)
	}
	cl.members = append(cl.members, k)
	key := "dhcp.client_classes[" + cl.name + "].members"
	if !s.HasBlock {
		c.rep.Map(s.Pos, s.String(), key)
		return nil
	}
	test := cl.match + " == " + keyLiteral(k)
	if cl.test != "" {
		test = "(" + cl.test + ") and " + test
	}
	sub := &class{name: className(cl.name + ":" + k), pos: s.Pos, par: newParams(), test: test}
	if o, ok := c.classes[sub.name]; ok {
		return migrate.Errorf(s.Pos, "a second subclass %q (the first is at %s)", sub.name, o.pos)
	}
	c.classes[sub.name] = sub
	for e := sc; e != nil; e = e.parent {
		e.classes = append(e.classes, sub) // a group's parameters reach it
	}
	skey := "dhcp.client_classes[" + sub.name + "]"
	c.rep.MapNote(s.Pos, s.String(), key+", "+skey, "the subclass's parameters are a class of their own")
	c.block(s.Block, &scope{kind: "class", name: sub.name, key: skey, class: sub, par: sub.par, parent: sc})
	// before its parent
	for i, o := range c.order {
		if o == cl {
			c.order = append(c.order[:i], append([]*class{sub}, c.order[i:]...)...)
			return nil
		}
	}
	c.order = append(c.order, sub)
	return nil
}

// className is an ISC class name as hadhcpd's config allows it: without
// quotes.
func className(n string) string {
	return strings.NewReplacer("'", "", "\"", "").Replace(n)
}

// memberKey writes a subclass key the way the class's members are
// written: colon hex, or 'text'.
func memberKey(t token, m data) (string, error) {
	if t.kind == tString {
		raw := string(t.b)
		if m.b2a != "" {
			raw = padHex(raw, m.b2a)
		}
		if printable([]byte(raw)) {
			return "'" + raw + "'", nil
		}
		return net.HardwareAddr(raw).String(), nil
	}
	return idValue(t, false)
}

// keyLiteral writes a member key as a literal of the class language.
func keyLiteral(k string) string {
	if len(k) > 0 && k[0] == '\'' {
		return k
	}
	b, _ := dhcpscope.ParseHex(k) // colon hex: memberKey wrote it
	return fmt.Sprintf("0x%x", b)
}

// ifStmt turns `if COND { ... } elsif COND { ... } else { ... }` into
// classes: dhcpd evaluates the conditions for each packet, and a class
// whose test is the condition (and the negation of the ones before it)
// gives the same parameters to the same clients.
func (c *conv) ifStmt(s *Stmt, sc *scope) error {
	if !s.HasBlock {
		return migrate.Errorf(s.Pos, "%s needs a { ... } block", s.word(0))
	}
	if sc.kind == "pool" || sc.kind == "host" {
		c.rep.Unsupported(s.Pos, s.String(), "a conditional inside a "+sc.kind)
		return nil
	}
	var cond string
	switch s.word(0) {
	case "if", "elsif":
		if s.word(0) == "if" {
			sc.chain = nil
		} else if sc.chain == nil {
			return migrate.Errorf(s.Pos, "elsif without an if before it")
		}
		t, err := c.translateBool(s.Words[1:])
		if err != nil {
			sc.chain = append(sc.chain, "")
			c.rep.Unsupported(s.Pos, s.String(), "cannot translate the condition: "+err.Error())
			return nil
		}
		cond = t
	case "else":
		if sc.chain == nil {
			return migrate.Errorf(s.Pos, "else without an if before it")
		}
		if len(s.Words) > 1 && s.word(1) == "if" {
			t, err := c.translateBool(s.Words[2:])
			if err != nil {
				c.rep.Unsupported(s.Pos, s.String(), "cannot translate the condition: "+err.Error())
				sc.chain = append(sc.chain, "")
				return nil
			}
			cond = t
		}
	}
	test := ""
	for _, p := range sc.chain {
		if p == "" {
			c.rep.Unsupported(s.Pos, s.String(), "a branch after a condition that could not be translated")
			return nil
		}
		test = and(test, "not ("+p+")")
	}
	if cond != "" {
		sc.chain = append(sc.chain, cond)
		test = and(test, "("+cond+")")
	}
	if s.word(0) == "else" && cond == "" {
		sc.chain = nil
	}
	if sc.cond != "" {
		test = and(sc.cond, test)
	}
	c.ifs++
	cl := &class{name: fmt.Sprintf("if-%d", c.ifs), pos: s.Pos, par: newParams(), test: test}
	for e := sc; e != nil; e = e.parent {
		if e.kind == "subnet" || e.kind == "shared-network" {
			cl.only = e.kind + " " + e.name
			break
		}
	}
	c.classes[cl.name] = cl
	key := "dhcp.client_classes[" + cl.name + "]"
	c.rep.MapNote(s.Pos, s.String(), key, "test: "+test)
	in := &scope{kind: "if", name: cl.name, key: key, class: cl, par: cl.par, parent: sc, cond: test}
	c.block(s.Block, in)
	c.order = append(c.order, cl)
	return nil
}

func and(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + " and " + b
}
