package netcfg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table hadhcpd owns (family inet) when
// firewall.manage is true. Nothing else in the ruleset is touched.
const TableName = "hadhcpd"

// FirewallRules is what the table accepts on input.
type FirewallRules struct {
	VRRP     bool   // IP protocol 112 (RFC 5798 §5.1.1.4)
	DHCP     bool   // UDP 67 and 68
	PeerPort uint16 // the failover peer's TCP port; 0: none
}

// Firewall owns hadhcpd's nftables table.
type Firewall struct {
	opts []nftables.ConnOption
}

// NewFirewall works in the caller's namespace; opts (nftables.WithNetNSFd,
// nftables.WithTestDial) point it elsewhere in tests.
func NewFirewall(opts ...nftables.ConnOption) *Firewall {
	return &Firewall{opts: opts}
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

// Apply replaces the table with one built from r, in a single netlink
// batch: `add table; delete table; add table; add chain; add rule...`, so
// the kernel never runs a half-built table and an old one is never merged.
//
//	table inet hadhcpd {
//	  chain input {
//	    type filter hook input priority filter; policy accept;
//	    meta l4proto 112 accept
//	    udp dport 67 accept
//	    udp dport 68 accept
//	    tcp dport PEER accept
//	  }
//	}
func (f *Firewall) Apply(r FirewallRules) error {
	c, err := nftables.New(f.opts...)
	if err != nil {
		return fmt.Errorf("netcfg: nftables: %w", err)
	}
	t := table()
	c.AddTable(t) // so the delete below cannot fail on a first run
	c.DelTable(t)
	c.AddTable(t)
	policy := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &policy,
	})
	add := func(e ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(e, &expr.Verdict{Kind: expr.VerdictAccept})})
	}
	if r.VRRP {
		add(l4proto(112)...)
	}
	if r.DHCP {
		add(dport(unix.IPPROTO_UDP, 67)...)
		add(dport(unix.IPPROTO_UDP, 68)...)
	}
	if r.PeerPort != 0 {
		add(dport(unix.IPPROTO_TCP, r.PeerPort)...)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netcfg: replace nftables table inet %s: %w", TableName, err)
	}
	return nil
}

// Remove deletes the table; a missing table is not an error.
func (f *Firewall) Remove() error {
	c, err := nftables.New(f.opts...)
	if err != nil {
		return fmt.Errorf("netcfg: nftables: %w", err)
	}
	c.DelTable(table())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netcfg: delete nftables table inet %s: %w", TableName, err)
	}
	return nil
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func dport(proto byte, port uint16) []expr.Any {
	b := binary.BigEndian.AppendUint16(nil, port)
	return append(l4proto(proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	)
}
