package failover

import (
	"errors"
	"fmt"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// State is a failover endpoint state (draft-ietf-dhc-failover-12 §9).
type State uint8

const (
	// StateUnknown is the partner's state before it was ever heard.
	StateUnknown State = iota
	Startup
	Normal
	CommInterrupted
	PartnerDown
	Recover
	RecoverWait
	RecoverDone
	PotentialConflict
)

var stateNames = [...]string{
	StateUnknown:      "UNKNOWN",
	Startup:           "STARTUP",
	Normal:            "NORMAL",
	CommInterrupted:   "COMMUNICATIONS-INTERRUPTED",
	PartnerDown:       "PARTNER-DOWN",
	Recover:           "RECOVER",
	RecoverWait:       "RECOVER-WAIT",
	RecoverDone:       "RECOVER-DONE",
	PotentialConflict: "POTENTIAL-CONFLICT",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState is the inverse of String, for the peer link's wire format and
// for a state persisted by the agent.
func ParseState(s string) (State, error) {
	for i, n := range stateNames {
		if n == s {
			return State(i), nil
		}
	}
	return StateUnknown, fmt.Errorf("failover: unknown state %q", s)
}

// responsive reports whether a server in this state answers DHCP clients at
// all (draft §9.2 figure: "responsive"/"balanced" vs "unresponsive").
func (s State) responsive() bool {
	switch s {
	case Normal, CommInterrupted, PartnerDown:
		return true
	}
	return false
}

// Role is the configured failover role.
type Role uint8

const (
	Primary Role = iota
	Secondary
)

func (r Role) String() string {
	if r == Primary {
		return "primary"
	}
	return "secondary"
}

// ownPool is the binding state of the addresses this role may allocate on
// its own (draft §2.2 "available IP address", §5.4).
func (r Role) ownPool() lease.State {
	if r == Primary {
		return lease.StateFree
	}
	return lease.StateBackup
}

// Mode is failover.mode.
type Mode uint8

const (
	HotStandby Mode = iota
	LoadBalance
)

func (m Mode) String() string {
	if m == HotStandby {
		return "hot-standby"
	}
	return "load-balance"
}

// Config is what the machine needs from the failover: section of the
// configuration; the agent fills it from its typed config.
type Config struct {
	Role Role
	Mode Mode
	// MCLT is the maximum client lead time (draft §5.2.1, failover.mclt).
	MCLT time.Duration
	// AutoPartnerDown: both paths silent this long moves to PARTNER-DOWN;
	// 0 = only by operator command.
	AutoPartnerDown time.Duration
	// Split is the number of the 256 RFC 3074 hash buckets served by the
	// primary in load-balance mode (0..256, ISC's "split").
	Split int
	// LoadBalanceMaxSeconds: a client whose secs field exceeds this is
	// answered by either server (ISC's load balance max seconds).
	LoadBalanceMaxSeconds int
	// StandbyShare is the fraction (0..1) of the available addresses the
	// secondary holds as BACKUP in hot-standby mode (failover.standby_share).
	StandbyShare float64
}

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("failover: invalid config")

// Validate checks the values the machine relies on; the agent's config
// validation names the YAML keys, this guards the package's own use.
func (c Config) Validate() error {
	var errs []error
	if c.Role != Primary && c.Role != Secondary {
		errs = append(errs, fmt.Errorf("%w: role %d", ErrConfig, c.Role))
	}
	if c.Mode != HotStandby && c.Mode != LoadBalance {
		errs = append(errs, fmt.Errorf("%w: mode %d", ErrConfig, c.Mode))
	}
	if c.MCLT <= 0 {
		errs = append(errs, fmt.Errorf("%w: mclt %v must be positive", ErrConfig, c.MCLT))
	}
	if c.AutoPartnerDown < 0 {
		errs = append(errs, fmt.Errorf("%w: auto_partner_down %v is negative", ErrConfig, c.AutoPartnerDown))
	}
	if c.Split < 0 || c.Split > 256 {
		errs = append(errs, fmt.Errorf("%w: split %d is outside 0..256", ErrConfig, c.Split))
	}
	if c.LoadBalanceMaxSeconds < 0 || c.LoadBalanceMaxSeconds > 65535 {
		errs = append(errs, fmt.Errorf("%w: load_balance_max_seconds %d is outside 0..65535", ErrConfig, c.LoadBalanceMaxSeconds))
	}
	if !(c.StandbyShare >= 0 && c.StandbyShare <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%w: standby_share %v is outside 0..1", ErrConfig, c.StandbyShare))
	}
	return errors.Join(errs...)
}
