package agent

import (
	"log/slog"

	"github.com/hadhcpd/hadhcpd/config"
)

// reloadSplits is reloadSplit for a box in several relationships: each
// relationship this box is the primary of puts the file's new split and
// load_balance_max_seconds in force (its own, or the failover: level's
// default), and its secondary gets them over the link (FrameParams), as
// a lone pair's does. A relationship that is no longer in the file keeps
// its split: adding or removing relationships needs a restart. A nil set
// (no relationships) does nothing.
func (s *relSet) reloadSplits(log *slog.Logger, cfg *config.Config) {
	if s == nil {
		return
	}
	if cfg.Failover == nil || len(cfg.Failover.Relationships) == 0 {
		log.Warn("reload: failover.relationships removed: that needs a restart; every relationship keeps its split")
		return
	}
	// The file was validated as loaded; Build types each relationship
	// with its defaults, as at start.
	b, err := config.Build(cfg)
	if err != nil {
		log.Error("reload: failover section not valid, the running one stays", "err", err)
		return
	}
	for _, r := range s.rels {
		l := log.With("relationship", r.spec.Name)
		var spec *config.FailoverSpec
		for _, x := range b.Relationships {
			if x.Name == r.spec.Name {
				spec = x
			}
		}
		if spec == nil {
			l.Warn("reload: the relationship is not in the file any more: that needs a restart; it keeps its split")
			continue
		}
		applySplit(l, spec.Machine, r.p)
	}
}
