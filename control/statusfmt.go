package control

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteStatus prints st as the table `hadhcpd status` shows: one glance
// answers "who is master, is the partner there, is anything running out".
func WriteStatus(w io.Writer, st *Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node %s\thadhcpd %s\tup %s\n", st.Node, st.Version, now.Sub(st.Started).Truncate(time.Second))
	if len(st.VRRP) > 0 {
		fmt.Fprintln(tw, "\nVRRP\tINTERFACE\tVRID\tSTATE\tPRIORITY\tMASTER\tSINCE")
		for _, v := range st.VRRP {
			since := "-"
			if !v.Since.IsZero() {
				since = now.Sub(v.Since).Truncate(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", v.Instance, v.Interface, v.VRID, v.State, v.Priority, orDash(v.Master), since)
		}
	}
	if f := st.Failover; f != nil {
		fmt.Fprintln(tw, "\nFAILOVER\tMODE\tSTATE\tPARTNER\tPARTNER STATE\tLINK\tUNACKED\tSKEW")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%+.1fs\n", f.Role, f.Mode, f.State, orDash(f.PartnerName),
			partnerStateText(f, now), linkText(f), f.UnackedUpdates, f.SkewSeconds)
		fmt.Fprintf(tw, "\nPAIR PARAMETERS\t%s\n", pairParams(f))
		if f.ParamsRefused != "" {
			fmt.Fprintf(tw, "PARTNER REFUSED\t%s\n", f.ParamsRefused)
		}
	}
	if u := st.RecoveryProbingUntil; !u.IsZero() {
		fmt.Fprintf(tw, "\nRECOVERY PROBING until %s (%s left): lease records were lost; every address is probed before it is offered\n",
			u.UTC().Format(time.RFC3339), u.Sub(now).Truncate(time.Second))
	}
	if len(st.Relationships) > 0 {
		fmt.Fprintln(tw, "\nRELATIONSHIP\tROLE\tMODE\tSTATE\tPARTNER\tPARTNER STATE\tLINK\tUNACKED\tSKEW\tCONFIG\tVRRP\tSUBNETS")
		for _, r := range st.Relationships {
			f := &r.FailoverStatus
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%+.1fs\t%s\t%s\t%s\n", r.Name, f.Role, f.Mode, f.State, orDash(f.PartnerName),
				partnerStateText(f, now), linkText(f), f.UnackedUpdates, f.SkewSeconds, configText(f), orDash(r.VRRPInstance), strings.Join(r.Subnets, ","))
		}
	}
	if d := st.Defaults; d != nil {
		fmt.Fprintf(tw, "\nDEFAULTS FROM\tSERIAL\tHASH\tVIA\n%s\t%s\t%s\t%s\n", d.Source, defaultsSerial(d), orDash(shortHash(d.Hash)), orDash(d.Via))
		if d.Error != "" {
			fmt.Fprintf(tw, "DEFAULTS REFUSED\t%s\n", d.Error)
		}
	}
	if len(st.Pools) > 0 {
		rel := len(st.Relationships) > 0
		if rel {
			fmt.Fprintln(tw, "\nPOOL\tRELATIONSHIP\tTOTAL\tFREE\tBACKUP\tACTIVE\tEXPIRED\tRELEASED\tABANDONED")
		} else {
			fmt.Fprintln(tw, "\nPOOL\tTOTAL\tFREE\tBACKUP\tACTIVE\tEXPIRED\tRELEASED\tABANDONED")
		}
		for _, p := range st.Pools {
			if rel {
				fmt.Fprintf(tw, "%s\t%s\t", p.Pool, orDash(p.Relationship))
			} else {
				fmt.Fprintf(tw, "%s\t", p.Pool)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\n", p.Total, p.Free, p.Backup, p.Active, p.Expired, p.Released, p.Abandoned)
		}
	}
	return tw.Flush()
}

// defaultsSerial is the serial in force, or what serves instead.
func defaultsSerial(d *DefaultsStatus) string {
	if d.Serial == 0 {
		return "none yet (own file's)"
	}
	return fmt.Sprint(d.Serial)
}

// shortHash is a hash's first 12 hex digits (the JSON has it whole).
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// partnerStateText is the partner's state as the table shows it: the
// state it announced while the link is up; while it is down "unknown"
// with the last state heard and its age ("unknown (NORMAL 12s ago)"), so
// nobody reads a state the partner may have left as current.
func partnerStateText(f *FailoverStatus, now time.Time) string {
	if f.LinkUp {
		return orDash(f.PartnerState)
	}
	if f.PartnerLastSeen.IsZero() || f.PartnerLastState == "" || f.PartnerLastState == "UNKNOWN" {
		return "unknown"
	}
	return fmt.Sprintf("unknown (%s %s ago)", f.PartnerLastState, now.Sub(f.PartnerLastSeen).Truncate(time.Second))
}

func linkText(f *FailoverStatus) string {
	if f.LinkUp {
		return "up"
	}
	return "down"
}

// configText says whether the partner serves the same configuration
// (the hash it announced at the last handshake).
func configText(f *FailoverStatus) string {
	switch {
	case f.ConfigMatch == nil:
		return "-"
	case *f.ConfigMatch:
		return "same"
	}
	return "DIFFERS"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// pairParams is the line of the parameters the pair must agree on, those
// of the mode in force.
func pairParams(f *FailoverStatus) string {
	s := fmt.Sprintf("mclt %s  max_response_delay %s", secs(f.MCLTSeconds), secs(f.MaxResponseDelaySeconds))
	if f.Mode == "load-balance" {
		return s + fmt.Sprintf("  split %d  load_balance_max_seconds %d", f.Split, f.LoadBalanceMaxSeconds)
	}
	return s + fmt.Sprintf("  standby_share %g%%", f.StandbyShare*100)
}

func secs(s float64) string { return time.Duration(s * float64(time.Second)).String() }
