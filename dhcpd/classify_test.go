package dhcpd

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	voipPool = lease.Pool{Name: "192.0.2.100-192.0.2.104", First: ip("192.0.2.100"), Last: ip("192.0.2.104")}
	restPool = lease.Pool{Name: "192.0.2.105-192.0.2.110", First: ip("192.0.2.105"), Last: ip("192.0.2.110")}
	sidMod   = dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(srvAddr.AsSlice())))
)

func prlOf(codes ...uint8) dhcpv4.Option {
	var l dhcpv4.OptionCodeList
	for _, c := range codes {
		l = append(l, dhcpv4.GenericOptionCode(c))
	}
	return dhcpv4.OptParameterRequestList(l...)
}

func setOf(idx ...int) class.Set {
	var s class.Set
	for _, i := range idx {
		s.Add(i)
	}
	return s
}

func inPool(a netip.Addr, p lease.Pool) bool {
	return p.First.Compare(a) <= 0 && a.Compare(p.Last) <= 0
}

// voipConfig splits the LAN pool in two: the first allows only class
// voip, the second denies it; macA is in voip through a reservation
// without an address (its client_classes).
func voipConfig(withReservation bool) func(*scope.Config) {
	return func(c *scope.Config) {
		c.Classes = []*scope.Class{{Name: "voip", Index: class.First}}
		s := c.Subnets[0]
		s.Pools = []lease.Pool{voipPool, restPool}
		s.PoolRules = []scope.PoolRule{
			{Allow: setOf(class.First), HasAllow: true},
			{Deny: setOf(class.First), HasDeny: true},
		}
		if withReservation {
			s.Reservations = append(s.Reservations, scope.Reservation{HWAddr: macA, Classes: setOf(class.First)})
		}
	}
}

// TestPoolAllowDeny: a pool's allow and deny lists choose which clients
// it serves, by class (here from a reservation's client_classes).
func TestPoolAllowDeny(t *testing.T) {
	r := newRig(t, voipConfig(true))
	if a := addr4(r.dora(t, macA).YourIPAddr); !inPool(a, voipPool) {
		t.Fatalf("voip client got %s, want one of %s", a, voipPool.Name)
	}
	for i := range 6 {
		hw := net.HardwareAddr{2, 9, 0, 0, 0, byte(i)}
		if a := addr4(r.dora(t, hw).YourIPAddr); !inPool(a, restPool) {
			t.Fatalf("client %d got %s, want one of %s", i, a, restPool.Name)
		}
	}
	// The rest pool is full; the voip pool has room but denies them.
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("a seventh client: %v, want %v (the voip pool does not admit it)", err, ErrNoAddress)
	}
	// Nor may it take a voip address by asking for it.
	_, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 101}))))
	if !errors.Is(err, ErrNoAddress) {
		t.Fatalf("DISCOVER asking for a voip address: %v, want %v", err, ErrNoAddress)
	}
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macB, sidMod, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 0, 2, 101}))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("REQUEST for a voip address: %v %v, want a NAK", rep.Resp, err)
	}
}

// TestClientLeavesPool: a client no longer allowed in its pool (the
// reservation that put it in the class is gone) does not keep its
// address: its next DISCOVER gets one from a pool it may use, and a
// renewal of the old one is NAKed.
func TestClientLeavesPool(t *testing.T) {
	r := newRig(t, voipConfig(true))
	old := r.dora(t, macA).YourIPAddr
	cfg := &scope.Config{Authoritative: true, OfferHold: 10 * time.Second, DeclineProbation: time.Hour,
		Subnets: []*scope.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Options: optsLAN.Merge(nil), Times: defTimes}}}
	voipConfig(false)(cfg)
	if err := r.e.Reconfigure(cfg, setPools(func([]lease.Pool) error { return nil })); err != nil {
		t.Fatal(err)
	}
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macA))
	if err != nil {
		t.Fatal(err)
	}
	if a := addr4(rep.Resp.YourIPAddr); !inPool(a, restPool) {
		t.Fatalf("after leaving voip: offered %s, want one of %s", a, restPool.Name)
	}
	renew := msg(t, dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(old))
	rep, err = r.e.Handle(renew, Inbound{IfIndex: 2, Iface: "eth0", IfAddrs: lanIn.IfAddrs, Src: netip.AddrPortFrom(addr4(old), 68), Unicast: true})
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("renewal of %s: %v %v, want a NAK", old, rep.Resp, err)
	}
}

// TestReservationInsidePool: the pool never gives a reserved address to
// another client, even when exhausted; the reserved client gets it.
func TestReservationInsidePool(t *testing.T) {
	res := ip("192.0.2.105")
	r := newRig(t, func(c *scope.Config) {
		c.Subnets[0].Reservations = []scope.Reservation{{HWAddr: macRes, Addr: res}}
	})
	for i := range 10 {
		hw := net.HardwareAddr{2, 8, 0, 0, 0, byte(i)}
		if a := addr4(r.dora(t, hw).YourIPAddr); a == res {
			t.Fatalf("client %d got the reserved address %s", i, res)
		}
	}
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("an eleventh client in a pool of 11 with one reserved: %v, want %v", err, ErrNoAddress)
	}
	rep, err := r.handle(t, msg(t, dhcpv4.MessageTypeRequest, macB, sidMod, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(res.AsSlice())))))
	if err != nil || rep.Resp.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("another client's REQUEST for the reserved address: %v %v, want a NAK", rep.Resp, err)
	}
	if a := addr4(r.dora(t, macRes).YourIPAddr); a != res {
		t.Fatalf("reserved client got %s, want %s", a, res)
	}
}

// TestCircuitIDReservation: a reservation by option 82 circuit id
// matches relayed requests only (a client could forge the option).
func TestCircuitIDReservation(t *testing.T) {
	res := ip("192.0.2.60")
	r := newRig(t, func(c *scope.Config) {
		c.Subnets[0].Reservations = append(c.Subnets[0].Reservations, scope.Reservation{CircuitID: []byte("port7"), Addr: res})
	})
	rai := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.AgentCircuitIDSubOption, []byte("port7"))))
	rep, err := r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{192, 0, 2, 254}), rai), relayIn)
	if err != nil {
		t.Fatal(err)
	}
	if a := addr4(rep.Resp.YourIPAddr); a != res {
		t.Fatalf("relayed client on circuit port7 got %s, want %s", a, res)
	}
	rep, err = r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB, rai))
	if err != nil {
		t.Fatal(err)
	}
	if a := addr4(rep.Resp.YourIPAddr); a == res {
		t.Fatalf("a direct client with a forged option 82 got the circuit's reservation %s", a)
	}
	// The remote id (sub-option 2) identifies a reservation the same way.
	resR := ip("192.0.2.61")
	r = newRig(t, func(c *scope.Config) {
		c.Subnets[0].Reservations = append(c.Subnets[0].Reservations, scope.Reservation{RemoteID: []byte("modem9"), Addr: resR})
	})
	raiR := dhcpv4.WithOption(dhcpv4.OptRelayAgentInfo(dhcpv4.OptGeneric(dhcpv4.AgentRemoteIDSubOption, []byte("modem9"))))
	rep, err = r.e.Handle(msg(t, dhcpv4.MessageTypeDiscover, macA, dhcpv4.WithGatewayIP(net.IP{192, 0, 2, 254}), raiR), relayIn)
	if err != nil {
		t.Fatal(err)
	}
	if a := addr4(rep.Resp.YourIPAddr); a != resR {
		t.Fatalf("relayed client with remote id modem9 got %s, want %s", a, resR)
	}
}

// precedenceConfig: options and boot fields at every level, to see which
// one a reply takes.
func precedenceConfig(c *scope.Config) {
	c.Classes = []*scope.Class{
		{Name: "c1", Index: class.First, Options: scope.Options{15: []byte("class1")}, Boot: scope.Boot{File: "class1.efi"}},
		{Name: "c2", Index: class.First + 1, Options: scope.Options{15: []byte("class2"), 42: []byte{192, 0, 2, 42}}, Boot: scope.Boot{File: "class2.efi", ServerName: "c2"}},
	}
	s := c.Subnets[0]
	s.Boot = scope.Boot{NextServer: ip("192.0.2.9"), File: "subnet.0"}
	s.PoolRules = []scope.PoolRule{{Options: scope.Options{15: []byte("pool"), 6: []byte{192, 0, 2, 66}}}}
	s.Reservations = append(s.Reservations, scope.Reservation{HWAddr: macA, Classes: setOf(class.First, class.First+1),
		Options: scope.Options{6: []byte{192, 0, 2, 77}}, Boot: scope.Boot{NextServer: ip("192.0.2.8")}})
}

// TestOptionAndBootPrecedence: reservation > classes in config order >
// pool > subnet, for options and for siaddr, sname and file.
func TestOptionAndBootPrecedence(t *testing.T) {
	r := newRig(t, precedenceConfig)
	prl := dhcpv4.WithOption(prlOf(3, 6, 15, 42))
	for _, tc := range []struct {
		hw                    net.HardwareAddr
		siaddr, sname, file   string
		opt15, opt6, opt42, _ string
	}{
		{macA, "192.0.2.8", "c2", "class1.efi", "class1", "\xc0\x00\x02\x4d", "\xc0\x00\x02\x2a", ""},
		{macB, "192.0.2.9", "", "subnet.0", "pool", "\xc0\x00\x02\x42", "\xc0\x00\x02\x7b", ""},
	} {
		for _, m := range []*dhcpv4.DHCPv4{r.dora(t, tc.hw, prl), r.dora(t, tc.hw)} {
			if m.ServerIPAddr.String() != tc.siaddr || m.ServerHostName != tc.sname || m.BootFileName != tc.file {
				t.Errorf("%s: siaddr %s sname %q file %q, want %s %q %q", tc.hw, m.ServerIPAddr, m.ServerHostName, m.BootFileName, tc.siaddr, tc.sname, tc.file)
			}
			for code, want := range map[uint8]string{15: tc.opt15, 6: tc.opt6, 42: tc.opt42} {
				if got := m.Options.Get(dhcpv4.GenericOptionCode(code)); string(got) != want {
					t.Errorf("%s: option %d = %q, want %q", tc.hw, code, got, want)
				}
			}
			if got := m.Options.Get(dhcpv4.OptionRouter); !bytes.Equal(got, optsLAN[3]) {
				t.Errorf("%s: routers %v, want the subnet's", tc.hw, got)
			}
		}
	}
}

// TestPXEClientScoped: an option 60 "PXEClient" set for everyone reaches
// PXE clients only; a Windows client gets no option 60.
func TestPXEClientScoped(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		c.Subnets[0].Options[60] = []byte("PXEClient")
		c.Subnets[0].Boot = scope.Boot{NextServer: ip("192.0.2.10"), File: "pxelinux.0"}
	})
	vc := func(s string) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptClassIdentifier(s)) }
	prl := dhcpv4.WithOption(prlOf(1, 3, 60, 66, 67))
	pxe := r.dora(t, macA, vc("PXEClient:Arch:00007:UNDI:003016"), prl)
	if got := string(pxe.Options.Get(dhcpv4.OptionClassIdentifier)); got != "PXEClient" {
		t.Errorf("PXE client: option 60 %q, want PXEClient", got)
	}
	win := r.dora(t, macB, vc("MSFT 5.0"), prl)
	if got := win.Options.Get(dhcpv4.OptionClassIdentifier); got != nil {
		t.Errorf("Windows client: option 60 %q, want none", got)
	}
}

// TestOptionOverload: options that do not fit the client's maximum go
// into the unused file field (RFC 2132 §9.3) before any is dropped.
func TestOptionOverload(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		o := c.Subnets[0].Options
		o[119] = bytes.Repeat([]byte{'d'}, 200) // domain search
		o[43] = bytes.Repeat([]byte{'v'}, 100)  // vendor-specific
	})
	prl := dhcpv4.WithOption(prlOf(1, 3, 6, 119, 43))
	ack := r.dora(t, macA, prl)
	b := ack.ToBytes()
	if n := 28 + len(b); n > 576 {
		t.Fatalf("ACK is a %d-octet datagram, want <= 576", n)
	}
	if got := ack.Options.Get(dhcpv4.OptionOptionOverload); !bytes.Equal(got, []byte{1}) {
		t.Fatalf("option 52 = %v, want [1] (file)", got)
	}
	if ack.Options.Get(dhcpv4.OptionDNSDomainSearchList) == nil {
		t.Error("option 119 not in the options field")
	}
	// The file field holds whole options, then End (RFC 2132 §9.3).
	file, moved := b[108:236], map[byte][]byte{}
	for i := 0; ; {
		if i >= len(file) {
			t.Fatalf("file field % x has no End option", file)
		}
		if file[i] == 255 {
			break
		}
		moved[file[i]] = file[i+2 : i+2+int(file[i+1])]
		i += 2 + int(file[i+1])
	}
	if !bytes.Equal(moved[43], bytes.Repeat([]byte{'v'}, 100)) {
		t.Fatalf("file field % x, want option 43 in it", file)
	}
	for code := range moved {
		if ack.Options.Has(dhcpv4.GenericOptionCode(code)) {
			t.Errorf("option %d both in the options field and in file", code)
		}
	}
	// With a boot file the file field is used: option 43 cannot move
	// there and is dropped.
	r = newRig(t, func(c *scope.Config) {
		o := c.Subnets[0].Options
		o[119] = bytes.Repeat([]byte{'d'}, 200)
		o[43] = bytes.Repeat([]byte{'v'}, 100)
		c.Subnets[0].Boot = scope.Boot{File: "boot.efi"}
	})
	ack = r.dora(t, macA, prl)
	if ack.BootFileName != "boot.efi" || ack.Options.Get(dhcpv4.OptionVendorSpecificInformation) != nil {
		t.Fatalf("with a boot file: file %q, option 43 %v; want the boot file and 43 dropped", ack.BootFileName, ack.Options.Get(dhcpv4.OptionVendorSpecificInformation))
	}
}

func bootpRequest(t *testing.T, hw net.HardwareAddr) *dhcpv4.DHCPv4 {
	m := msg(t, dhcpv4.MessageTypeDiscover, hw)
	m.Options.Del(dhcpv4.OptionDHCPMessageType)
	return m
}

// TestBOOTPReserved: BOOTP (no option 53) is answered for a reserved host
// with an address, with a BOOTREPLY carrying yiaddr, siaddr and file and
// no lease; any other BOOTP client is refused, as is everyone with
// bootp: off.
func TestBOOTPReserved(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		c.BOOTP = true
		c.Subnets[0].Boot = scope.Boot{NextServer: ip("192.0.2.10"), File: "boot.img"}
	})
	rep, err := r.handle(t, bootpRequest(t, macRes))
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Resp
	if m.OpCode != dhcpv4.OpcodeBootReply || addr4(m.YourIPAddr) != ip("192.0.2.50") || m.ServerIPAddr.String() != "192.0.2.10" || m.BootFileName != "boot.img" {
		t.Fatalf("BOOTREPLY op %v yiaddr %s siaddr %s file %q", m.OpCode, m.YourIPAddr, m.ServerIPAddr, m.BootFileName)
	}
	if m.Options.Has(dhcpv4.OptionDHCPMessageType) || m.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Errorf("BOOTREPLY carries DHCP options: %v", m.Options)
	}
	if !m.Options.Has(dhcpv4.OptionSubnetMask) || !m.Options.Has(dhcpv4.OptionRouter) {
		t.Errorf("BOOTREPLY without mask or routers: %v", m.Options)
	}
	if r.db.commits != 0 {
		t.Errorf("%d commits, want none (the address is reserved)", r.db.commits)
	}
	if _, err := r.handle(t, bootpRequest(t, macA)); !errors.Is(err, ErrBOOTP) {
		t.Fatalf("dynamic BOOTP: %v, want %v", err, ErrBOOTP)
	}
	r.cfg.BOOTP = false
	if _, err := r.handle(t, bootpRequest(t, macRes)); !errors.Is(err, ErrBOOTP) {
		t.Fatalf("bootp off: %v, want %v", err, ErrBOOTP)
	}
}

// TestClassLeaseTimes: a class's lease times and T1/T2 replace the
// subnet's for its members.
func TestClassLeaseTimes(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		c.Classes = []*scope.Class{{Name: "short", Index: class.First, Times: scope.ClassTimes{Default: 10 * time.Minute, Max: 20 * time.Minute, Renew: 2 * time.Minute, Rebind: 8 * time.Minute}}}
		c.Subnets[0].Reservations = append(c.Subnets[0].Reservations, scope.Reservation{HWAddr: macA, Classes: setOf(class.First)})
	})
	ack := r.dora(t, macA)
	if lt, t1, t2 := leaseSecs(ack, dhcpv4.OptionIPAddressLeaseTime), leaseSecs(ack, dhcpv4.OptionRenewTimeValue), leaseSecs(ack, dhcpv4.OptionRebindingTimeValue); lt != 600 || t1 != 120 || t2 != 480 {
		t.Fatalf("class member: lease %d T1 %d T2 %d, want the class's 600 120 480", lt, t1, t2)
	}
	ack = r.dora(t, macB, dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(8*time.Hour)))
	if lt := leaseSecs(ack, dhcpv4.OptionIPAddressLeaseTime); lt != 4*3600 {
		t.Fatalf("other client asking 8h: lease %d, want the subnet's max 14400", lt)
	}
}

// TestClassLeaseTimeBeyondSubnetBounds: a class's default lease time
// outside the subnet's min and max (which the class does not set) is
// granted as written; a member asking for more gets that much, not the
// subnet's max.
func TestClassLeaseTimeBeyondSubnetBounds(t *testing.T) {
	macD := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xd}
	r := newRig(t, func(c *scope.Config) {
		c.Classes = []*scope.Class{
			{Name: "phones", Index: class.First, Times: scope.ClassTimes{Default: 24 * time.Hour}},
			{Name: "lab", Index: class.First + 1, Times: scope.ClassTimes{Default: time.Minute}},
			{Name: "short", Index: class.First + 2, Times: scope.ClassTimes{Max: 30 * time.Minute}},
			{Name: "wide", Index: class.First + 3, Times: scope.ClassTimes{Max: 6 * time.Hour}},
			{Name: "long", Index: class.First + 4, Times: scope.ClassTimes{Default: 5 * time.Hour, Max: 5*time.Hour + 30*time.Minute}},
		}
		c.Subnets[0].Reservations = append(c.Subnets[0].Reservations,
			scope.Reservation{HWAddr: macA, Classes: setOf(class.First)},
			scope.Reservation{HWAddr: macB, Classes: setOf(class.First + 1)},
			scope.Reservation{HWAddr: macC, Classes: setOf(class.First + 2)},
			scope.Reservation{HWAddr: macD, Classes: setOf(class.First+3, class.First+4)})
	})
	if lt := leaseSecs(r.dora(t, macA), dhcpv4.OptionIPAddressLeaseTime); lt != 24*3600 {
		t.Fatalf("phones: lease %d, want the class's 86400 (the subnet's max is 4h)", lt)
	}
	if lt := leaseSecs(r.dora(t, macA, dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(48*time.Hour))), dhcpv4.OptionIPAddressLeaseTime); lt != 24*3600 {
		t.Fatalf("phones asking 48h: lease %d, want 86400", lt)
	}
	if lt := leaseSecs(r.dora(t, macB), dhcpv4.OptionIPAddressLeaseTime); lt != 60 {
		t.Fatalf("lab: lease %d, want the class's 60 (the subnet's min is 5m)", lt)
	}
	if lt := leaseSecs(r.dora(t, macB, dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(30*time.Second))), dhcpv4.OptionIPAddressLeaseTime); lt != 60 {
		t.Fatalf("lab asking 30s: lease %d, want 60 (the subnet's 5m min lowers to the class's default)", lt)
	}
	if lt := leaseSecs(r.dora(t, macC), dhcpv4.OptionIPAddressLeaseTime); lt != 1800 {
		t.Fatalf("short: lease %d, want the class's max 1800 (the subnet's default is 2h)", lt)
	}
	// Each time comes from the first class that sets it: the max from
	// "wide", the default from "long" after it.
	if lt := leaseSecs(r.dora(t, macD), dhcpv4.OptionIPAddressLeaseTime); lt != 5*3600 {
		t.Fatalf("wide+long: lease %d, want the second class's default 18000", lt)
	}
	if lt := leaseSecs(r.dora(t, macD, dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(6*time.Hour))), dhcpv4.OptionIPAddressLeaseTime); lt != 6*3600 {
		t.Fatalf("wide+long asking 6h: lease %d, want 21600 (the first class's max, not the second's)", lt)
	}
}

func compileClass(t *testing.T, c *scope.Config, name, test, match string, members ...string) *scope.Class {
	t.Helper()
	k := &scope.Class{Name: name, Index: class.First + len(c.Classes)}
	index := func(n string) (int, bool) {
		for _, o := range c.Classes {
			if o.Name == n {
				return o.Index, true
			}
		}
		switch n {
		case "KNOWN":
			return class.Known, true
		case "UNKNOWN":
			return class.Unknown, true
		}
		return 0, false
	}
	var err error
	if test != "" {
		k.Test, err = class.Compile(test, index)
	} else {
		k.Match, err = class.CompileValue(match)
		k.Members = map[string]struct{}{}
		for _, m := range members {
			b, perr := class.ParseMember(m)
			if perr != nil {
				t.Fatal(perr)
			}
			k.Members[string(b)] = struct{}{}
		}
	}
	if err != nil {
		t.Fatalf("class %s: %v", name, err)
	}
	c.Classes = append(c.Classes, k)
	return k
}

// TestClassTestsAndLookupTable: classes by test (vendor class, member of
// an earlier class, unknown) and by lookup table (MAC prefix) choose pools
// and carry boot fields, evaluated per request.
func TestClassTestsAndLookupTable(t *testing.T) {
	r := newRig(t, func(c *scope.Config) {
		// The first class that sets a field wins (ISC's order): the
		// specific one comes first.
		uefi := compileClass(t, c, "pxe-uefi", "substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0007", "")
		uefi.Boot = scope.Boot{File: "ipxe.efi"}
		pxe := compileClass(t, c, "pxe", "substring(option[60].hex,0,9) == 'PXEClient'", "")
		pxe.Boot = scope.Boot{NextServer: ip("192.0.2.10"), File: "pxelinux.0"}
		phones := compileClass(t, c, "phones", "", "substring(pkt4.mac,0,3)", "00:04:f2", "'\x00\x0b\x82'")
		newcomer := compileClass(t, c, "newcomer", "unknown and not member('phones')", "")
		s := c.Subnets[0]
		s.Pools = []lease.Pool{voipPool, restPool}
		s.PoolRules = []scope.PoolRule{
			{Allow: setOf(phones.Index), HasAllow: true},
			{Allow: setOf(newcomer.Index), HasAllow: true},
		}
	})
	vc := func(s string) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptClassIdentifier(s)) }
	arch := func(a byte) dhcpv4.Modifier {
		return dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, a}))
	}
	bios := r.dora(t, net.HardwareAddr{2, 1, 0, 0, 0, 1}, vc("PXEClient:Arch:00000:UNDI:002001"), arch(0))
	efi := r.dora(t, net.HardwareAddr{2, 1, 0, 0, 0, 7}, vc("PXEClient:Arch:00007:UNDI:003016"), arch(7))
	win := r.dora(t, net.HardwareAddr{2, 1, 0, 0, 0, 9}, vc("MSFT 5.0"))
	for _, tc := range []struct {
		name         string
		m            *dhcpv4.DHCPv4
		siaddr, file string
	}{{"BIOS", bios, "192.0.2.10", "pxelinux.0"}, {"UEFI", efi, "192.0.2.10", "ipxe.efi"}, {"Windows", win, "0.0.0.0", ""}} {
		if tc.m.ServerIPAddr.String() != tc.siaddr || tc.m.BootFileName != tc.file {
			t.Errorf("%s: siaddr %s file %q, want %s %q", tc.name, tc.m.ServerIPAddr, tc.m.BootFileName, tc.siaddr, tc.file)
		}
		if a := addr4(tc.m.YourIPAddr); !inPool(a, restPool) {
			t.Errorf("%s: %s, want one of %s (class newcomer)", tc.name, a, restPool.Name)
		}
	}
	for _, hw := range []net.HardwareAddr{{0, 4, 0xf2, 1, 2, 3}, {0, 0x0b, 0x82, 1, 2, 3}} {
		if a := addr4(r.dora(t, hw).YourIPAddr); !inPool(a, voipPool) {
			t.Errorf("phone %s: %s, want one of %s", hw, a, voipPool.Name)
		}
	}
	// A reserved host is neither unknown nor a phone: no pool admits it.
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macRes)); err != nil {
		t.Fatalf("reserved host (its address is outside the pools): %v", err)
	}
	r.cfg.Subnets[0].Reservations = append(r.cfg.Subnets[0].Reservations, scope.Reservation{HWAddr: macB})
	r.cfg.Subnets[0].IndexReservations()
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, macB)); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("known host without an address: %v, want %v (only newcomers and phones have pools)", err, ErrNoAddress)
	}
}

// TestClassesAcrossSharedNetwork: pool rules apply to every subnet of a
// shared network: a client whose classes the first subnet's pool denies
// gets the sibling subnet's, with that subnet's boot fields, and keeps
// it; one the sibling's pool denies gets nothing there.
func TestClassesAcrossSharedNetwork(t *testing.T) {
	r := newSharedRig(t, func(c *scope.Config) {
		c.Classes = []*scope.Class{{Name: "voip", Index: class.First}}
		a, b := c.Subnets[0], c.Subnets[1]
		a.PoolRules = []scope.PoolRule{{Deny: setOf(class.First), HasDeny: true}}
		b.PoolRules = []scope.PoolRule{{Allow: setOf(class.First), HasAllow: true}}
		b.Boot = scope.Boot{File: "phone.cfg"}
		a.Reservations = append(a.Reservations, scope.Reservation{HWAddr: macA, Classes: setOf(class.First)})
	})
	ack := r.dora(t, macA)
	if a := addr4(ack.YourIPAddr); !inPool(a, sibPool) || ack.BootFileName != "phone.cfg" {
		t.Fatalf("voip client: %s file %q, want one of %s and phone.cfg", a, ack.BootFileName, sibPool.Name)
	}
	if a := addr4(r.dora(t, macB).YourIPAddr); !inPool(a, smallPool) {
		t.Fatalf("other client: %s, want one of %s", a, smallPool.Name)
	}
	r.dora(t, macC)
	if _, err := r.handle(t, msg(t, dhcpv4.MessageTypeDiscover, net.HardwareAddr{2, 0, 0, 0, 0, 0xd})); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("a third non-voip client with the first pool full: %v, want %v (the sibling's pool admits voip only)", err, ErrNoAddress)
	}
}
