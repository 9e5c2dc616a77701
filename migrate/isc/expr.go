package isc

import (
	"fmt"
	"strconv"
	"strings"

	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// This file translates dhcpd.conf(5)'s expressions (dhcp-eval(5)) into
// hadhcpd's class language (Kea's expression syntax): booleans for
// `match if` and `if`, data for `match` and `spawn with`. What has no
// equivalent is an error naming the construct; the caller reports it
// with the statement's line.

type xtok struct {
	s   string
	str bool   // a quoted string
	b   []byte // its bytes
}

// xlex splits the statement's tokens further: the lexer keeps
// `substring(option` as one word, and `!=` as "!" and "=".
func xlex(ts []token) []xtok {
	var out []xtok
	for i := 0; i < len(ts); i++ {
		t := ts[i]
		if t.kind == tString {
			out = append(out, xtok{s: t.str(), str: true, b: append([]byte(nil), t.b...)})
			continue
		}
		w := t.str()
		if (w == "!" || w == "~") && i+1 < len(ts) && ts[i+1].is('=') {
			out = append(out, xtok{s: w + "="})
			i++
			continue
		}
		start := 0
		for j := 0; j < len(w); j++ {
			if w[j] == '(' || w[j] == ')' {
				if j > start {
					out = append(out, xtok{s: w[start:j]})
				}
				out = append(out, xtok{s: w[j : j+1]})
				start = j + 1
			}
		}
		if start < len(w) {
			out = append(out, xtok{s: w[start:]})
		}
	}
	return out
}

type xparser struct {
	t []xtok
	i int
	c *conv
}

// data is a translated data expression and what the comparison needs to
// know of it.
type data struct {
	s     string
	width int    // bytes of an integer option (a decimal literal compared to it is written in that width)
	num   bool   // a decimal literal
	exist string // the .exists form of an option reference ("" = none)
	hw    bool   // ISC's `hardware` (htype byte + MAC)
	lit   bool   // a quoted string
	raw   string // its text
	b2a   string // binary-to-ascii(16, 8, sep, ...): the separator
}

func (p *xparser) peek() string {
	if p.i < len(p.t) {
		return p.t[p.i].s
	}
	return ""
}

func (p *xparser) next() xtok {
	if p.i < len(p.t) {
		p.i++
		return p.t[p.i-1]
	}
	return xtok{}
}

func (p *xparser) expect(s string) error {
	if t := p.next(); t.s != s || t.str {
		if t.s == "" {
			return fmt.Errorf("expected %q, found the end", s)
		}
		return fmt.Errorf("expected %q, found %q", s, t.s)
	}
	return nil
}

func (p *xparser) done() error {
	if p.i < len(p.t) {
		return fmt.Errorf("unexpected %q", p.t[p.i].s)
	}
	return nil
}

// translateBool translates a boolean expression.
func (c *conv) translateBool(ts []token) (string, error) {
	p := &xparser{t: xlex(ts), c: c}
	s, err := p.or()
	if err == nil {
		err = p.done()
	}
	return s, err
}

// translateData translates a data expression.
func (c *conv) translateData(ts []token) (data, error) {
	p := &xparser{t: xlex(ts), c: c}
	d, err := p.data()
	if err == nil {
		err = p.done()
	}
	return d, err
}

func (p *xparser) or() (string, error) {
	l, err := p.and()
	if err != nil {
		return "", err
	}
	for p.peek() == "or" {
		p.next()
		r, err := p.and()
		if err != nil {
			return "", err
		}
		l = l + " or " + r
	}
	return l, nil
}

func (p *xparser) and() (string, error) {
	l, err := p.not()
	if err != nil {
		return "", err
	}
	for p.peek() == "and" {
		p.next()
		r, err := p.not()
		if err != nil {
			return "", err
		}
		l = l + " and " + r
	}
	return l, nil
}

func (p *xparser) not() (string, error) {
	switch p.peek() {
	case "not":
		p.next()
		e, err := p.not()
		if err != nil {
			return "", err
		}
		return "not " + e, nil
	case "(":
		save := p.i
		p.next()
		e, err := p.or()
		if err == nil && p.peek() == ")" {
			p.next()
			return "(" + e + ")", nil
		}
		p.i = save // a parenthesised data expression
	}
	return p.cmp()
}

func (p *xparser) cmp() (string, error) {
	switch p.peek() {
	case "exists":
		p.next()
		d, err := p.option(p.next())
		if err != nil {
			return "", err
		}
		return d.exist, nil
	case "known", "unknown":
		return p.next().s, nil
	case "static":
		return "", fmt.Errorf("`static` (the client has a fixed-address lease) has no equivalent")
	}
	l, err := p.data()
	if err != nil {
		return "", err
	}
	op := p.peek()
	switch op {
	case "=", "!=":
		p.next()
	case "~=", "~~":
		return "", fmt.Errorf("regular expression matches (%s) have no equivalent", op)
	default:
		if l.exist != "" {
			// dhcp-eval(5): a data expression where a boolean is
			// expected is true when it is not empty.
			return l.exist, nil
		}
		return "", fmt.Errorf("expected a comparison after %s", l.s)
	}
	r, err := p.data()
	if err != nil {
		return "", err
	}
	ls, rs := widen(l, r), widen(r, l)
	if l.b2a != "" && r.lit {
		rs = literal([]byte(padHex(r.raw, l.b2a)))
	}
	if r.b2a != "" && l.lit {
		ls = literal([]byte(padHex(l.raw, r.b2a)))
	}
	if op == "!=" {
		return "not (" + ls + " == " + rs + ")", nil
	}
	return ls + " == " + rs, nil
}

// widen writes a decimal literal compared with an integer option in the
// option's width, as bytes: dhcpd compares the option's data with the
// number's encoding.
func widen(d, other data) string {
	if d.num && other.width > 0 {
		n, err := strconv.ParseUint(d.s, 10, 64)
		if err == nil && n < 1<<(8*uint(other.width)) {
			return fmt.Sprintf("0x%0*x", 2*other.width, n)
		}
	}
	return d.s
}

// data reads one data expression.
func (p *xparser) data() (data, error) {
	t := p.next()
	if t.str {
		return data{s: literal(t.b), lit: true, raw: string(t.b)}, nil
	}
	w := t.s
	args := func(n int) ([]data, error) {
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var out []data
		for i := 0; i < n || n < 0; i++ {
			if i > 0 {
				if n < 0 && p.peek() == ")" {
					break
				}
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
			d, err := p.data()
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, p.expect(")")
	}
	switch w {
	case "":
		return data{}, fmt.Errorf("expression ends early")
	case "(":
		d, err := p.data()
		if err != nil {
			return d, err
		}
		return d, p.expect(")")
	case "substring":
		a, err := args(3)
		if err != nil {
			return data{}, err
		}
		if !a[1].num || !a[2].num {
			return data{}, fmt.Errorf("substring with computed offsets")
		}
		start, _ := strconv.Atoi(a[1].s)
		if a[0].hw && start >= 1 {
			// dhcpd's hardware is the htype byte then the MAC.
			return data{s: fmt.Sprintf("substring(pkt4.mac,%d,%s)", start-1, a[2].s)}, nil
		}
		return data{s: fmt.Sprintf("substring(%s,%s,%s)", a[0].s, a[1].s, a[2].s)}, nil
	case "suffix":
		a, err := args(2)
		if err != nil {
			return data{}, err
		}
		if !a[1].num {
			return data{}, fmt.Errorf("suffix with a computed length")
		}
		return data{s: fmt.Sprintf("substring(%s,-%s,'all')", a[0].s, a[1].s)}, nil
	case "concat":
		a, err := args(-1)
		if err != nil {
			return data{}, err
		}
		if len(a) < 2 {
			return data{}, fmt.Errorf("concat of one value")
		}
		s := a[0].s
		for _, x := range a[1:] {
			s = fmt.Sprintf("concat(%s,%s)", s, x.s)
		}
		return data{s: s}, nil
	case "lcase", "ucase":
		a, err := args(1)
		if err != nil {
			return data{}, err
		}
		return data{s: w + "(" + a[0].s + ")"}, nil
	case "binary-to-ascii":
		a, err := args(4)
		if err != nil {
			return data{}, err
		}
		if a[0].s != "16" || a[1].s != "8" {
			return data{}, fmt.Errorf("binary-to-ascii other than base 16 of bytes")
		}
		if !a[2].lit {
			return data{}, fmt.Errorf("binary-to-ascii with a computed separator")
		}
		// dhcpd writes the digits without leading zeros (0:4:f2),
		// hexstring with them (00:04:f2): the text compared with it is
		// padded (padHex).
		return data{s: fmt.Sprintf("hexstring(%s,%s)", a[3].s, a[2].s), b2a: a[2].raw}, nil
	case "pick-first-value":
		a, err := args(-1)
		if err != nil {
			return data{}, err
		}
		s := a[len(a)-1].s
		for i := len(a) - 2; i >= 0; i-- {
			if a[i].exist == "" {
				return data{}, fmt.Errorf("pick-first-value of %s: only options can be tested for presence", a[i].s)
			}
			s = fmt.Sprintf("ifelse(%s,%s,%s)", a[i].exist, a[i].s, s)
		}
		return data{s: s}, nil
	case "option":
		return p.option(p.next())
	case "hardware":
		return data{s: "concat(substring(pkt4.htype,3,1),pkt4.mac)", hw: true}, nil
	case "packet", "config-option", "leased-address", "host-decl-name", "client-state", "reverse", "encode-int",
		"extract-int", "encapsulate", "gethostname", "v6relay", "null", "filename", "server-name", "ddns-fwd-name", "ddns-rev-name", "lease-time", "execute":
		return data{}, fmt.Errorf("%s has no equivalent in hadhcpd's class language", w)
	}
	if isNum(w) {
		return data{s: w, num: true}, nil
	}
	if b, err := dhcpscope.ParseHex(w); err == nil && strings.Contains(w, ":") {
		return data{s: "0x" + fmt.Sprintf("%x", b)}, nil
	}
	return data{}, fmt.Errorf("%q cannot be translated", w)
}

func isNum(w string) bool {
	_, err := strconv.ParseUint(w, 10, 32)
	return err == nil
}

// literal writes bytes as 'text' when printable, else as 0xHEX.
func literal(b []byte) string {
	if printable(b) || len(b) == 0 {
		return "'" + string(b) + "'"
	}
	return fmt.Sprintf("0x%x", b)
}

// builtinCodes are options expressions use that ISC knows by name and
// that hadhcpd's option table may not carry (they are packet fields or
// client-sent), with the width of integer ones.
var builtinCodes = map[string][2]int{
	"vendor-class-identifier":     {60, 0},
	"dhcp-client-identifier":      {61, 0},
	"user-class":                  {77, 0},
	"dhcp-parameter-request-list": {55, 0},
	"dhcp-message-type":           {53, 1},
	"dhcp-requested-address":      {50, 0},
	"dhcp-max-message-size":       {57, 2},
	"host-name":                   {12, 0},
	"vendor-encapsulated-options": {43, 0},
	"pxe-system-type":             {93, 2},
	"client-architecture":         {93, 2},
	"relay-agent-information":     {82, 0},
	"fqdn":                        {81, 0},
	"vivco":                       {124, 0},
	"vivso":                       {125, 0},
	"dhcp-server-identifier":      {54, 0},
}

func (p *xparser) option(t xtok) (data, error) {
	name := t.s
	if sp, sub, ok := strings.Cut(name, "."); ok {
		if strings.EqualFold(sp, "agent") {
			if n, ok := migrate.AgentSubOptions[strings.ToLower(sub)]; ok {
				return data{s: fmt.Sprintf("relay4[%d].hex", n), exist: fmt.Sprintf("relay4[%d].exists", n)}, nil
			}
		}
		if !strings.EqualFold(sp, p.c.siteSp) {
			return data{}, fmt.Errorf("option %s: options of a space other than the relay agent's cannot be tested", name)
		}
		name = sub
	}
	var od migrate.OptDef
	if d, ok := p.c.defs[name]; ok && d.space == "" {
		od = d.def.Opt
	} else if std, ok := migrate.ISCOption(name); ok {
		od = std
	} else if b, ok := builtinCodes[name]; ok {
		return data{s: fmt.Sprintf("option[%d].hex", b[0]), width: b[1], exist: fmt.Sprintf("option[%d].exists", b[0])}, nil
	} else {
		return data{}, fmt.Errorf("option %q is unknown (define it with option %s code N = TYPE)", name, name)
	}
	width := od.Type.Width()
	if od.Array {
		width = 0
	}
	return data{s: fmt.Sprintf("option[%d].hex", od.Code), width: width, exist: fmt.Sprintf("option[%d].exists", od.Code)}, nil
}

// padHex writes binary-to-ascii's unpadded hex groups ("1:0:4:f2") the
// way hexstring does ("01:00:04:f2"); text that is not such groups is
// left as it is.
func padHex(s, sep string) string {
	if sep == "" {
		return s
	}
	parts := strings.Split(s, sep)
	for i, g := range parts {
		if len(g) == 0 || len(g) > 2 {
			return s
		}
		n, err := strconv.ParseUint(g, 16, 8)
		if err != nil {
			return s
		}
		parts[i] = fmt.Sprintf("%02x", n)
	}
	return strings.Join(parts, sep)
}
