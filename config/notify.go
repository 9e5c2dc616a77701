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
	s := NotifySpec{Timeout: in.NotifyTimeout}
	for _, x := range []struct {
		key, val string
		to       *[]string
	}{
		{"notify_master", in.NotifyMaster, &s.Master},
		{"notify_backup", in.NotifyBackup, &s.Backup},
		{"notify_fault", in.NotifyFault, &s.Fault},
		{"notify", in.Notify, &s.Any},
	} {
		if strings.TrimSpace(x.val) == "" {
			continue
		}
		argv, err := SplitCommand(x.val)
		switch {
		case err != nil:
			v.add(k+"."+x.key, "%q: %v", x.val, err)
		case !filepath.IsAbs(argv[0]):
			// No PATH search and no working directory to resolve
			// against: the agent runs the file named, without a shell.
			v.add(k+"."+x.key, "%q is not an absolute path", argv[0])
		default:
			*x.to = argv
		}
	}
	if in.NotifyTimeout < 0 {
		v.add(k+".notify_timeout", "%s is negative", in.NotifyTimeout)
	} else if in.NotifyTimeout > maxNotifyTimeout {
		// A script still running longer holds every later transition's
		// scripts of the instance back: an hour is already a hung one.
		v.add(k+".notify_timeout", "%s is longer than %s", in.NotifyTimeout, maxNotifyTimeout)
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultNotifyTimeout
	}
	return s
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
