package pair

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/config/configtest"
)

// fakeSection is the agent's DHCP part as config sync uses it (Section):
// Apply validates the section against the node's config as the agent's
// does (config.Config.WithSection, before it touches the engine) and puts
// it in force; there is no engine.
type fakeSection struct{ hash string }

func (s *fakeSection) ConfigHash() string { return s.hash }

func (s *fakeSection) Apply(base *config.Config, sec *config.DHCPConfig, _ string) ([]string, error) {
	built, err := base.WithSection(sec)
	if err != nil {
		return nil, err
	}
	b, err := config.SectionBytes(built.File.DHCP)
	if err != nil {
		return nil, err
	}
	s.hash = fmt.Sprintf("%x", config.SectionHash(b))
	return nil, nil
}

// TestOnConfigRejects: a section the secondary cannot use is refused with
// a reason naming the problem, and nothing is kept in the state directory
// (the section in force stays).
func TestOnConfigRejects(t *testing.T) {
	base := configtest.DHCPNode(t, "eth0", "192.0.2.100-192.0.2.200")
	p := &Pair{base: base, sec: &fakeSection{}}
	good, err := config.SectionBytes(configtest.DHCPNode(t, "x", "192.0.2.150-192.0.2.200").DHCP)
	if err != nil {
		t.Fatal(err)
	}
	outside, _ := config.SectionBytes(configtest.DHCPNode(t, "x", "192.0.2.100-192.0.2.200").DHCP)
	outside = []byte(strings.Replace(string(outside), "192.0.2.100-192.0.2.200", "203.0.113.1-203.0.113.9", 1))
	unknown := []byte(strings.Replace(string(good), `{`, `{"Leases":1,`, 1))
	for _, c := range []struct {
		name       string
		hash, data []byte
		want       string
	}{
		{"hash mismatch", config.SectionHash(good[1:]), good, "does not match"},
		{"not JSON", config.SectionHash([]byte("{")), []byte("{"), "dhcp section"},
		{"unknown key", config.SectionHash(unknown), unknown, "Leases"},
		{"pool outside its subnet", config.SectionHash(outside), outside, "dhcp.subnets[0].pools[0]"},
	} {
		err := p.onConfig(c.hash, c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: onConfig = %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(base.Node.StateDir, config.SyncedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected section was kept: %v", err)
	}
	if h := p.sec.ConfigHash(); h != "" {
		t.Errorf("a rejected section changed the hash in force to %s", h)
	}
}
