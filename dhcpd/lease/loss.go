package lease

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lossName is the file that remembers a recovery that lost records, until
// the loss is mended: by a full resync from the partner (a pair), or by
// time, once every lease the lost records could have held has expired (a
// box alone). Recovery repairs the files themselves (damaged runs are
// copied aside and compacted away), so without it the next Open would
// find nothing wrong: a pair box restarted before its resync would claim
// a complete database (invariant 1), a box alone would stop probing.
//
// Its content is the time the last loss was found, in Unix seconds, and a
// newline.
const lossName = "LOSS"

// persistLoss runs after recovery: a loss found now is written down (the
// time of this recovery replaces an older one: its leases run longest);
// one found by an earlier Open and not mended is reported again.
func (db *DB) persistLoss(rep *OpenReport) error {
	path := filepath.Join(db.dir, lossName)
	if rep.NeedResync {
		now := db.clock.Now()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); err != nil {
			return fmt.Errorf("lease: record the loss: %w", err)
		}
		f, err := os.Open(tmp)
		if err == nil {
			err = f.Sync()
			f.Close()
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err == nil {
			err = syncDir(db.dir)
		}
		if err != nil {
			return fmt.Errorf("lease: record the loss: %w", err)
		}
		rep.LossAt = time.Unix(now.Unix(), 0)
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lease: %s: %w", path, err)
	}
	rep.NeedResync = true
	sec, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if perr != nil {
		// Unreadable: the loss is still unmended; date it now, the
		// longest wait.
		rep.LossAt = db.clock.Now()
	} else {
		rep.LossAt = time.Unix(sec, 0)
	}
	db.log.Warn("lease: an earlier recovery lost records and they are not restored yet", "file", path, "lost_at", rep.LossAt.UTC())
	return nil
}

// LossMended forgets a recovery's loss: the caller holds every record
// again (a full resync from the partner completed) or every lease the
// lost records could hold has expired. The next Open reports no loss.
func (db *DB) LossMended() error {
	path := filepath.Join(db.dir, lossName)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("lease: forget the loss: %w", err)
	}
	if err := syncDir(db.dir); err != nil {
		return fmt.Errorf("lease: forget the loss: %w", err)
	}
	return nil
}
