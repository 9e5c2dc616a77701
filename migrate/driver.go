package migrate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hadhcpd/hadhcpd/config"
)

// Format is what one kind of source (ISC dhcpd, Kea, keepalived) brings to
// an import: how its files are read and mapped. Reading the files,
// the leases, the --vrrp-from section, the node-local values and all the
// writing are the same for every kind and live in Convert and Job.
type Format struct {
	// Name names the kind in errors ("isc: open x: ...") and in the
	// written config's header; it is the import subcommand's name.
	Name string
	// ParseConfig maps the main configuration file onto a Result without
	// the node-local values (FinishNode adds those); fs reads included
	// files. A *SyntaxError names the file and line it cannot read;
	// statements hadhcpd cannot express go to the Result's Report.
	ParseConfig func(name string, data []byte, fs FS) (*Result, error)
	// ParseLeases reads a lease file, summarising into rep what it does
	// not carry; nil when the kind has no lease file.
	ParseLeases func(name string, r io.Reader, rep *Report) ([]Lease, error)
	// ParsePair, when set, is ParseConfig for one box of a pair that also
	// reads the partner box's main configuration file (partner, pdata):
	// what the kind keeps on one box of the pair only (ISC: mclt and split
	// on the primary). nil: the kind has none, and Input.Partner is
	// refused.
	ParsePair func(name string, data []byte, partner string, pdata []byte, fs FS) (*Result, error)
}

// FS reads a source's configuration file and its includes. The zero value
// reads the real file system.
type FS struct {
	ReadFile func(path string) ([]byte, error)
	Glob     func(pattern string) ([]string, error) // nil: include patterns are taken literally
}

// Input is one source to import.
type Input struct {
	Format   Format
	Conf     string // the main configuration file
	Leases   string // the lease file; "" = none
	Defaults Defaults
	// VRRP, when set, is the vrrp section to use (from keepalived.conf)
	// instead of one invented from the first subnet's router.
	VRRP *config.VRRPConfig
	FS   FS
	// Root, when set, is a copy of the old server's file system: an
	// absolute include path (/etc/dhcp/x.conf) is read under it. Conf
	// itself is a path on this machine.
	Root string
	// Partner, when set, is the partner box's main configuration file
	// (--partner-conf), read as Conf is, its includes under Root too
	// (Format.ParsePair).
	Partner string
}

// rooted returns fs with absolute paths read under root. A path already
// under root (a relative include resolved against an included file's
// place) is read as it is.
func rooted(fs FS, root string) FS {
	if root == "" {
		return fs
	}
	root = filepath.Clean(root)
	under := func(p string) string {
		if !filepath.IsAbs(p) || p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
			return p
		}
		return filepath.Join(root, p)
	}
	out := FS{ReadFile: func(p string) ([]byte, error) { return fs.ReadFile(under(p)) }}
	if fs.Glob != nil {
		out.Glob = func(p string) ([]string, error) { return fs.Glob(under(p)) }
	}
	return out
}

// Convert reads in's files and returns the hadhcpd config, the leases (nil
// without a lease file) and the report, with the node-local values filled
// in from in.Defaults. Errors are the source's: a file that cannot be
// read, or a *SyntaxError; what hadhcpd cannot express is in the report
// (Report.Err).
func Convert(in Input) (*Result, error) {
	fs := in.FS
	if fs.ReadFile == nil {
		fs = FS{ReadFile: os.ReadFile, Glob: filepath.Glob}
	}
	data, err := fs.ReadFile(in.Conf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Format.Name, err)
	}
	var res *Result
	if in.Partner == "" {
		res, err = in.Format.ParseConfig(in.Conf, data, rooted(fs, in.Root))
	} else {
		if in.Format.ParsePair == nil {
			return nil, fmt.Errorf("%s: a partner's configuration file is not read for this kind", in.Format.Name)
		}
		pdata, perr := fs.ReadFile(in.Partner)
		if perr != nil {
			return nil, fmt.Errorf("%s: partner: %w", in.Format.Name, perr)
		}
		res, err = in.Format.ParsePair(in.Conf, data, in.Partner, pdata, rooted(fs, in.Root))
	}
	if err != nil {
		return nil, err
	}
	if in.Leases != "" {
		if in.Format.ParseLeases == nil {
			return nil, fmt.Errorf("%s: the source has no lease file", in.Format.Name)
		}
		// Opened, not read whole: a lease file may hold millions of blocks.
		f, err := os.Open(in.Leases)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Format.Name, err)
		}
		defer f.Close()
		if res.Leases, err = in.Format.ParseLeases(in.Leases, f, res.Report); err != nil {
			return nil, err
		}
	}
	if in.VRRP != nil {
		res.Config.VRRP = *in.VRRP
	}
	FinishNode(res.Config, in.Defaults, res.Report)
	CheckConfig(res.Config, res.Report)
	return res, nil
}

// CheckConfig loads cfg the way check-config does and lists in rep, as
// unsupported, every key it refuses: an import never writes a file
// check-config refuses without the report saying so.
func CheckConfig(cfg *config.Config, rep *Report) {
	y, err := MarshalConfig(cfg, "")
	if err != nil {
		rep.Unsupported(Pos{}, "(written configuration)", err.Error())
		return
	}
	dir, err := os.MkdirTemp("", "hadhcpd-import-check-")
	if err != nil {
		rep.Unsupported(Pos{}, "(written configuration)", "cannot check it: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "hadhcpd.yaml")
	if err := os.WriteFile(p, y, 0o600); err != nil {
		rep.Unsupported(Pos{}, "(written configuration)", "cannot check it: "+err.Error())
		return
	}
	loaded, err := config.Load(p)
	if err == nil {
		for _, w := range loaded.Warnings() {
			rep.MapNote(Pos{}, w.Key, w.Key, "check-config warns: "+w.Reason)
		}
	}
	for _, e := range config.Errors(err) {
		var ce *config.ConfigError
		if errors.As(e, &ce) {
			rep.Unsupported(Pos{}, ce.Key, "check-config refuses the written configuration: "+ce.Reason)
		} else {
			rep.Unsupported(Pos{}, "(written configuration)", "check-config refuses it: "+e.Error())
		}
	}
}

// ErrInput marks an import refused because of what it was given: a source
// that cannot be read or mapped, statements hadhcpd cannot express, an
// output file that exists (the last two unless Force). Running it again
// unchanged cannot succeed, so the command line exits as for a bad flag.
var ErrInput = errors.New("import refused for its input")

type inputError struct{ error }

func (e inputError) Unwrap() error        { return e.error }
func (e inputError) Is(target error) bool { return target == ErrInput }

// Job is one run of `hadhcpd import`.
type Job struct {
	Input Input
	// VRRPFrom, when set, is imported first; its vrrp section replaces the
	// one Input would invent, and its report is appended to Input's.
	VRRPFrom *Input
	// Output is where the config goes; "-" = Stdout.
	Output string
	// ReportFile also gets the report; "" = only Stderr.
	ReportFile string
	// Force writes although the report lists unsupported statements,
	// merges into a non-empty lease database and overwrites Output.
	Force bool
	// WriteLeases commits leases to the lease database in dir, refusing a
	// non-empty one unless merge, and returns how many it wrote
	// (leasedb.WriteDir). It is passed in so that this package, and the
	// importers with it, build and test without the lease database.
	WriteLeases func(dir string, ls []Lease, merge bool) (int, error)
	// Stdout gets the config when Output is "-"; Stderr the report and
	// what was written where.
	Stdout, Stderr io.Writer
}

// Run converts the input, prints the report, and unless the report
// refuses the import writes the lease database and then the config.
// Errors the person running it must fix in the input or the flags match
// ErrInput.
func (j *Job) Run() error {
	in := j.Input
	var vrrpRep *Report
	if j.VRRPFrom != nil {
		vr, err := Convert(*j.VRRPFrom)
		if err != nil {
			return inputError{err}
		}
		in.VRRP, vrrpRep = &vr.Config.VRRP, vr.Report
	}
	res, err := Convert(in)
	if err != nil {
		return inputError{err}
	}
	res.Report.Merge(vrrpRep)
	if err := res.Report.WriteText(j.Stderr); err != nil {
		return err
	}
	if j.ReportFile != "" {
		if err := writeReport(j.ReportFile, res.Report); err != nil {
			return err
		}
	}
	if err := res.Report.Err(); err != nil && !j.Force {
		return inputError{err}
	}
	src := "--conf " + in.Conf
	if in.Partner != "" {
		src += " --partner-conf " + in.Partner
	}
	y, err := MarshalConfig(res.Config, fmt.Sprintf("written by `hadhcpd import %s %s`; see the import report", in.Format.Name, src))
	if err != nil {
		return err
	}
	if res.Leases != nil {
		if j.WriteLeases == nil {
			return errors.New("migrate: no lease database writer")
		}
		n, err := j.WriteLeases(res.Config.Node.StateDir, res.Leases, j.Force)
		if err != nil {
			return err
		}
		fmt.Fprintf(j.Stderr, "\nwrote %d leases to the lease database in %s\n", n, res.Config.Node.StateDir)
	}
	if j.Output == "-" {
		_, err = j.Stdout.Write(y)
		return err
	}
	if _, err := os.Stat(j.Output); err == nil && !j.Force {
		return inputError{fmt.Errorf("%s exists (--force overwrites it)", j.Output)}
	}
	if err := writeFileAtomic(j.Output, y); err != nil {
		return err
	}
	fmt.Fprintf(j.Stderr, "wrote %s (check it with: hadhcpd check-config -c %s)\n", j.Output, j.Output)
	return nil
}

func writeReport(path string, r *Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteText(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFileAtomic writes a config so a crash never leaves half a file.
// A path that is no regular file (-o /dev/null, a pipe) is written to as
// it is: renaming over it would replace the device node with a file.
func writeFileAtomic(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		return werr
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hadhcpd-import-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o640)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return errors.Join(fmt.Errorf("write %s", path), werr)
	}
	return nil
}
