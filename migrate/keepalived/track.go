package keepalived

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/migrate"
)

// vrrpScript maps `vrrp_script NAME { script ..., interval, timeout,
// weight, rise, fall, user, init_fail }` to a vrrp.scripts entry.
func vrrpScript(s *Stmt, rep *migrate.Report) (config.VRRPScript, bool, error) {
	sc := config.VRRPScript{Name: s.word(1)}
	if sc.Name == "" || !s.HasBlock {
		return sc, false, migrate.Errorf(s.Pos, "want `vrrp_script NAME { script ... }`")
	}
	k := "vrrp.scripts[" + sc.Name + "]"
	ok := true
	for _, st := range s.Block {
		var err error
		switch st.word(0) {
		case "script":
			// keepalived takes the rest of the line when it is not quoted.
			cmd := strings.Join(st.Words[1:], " ")
			argv, serr := config.SplitCommand(cmd)
			switch {
			case serr != nil:
				return sc, false, migrate.Errorf(st.Pos, "script: %q: %v", cmd, serr)
			case !filepath.IsAbs(argv[0]) && strings.ContainsRune(argv[0], '/'):
				rep.Unsupported(st.Pos, st.String(), fmt.Sprintf("%q is a relative path: give the script's absolute path", argv[0]))
				ok = false
			default:
				sc.Script = cmd
				rep.Map(st.Pos, st.String(), k+".script")
			}
		case "interval":
			if sc.Interval, err = seconds(st); err != nil {
				return sc, false, err
			}
			rep.Map(st.Pos, st.String(), k+".interval")
		case "timeout":
			if sc.Timeout, err = seconds(st); err != nil {
				return sc, false, err
			}
			rep.Map(st.Pos, st.String(), k+".timeout")
		case "rise", "fall":
			n, err := strconv.Atoi(st.word(1))
			if err != nil || n < 1 || len(st.Words) != 2 {
				return sc, false, migrate.Errorf(st.Pos, "%s: %q is not a positive number", st.word(0), st.word(1))
			}
			if st.word(0) == "rise" {
				sc.Rise = n
			} else {
				sc.Fall = n
			}
			rep.Map(st.Pos, st.String(), k+"."+st.word(0))
		case "weight":
			w, rev, err := weight(st, 1)
			if err != nil {
				return sc, false, err
			}
			if rev {
				rep.Unsupported(st.Pos, st.String(), "reverse weights are not supported")
				ok = false
			}
			sc.Weight = w
			rep.Map(st.Pos, st.String(), k+".weight")
		case "init_fail":
			sc.InitFail = true
			rep.Map(st.Pos, st.String(), k+".init_fail")
		case "user":
			rep.Drop(st.Pos, st.String(), "the script runs as hadhcpd's own user (the unit's User=hadhcpd)")
		default:
			return sc, false, migrate.Errorf(st.Pos, "unknown statement %q in vrrp_script %s", st.word(0), sc.Name)
		}
	}
	if sc.Script == "" && ok {
		return sc, false, migrate.Errorf(s.Pos, "vrrp_script %s has no script", sc.Name)
	}
	if ok {
		rep.Map(s.Pos, s.String(), k)
	}
	return sc, ok, nil
}

// seconds reads keepalived's decimal seconds at millisecond resolution.
func seconds(st *Stmt) (time.Duration, error) {
	f, err := strconv.ParseFloat(st.word(1), 64)
	if err != nil || f < 0 || f > 1e6 || len(st.Words) != 2 {
		return 0, migrate.Errorf(st.Pos, "%s: %q is not a number of seconds", st.word(0), st.word(1))
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
}

// weight reads `weight W [reverse|noreverse]` starting at word i.
func weight(st *Stmt, i int) (w int, reverse bool, err error) {
	w, err = strconv.Atoi(st.word(i))
	if err != nil || w < -253 || w > 253 {
		return 0, false, migrate.Errorf(st.Pos, "weight: %q is not a number in -253..253", st.word(i))
	}
	switch rest := st.Words[i+1:]; {
	case len(rest) == 0 || len(rest) == 1 && rest[0] == "noreverse":
	case len(rest) == 1 && rest[0] == "reverse":
		reverse = true
	default:
		return 0, false, migrate.Errorf(st.Pos, "weight: unexpected %q", strings.Join(rest, " "))
	}
	return w, reverse, nil
}

// trackInterfaces maps a vrrp_instance's `track_interface { IF [weight W] }`.
func trackInterfaces(st *Stmt, in *config.VRRPInstance, k string, rep *migrate.Report) error {
	for _, t := range st.Block {
		w, ok, err := trackWeight(t, "track_interface: want `IF [weight W]`", rep)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		ti := config.TrackInterface{Name: t.word(0)}
		if w != nil {
			ti.Weight = *w
		}
		in.TrackInterfaces = append(in.TrackInterfaces, ti)
		rep.Map(t.Pos, t.String(), k+".track_interfaces")
	}
	return nil
}

// trackScripts maps a vrrp_instance's `track_script { NAME [weight W] }`;
// the names are checked against the vrrp_script blocks once all are read
// (resolveTracks).
func trackScripts(st *Stmt, in *config.VRRPInstance, rep *migrate.Report, pos map[string][]*Stmt) error {
	for _, t := range st.Block {
		w, ok, err := trackWeight(t, "track_script: want `NAME [weight W]`", rep)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		in.TrackScripts = append(in.TrackScripts, config.TrackScript{Name: t.word(0), Weight: w})
		pos[in.Name] = append(pos[in.Name], t) // reported by resolveTracks
	}
	return nil
}

// trackWeight reads the optional `weight W` of a tracked item `NAME
// [weight W]` (nil: none; want names the form for the error). ok is false
// for a reverse weight, which is reported unsupported: the item is left
// out.
func trackWeight(t *Stmt, want string, rep *migrate.Report) (w *int, ok bool, err error) {
	if len(t.Words) <= 1 {
		return nil, true, nil
	}
	if t.word(1) != "weight" {
		return nil, false, migrate.Errorf(t.Pos, "%s, got %q", want, t.String())
	}
	n, rev, err := weight(t, 2)
	if err != nil {
		return nil, false, err
	}
	if rev {
		rep.Unsupported(t.Pos, t.String(), "reverse weights are not supported")
		return nil, false, nil
	}
	return &n, true, nil
}

// resolveTracks applies what keepalived does once the whole file is read:
// a track_script naming no vrrp_script (or one that did not import) is
// left out, and an address owner (priority 255) ignores tracking weights
// (keepalived.conf(5), priority): its weighted interfaces count with
// weight 0, its weighted scripts are not tracked.
func resolveTracks(cfg *config.Config, stmts map[string][]*Stmt, rep *migrate.Report) {
	scripts := map[string]config.VRRPScript{}
	for _, s := range cfg.VRRP.Scripts {
		scripts[s.Name] = s
	}
	for i := range cfg.VRRP.Instances {
		in := &cfg.VRRP.Instances[i]
		owner := in.Priority == 255
		var keep []config.TrackScript
		for j, t := range in.TrackScripts {
			st := stmts[in.Name][j]
			sc, ok := scripts[t.Name]
			w := sc.Weight
			if t.Weight != nil {
				w = *t.Weight
			}
			switch {
			case !ok:
				rep.Unsupported(st.Pos, st.String(), fmt.Sprintf("no vrrp_script %s was imported", t.Name))
			case owner && w != 0:
				rep.Drop(st.Pos, st.String(), "keepalived ignores a weighted track script on an address owner (priority 255)")
			default:
				keep = append(keep, t)
				rep.Map(st.Pos, st.String(), "vrrp.instances["+in.Name+"].track_scripts")
			}
		}
		in.TrackScripts = keep
		if owner {
			for j := range in.TrackInterfaces {
				if in.TrackInterfaces[j].Weight != 0 {
					in.TrackInterfaces[j].Weight = 0
					rep.Invent(fmt.Sprintf("vrrp.instances[%s].track_interfaces[%s].weight", in.Name, in.TrackInterfaces[j].Name), "0",
						"keepalived ignores tracking weights on an address owner (priority 255): a down interface puts it in Fault")
				}
			}
		}
	}
}

// groupTrack is a vrrp_sync_group's tracking: keepalived applies it to
// every member; hadhcpd has it per instance.
type groupTrack struct {
	name     string
	members  []string
	in       config.VRRPInstance // only TrackInterfaces and TrackScripts
	stmts    map[string][]*Stmt  // the track_script entries, under in.Name ("")
	weighted bool                // sync_group_tracking_weight
}

// groupTracking copies each sync group's tracking into its members, and
// applies keepalived's rule for sync groups (keepalived.conf(5),
// vrrp_sync_group): unless the group has sync_group_tracking_weight, the
// weights of its members' trackers are ignored (weight 0: a failure puts
// the group in Fault), so its members never disagree on who is master.
func groupTracking(cfg *config.Config, groups []*groupTrack, tracks map[string][]*Stmt, rep *migrate.Report) {
	for _, g := range groups {
		for _, m := range g.members {
			var in *config.VRRPInstance
			for i := range cfg.VRRP.Instances {
				if cfg.VRRP.Instances[i].Name == m {
					in = &cfg.VRRP.Instances[i]
				}
			}
			if in == nil {
				continue // ParseConfig reports the unknown member
			}
			k := "vrrp.instances[" + m + "]"
			for _, t := range g.in.TrackInterfaces {
				if !slices.ContainsFunc(in.TrackInterfaces, func(x config.TrackInterface) bool { return x.Name == t.Name }) {
					in.TrackInterfaces = append(in.TrackInterfaces, t)
					rep.Invent(k+".track_interfaces", t.Name, "from vrrp_sync_group "+g.name+"'s track_interface")
				}
			}
			for j, t := range g.in.TrackScripts {
				if !slices.ContainsFunc(in.TrackScripts, func(x config.TrackScript) bool { return x.Name == t.Name }) {
					in.TrackScripts = append(in.TrackScripts, t)
					tracks[m] = append(tracks[m], g.stmts[""][j])
				}
			}
			if g.weighted {
				continue
			}
			for j := range in.TrackInterfaces {
				if in.TrackInterfaces[j].Weight != 0 {
					in.TrackInterfaces[j].Weight = 0
					rep.Invent(fmt.Sprintf("%s.track_interfaces[%s].weight", k, in.TrackInterfaces[j].Name), "0", syncNoWeight(g.name))
				}
			}
			for j := range in.TrackScripts {
				t := &in.TrackScripts[j]
				w := 0
				for _, sc := range cfg.VRRP.Scripts {
					if sc.Name == t.Name {
						w = sc.Weight
					}
				}
				if t.Weight != nil {
					w = *t.Weight
				}
				if w != 0 {
					t.Weight = migrate.Ptr(0)
					rep.Invent(fmt.Sprintf("%s.track_scripts[%s].weight", k, t.Name), "0", syncNoWeight(g.name))
				}
			}
		}
	}
}

func syncNoWeight(group string) string {
	return "keepalived ignores tracking weights in vrrp_sync_group " + group + " (no sync_group_tracking_weight): a failure puts the group in Fault"
}
