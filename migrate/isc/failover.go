package isc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
	dhcpscope "github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// failover handles `failover peer "NAME" { ... }` (dhcpd.conf(5) "DHCP
// FAILOVER"), hadhcpd's failover: section. ISC times are seconds.
func (c *conv) failover(s *Stmt, sc *scope) error {
	if s.word(1) != "peer" || len(s.Words) != 3 || s.Words[2].kind != tString || !s.HasBlock {
		return migrate.Errorf(s.Pos, "want `failover peer \"NAME\" { ... }`")
	}
	if sc.kind != "global" {
		return migrate.Errorf(s.Pos, "a failover peer declaration inside %s", sc.kind)
	}
	if c.fo != nil {
		c.rep.Unsupported(s.Pos, s.String(), fmt.Sprintf("a second failover peer (the first is %q at %s): hadhcpd has one partner", c.foName, c.foPos))
		return nil
	}
	c.fo, c.foName, c.foPos = &config.FailoverConfig{}, s.word(2), s.Pos
	c.rep.Map(s.Pos, s.String(), "failover")
	c.block(s.Block, &scope{kind: "failover", parent: sc})
	return nil
}

func (c *conv) failoverStmt(s *Stmt) error {
	text := strings.Join(wordsText(s.Words), " ")
	num := func(i int, max uint64) (uint64, error) {
		n, err := strconv.ParseUint(s.word(i), 10, 32)
		if err != nil || n > max || len(s.Words) != i+1 {
			return 0, migrate.Errorf(s.Pos, "%s: %q is not a number in 0..%d", s.word(0), s.word(i), max)
		}
		return n, nil
	}
	f := c.fo
	switch {
	case text == "primary" || text == "secondary":
		f.Role = text
		c.rep.Map(s.Pos, s.String(), "failover.role")
	case s.word(0) == "address" || (s.word(0) == "peer" && s.word(1) == "address"):
		i := 1
		if s.word(0) == "peer" {
			i = 2
		}
		a, err := netip.ParseAddr(s.word(i))
		if err != nil || !a.Is4() || len(s.Words) != i+1 {
			return migrate.Errorf(s.Pos, "%s: %q is not an IPv4 address (hadhcpd does no DNS lookups)", text, s.word(i))
		}
		if i == 1 {
			c.foAddr = a
			c.rep.Map(s.Pos, s.String(), "failover.listen")
		} else {
			c.foPeer = a
			c.rep.Map(s.Pos, s.String(), "failover.peer")
		}
	case s.word(0) == "port" || (s.word(0) == "peer" && s.word(1) == "port"):
		i := 1
		if s.word(0) == "peer" {
			i = 2
		}
		n, err := num(i, 65535)
		if err != nil {
			return err
		}
		if i == 1 {
			c.foPort = int(n)
			c.rep.Map(s.Pos, s.String(), "failover.listen")
		} else {
			c.foPeerPort = int(n)
			c.rep.Map(s.Pos, s.String(), "failover.peer")
		}
	case s.word(0) == "max-response-delay":
		n, err := num(1, 1<<31)
		if err != nil {
			return err
		}
		f.MaxResponseDelay = migrate.Seconds(int64(n))
		c.foAt(foMRD, s)
		c.rep.Map(s.Pos, s.String(), "failover.max_response_delay")
	case s.word(0) == "max-unacked-updates":
		n, err := num(1, 1<<31)
		if err != nil {
			return err
		}
		f.MaxUnackedUpdates = int(n)
		c.rep.Map(s.Pos, s.String(), "failover.max_unacked_updates")
	case s.word(0) == "mclt":
		n, err := num(1, 1<<31)
		if err != nil {
			return err
		}
		f.MCLT = migrate.Seconds(int64(n))
		c.foAt(foMCLT, s)
		c.rep.Map(s.Pos, s.String(), "failover.mclt")
	case s.word(0) == "split":
		n, err := num(1, 256)
		if err != nil {
			return err
		}
		c.foSplit = migrate.Ptr(int(n))
		c.foAt(foSplitAt, s)
		c.rep.Map(s.Pos, s.String(), "failover.mode, failover.split")
	case s.word(0) == "hba":
		// A 32-byte bitmap of hash buckets the primary serves
		// (draft-ietf-dhc-failover-12 §5.3); all ones is split 256.
		b, err := dhcpscope.ParseHex(s.word(1))
		if err != nil || len(b) != 32 {
			return migrate.Errorf(s.Pos, "hba: want 32 colon-separated hex bytes")
		}
		ones := 0
		for _, x := range b {
			for ; x != 0; x &= x - 1 {
				ones++
			}
		}
		if ones == 256 || ones == 0 {
			c.foSplit = migrate.Ptr(ones)
			c.foAt(foSplitAt, s)
			c.rep.Map(s.Pos, s.String(), "failover.mode, failover.split")
		} else {
			c.rep.Unsupported(s.Pos, s.String(), "an hba bitmap other than all or none: hadhcpd splits by a number of buckets (split), not by a bitmap")
		}
	case strings.HasPrefix(text, "load balance max seconds"):
		n, err := num(4, 1<<16)
		if err != nil {
			return err
		}
		f.LoadBalanceMaxSeconds = int(n)
		c.foAt(foLBMS, s)
		c.rep.Map(s.Pos, s.String(), "failover.load_balance_max_seconds")
	case s.word(0) == "auto-partner-down":
		n, err := num(1, 1<<31)
		if err != nil {
			return err
		}
		f.AutoPartnerDown = migrate.Ptr(migrate.Seconds(int64(n)))
		c.rep.Map(s.Pos, s.String(), "failover.auto_partner_down")
	case s.word(0) == "max-lease-misbalance", s.word(0) == "max-lease-ownership", s.word(0) == "min-balance", s.word(0) == "max-balance":
		c.rep.Drop(s.Pos, s.String(), "hadhcpd balances free addresses by failover.standby_share")
	case s.word(0) == "max-transmit-idle", s.word(0) == "max-receive-idle":
		c.rep.Drop(s.Pos, s.String(), "hadhcpd derives its heartbeat from failover.max_response_delay")
	default:
		return migrate.Errorf(s.Pos, "unknown statement %q in failover peer %q", text, c.foName)
	}
	return nil
}

func (c *conv) finishFailover() error {
	f := c.fo
	if f.Role == "" {
		return migrate.Errorf(c.foPos, "failover peer %q: neither primary nor secondary", c.foName)
	}
	if !c.foAddr.IsValid() || !c.foPeer.IsValid() {
		return migrate.Errorf(c.foPos, "failover peer %q: needs address and peer address", c.foName)
	}
	port := func(p int, key string) int {
		if p == 0 {
			c.rep.Invent(key, strconv.Itoa(iscFailoverPort), "no port given; ISC's failover port")
			return iscFailoverPort
		}
		return p
	}
	f.Listen = netip.AddrPortFrom(c.foAddr, uint16(port(c.foPort, "failover.listen port"))).String()
	f.Peer = netip.AddrPortFrom(c.foPeer, uint16(port(c.foPeerPort, "failover.peer port"))).String()
	if c.partner != nil {
		c.takePartner()
	}
	// The pair's handshake refuses the link while mode or mclt differ
	// (two MCLTs would make one box's safety arithmetic wrong about the
	// other, invariant 1), and ISC keeps both on the primary alone.
	refused := ""
	if f.Role == "secondary" {
		refused = "; hadhcpd refuses the failover link until failover.mode and failover.mclt match the primary's, so the pair never reaches NORMAL: import with --partner-conf naming the primary's dhcpd.conf, or set both as on the primary"
	}
	switch {
	case c.foSplit == nil:
		// dhcpd.conf(5): split and mclt are only set on the primary.
		c.rep.Invent("failover.mode", "(hadhcpd default)", "no split/hba (ISC sets them on the primary only): set failover.mode and split as on the primary"+refused)
	case *c.foSplit >= 255 || *c.foSplit == 0:
		// split 255/256 (or 0: everything to the secondary) is not load
		// sharing; hadhcpd's hot-standby is the equivalent.
		f.Mode = "hot-standby"
	default:
		f.Mode = "load-balance"
		f.Split = c.foSplit
	}
	if f.MCLT == 0 {
		c.rep.Invent("failover.mclt", "(hadhcpd default)", "no mclt (ISC sets it on the primary only): set it as on the primary"+refused)
	}
	if f.Auth.PSKFile == "" && f.Auth.TLS == nil {
		f.Auth.PSKFile = "/etc/hadhcpd/peer.key"
		c.rep.Invent("failover.auth.psk_file", f.Auth.PSKFile, "ISC's failover link is not authenticated, hadhcpd's always is: put the same 32+ random bytes (mode 0600) in this file on both boxes")
	}
	c.cfg.Failover = f
	return nil
}
