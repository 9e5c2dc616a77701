package class

import (
	"errors"
	"strings"
)

// ParseMember reads a lookup-table member (client_classes[].members[]) or
// any identifier written Kea's way: 'quoted text' (\' for a quote), or
// hex bytes as 00:04:f2, 00-04-f2, 0004f2 or 0x0004f2. With separators a
// byte may be one digit (ISC's 1:0:4:f2).
func ParseMember(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty: want hex (00:04:f2) or 'quoted text'")
	}
	if s[0] == '\'' {
		// As in the language's strings, \' is a quote and any other
		// backslash is itself; the last quote always closes ('C:\' is C:\).
		var b []byte
		for i := 1; i < len(s); i++ {
			switch {
			case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\'' && i+2 < len(s):
				b = append(b, '\'')
				i++
			case s[i] == '\'':
				if i != len(s)-1 {
					return nil, errors.New("text after the closing quote of " + s + ` (a quote inside is written \')`)
				}
				if len(b) == 0 {
					return nil, errors.New("empty 'quoted text'")
				}
				return b, nil
			default:
				b = append(b, s[i])
			}
		}
		return nil, errors.New("unterminated 'quoted text': " + s)
	}
	h := s
	if strings.HasPrefix(h, "0x") || strings.HasPrefix(h, "0X") {
		h = h[2:]
	}
	if strings.ContainsAny(h, ":-") {
		var b []byte
		sep := ":"
		if strings.Contains(h, "-") {
			sep = "-"
		}
		for _, g := range strings.Split(h, sep) {
			if len(g) == 0 || len(g) > 2 || !allHex(g) {
				return nil, errors.New("bad hex byte " + quote(g) + " in " + quote(s) + ": want hex (00:04:f2) or 'quoted text'")
			}
			b = append(b, decodeHex(g)...)
		}
		return b, nil
	}
	if len(h)%2 != 0 || !allHex(h) || h == "" {
		return nil, errors.New(quote(s) + " is neither hex (00:04:f2, 0004f2) nor 'quoted text'")
	}
	return decodeHex(h), nil
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func quote(s string) string { return "'" + s + "'" }
