package leasedb

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
	"github.com/hadhcpd/hadhcpd/migrate"
	"github.com/hadhcpd/hadhcpd/migrate/isc"
)

func TestWriteDir(t *testing.T) {
	f, err := os.Open("../isc/testdata/dhcpd.leases")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ls, err := isc.ParseLeases("dhcpd.leases", f, &migrate.Report{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := WriteDir(dir, ls, false)
	if err != nil || n != len(ls) {
		t.Fatalf("WriteDir = %d, %v", n, err)
	}
	db, _, err := lease.Open(lease.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := db.Get(ls[0].Addr)
	if !ok || got.State != lease.StateActive || !got.Expiry.Equal(ls[0].Expiry) || string(got.ClientID) != string(ls[0].ClientID) ||
		got.HWAddr.String() != ls[0].HWAddr.String() || got.Hostname != "alpha" {
		t.Errorf("lease %s = %+v, %v", ls[0].Addr, got, ok)
	}
	if l, ok := db.ByClient(lease.ClientKey(ls[0].ClientID, nil)); !ok || l.Addr != ls[0].Addr {
		t.Errorf("ByClient = %+v, %v", l, ok)
	}
	count := 0
	db.Range(func(lease.Lease) bool { count++; return true })
	if count != len(ls) {
		t.Errorf("%d leases in the database, want %d", count, len(ls))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDir(dir, ls, false); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second import: %v, want ErrNotEmpty", err)
	}
}

// genLeases writes an ISC lease file with n addresses and blocks blocks:
// every address gets one block, and the rest supersede earlier ones.
func genLeases(path string, n, blocks int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	start := time.Date(2024, 1, 4, 10, 0, 0, 0, time.UTC)
	for i := 0; i < blocks; i++ {
		a := i % n // 198.18.0.0/15 holds 131072 addresses
		st := start.Add(time.Duration(i) * time.Second)
		fmt.Fprintf(w, "lease 198.%d.%d.%d {\n  starts %d %s;\n  ends %d %s;\n  tstp %d %s;\n  cltt %d %s;\n  binding state active;\n  next binding state free;\n  rewind binding state free;\n  hardware ethernet 52:54:%02x:%02x:%02x:%02x;\n  uid \"\\001RT\\000\\000\\000\\001\";\n  client-hostname \"host-%d\";\n}\n",
			18+a>>16, (a>>8)&255, a&255,
			st.Weekday(), st.Format("2006/01/02 15:04:05"), st.Weekday(), st.Add(time.Hour).Format("2006/01/02 15:04:05"),
			st.Weekday(), st.Add(2*time.Hour).Format("2006/01/02 15:04:05"), st.Weekday(), st.Format("2006/01/02 15:04:05"),
			a>>24, (a>>16)&255, (a>>8)&255, a&255, a)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// BenchmarkImportISC250k is the import speed figure: a dhcpd.leases
// with 100,000 leases in 250,000 blocks, parsed and committed to a fresh
// lease database (target: under 5 s per op).
//
//	go test -run '^$' -bench ImportISC250k -benchtime 1x ./migrate/leasedb/
func BenchmarkImportISC250k(b *testing.B) {
	src := filepath.Join(b.TempDir(), "dhcpd.leases")
	if err := genLeases(src, 100000, 250000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), cpuTime()
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		ls, err := isc.ParseLeases(src, f, &migrate.Report{})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		parsed := time.Since(t0)
		if len(ls) != 100000 {
			b.Fatalf("%d leases, want 100000", len(ls))
		}
		if _, err := WriteDir(filepath.Join(b.TempDir(), fmt.Sprint(i)), ls, false); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(parsed.Seconds(), "parse-s")
		b.ReportMetric(time.Since(t0).Seconds(), "total-s")
		// CPU seconds (user+system) say more than wall time on a
		// shared machine.
		b.ReportMetric((cpuTime() - c0).Seconds(), "cpu-s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
