package isc

import (
	"fmt"
	"strings"
)

// parseHex reads colon-separated hex bytes ("0:1:2a" as dhcpd writes them).
// It takes the token's bytes or a string: a lease file has one or two per
// block, and converting them to strings first cost an allocation each.
func parseHex[T ~string | ~[]byte](s T) ([]byte, error) {
	out := make([]byte, 0, (len(s)+1)/3)
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && s[end] != ':' {
			end++
		}
		p := s[start:end]
		if len(p) == 0 || len(p) > 2 {
			return nil, fmt.Errorf("bad hex byte %q", p)
		}
		v := 0
		for i := 0; i < len(p); i++ {
			h := hexVal(p[i])
			if h < 0 {
				return nil, fmt.Errorf("bad hex byte %q", p)
			}
			v = v*16 + h
		}
		out = append(out, byte(v))
		start = end + 1
	}
	return out, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hexColon(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}
