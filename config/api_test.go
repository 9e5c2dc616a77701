package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/control"
)

func TestAPIKeys(t *testing.T) {
	withNode := func(extra string) string {
		return strings.Replace(goodDHCP, "node: {name: gw1, state_dir: /var/lib/hadhcpd}",
			"node: {name: gw1, state_dir: /var/lib/hadhcpd"+extra+"}", 1)
	}
	for _, tc := range []struct {
		name, node     string
		listen         string // "" = API off
		loopback, fail bool
		key            string
		clientCerts    bool
	}{
		{name: "off", node: ""},
		{name: "port only", node: `, api_listen: ":9768"`, listen: "127.0.0.1:9768", loopback: true},
		{name: "localhost", node: `, api_listen: "localhost:9768"`, listen: "localhost:9768", loopback: true},
		{name: "v6 loopback", node: `, api_listen: "[::1]:9768"`, listen: "[::1]:9768", loopback: true},
		{name: "remote with token", node: `, api_listen: "192.0.2.2:9768", api_token_file: /etc/hadhcpd/api.token`, listen: "192.0.2.2:9768"},
		{name: "remote without token", node: `, api_listen: "192.0.2.2:9768"`, fail: true, key: "node.api_token_file"},
		{name: "all addresses without token", node: `, api_listen: "0.0.0.0:9768"`, fail: true, key: "node.api_token_file"},
		{name: "host name", node: `, api_listen: "gw1.example:9768", api_token_file: /t`, fail: true, key: "node.api_listen"},
		{name: "no port", node: `, api_listen: "127.0.0.1"`, fail: true, key: "node.api_listen"},
		{name: "bad port", node: `, api_listen: ":99999"`, fail: true, key: "node.api_listen"},
		{name: "token without listen", node: `, api_token_file: /t`, fail: true, key: "node.api_token_file"},
		{name: "tls on loopback", node: `, api_listen: ":9768", api_tls: {cert: /c, key: /k}`, listen: "127.0.0.1:9768", loopback: true},
		{name: "remote with client certificates", node: `, api_listen: "192.0.2.2:9768", api_tls: {cert: /c, key: /k, client_ca: /ca}`, listen: "192.0.2.2:9768", clientCerts: true},
		{name: "remote with client certificates and token", node: `, api_listen: "192.0.2.2:9768", api_token_file: /t, api_tls: {cert: /c, key: /k, client_ca: /ca}`, listen: "192.0.2.2:9768", clientCerts: true},
		{name: "remote with tls, no client_ca, no token", node: `, api_listen: "192.0.2.2:9768", api_tls: {cert: /c, key: /k}`, fail: true, key: "node.api_token_file"},
		{name: "tls without cert", node: `, api_listen: ":9768", api_tls: {key: /k}`, fail: true, key: "node.api_tls.cert"},
		{name: "tls without key", node: `, api_listen: ":9768", api_tls: {cert: /c, client_ca: /ca}`, fail: true, key: "node.api_tls.key"},
		{name: "tls unknown key", node: `, api_listen: ":9768", api_tls: {cert: /c, key: /k, ca: /ca}`, fail: true, key: "node.api_tls.ca"},
		{name: "tls without listen", node: `, api_tls: {cert: /c, key: /k}`, fail: true, key: "node.api_tls"},
	} {
		cfg, err := Load(writeConfig(t, withNode(tc.node)))
		if tc.fail {
			if err == nil || !strings.Contains(err.Error(), tc.key+":") {
				t.Errorf("%s: err %v, want one naming %s", tc.name, err, tc.key)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		b, err := Build(cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch {
		case tc.listen == "" && b.API != nil:
			t.Errorf("%s: API on: %+v", tc.name, b.API)
		case tc.listen != "" && (b.API == nil || b.API.Listen != tc.listen || b.API.Loopback != tc.loopback || b.API.ClientCerts() != tc.clientCerts):
			t.Errorf("%s: %+v, want listen %s loopback %v client certificates %v", tc.name, b.API, tc.listen, tc.loopback, tc.clientCerts)
		}
	}
}

// TestCheckAPITLSFiles: check-config reads node.api_tls's files by the
// rule the agent applies when it starts the API (control.LoadTLS): the
// pair, the key readable by its owner only, the client CA. Each problem
// names its key, and the two rules agree on every case.
func TestCheckAPITLSFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, keyPEM := selfSigned(t)
	_, otherKey := selfSigned(t)
	cert, key, ca := write("api.pem", certPEM, 0o644), write("api.key", keyPEM, 0o600), write("ca.pem", certPEM, 0o644)
	absent := filepath.Join(dir, "absent.pem")
	garbage := write("garbage.pem", []byte("not PEM\n"), 0o600)
	for _, tc := range []struct {
		name        string
		files       APITLSConfig
		key, reason string // key "": accepted
	}{
		{"good", APITLSConfig{Cert: cert, Key: key, ClientCA: ca}, "", ""},
		{"good, read-only key", APITLSConfig{Cert: cert, Key: write("ro.key", keyPEM, 0o400)}, "", ""},
		{"no client CA", APITLSConfig{Cert: cert, Key: key}, "", ""},
		{"cert missing", APITLSConfig{Cert: absent, Key: key}, "node.api_tls.cert", "no such file"},
		{"cert not PEM", APITLSConfig{Cert: garbage, Key: key}, "node.api_tls.cert", "PEM"},
		{"key missing", APITLSConfig{Cert: cert, Key: absent}, "node.api_tls.key", "no such file"},
		{"key world-readable", APITLSConfig{Cert: cert, Key: write("644.key", keyPEM, 0o644)}, "node.api_tls.key", "mode 0644"},
		{"key group-readable", APITLSConfig{Cert: cert, Key: write("640.key", keyPEM, 0o640)}, "node.api_tls.key", "mode 0640"},
		{"key a directory", APITLSConfig{Cert: cert, Key: dir}, "node.api_tls.key", ""},
		{"key of another certificate", APITLSConfig{Cert: cert, Key: write("other.key", otherKey, 0o600)}, "node.api_tls.key", "does not match"},
		{"client CA missing", APITLSConfig{Cert: cert, Key: key, ClientCA: absent}, "node.api_tls.client_ca", "no such file"},
		{"client CA without a certificate", APITLSConfig{Cert: cert, Key: key, ClientCA: garbage}, "node.api_tls.client_ca", "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files
			c := &Config{Node: NodeConfig{APIListen: ":9768", APITLS: &files}}
			err := c.CheckFiles()
			wantKeyErr(t, err, tc.key, tc.reason)
			_, lerr := control.LoadTLS(control.TLSFiles{Cert: files.Cert, Key: files.Key, ClientCA: files.ClientCA})
			if (lerr == nil) != (err == nil) {
				t.Errorf("the rules disagree: check-config %v, control.LoadTLS %v", err, lerr)
			}
		})
	}
	// Without node.api_listen the API is off (Load refuses api_tls then);
	// nothing is read.
	c := &Config{Node: NodeConfig{APITLS: &APITLSConfig{Cert: absent, Key: absent}}}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("API off: %v", err)
	}
}
