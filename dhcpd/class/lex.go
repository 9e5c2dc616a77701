package class

import (
	"strconv"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tString         // 'text'
	tHex            // 0xHEX
	tInt            // -?[0-9]+
	tIP             // 192.0.2.1
	tIdent          // option, pkt4, vendor-class, ...
	tLParen
	tRParen
	tLBrack
	tRBrack
	tDot
	tComma
	tEq   // ==
	tStar // * (vendor[*])
	tPlus // + (Kea's concat operator)
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of test"
	case tString:
		return "string"
	case tHex:
		return "hex literal"
	case tInt:
		return "integer"
	case tIP:
		return "IPv4 address"
	case tIdent:
		return "name"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tLBrack:
		return "'['"
	case tRBrack:
		return "']'"
	case tDot:
		return "'.'"
	case tComma:
		return "','"
	case tEq:
		return "'=='"
	case tStar:
		return "'*'"
	case tPlus:
		return "'+'"
	}
	return "token"
}

type token struct {
	kind tokKind
	pos  int    // byte offset of the token in the source
	end  int    // byte offset just after it
	text string // identifier, or the decoded value of a string
	val  []byte // decoded bytes of a string, hex or IP literal
	num  int64  // value of an integer
}

// lex splits src into tokens. Kea's lexer (src/lib/eval/lexer.ll) is the
// model: strings are single-quoted, hex literals start with 0x, integers may
// be negative (substring's start and length).
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i == len(src) {
			toks = append(toks, token{kind: tEOF, pos: i, end: i})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case c == '\'':
			// Kea's strings have no escapes at all ('[^'\n]*'); we accept
			// \' for a quote inside a string, every other backslash is
			// kept as it is, so any Kea string not ending in a backslash
			// reads the same.
			var b []byte
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == '\'' {
					b = append(b, '\'')
					i += 2
					continue
				}
				if src[i] == '\'' {
					closed = true
					i++
					break
				}
				if src[i] == '\n' {
					break
				}
				b = append(b, src[i])
				i++
			}
			if !closed {
				return nil, &SyntaxError{Offset: start, Msg: "unterminated string: a string is 'text' on one line (write \\' for a quote inside it)"}
			}
			toks = append(toks, token{kind: tString, pos: start, end: i, text: string(b), val: b})
		case c == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X'):
			i += 2
			for i < len(src) && isHexDigit(src[i]) {
				i++
			}
			digits := src[start+2 : i]
			if digits == "" {
				return nil, &SyntaxError{Offset: start, Msg: "hex literal " + strconv.Quote(src[start:i]) + " has no digits (write e.g. 0x0007)"}
			}
			if i < len(src) && isIdentChar(src[i]) {
				return nil, &SyntaxError{Offset: i, Msg: "invalid hex digit " + strconv.QuoteRune(rune(src[i])) + " in hex literal"}
			}
			toks = append(toks, token{kind: tHex, pos: start, end: i, val: decodeHex(digits)})
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])):
			if ip, n, ok := lexIPv4(src[i:]); ok {
				i += n
				toks = append(toks, token{kind: tIP, pos: start, end: i, val: ip[:]})
				break
			}
			i++
			for i < len(src) && isDigit(src[i]) {
				i++
			}
			if i < len(src) && (isIdentChar(src[i]) || src[i] == '.' && i+1 < len(src) && isDigit(src[i+1])) {
				j := i
				for j < len(src) && (isIdentChar(src[j]) || src[j] == '.') {
					j++
				}
				return nil, &SyntaxError{Offset: start, Msg: "malformed number " + strconv.Quote(src[start:j]) + " (an IPv4 address is 4 numbers 0..255)"}
			}
			n, err := strconv.ParseInt(src[start:i], 10, 64)
			if err != nil {
				return nil, &SyntaxError{Offset: start, Msg: "integer " + src[start:i] + " is out of range"}
			}
			toks = append(toks, token{kind: tInt, pos: start, end: i, num: n})
		case isAlpha(c):
			i++
			for i < len(src) && (isIdentChar(src[i]) || src[i] == '-') {
				i++
			}
			// A name never ends with '-' (Kea's option names neither).
			for src[i-1] == '-' {
				i--
			}
			toks = append(toks, token{kind: tIdent, pos: start, end: i, text: src[start:i]})
		default:
			k := tEOF
			n := 1
			switch c {
			case '(':
				k = tLParen
			case ')':
				k = tRParen
			case '[':
				k = tLBrack
			case ']':
				k = tRBrack
			case '.':
				k = tDot
			case ',':
				k = tComma
			case '*':
				k = tStar
			case '+':
				k = tPlus
			case '=':
				if i+1 < len(src) && src[i+1] == '=' {
					k, n = tEq, 2
				} else {
					return nil, &SyntaxError{Offset: start, Msg: "'=' is not an operator: compare with '=='"}
				}
			case '!':
				if i+1 < len(src) && src[i+1] == '=' {
					return nil, &SyntaxError{Offset: start, Msg: "'!=' is not an operator: write not (a == b)"}
				}
				return nil, &SyntaxError{Offset: start, Msg: "'!' is not an operator: write not"}
			case '&', '|':
				return nil, &SyntaxError{Offset: start, Msg: strconv.QuoteRune(rune(c)) + " is not an operator: write and, or"}
			case '"':
				return nil, &SyntaxError{Offset: start, Msg: "strings are single-quoted: 'text'"}
			default:
				return nil, &SyntaxError{Offset: start, Msg: "invalid character " + strconv.QuoteRune(rune(c))}
			}
			i += n
			toks = append(toks, token{kind: k, pos: start, end: i})
		}
	}
}

// lexIPv4 reads a dotted-quad address at the start of s (Kea's IP address
// literal, a 4-byte string).
func lexIPv4(s string) (ip [4]byte, n int, ok bool) {
	for part := 0; part < 4; part++ {
		if part > 0 {
			if n >= len(s) || s[n] != '.' {
				return ip, 0, false
			}
			n++
		}
		v, digits := 0, 0
		for n < len(s) && isDigit(s[n]) && digits < 4 {
			v = v*10 + int(s[n]-'0')
			n++
			digits++
		}
		if digits == 0 || digits > 3 || v > 255 {
			return ip, 0, false
		}
		ip[part] = byte(v)
	}
	if n < len(s) && (isIdentChar(s[n]) || s[n] == '.') {
		return ip, 0, false
	}
	return ip, n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func isIdentChar(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// decodeHex decodes hex digits; an odd count gets a leading 0 as in Kea
// (0x7 is the byte 0x07).
func decodeHex(digits string) []byte {
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	b := make([]byte, len(digits)/2)
	for i := range b {
		b[i] = hexVal(digits[2*i])<<4 | hexVal(digits[2*i+1])
	}
	return b
}
