package config

import (
	"net"
	"net/netip"
	"strconv"
)

// APISpec is node.api_listen and node.api_token_file, checked.
type APISpec struct {
	// Listen is host:port with the host filled in: 127.0.0.1 when the
	// key named only a port.
	Listen string
	// TokenFile holds the bearer token ("" = none: loopback only). The
	// agent reads it at start and refuses a file others may read.
	TokenFile string
	// Loopback: the listener is reachable only from this box.
	Loopback bool
}

// apiSpec checks the API keys; nil when the API is off.
func (c *Config) apiSpec(v *validator) *APISpec {
	n := c.Node
	if n.APIListen == "" {
		if n.APITokenFile != "" {
			v.add("node.api_token_file", "set without node.api_listen (the API is off)")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(n.APIListen)
	if err != nil {
		v.add("node.api_listen", "%q is not host:port (%v)", n.APIListen, err)
		return nil
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		v.add("node.api_listen", "port %q is not 1..65535", port)
		return nil
	}
	s := &APISpec{TokenFile: n.APITokenFile}
	switch host {
	case "":
		host, s.Loopback = "127.0.0.1", true
	case "localhost":
		s.Loopback = true
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			// A name could resolve to anything; whether the token is
			// needed must not depend on DNS.
			v.add("node.api_listen", "host %q is not an IP address or localhost", host)
			return nil
		}
		s.Loopback = a.IsLoopback()
	}
	if !s.Loopback && s.TokenFile == "" {
		v.add("node.api_token_file", "required when node.api_listen (%s) is not a loopback address: anything beyond this box must authenticate", n.APIListen)
		return nil
	}
	s.Listen = net.JoinHostPort(host, port)
	return s
}
