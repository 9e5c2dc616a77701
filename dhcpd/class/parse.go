package class

import (
	"strconv"
	"strings"
)

// typ is the static type of a sub-expression: Kea evaluates everything as
// strings and fails at run time on 'true'/'false' mismatches; we check at
// compile time so that a wrong test is a configuration error.
type typ uint8

const (
	typBool typ = iota
	typStr
)

type op uint8

const (
	// Values (typStr).
	opLit              op = iota // lit
	opOption                     // code: option[code].hex/.text
	opRAI                        // sub: relay4[sub] / option[82].option[sub]
	opPkt4                       // field: pkt4.FIELD
	opSubstring                  // a, start, length (all when lengthAll)
	opConcat                     // a, b
	opHexstring                  // a, b (separator)
	opIfelse                     // c (condition), a, b
	opLcase                      // a
	opUcase                      // a
	opVendorSub                  // enterprise (0 = any), code: vendor[N].option[code].hex
	opVendorClassData            // enterprise (0 = any), index: vendor-class[N].data[i]
	opVendorEnterprise           // vendor.enterprise
	opVendorClassEnt             // vendor-class.enterprise
	opSplit                      // a, b (delimiters), index (field, 1-based)
	opToText                     // a; code: one of the toText* conversions
	// Conditions (typBool).
	opTrue              // member('ALL')
	opOptionExists      // code
	opRAIExists         // sub
	opVendorExists      // enterprise (0 = any)
	opVendorClassExists // enterprise (0 = any)
	opVendorSubExists   // enterprise, code
	opEq                // a == b, byte-wise
	opEqNum             // a == b, as unsigned big-endian numbers
	opAnd
	opOr
	opNot
	opMember // class
)

// pkt4 fields.
const (
	fMac uint8 = iota
	fHlen
	fHtype
	fCiaddr
	fGiaddr
	fYiaddr
	fSiaddr
	fMsgtype
	fTransid
)

var pkt4Fields = []string{"mac", "hlen", "htype", "ciaddr", "giaddr", "yiaddr", "siaddr", "msgtype", "transid"}

type node struct {
	op  op
	typ typ
	// numeric is set on integer literals and on fields Kea renders as
	// 4-byte integers: == against such a value compares numbers.
	numeric bool
	pos     int // source span, for messages and String
	end     int

	lit        []byte // opLit
	num        uint64 // opLit of an integer: its value
	code       uint8  // option code, RAI sub-option, pkt4 field, vendor sub-option
	enterprise uint32
	index      int // vendor-class data chunk, split field, class index
	start      int // substring
	length     int
	lengthAll  bool
	text       bool // option[N].text: trailing NULs dropped

	a, b, c *node
}

// maxDepth bounds nesting (parentheses, not, function calls): a real
// test nests a few levels; the bound keeps a hostile one from exhausting
// the stack at compile or evaluation time.
const maxDepth = 64

type parser struct {
	depth   int
	src     string
	toks    []token
	i       int
	index   func(string) (int, bool)
	optName func(string) (uint8, bool)
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos int, msg string) error { return &SyntaxError{Offset: pos, Msg: msg} }

func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "the end of the test"
	}
	return strconv.Quote(p.src[t.pos:t.end])
}

func (p *parser) expect(k tokKind, context string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errAt(t.pos, "expected "+k.String()+" "+context+", found "+p.describe(t))
	}
	return t, nil
}

func (p *parser) text(n *node) string { return p.src[n.pos:n.end] }

// parse reads a whole expression of type want.
func parse(src string, want typ, names Names) (*node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, index: names.Class, optName: names.Option}
	if p.peek().kind == tEOF {
		return nil, p.errAt(0, "empty expression")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t.pos, "unmatched ')'")
		}
		hint := ""
		if t.kind == tIdent && (t.text == "AND" || t.text == "OR" || t.text == "NOT") {
			hint = " (operators are lower case: and, or, not)"
		}
		return nil, p.errAt(t.pos, "unexpected "+p.describe(t)+" after a complete expression"+hint)
	}
	if n.typ != want {
		if want == typBool {
			return nil, p.errAt(n.pos, p.text(n)+" is a value, not a test: compare it (== 'text', == 0x01ab) or test an option with .exists")
		}
		return nil, p.errAt(n.pos, p.text(n)+" is a test, not a value: a match expression gives bytes (e.g. substring(pkt4.mac,0,3))")
	}
	return n, nil
}

func (p *parser) needBool(n *node, what string) error {
	if n.typ != typBool {
		return p.errAt(n.pos, what+" needs a test, but "+p.text(n)+" is a value: compare it (== ...) or use .exists")
	}
	return nil
}

func (p *parser) needStr(n *node, what string) error {
	if n.typ != typStr {
		return p.errAt(n.pos, what+" needs a value, but "+p.text(n)+" is a test")
	}
	return nil
}

// Precedence, loosest first: or, and, not, ==, + (Kea's parser.yy; Kea
// puts + below or, which only changes what an ill-typed test means).
func (p *parser) or() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(p.peek().pos, "expression nested more than "+strconv.Itoa(maxDepth)+" levels deep")
	}
	return p.boolChain(p.and, opOr, "or", "sor")
}

func (p *parser) and() (*node, error) {
	return p.boolChain(p.not, opAnd, "and", "sand")
}

// boolChain parses operands (next) joined by o, spelt word or twin (the
// two spellings parse alike), left to right; both sides of each must be
// boolean.
func (p *parser) boolChain(next func() (*node, error), o op, word, twin string) (*node, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tIdent && (t.text == word || t.text == twin); t = p.peek() {
		p.next()
		r, err := next()
		if err != nil {
			return nil, err
		}
		if err := p.needBool(l, "'"+t.text+"'"); err != nil {
			return nil, err
		}
		if err := p.needBool(r, "'"+t.text+"'"); err != nil {
			return nil, err
		}
		l = &node{op: o, typ: typBool, pos: l.pos, end: r.end, a: l, b: r}
	}
	return l, nil
}

func (p *parser) not() (*node, error) {
	if t := p.peek(); t.kind == tIdent && t.text == "not" {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errAt(t.pos, "expression nested more than "+strconv.Itoa(maxDepth)+" levels deep")
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		if err := p.needBool(x, "'not'"); err != nil {
			return nil, err
		}
		return &node{op: opNot, typ: typBool, pos: t.pos, end: x.end, a: x}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (*node, error) {
	l, err := p.sum()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tEq {
		return l, nil
	}
	p.next()
	r, err := p.sum()
	if err != nil {
		return nil, err
	}
	if err := p.needStr(l, "'=='"); err != nil {
		return nil, err
	}
	if err := p.needStr(r, "'=='"); err != nil {
		return nil, err
	}
	if p.peek().kind == tEq {
		return nil, p.errAt(p.peek().pos, "'==' does not chain: write a == b and b == c")
	}
	n := &node{op: opEq, typ: typBool, pos: l.pos, end: r.end, a: l, b: r}
	if l.numeric || r.numeric {
		n.op = opEqNum
	}
	return n, nil
}

func (p *parser) sum() (*node, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tPlus {
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		if err := p.needStr(l, "'+'"); err != nil {
			return nil, err
		}
		if err := p.needStr(r, "'+'"); err != nil {
			return nil, err
		}
		l = &node{op: opConcat, typ: typStr, pos: l.pos, end: r.end, a: l, b: r}
	}
	return l, nil
}

var usage = map[string]string{
	"substring": "substring(value, start, length|all)",
	"concat":    "concat(value, value)",
	"hexstring": "hexstring(value, 'separator')",
	"ifelse":    "ifelse(test, value, value)",
	"lcase":     "lcase(value)",
	"ucase":     "ucase(value)",
	"split":     "split(value, 'delimiters', field)",
	"member":    "member('class')",
	"sifelse":   "sifelse(test, value, value)",

	"addrtotext":   "addrtotext(value)",
	"int8totext":   "int8totext(value)",
	"int16totext":  "int16totext(value)",
	"int32totext":  "int32totext(value)",
	"uint8totext":  "uint8totext(value)",
	"uint16totext": "uint16totext(value)",
	"uint32totext": "uint32totext(value)",
}

// toText are Kea's conversions to text, by name: the width in bytes the
// value must have (0: an address, 4 or 16 bytes), and whether signed.
var toText = []struct {
	name   string
	width  int
	signed bool
}{
	{"addrtotext", 0, false},
	{"int8totext", 1, true}, {"int16totext", 2, true}, {"int32totext", 4, true},
	{"uint8totext", 1, false}, {"uint16totext", 2, false}, {"uint32totext", 4, false},
}

var functions = []string{"substring", "concat", "hexstring", "ifelse", "sifelse", "lcase", "ucase", "split", "member",
	"addrtotext", "int8totext", "int16totext", "int32totext", "uint8totext", "uint16totext", "uint32totext"}

const primaries = "option[N], relay4[N], pkt4.FIELD, vendor[N], vendor-class[N], " +
	"substring, concat, hexstring, ifelse, lcase, ucase, split, addrtotext, uint8totext..., member, known, unknown, 'text', 0xHEX, integers"

func (p *parser) primary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tString, tHex, tIP:
		return &node{op: opLit, typ: typStr, pos: t.pos, end: t.end, lit: t.val}, nil
	case tInt:
		// Kea: an integer is a 4-byte big-endian string (0..2^32-1).
		if t.num < 0 || t.num > 0xffffffff {
			return nil, p.errAt(t.pos, "integer "+p.src[t.pos:t.end]+" out of range 0..4294967295")
		}
		v := uint32(t.num)
		return &node{op: opLit, typ: typStr, numeric: true, pos: t.pos, end: t.end,
			lit: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}, num: uint64(v)}, nil
	case tLParen:
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		r, err := p.expect(tRParen, "to close the '(' at offset "+strconv.Itoa(t.pos))
		if err != nil {
			return nil, err
		}
		// Keep the inner node, widened to the parentheses.
		y := *x
		y.pos, y.end = t.pos, r.end
		return &y, nil
	case tIdent:
		return p.ident(t)
	case tEOF:
		return nil, p.errAt(t.pos, "expression ends too early: expected one of "+primaries)
	}
	return nil, p.errAt(t.pos, "unexpected "+p.describe(t)+": expected one of "+primaries)
}

func (p *parser) ident(t token) (*node, error) {
	switch t.text {
	case "option":
		return p.option(t)
	case "relay4":
		return p.relay4(t)
	case "pkt4":
		return p.pkt4(t)
	case "vendor":
		return p.vendor(t)
	case "vendor-class":
		return p.vendorClass(t)
	case "known", "unknown":
		i, err := p.class(t, strings.ToUpper(t.text))
		if err != nil {
			return nil, err
		}
		return &node{op: opMember, typ: typBool, pos: t.pos, end: t.end, index: i}, nil
	case "pkt", "pkt6", "relay6":
		return nil, p.errAt(t.pos, "'"+t.text+"' is not supported here (DHCPv4 packet fields are pkt4.FIELD)")
	case "match":
		return nil, p.errAt(t.pos, "'match' (regular expressions) is not supported: use substring and ==")
	case "and", "or", "sand", "sor":
		return nil, p.errAt(t.pos, "'"+t.text+"' needs a test on its left")
	case "true", "false":
		return nil, p.errAt(t.pos, "there are no boolean literals: write the test itself, or member('ALL')")
	}
	if _, ok := usage[t.text]; ok {
		return p.call(t)
	}
	if p.peek().kind == tLParen {
		return nil, p.errAt(t.pos, "unknown function '"+t.text+"' (want "+strings.Join(functions, ", ")+")")
	}
	return nil, p.errAt(t.pos, "unknown name '"+t.text+"' (a string is quoted: '"+t.text+"'; or want "+primaries+")")
}

// class resolves a class name through the caller's index; KNOWN and
// UNKNOWN fall back to the fixed indexes of Set.
func (p *parser) class(t token, name string) (int, error) {
	if p.index != nil {
		if i, ok := p.index(name); ok {
			if i < 0 || i >= MaxClasses {
				return 0, p.errAt(t.pos, "class '"+name+"' has index "+strconv.Itoa(i)+", out of range 0.."+strconv.Itoa(MaxClasses-1))
			}
			return i, nil
		}
	}
	switch name {
	case "KNOWN":
		return Known, nil
	case "UNKNOWN":
		return Unknown, nil
	}
	return 0, p.errAt(t.pos, "class '"+name+"' is not defined before this one (member() may name only classes listed earlier, KNOWN, UNKNOWN or ALL)")
}

// optionCode reads "[N]" or "[name]" for an option code.
func (p *parser) optionCode(what string) (uint8, error) {
	if _, err := p.expect(tLBrack, "after '"+what+"'"); err != nil {
		return 0, err
	}
	t := p.next()
	var code uint8
	switch t.kind {
	case tInt:
		if t.num < 0 || t.num > 255 {
			return 0, p.errAt(t.pos, "option code "+p.src[t.pos:t.end]+" out of range 0..255")
		}
		code = uint8(t.num)
	case tIdent:
		c, ok := optionCodes[strings.ReplaceAll(t.text, "_", "-")]
		if !ok && p.optName != nil {
			c, ok = p.optName(t.text)
		}
		if !ok {
			return 0, p.errAt(t.pos, "unknown option name '"+t.text+"' (write its code, e.g. option[60])")
		}
		code = c
	default:
		return 0, p.errAt(t.pos, "expected an option code in "+what+"[...], found "+p.describe(t))
	}
	if _, err := p.expect(tRBrack, "after the option code"); err != nil {
		return 0, err
	}
	return code, nil
}

func (p *parser) subCode(what string) (uint8, error) {
	if _, err := p.expect(tLBrack, "after '"+what+"'"); err != nil {
		return 0, err
	}
	t := p.next()
	if t.kind != tInt {
		return 0, p.errAt(t.pos, "expected a sub-option code in "+what+"[...], found "+p.describe(t))
	}
	if t.num < 0 || t.num > 255 {
		return 0, p.errAt(t.pos, "sub-option code "+p.src[t.pos:t.end]+" out of range 0..255")
	}
	if _, err := p.expect(tRBrack, "after the sub-option code"); err != nil {
		return 0, err
	}
	return uint8(t.num), nil
}

// field reads ".NAME" and checks it against want.
func (p *parser) field(after string, want ...string) (token, error) {
	if _, err := p.expect(tDot, "after "+after+" (want ."+strings.Join(want, ", .")+")"); err != nil {
		return token{}, err
	}
	t := p.next()
	if t.kind != tIdent {
		return t, p.errAt(t.pos, "expected a field after "+after+". (want "+strings.Join(want, ", ")+"), found "+p.describe(t))
	}
	for _, w := range want {
		if t.text == w {
			return t, nil
		}
	}
	return t, p.errAt(t.pos, "unknown field '"+t.text+"' (want "+strings.Join(want, ", ")+")")
}

func (p *parser) option(start token) (*node, error) {
	code, err := p.optionCode("option")
	if err != nil {
		return nil, err
	}
	after := p.src[start.pos:p.toks[p.i-1].end]
	f, err := p.field(after, "hex", "text", "exists", "option")
	if err != nil {
		return nil, err
	}
	if f.text == "option" {
		if code != 82 {
			return nil, p.errAt(f.pos, "sub-options are readable only in option[82] (relay agent information); for vendor options use vendor[ENTERPRISE].option[N]")
		}
		sub, err := p.subCode("option")
		if err != nil {
			return nil, err
		}
		return p.raiRepr(start, sub)
	}
	if f.text == "exists" {
		return &node{op: opOptionExists, typ: typBool, pos: start.pos, end: f.end, code: code}, nil
	}
	// .text is the option's bytes without trailing NULs (some clients
	// NUL-terminate their strings; Kea trims those of its string
	// options). Kea would render a binary option as text; we don't.
	return &node{op: opOption, typ: typStr, pos: start.pos, end: f.end, code: code, text: f.text == "text"}, nil
}

func (p *parser) relay4(start token) (*node, error) {
	sub, err := p.subCode("relay4")
	if err != nil {
		return nil, err
	}
	return p.raiRepr(start, sub)
}

func (p *parser) raiRepr(start token, sub uint8) (*node, error) {
	after := p.src[start.pos:p.toks[p.i-1].end]
	f, err := p.field(after, "hex", "text", "exists")
	if err != nil {
		return nil, err
	}
	if f.text == "exists" {
		return &node{op: opRAIExists, typ: typBool, pos: start.pos, end: f.end, code: sub}, nil
	}
	return &node{op: opRAI, typ: typStr, pos: start.pos, end: f.end, code: sub}, nil
}

func (p *parser) pkt4(start token) (*node, error) {
	f, err := p.field("pkt4", pkt4Fields...)
	if err != nil {
		return nil, err
	}
	n := &node{op: opPkt4, typ: typStr, pos: start.pos, end: f.end}
	for i, name := range pkt4Fields {
		if name == f.text {
			n.code = uint8(i)
		}
	}
	switch n.code {
	case fHlen, fHtype, fMsgtype, fTransid:
		n.numeric = true
	}
	return n, nil
}

// enterprise reads "[N]" or "[*]" (0 = any enterprise, as in Kea).
func (p *parser) enterprise(what string) (uint32, error) {
	if _, err := p.expect(tLBrack, "after '"+what+"'"); err != nil {
		return 0, err
	}
	t := p.next()
	var e uint32
	switch t.kind {
	case tStar:
	case tInt:
		if t.num < 0 || t.num > 0xffffffff {
			return 0, p.errAt(t.pos, "enterprise number "+p.src[t.pos:t.end]+" out of range 0..4294967295")
		}
		e = uint32(t.num)
	default:
		return 0, p.errAt(t.pos, "expected an enterprise number or * in "+what+"[...], found "+p.describe(t))
	}
	if _, err := p.expect(tRBrack, "after the enterprise number"); err != nil {
		return 0, err
	}
	return e, nil
}

func (p *parser) vendor(start token) (*node, error) {
	if p.peek().kind == tDot {
		f, err := p.field("vendor", "enterprise")
		if err != nil {
			return nil, err
		}
		return &node{op: opVendorEnterprise, typ: typStr, numeric: true, pos: start.pos, end: f.end}, nil
	}
	ent, err := p.enterprise("vendor")
	if err != nil {
		return nil, err
	}
	after := p.src[start.pos:p.toks[p.i-1].end]
	f, err := p.field(after, "exists", "option")
	if err != nil {
		return nil, err
	}
	if f.text == "exists" {
		return &node{op: opVendorExists, typ: typBool, pos: start.pos, end: f.end, enterprise: ent}, nil
	}
	code, err := p.subCode("option")
	if err != nil {
		return nil, err
	}
	after = p.src[start.pos:p.toks[p.i-1].end]
	g, err := p.field(after, "hex", "text", "exists")
	if err != nil {
		return nil, err
	}
	if g.text == "exists" {
		return &node{op: opVendorSubExists, typ: typBool, pos: start.pos, end: g.end, enterprise: ent, code: code}, nil
	}
	return &node{op: opVendorSub, typ: typStr, pos: start.pos, end: g.end, enterprise: ent, code: code}, nil
}

func (p *parser) vendorClass(start token) (*node, error) {
	if p.peek().kind == tDot {
		f, err := p.field("vendor-class", "enterprise")
		if err != nil {
			return nil, err
		}
		return &node{op: opVendorClassEnt, typ: typStr, numeric: true, pos: start.pos, end: f.end}, nil
	}
	ent, err := p.enterprise("vendor-class")
	if err != nil {
		return nil, err
	}
	after := p.src[start.pos:p.toks[p.i-1].end]
	f, err := p.field(after, "exists", "data")
	if err != nil {
		return nil, err
	}
	if f.text == "exists" {
		return &node{op: opVendorClassExists, typ: typBool, pos: start.pos, end: f.end, enterprise: ent}, nil
	}
	n := &node{op: opVendorClassData, typ: typStr, pos: start.pos, end: f.end, enterprise: ent}
	if p.peek().kind == tLBrack {
		p.next()
		t, err := p.expect(tInt, "as the data chunk index in .data[...]")
		if err != nil {
			return nil, err
		}
		if t.num < 0 || t.num > 255 {
			return nil, p.errAt(t.pos, "data chunk index out of range 0..255")
		}
		r, err := p.expect(tRBrack, "after the data chunk index")
		if err != nil {
			return nil, err
		}
		n.index, n.end = int(t.num), r.end
	}
	return n, nil
}

func (p *parser) arg(fn string, want typ, last bool) (*node, error) {
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if want == typStr {
		err = p.needStr(x, fn+"()")
	} else {
		err = p.needBool(x, fn+"()")
	}
	if err != nil {
		return nil, err
	}
	sep := tComma
	if last {
		sep = tRParen
	}
	if t := p.next(); t.kind != sep {
		if t.kind == tComma || t.kind == tRParen {
			return nil, p.errAt(t.pos, "wrong number of arguments: "+usage[fn])
		}
		return nil, p.errAt(t.pos, "expected "+sep.String()+" in "+usage[fn]+", found "+p.describe(t))
	}
	return x, nil
}

// intArg reads an integer literal argument in [lo, hi].
func (p *parser) intArg(fn, what string, lo, hi int64) (int, token, error) {
	t := p.next()
	if t.kind != tInt {
		return 0, t, p.errAt(t.pos, fn+"() wants an integer "+what+" here ("+usage[fn]+"), found "+p.describe(t))
	}
	if t.num < lo || t.num > hi {
		return 0, t, p.errAt(t.pos, fn+"() "+what+" "+p.src[t.pos:t.end]+" out of range "+strconv.FormatInt(lo, 10)+".."+strconv.FormatInt(hi, 10))
	}
	return int(t.num), t, nil
}

func (p *parser) call(fn token) (*node, error) {
	if _, err := p.expect(tLParen, "after '"+fn.text+"'"); err != nil {
		return nil, err
	}
	n := &node{typ: typStr, pos: fn.pos}
	var err error
	switch fn.text {
	case "member":
		t := p.next()
		if t.kind != tString {
			return nil, p.errAt(t.pos, "member() takes a quoted class name: member('name'), found "+p.describe(t))
		}
		r, err := p.expect(tRParen, "to close member(")
		if err != nil {
			return nil, err
		}
		n.op, n.typ, n.end = opMember, typBool, r.end
		if t.text == "ALL" {
			n.op = opTrue
			return n, nil
		}
		if n.index, err = p.class(t, t.text); err != nil {
			return nil, err
		}
		return n, nil
	case "substring":
		n.op = opSubstring
		if n.a, err = p.arg("substring", typStr, false); err != nil {
			return nil, err
		}
		if n.start, _, err = p.intArg("substring", "start", -1<<31, 1<<31-1); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tComma {
			return nil, p.errAt(t.pos, "expected ',' in "+usage["substring"]+", found "+p.describe(t))
		}
		if t := p.peek(); t.kind == tIdent && t.text == "all" || t.kind == tString && t.text == "all" {
			p.next()
			n.lengthAll = true
		} else if n.length, _, err = p.intArg("substring", "length (or all)", -1<<31, 1<<31-1); err != nil {
			return nil, err
		}
		r := p.next()
		if r.kind != tRParen {
			return nil, p.errAt(r.pos, "expected ')' in "+usage["substring"]+", found "+p.describe(r))
		}
		n.end = r.end
		return n, nil
	case "concat", "hexstring":
		n.op = opConcat
		if fn.text == "hexstring" {
			n.op = opHexstring
		}
		if n.a, err = p.arg(fn.text, typStr, false); err != nil {
			return nil, err
		}
		if n.b, err = p.arg(fn.text, typStr, true); err != nil {
			return nil, err
		}
	case "ifelse", "sifelse":
		// sifelse evaluates both branches in Kea; the result is the same.
		n.op = opIfelse
		if n.c, err = p.arg(fn.text, typBool, false); err != nil {
			return nil, err
		}
		if n.a, err = p.arg(fn.text, typStr, false); err != nil {
			return nil, err
		}
		if n.b, err = p.arg(fn.text, typStr, true); err != nil {
			return nil, err
		}
	case "addrtotext", "int8totext", "int16totext", "int32totext", "uint8totext", "uint16totext", "uint32totext":
		n.op = opToText
		for i, c := range toText {
			if c.name == fn.text {
				n.code = uint8(i)
			}
		}
		if n.a, err = p.arg(fn.text, typStr, true); err != nil {
			return nil, err
		}
	case "lcase", "ucase":
		n.op = opLcase
		if fn.text == "ucase" {
			n.op = opUcase
		}
		if n.a, err = p.arg(fn.text, typStr, true); err != nil {
			return nil, err
		}
	case "split":
		n.op = opSplit
		if n.a, err = p.arg("split", typStr, false); err != nil {
			return nil, err
		}
		if n.b, err = p.arg("split", typStr, false); err != nil {
			return nil, err
		}
		if n.index, _, err = p.intArg("split", "field number", -1<<31, 1<<31-1); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, p.errAt(t.pos, "expected ')' in "+usage["split"]+", found "+p.describe(t))
		}
	}
	n.end = p.toks[p.i-1].end
	return n, nil
}
