package config

import (
	"net"
	"net/netip"
	"strconv"
)

// APITLSConfig is node.api_tls: HTTPS on the API listener, and with
// ClientCA, client certificates.
type APITLSConfig struct {
	Cert string `mapstructure:"cert"` // the listener's certificate (chain), PEM
	Key  string `mapstructure:"key"`  // its private key, PEM, mode 0600
	// ClientCA: every client must present a certificate this CA signed;
	// its subject CN names the caller. "" = no client certificates.
	ClientCA string `mapstructure:"client_ca"`
}

// APISpec is node.api_listen, node.api_token_file and node.api_tls,
// checked.
type APISpec struct {
	// Listen is host:port with the host filled in: 127.0.0.1 when the
	// key named only a port.
	Listen string
	// TokenFile holds the bearer token ("" = none). The agent reads it
	// at start and refuses a file others may read.
	TokenFile string
	// TLS: the listener speaks HTTPS; nil = plain HTTP. The agent reads
	// the files at start (check-config: Config.CheckFiles).
	TLS *APITLSConfig
	// Loopback: the listener is reachable only from this box.
	Loopback bool
}

// ClientCerts reports whether callers authenticate with certificates.
func (s *APISpec) ClientCerts() bool { return s.TLS != nil && s.TLS.ClientCA != "" }

// apiSpec checks the API keys; nil when the API is off.
func (c *Config) apiSpec(v *validator) *APISpec {
	n := c.Node
	if n.APIListen == "" {
		if n.APITokenFile != "" {
			v.add("node.api_token_file", "set without node.api_listen (the API is off)")
		}
		if n.APITLS != nil {
			v.add("node.api_tls", "set without node.api_listen (the API is off)")
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
	if t := n.APITLS; t != nil {
		bad := false
		for _, x := range []struct{ key, val string }{{"cert", t.Cert}, {"key", t.Key}} {
			if x.val == "" {
				v.add("node.api_tls."+x.key, "must be set")
				bad = true
			}
		}
		if bad {
			return nil
		}
		tc := *t
		s.TLS = &tc
	}
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
	if !s.Loopback && s.TokenFile == "" && !s.ClientCerts() {
		v.add("node.api_token_file", "required (or node.api_tls.client_ca) when node.api_listen (%s) is not a loopback address: anything beyond this box must authenticate", n.APIListen)
		return nil
	}
	s.Listen = net.JoinHostPort(host, port)
	return s
}
