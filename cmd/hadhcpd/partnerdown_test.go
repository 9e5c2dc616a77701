package main

import (
	"strings"
	"testing"

	"github.com/hadhcpd/hadhcpd/config"
)

// partner-down confirms against the partner of the relationship named; on
// a box in several, no name (or an unknown one) is refused with the names.
func TestPartnerDownRelationshipChoice(t *testing.T) {
	multi := &config.FailoverConfig{Peer: "198.51.100.9:647", Relationships: []config.RelationshipConfig{
		{Name: "seg1", Peer: "198.51.100.2:647"},
		{Name: "seg3"}, // the section's peer
	}}
	for _, tc := range []struct {
		f          *config.FailoverConfig
		rel, want  string
		errPattern string
	}{
		{f: &config.FailoverConfig{Peer: "198.51.100.2:647"}, want: "198.51.100.2"},
		{f: &config.FailoverConfig{Peer: "198.51.100.2:647"}, rel: "seg1", errPattern: "single failover: section"},
		{f: multi, rel: "seg1", want: "198.51.100.2"},
		{f: multi, rel: "seg3", want: "198.51.100.9"},
		{f: multi, errPattern: "--relationship, one of: seg1 (partner 198.51.100.2), seg3 (partner 198.51.100.9)"},
		{f: multi, rel: "seg2", errPattern: "--relationship seg2: no such failover relationship in the config; one of: seg1"},
	} {
		peer, err := partnerOf(tc.f, tc.rel)
		if tc.errPattern != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPattern) {
				t.Errorf("%q: %v, want an error with %q", tc.rel, err, tc.errPattern)
			}
			continue
		}
		if err != nil || partnerName(peer) != tc.want {
			t.Errorf("%q: %q, %v, want %s", tc.rel, peer, err, tc.want)
		}
	}
}
