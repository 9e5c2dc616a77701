package config

import (
	"strings"
	"testing"
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
		case tc.listen != "" && (b.API == nil || b.API.Listen != tc.listen || b.API.Loopback != tc.loopback):
			t.Errorf("%s: %+v, want listen %s loopback %v", tc.name, b.API, tc.listen, tc.loopback)
		}
	}
}
