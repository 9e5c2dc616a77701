package keepalived

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// Format reads keepalived.conf (with its includes) into a config with
// node: and vrrp: and no dhcp: (a VRRP-only box), for migrate.Convert and
// migrate.Job. keepalived has no lease file.
func Format() migrate.Format {
	return migrate.Format{
		Name: "keepalived",
		ParseConfig: func(name string, data []byte, fs migrate.FS) (*migrate.Result, error) {
			return ParseConfig(name, data, Loader{ReadFile: fs.ReadFile, Glob: fs.Glob})
		},
	}
}

// ParseConfig maps the vrrp_instance and vrrp_sync_group blocks.
func ParseConfig(name string, data []byte, load Loader) (*migrate.Result, error) {
	stmts, err := Parse(name, data, load)
	if err != nil {
		return nil, err
	}
	rep := &migrate.Report{}
	cfg := &config.Config{}
	// Each instance's track_script entries, for the report once the
	// vrrp_script blocks are all read.
	tracks := map[string][]*Stmt{}
	var groupTracks []*groupTrack
	for _, s := range stmts {
		switch s.word(0) {
		case "vrrp_instance":
			in, err := instance(s, rep, tracks)
			if err != nil {
				return nil, err
			}
			cfg.VRRP.Instances = append(cfg.VRRP.Instances, *in)
		case "vrrp_sync_group":
			g, gt, err := syncGroup(s, rep)
			if err != nil {
				return nil, err
			}
			cfg.VRRP.SyncGroups = append(cfg.VRRP.SyncGroups, g)
			groupTracks = append(groupTracks, gt)
		case "global_defs":
			for _, g := range s.Block {
				if g.word(0) == "vrrp_version" && g.word(1) != "3" {
					rep.Drop(g.Pos, g.String(), "hadhcpd speaks VRRPv3 (RFC 5798) only; a keepalived partner must use vrrp_version 3")
				} else {
					rep.Drop(g.Pos, g.String(), "keepalived's own global setting")
				}
			}
		case "vrrp_script":
			sc, ok, err := vrrpScript(s, rep)
			if err != nil {
				return nil, err
			}
			if ok {
				cfg.VRRP.Scripts = append(cfg.VRRP.Scripts, sc)
			}
		case "virtual_server", "virtual_server_group", "real_server":
			rep.Unsupported(s.Pos, s.String(), "IPVS load balancing is not part of hadhcpd")
		case "static_ipaddress", "static_routes", "static_rules":
			rep.Unsupported(s.Pos, s.String(), "static addresses and routes belong to the system's network config")
		case "linkbeat_interfaces", "net_namespace", "instance":
			rep.Drop(s.Pos, s.String(), "keepalived's own process setting")
		default:
			return nil, migrate.Errorf(s.Pos, "unknown statement %q", s.word(0))
		}
	}
	groupTracking(cfg, groupTracks, tracks, rep)
	resolveTracks(cfg, tracks, rep)
	names := map[string]bool{}
	for _, in := range cfg.VRRP.Instances {
		names[in.Name] = true
	}
	for _, g := range cfg.VRRP.SyncGroups {
		for _, n := range g.Instances {
			if !names[n] {
				return nil, fmt.Errorf("keepalived: vrrp_sync_group %s names %q, which is no vrrp_instance", g.Name, n)
			}
		}
	}
	return &migrate.Result{Config: cfg, Report: rep}, nil
}

func instance(s *Stmt, rep *migrate.Report, tracks map[string][]*Stmt) (*config.VRRPInstance, error) {
	in := &config.VRRPInstance{Name: s.word(1)}
	if in.Name == "" || !s.HasBlock {
		return in, migrate.Errorf(s.Pos, "want `vrrp_instance NAME { ... }`")
	}
	k := "vrrp.instances[" + in.Name + "]"
	rep.Map(s.Pos, s.String(), k)
	num := func(st *Stmt, lo, hi int) (int, error) {
		n, err := strconv.Atoi(st.word(1))
		if err != nil || n < lo || n > hi || len(st.Words) != 2 {
			return 0, migrate.Errorf(st.Pos, "%s: %q is not a number in %d..%d", st.word(0), st.word(1), lo, hi)
		}
		return n, nil
	}
	secs := func(st *Stmt) (time.Duration, error) {
		f, err := strconv.ParseFloat(st.word(1), 64)
		if err != nil || f < 0 || f > 1e6 || len(st.Words) != 2 {
			return 0, migrate.Errorf(st.Pos, "%s: %q is not a number of seconds", st.word(0), st.word(1))
		}
		return time.Duration(f * float64(time.Second)).Round(10 * time.Millisecond), nil
	}
	var err error
	for _, st := range s.Block {
		switch st.word(0) {
		case "interface":
			in.Interface = st.word(1)
			rep.Map(st.Pos, st.String(), k+".interface")
		case "virtual_router_id":
			if in.VRID, err = num(st, 1, 255); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".vrid")
		case "priority":
			if in.Priority, err = num(st, 1, 255); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".priority")
		case "advert_int":
			if in.AdvertInterval, err = secs(st); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".advert_interval")
		case "nopreempt":
			in.Preempt = migrate.Ptr(false)
			rep.Map(st.Pos, st.String(), k+".preempt")
		case "preempt":
			in.Preempt = migrate.Ptr(true)
			rep.Map(st.Pos, st.String(), k+".preempt")
		case "preempt_delay":
			if in.PreemptDelay, err = secs(st); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".preempt_delay")
		case "state":
			rep.Drop(st.Pos, st.String(), "hadhcpd starts every instance as Backup and lets the priority decide (RFC 5798 §6.4.1)")
		case "virtual_ipaddress":
			if err := vips(st, in, k, rep); err != nil {
				return in, err
			}
		case "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules":
			rep.Unsupported(st.Pos, st.String(), "only virtual_ipaddress is carried in hadhcpd's VRRP instance")
		case "track_interface":
			if err := trackInterfaces(st, in, k, rep); err != nil {
				return in, err
			}
		case "track_script":
			if err := trackScripts(st, in, rep, tracks); err != nil {
				return in, err
			}
		case "unicast_src_ip":
			rep.Drop(st.Pos, st.String(), "hadhcpd sends from the interface's primary address (RFC 5798 §5.1.1.1)")
		case "unicast_peer":
			for _, t := range st.Block {
				a, err := netip.ParseAddr(t.word(0))
				if err != nil || !a.Is4() {
					return in, migrate.Errorf(t.Pos, "unicast_peer: %q is not an IPv4 address", t.word(0))
				}
				in.UnicastPeers = append(in.UnicastPeers, a.String())
				rep.Map(t.Pos, t.String(), k+".unicast_peers")
			}
		case "authentication":
			rep.Drop(st.Pos, st.String(), "VRRPv2 authentication: VRRPv3 has none (RFC 5798 §9); hadhcpd's peer link is authenticated instead")
		case "use_vmac":
			in.VirtualMAC = true
			rep.Map(st.Pos, st.String(), k+".virtual_mac")
		case "garp_master_repeat":
			if in.GARP.Repeat, err = num(st, 0, 1000); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".garp.repeat")
		case "garp_master_refresh":
			if in.GARP.Refresh, err = secs(st); err != nil {
				return in, err
			}
			rep.Map(st.Pos, st.String(), k+".garp.refresh")
		case "track_file", "track_process", "track_bfd":
			rep.Unsupported(st.Pos, st.String(), "file, process and BFD tracking are not supported: track a vrrp_script (pidof, killall -0) or an interface instead")
		case "notify", "notify_master", "notify_backup", "notify_fault":
			if err := notifyScript(st, in, k, rep); err != nil {
				return in, err
			}
		case "notify_stop", "notify_deleted", "notify_master_rx_lower_pri":
			rep.Unsupported(st.Pos, st.String(), "hadhcpd runs notify_master, notify_backup, notify_fault and notify (which gets STOP when the agent stops)")
		case "smtp_alert", "dont_track_primary", "garp_master_delay", "garp_lower_prio_repeat", "garp_lower_prio_delay", "lvs_sync_daemon_interface", "debug", "version", "accept", "no_accept", "strict_mode", "skip_check_adv_addr", "mcast_src_ip", "native_ipv6", "check_unicast_src":
			rep.Drop(st.Pos, st.String(), "keepalived-specific setting with no hadhcpd equivalent")
		default:
			return in, migrate.Errorf(st.Pos, "unknown statement %q in vrrp_instance %s", st.word(0), in.Name)
		}
	}
	if in.Priority == 0 {
		in.Priority = 100 // keepalived's default
		rep.Invent(k+".priority", "100", "keepalived's default priority")
	}
	if in.AdvertInterval == 0 {
		in.AdvertInterval = time.Second
		rep.Invent(k+".advert_interval", "1s", "keepalived's default advert_int")
	}
	return in, nil
}

// notifyScript maps `notify_master CMD [username [groupname]]` and its
// siblings to the instance's key of the same name. CMD keeps keepalived's
// quoting inside it (config.SplitCommand splits it the same way); a
// script found by a PATH search in keepalived needs its full path here.
func notifyScript(st *Stmt, in *config.VRRPInstance, k string, rep *migrate.Report) error {
	cmd := st.word(1)
	argv, err := config.SplitCommand(cmd)
	if err != nil {
		return migrate.Errorf(st.Pos, "%s: %q: %v", st.word(0), cmd, err)
	}
	if !filepath.IsAbs(argv[0]) {
		rep.Unsupported(st.Pos, st.String(), fmt.Sprintf("%q is not an absolute path: hadhcpd runs scripts without a PATH search", argv[0]))
		return nil
	}
	key := k + "." + st.word(0)
	switch st.word(0) {
	case "notify_master":
		in.NotifyMaster = cmd
	case "notify_backup":
		in.NotifyBackup = cmd
	case "notify_fault":
		in.NotifyFault = cmd
	case "notify":
		in.Notify = cmd
	}
	if len(st.Words) > 2 {
		rep.MapNote(st.Pos, st.String(), key, fmt.Sprintf("runs as hadhcpd's own user, not as %s", strings.Join(st.Words[2:], ":")))
	} else {
		rep.Map(st.Pos, st.String(), key)
	}
	return nil
}

// vips reads virtual_ipaddress lines: `ADDR[/LEN] [brd X] [dev IF] [scope S] [label L]`.
func vips(st *Stmt, in *config.VRRPInstance, k string, rep *migrate.Report) error {
	for _, v := range st.Block {
		a := v.word(0)
		if !strings.Contains(a, "/") {
			a += "/32" // keepalived's default prefix length
		}
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is4() {
			return migrate.Errorf(v.Pos, "virtual_ipaddress: %q is not an IPv4 address", v.word(0))
		}
		ok := true
		for i := 1; i < len(v.Words); i += 2 {
			arg := v.word(i + 1)
			switch v.word(i) {
			case "dev":
				if in.Interface != "" && arg != in.Interface {
					rep.Unsupported(v.Pos, v.String(), "a virtual IP on another interface than the instance's: make it its own instance in a sync group")
					ok = false
				}
			case "label":
				rep.Drop(v.Pos, v.String(), "address labels are cosmetic (ip addr label)")
			case "brd", "scope":
			default:
				rep.Unsupported(v.Pos, v.String(), fmt.Sprintf("virtual_ipaddress option %q is not supported", v.word(i)))
				ok = false
			}
		}
		if ok {
			in.VirtualIPs = append(in.VirtualIPs, p.String())
			rep.Map(v.Pos, v.String(), k+".virtual_ips")
		}
	}
	return nil
}

func syncGroup(s *Stmt, rep *migrate.Report) (config.VRRPSyncGroup, *groupTrack, error) {
	g := config.VRRPSyncGroup{Name: s.word(1)}
	gt := &groupTrack{name: g.Name, stmts: map[string][]*Stmt{}}
	if g.Name == "" || !s.HasBlock {
		return g, nil, migrate.Errorf(s.Pos, "want `vrrp_sync_group NAME { group { ... } }`")
	}
	rep.Map(s.Pos, s.String(), "vrrp.sync_groups["+g.Name+"]")
	for _, st := range s.Block {
		switch {
		case st.word(0) == "group":
			for _, m := range st.Block {
				g.Instances = append(g.Instances, m.Words...)
				rep.Map(m.Pos, m.String(), "vrrp.sync_groups["+g.Name+"].instances")
			}
		case strings.HasPrefix(st.word(0), "notify"):
			rep.Unsupported(st.Pos, st.String(), "sync group notify scripts are not supported: hadhcpd runs notify scripts per instance (notify_master, notify_backup, notify_fault, notify)")
		case st.word(0) == "track_interface":
			if err := trackInterfaces(st, &gt.in, "vrrp.sync_groups["+g.Name+"]", rep); err != nil {
				return g, nil, err
			}
		case st.word(0) == "track_script":
			if err := trackScripts(st, &gt.in, rep, gt.stmts); err != nil {
				return g, nil, err
			}
		case st.word(0) == "sync_group_tracking_weight":
			gt.weighted = true
			rep.Map(st.Pos, st.String(), "vrrp.sync_groups["+g.Name+"]")
		default:
			rep.Drop(st.Pos, st.String(), "keepalived-specific sync group setting")
		}
	}
	gt.members = g.Instances
	return g, gt, nil
}
