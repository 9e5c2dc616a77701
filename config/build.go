package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/sync/failover"
)

// Built is a validated Config in the parts' typed form (Build). The agent
// wires the parts from it and reads nothing from the file's strings again.
type Built struct {
	File     *Config
	DHCP     *scope.Config // nil: no dhcp section
	VRRP     []VRRPSpec    // in the file's order
	Scripts  []ScriptSpec  // vrrp.scripts, in the file's order
	Failover *FailoverSpec // the single failover: form; nil: a single server or relationships
	// Relationships are the failover.relationships form, in the file's
	// order (nil in the single form: Failover is its one relationship).
	Relationships []*FailoverSpec
	API           *APISpec // nil: no HTTP API
	// Warnings: keys served differently from what they say (a pool's
	// network address skipped, ...); check-config prints them.
	Warnings []*ConfigError
}

// VRRPSpec is one vrrp instance, typed, with defaults applied. The agent
// copies it into vrrp.Config (this package stays free of the protocol
// packages, so the importers can use it without them).
type VRRPSpec struct {
	Name           string
	Interface      string
	VRID           uint8
	Priority       uint8 // 255 = address owner
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	VIPs           []netip.Prefix
	UnicastPeers   []netip.Addr // empty: multicast 224.0.0.18
	GARP           GARPSpec
	Track          []TrackSpec // interfaces, the instance's own first (weight 0)
	TrackScripts   []TrackSpec // vrrp.scripts entries, with the weight that applies
	Notify         NotifySpec
}

// GARPSpec is when gratuitous ARP is sent after becoming master.
type GARPSpec struct {
	Repeat   int
	Interval time.Duration
	Refresh  time.Duration // 0: no periodic refresh
}

// FailoverSpec is the failover: section, typed, with defaults applied.
type FailoverSpec struct {
	Machine          failover.Config
	VRRPInstance     string
	Listen, Peer     netip.AddrPort
	MaxResponseDelay time.Duration
	MaxUnacked       int
	Auth             AuthConfig // files, read by the agent when it starts the link
	// SilenceAfter is how long without the partner's VRRP adverts counts
	// as silence on that path: three of the instance's advert intervals
	// (RFC 5798 §6.1, Master_Down_Interval without the skew).
	SilenceAfter time.Duration
	// Notify is failover.notify (or the relationship's), with its timeout.
	Notify FailoverNotifySpec

	// The relationships form only (empty in the single form):
	// Name is failover.relationships[].name; Subnets the prefixes it
	// covers (every dhcp subnet inside one belongs to it); SectionHash
	// the hash of what both boxes must serve alike for it (the dhcp
	// section's global keys and its subnets), announced in the handshake
	// in place of the whole section's, since the section is not synced.
	Name        string
	Subnets     []netip.Prefix
	SectionHash []byte
}

// Covers reports whether addr belongs to the relationship (an address
// of a subnet it covers). The single form covers every address.
func (f *FailoverSpec) Covers(addr netip.Addr) bool {
	if f.Name == "" {
		return true
	}
	for _, p := range f.Subnets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Spec returns the typed instance named name.
func (b *Built) Spec(name string) (VRRPSpec, bool) {
	for _, s := range b.VRRP {
		if s.Name == name {
			return s, true
		}
	}
	return VRRPSpec{}, false
}

// SectionBytes is the wire and file form of a dhcp: section (config sync:
// the primary sends it, the secondary stores it): JSON without the node-local interfaces. encoding/json sorts
// map keys, so equal sections give equal bytes on both boxes.
func SectionBytes(d *DHCPConfig) ([]byte, error) {
	c := *d
	c.Interfaces = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("dhcp: encode the section: %w", err)
	}
	return b, nil
}

// SectionHash is the config hash of a section's bytes, as reported in the
// handshake, the Config frame, the log and `status`.
func SectionHash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// ParseSection decodes a section received from the primary or kept in the
// state directory: unknown keys are errors, as in the file.
func ParseSection(b []byte) (*DHCPConfig, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d DHCPConfig
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("dhcp section: %w", err)
	}
	if dec.More() {
		return nil, errors.New("dhcp section: trailing data")
	}
	return &d, nil
}

// WithSection returns a copy of c whose dhcp: section is sec with c's own
// interfaces, built; the error names every bad key (the whole config is
// built, so a synced section is checked exactly as the file would be).
func (c *Config) WithSection(sec *DHCPConfig) (*Built, error) {
	if c.DHCP == nil {
		return nil, errors.New("this node has no dhcp: section (no DHCP service to configure)")
	}
	s := *sec
	s.Interfaces = c.DHCP.Interfaces
	n := *c
	n.DHCP = &s
	return Build(&n)
}

// SectionChanges names the keys of the dhcp: section that differ (for the
// reload log line).
func SectionChanges(old, cur *DHCPConfig) []string {
	if old == nil || cur == nil {
		return []string{"dhcp"}
	}
	var out []string
	a, b := reflect.ValueOf(*old), reflect.ValueOf(*cur)
	t := a.Type()
	for i := range t.NumField() {
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, "dhcp."+t.Field(i).Tag.Get("mapstructure"))
		}
	}
	return out
}

// SyncedFile is where a secondary keeps the last section it accepted from
// the primary (JSON, a YAML subset), so a restart serves it before the
// link is up.
const SyncedFile = "synced-dhcp.json"

// WriteSynced keeps b in the state directory, atomically (temp file,
// fsync, rename, fsync of the directory): a crash leaves the old or the
// new section, never a torn one.
func WriteSynced(dir string, b []byte) error { return WriteSyncedAs(dir, SyncedFile, b) }

// RelationshipSyncedFile is where a box keeps the part of relationship
// name that its primary last sent (a box in several relationships).
func RelationshipSyncedFile(name string) string { return "synced-" + name + ".json" }

// WriteSyncedAs is WriteSynced to the file name in dir.
func WriteSyncedAs(dir, name string, b []byte) error {
	f, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		return err
	}
	return nil
}
