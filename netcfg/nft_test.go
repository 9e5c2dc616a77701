package netcfg

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// recordDial returns a test dial that keeps every netlink message the
// nftables Conn sends and acknowledges each one that asks for it, so Flush
// succeeds without a kernel (and without root).
func recordDial(got *[]netlink.Message) nftables.ConnOption {
	return nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		*got = append(*got, req...)
		var acks []netlink.Message
		for _, m := range req {
			if m.Header.Flags&netlink.Acknowledge != 0 {
				acks = append(acks, netlink.Message{
					Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence, PID: m.Header.PID},
					Data:   []byte{0, 0, 0, 0}, // errno 0: an ack
				})
			}
		}
		return acks, nil
	})
}

// TestFirewallGolden pins the netlink batch Apply sends, message by message,
// against testdata/<name>.golden (go test -run TestFirewallGolden -update
// rewrites them; read the diff before committing it).
func TestFirewallGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules FirewallRules
	}{
		{"vrrp", FirewallRules{VRRP: true}},
		{"vrrp_dhcp_peer", FirewallRules{VRRP: true, DHCP: true, PeerPort: 647}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []netlink.Message
			if err := NewFirewall(recordDial(&msgs)).Apply(tc.rules); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := renderNetlink(msgs)
			path := filepath.Join("testdata", "nft_"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Apply(%+v) sent other netlink messages than %s:\n%s", tc.rules, path, lineDiff(string(want), got))
			}
		})
	}
}

// renderNetlink writes messages as stable text: one block per message with
// the nft command it carries, the nfnetlink header, then its attribute tree
// (nested attributes indented, leaves as quoted C strings or hex). Sequence
// numbers, port IDs and lengths are left out; every payload byte is kept.
func renderNetlink(msgs []netlink.Message) string {
	var b strings.Builder
	for n, m := range msgs {
		if n > 0 {
			b.WriteByte('\n')
		}
		kind, what := msgKind(m.Header.Type)
		var fam, ver uint8
		var res uint16
		data := m.Data
		if len(data) >= 4 { // struct nfgenmsg
			fam, ver, res = data[0], data[1], binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
		names := attrNames[kind]
		if c := nftCommand(kind, what, fam, data); c != "" {
			fmt.Fprintf(&b, "# %s\n", c)
		}
		fmt.Fprintf(&b, "%s flags=%s family=%d version=%d res_id=%d\n", what, flagNames(m.Header.Flags), fam, ver, res)
		renderAttrs(&b, data, "  ", "", names)
	}
	return b.String()
}

// msgKind names an nfnetlink message type (subsystem << 8 | message).
func msgKind(t netlink.HeaderType) (kind, name string) {
	switch uint16(t) {
	case unix.NFNL_MSG_BATCH_BEGIN:
		return "", "NFNL_MSG_BATCH_BEGIN"
	case unix.NFNL_MSG_BATCH_END:
		return "", "NFNL_MSG_BATCH_END"
	}
	if uint16(t)>>8 != unix.NFNL_SUBSYS_NFTABLES {
		return "", fmt.Sprintf("type %#x", uint16(t))
	}
	switch uint16(t) & 0xff {
	case unix.NFT_MSG_NEWTABLE:
		return "table", "NFT_MSG_NEWTABLE"
	case unix.NFT_MSG_DELTABLE:
		return "table", "NFT_MSG_DELTABLE"
	case unix.NFT_MSG_NEWCHAIN:
		return "chain", "NFT_MSG_NEWCHAIN"
	case unix.NFT_MSG_NEWRULE:
		return "rule", "NFT_MSG_NEWRULE"
	}
	return "", fmt.Sprintf("NFT_MSG %d", uint16(t)&0xff)
}

// attrNames names attributes by message kind and path of attribute types
// (see linux/netfilter/nf_tables.h); expression data stays numeric.
var attrNames = map[string]map[string]string{
	"table": {"1": "NFTA_TABLE_NAME", "2": "NFTA_TABLE_FLAGS"},
	"chain": {
		"1": "NFTA_CHAIN_TABLE", "3": "NFTA_CHAIN_NAME", "4": "NFTA_CHAIN_HOOK",
		"4/1": "NFTA_HOOK_HOOKNUM", "4/2": "NFTA_HOOK_PRIORITY", "5": "NFTA_CHAIN_POLICY", "7": "NFTA_CHAIN_TYPE",
	},
	"rule": {
		"1": "NFTA_RULE_TABLE", "2": "NFTA_RULE_CHAIN", "4": "NFTA_RULE_EXPRESSIONS",
		"4/1": "NFTA_LIST_ELEM", "4/1/1": "NFTA_EXPR_NAME", "4/1/2": "NFTA_EXPR_DATA",
	},
	// Expression data, by expression name (renderAttrs switches to these
	// below NFTA_EXPR_DATA).
	"meta":      {"1": "NFTA_META_DREG", "2": "NFTA_META_KEY", "3": "NFTA_META_SREG"},
	"cmp":       {"1": "NFTA_CMP_SREG", "2": "NFTA_CMP_OP", "3": "NFTA_CMP_DATA", "3/1": "NFTA_DATA_VALUE"},
	"payload":   {"1": "NFTA_PAYLOAD_DREG", "2": "NFTA_PAYLOAD_BASE", "3": "NFTA_PAYLOAD_OFFSET", "4": "NFTA_PAYLOAD_LEN"},
	"immediate": {"1": "NFTA_IMMEDIATE_DREG", "2": "NFTA_IMMEDIATE_DATA", "2/1": "NFTA_DATA_VALUE", "2/2": "NFTA_DATA_VERDICT", "2/2/1": "NFTA_VERDICT_CODE", "2/2/2": "NFTA_VERDICT_CHAIN"},
}

// flagNames spells netlink header flags as in linux/netlink.h (the
// NLM_F_* meanings for new-object requests), so the goldens do not depend
// on how a netlink library prints them.
func flagNames(f netlink.HeaderFlags) string {
	var parts []string
	for _, n := range []struct {
		bit  netlink.HeaderFlags
		name string
	}{
		{unix.NLM_F_REQUEST, "REQUEST"}, {unix.NLM_F_MULTI, "MULTI"}, {unix.NLM_F_ACK, "ACK"}, {unix.NLM_F_ECHO, "ECHO"},
		{unix.NLM_F_REPLACE, "REPLACE"}, {unix.NLM_F_EXCL, "EXCL"}, {unix.NLM_F_CREATE, "CREATE"}, {unix.NLM_F_APPEND, "APPEND"},
	} {
		if f&n.bit != 0 {
			parts = append(parts, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint16(f)))
	}
	return strings.Join(parts, "|")
}

// nftCommand is the nft(8) command a message carries, as a reading aid.
func nftCommand(kind, what string, fam uint8, data []byte) string {
	fams := map[uint8]string{unix.NFPROTO_INET: "inet", unix.NFPROTO_IPV4: "ip", unix.NFPROTO_IPV6: "ip6"}
	verb := "add"
	if strings.HasPrefix(what, "NFT_MSG_DEL") {
		verb = "delete"
	}
	s := map[uint16]string{}
	for len(data) >= 4 {
		l, typ := int(binary.NativeEndian.Uint16(data)), binary.NativeEndian.Uint16(data[2:])
		if l < 4 || l > len(data) {
			break
		}
		if v := data[4:l]; len(v) > 0 && v[len(v)-1] == 0 {
			s[typ&^unix.NLA_F_NESTED] = string(v[:len(v)-1])
		}
		data = data[min(len(data), (l+3)&^3):]
	}
	switch kind {
	case "table":
		return fmt.Sprintf("%s table %s %s", verb, fams[fam], s[unix.NFTA_TABLE_NAME])
	case "chain":
		return fmt.Sprintf("%s chain %s %s %s", verb, fams[fam], s[unix.NFTA_CHAIN_TABLE], s[unix.NFTA_CHAIN_NAME])
	case "rule":
		return fmt.Sprintf("%s rule %s %s %s", verb, fams[fam], s[unix.NFTA_RULE_TABLE], s[unix.NFTA_RULE_CHAIN])
	}
	return ""
}

func renderAttrs(b *strings.Builder, data []byte, indent, path string, names map[string]string) {
	exprName := "" // the NFTA_EXPR_NAME seen among these attributes
	for len(data) > 0 {
		if len(data) < 4 {
			fmt.Fprintf(b, "%strailing % x\n", indent, data)
			return
		}
		l, typ := int(binary.NativeEndian.Uint16(data)), binary.NativeEndian.Uint16(data[2:])
		if l < 4 || l > len(data) {
			fmt.Fprintf(b, "%sbad attribute length %d: % x\n", indent, l, data)
			return
		}
		v := data[4:l]
		nested := typ&unix.NLA_F_NESTED != 0
		typ &^= unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER
		p := fmt.Sprint(typ)
		if path != "" {
			p = path + "/" + p
		}
		label := fmt.Sprintf("attr %d", typ)
		if n, ok := names[p]; ok {
			label = n
		}
		switch {
		case label == "NFTA_EXPR_NAME" && len(v) > 0:
			exprName = string(v[:len(v)-1])
			fmt.Fprintf(b, "%s%s %s\n", indent, label, leaf(v))
		case label == "NFTA_EXPR_DATA" && nested:
			fmt.Fprintf(b, "%s%s (nested)\n", indent, label)
			renderAttrs(b, v, indent+"  ", "", attrNames[exprName])
		case nested:
			fmt.Fprintf(b, "%s%s (nested)\n", indent, label)
			renderAttrs(b, v, indent+"  ", p, names)
		default:
			fmt.Fprintf(b, "%s%s %s\n", indent, label, leaf(v))
		}
		pad := min(len(data), (l+3)&^3)
		if !bytes.Equal(data[l:pad], make([]byte, pad-l)) {
			fmt.Fprintf(b, "%snonzero padding % x\n", indent, data[l:pad])
		}
		data = data[pad:]
	}
}

// leaf shows a NUL-terminated printable value as a quoted string (the
// NUL implied), anything else as hex bytes.
func leaf(v []byte) string {
	if len(v) > 1 && v[len(v)-1] == 0 {
		s := string(v[:len(v)-1])
		printable := true
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				printable = false
				break
			}
		}
		if printable {
			return fmt.Sprintf("%q", s)
		}
	}
	if len(v) == 0 {
		return "(empty)"
	}
	return fmt.Sprintf("% x", v)
}

// lineDiff marks the lines of want (-) and got (+) that differ, position by
// position: enough for goldens whose messages keep their order.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for k := range max(len(w), len(g)) {
		var wl, gl string
		if k < len(w) {
			wl = w[k]
		}
		if k < len(g) {
			gl = g[k]
		}
		if wl == gl {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  - %s\n  + %s\n", k+1, wl, gl)
	}
	return b.String()
}
