package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// DefaultNotifyTimeout bounds one notify script. keepalived puts no bound
// on notify scripts because it runs them side by side; hadhcpd runs an
// instance's scripts one after the other (in the order of the
// transitions), so a hung script would hold back every later one. Ten
// seconds covers what these scripts do (restart a service, send a
// message, call an API) and stays under the unit's TimeoutStopSec.
const DefaultNotifyTimeout = 10 * time.Second

// maxNotifyTimeout bounds notify_timeout.
const maxNotifyTimeout = time.Hour

// NotifySpec are one instance's transition scripts, each split into its
// argument vector (nil: none configured).
type NotifySpec struct {
	Master, Backup, Fault []string // run on entering that state, as written
	Any                   []string // `notify`: run on every transition with keepalived's four arguments appended
	Timeout               time.Duration
}

// notifySpec checks the notify keys of one instance (k is its key path).
func (in *VRRPInstance) notifySpec(v *validator, k string) NotifySpec {
	s := NotifySpec{Timeout: notifyTimeout(v, k+".notify_timeout", in.NotifyTimeout)}
	for _, x := range []struct {
		key, val string
		to       *[]string
	}{
		{"notify_master", in.NotifyMaster, &s.Master},
		{"notify_backup", in.NotifyBackup, &s.Backup},
		{"notify_fault", in.NotifyFault, &s.Fault},
		{"notify", in.Notify, &s.Any},
	} {
		*x.to = notifyCommand(v, k+"."+x.key, x.val)
	}
	return s
}

// FailoverNotifySpec is a failover relationship's transition script.
type FailoverNotifySpec struct {
	// Command runs on every transition of the failover machine with
	// FAILOVER <name> <state> <previous state> appended (nil: none).
	Command []string
	Timeout time.Duration
}

// failoverNotify checks failover.notify and failover.notify_timeout of
// the single section (k "failover") or of a relationship (k
// "failover.relationships[i]"; d the section's keys, their defaults).
// A key taken from the section is named there, once (failoverNotifyDefaults).
func failoverNotify(v *validator, k string, f, d *FailoverConfig) FailoverNotifySpec {
	cmd, cv := f.Notify, v
	if d != nil && strings.TrimSpace(cmd) == "" {
		cmd, cv = d.Notify, nil
	}
	t, tv := f.NotifyTimeout, v
	if d != nil && t == 0 {
		t, tv = d.NotifyTimeout, nil
	}
	return FailoverNotifySpec{
		Command: notifyCommand(cv, k+".notify", cmd),
		Timeout: notifyTimeout(tv, k+".notify_timeout", t),
	}
}

// failoverNotifyDefaults checks the section's notify keys when they are
// the defaults of failover.relationships (named once, under failover.).
func failoverNotifyDefaults(v *validator, d *FailoverConfig) {
	notifyCommand(v, "failover.notify", d.Notify)
	notifyTimeout(v, "failover.notify_timeout", d.NotifyTimeout)
}

// notifyCommand splits a notify script's command line (key k; "": none
// configured, nil). A nil v checks nothing: the key was checked where
// it is written.
func notifyCommand(v *validator, k, val string) []string {
	if strings.TrimSpace(val) == "" {
		return nil
	}
	argv, err := SplitCommand(val)
	switch {
	case err != nil:
		if v != nil {
			v.add(k, "%q: %v", val, err)
		}
		return nil
	case !filepath.IsAbs(argv[0]):
		// No PATH search and no working directory to resolve
		// against: the agent runs the file named, without a shell.
		if v != nil {
			v.add(k, "%q is not an absolute path", argv[0])
		}
		return nil
	}
	return argv
}

// notifyTimeout checks a notify_timeout (key k) and applies the default.
func notifyTimeout(v *validator, k string, d time.Duration) time.Duration {
	if v != nil {
		if d < 0 {
			v.add(k, "%s is negative", d)
		} else if d > maxNotifyTimeout {
			// A script still running longer holds every later
			// transition's scripts back: an hour is already a hung one.
			v.add(k, "%s is longer than %s", d, maxNotifyTimeout)
		}
	}
	if d <= 0 || d > maxNotifyTimeout {
		return DefaultNotifyTimeout
	}
	return d
}

// SplitCommand splits a script's command line into words the way
// keepalived does for its scripts (keepalived.conf(5), "Quoted strings"):
// unquoted white space separates words, single or double quotes keep
// white space inside a word, and a backslash takes the next character as
// it is. There is no shell: no variables, globs, pipes or redirections.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune // the open quote, 0 outside quotes
		esc   bool
	)
	for _, c := range s {
		switch {
		case esc:
			cur.WriteRune(c)
			esc = false
		case c == '\\':
			esc, in = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	switch {
	case esc:
		return nil, errors.New("ends with a backslash")
	case quote != 0:
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("no command")
	}
	return words, nil
}
