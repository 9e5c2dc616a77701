package lease

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lease database figures; scripts/bench-lease.sh runs these and prints a
// table. They are benchmarks, not timed tests: targets are checked by the
// script and by the reader, never by `go test`.

// BenchmarkFsync measures the disk's raw fdatasync rate with journal-sized
// appends in the same directory the other benchmarks use.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 80)
	start := time.Now()
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}

// BenchmarkCommit: durable commits per second from 1 and 64 goroutines.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("committers=%d", n), func(b *testing.B) {
			db, _ := openT(b, b.TempDir(), nil)
			f0 := db.Fsyncs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + n - 1) / n
			for g := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						a := u32Addr(0xc6120000 + uint32(g*per+i)%(1<<17))
						if _, err := db.Commit(active(a, i, t0, time.Hour)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start).Seconds()
			b.StopTimer()
			fs := db.Fsyncs() - f0
			b.ReportMetric(float64(per*n)/el, "leases/s")
			b.ReportMetric(float64(fs)/el, "fsyncs/s")
			b.ReportMetric(float64(per*n)/float64(max(fs, 1)), "leases/fsync")
		})
	}
}

// fillPool stores size records of a pool in memory, without the journal:
// EXPIRED ones with an empty free list order by address.
func fillPool(b *testing.B, db *DB, first uint32, size int, st State) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for i := range size {
		r, err := toRec(&Lease{Addr: u32Addr(first + uint32(i)), State: st, HWAddr: mac(i), Hostname: fmt.Sprintf("host%d", i), StateStart: t0})
		if err != nil {
			b.Fatal(err)
		}
		db.store(r)
	}
}

// BenchmarkAllocate: one Allocate and one Unhold per op in a pool whose
// every address has a record (the steady state of a pool in use: the free
// list cycles through all of it, 4096 offers outstanding). The ratio of
// the 10k and 1M rates is the point: ISC dhcpd loses 12x at 130k.
func BenchmarkAllocate(b *testing.B) {
	for _, size := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("pool=%s", human(size)), func(b *testing.B) {
			db, _ := openT(b, b.TempDir(), nil)
			first := uint32(0x0a000000)
			if err := db.SetPools([]Pool{{Name: "p", First: u32Addr(first), Last: u32Addr(first + uint32(size) - 1)}}); err != nil {
				b.Fatal(err)
			}
			fillPool(b, db, first, size, StateExpired)
			var ring [4096]netip.Addr
			for i := range ring {
				a, err := db.Allocate("p", netip.Addr{}, StateFree)
				if err != nil {
					b.Fatal(err)
				}
				ring[i] = a
			}
			runtime.GC() // not the setup's garbage collection in the measured loop
			i := 0
			for b.Loop() {
				a, err := db.Allocate("p", netip.Addr{}, StateFree)
				if err != nil {
					b.Fatal(err)
				}
				db.Unhold(ring[i])
				ring[i] = a
				i = (i + 1) % len(ring)
			}
		})
	}
}

func human(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// writeBigJournal writes a journal of n ACTIVE leases directly (no fsync
// per record): what a million commits leave behind.
func writeBigJournal(b *testing.B, dir string, n int) {
	f, err := os.Create(filepath.Join(dir, journalName(1)))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write((&fileHeader{magic: magicJournal, version: formatVersion, gen: 1}).marshal())
	var buf []byte
	for i := range n {
		hw := mac(i)
		l := active(u32Addr(0x0a000000+uint32(i)), i, t0.Add(time.Duration(i%3600)*time.Second), time.Hour)
		l.ClientID = append([]byte{1}, hw...)
		l.Seq = uint64(i + 1)
		r, err := toRec(&l)
		if err != nil {
			b.Fatal(err)
		}
		buf = appendFrame(buf[:0], &r)
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	// Durable, as the database leaves its journal: otherwise the first
	// fsync after Open writes these tens of MB back and stalls the run.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkOpen1M: open/replay of a journal of 1,000,000 leases, and the
// heap it takes (runtime.MemStats) with a pool over all of them.
func BenchmarkOpen1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	writeBigJournal(b, dir, n)
	var took time.Duration
	var perLease float64
	for b.Loop() {
		before := heapNow()
		start := time.Now()
		db, rep, err := Open(Options{Dir: dir, CompactBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		took = time.Since(start)
		if rep.Records != n || db.Len() != n {
			b.Fatalf("replayed %d records, %d leases", rep.Records, db.Len())
		}
		if err := db.SetPools([]Pool{{Name: "p", First: u32Addr(0x0a000000), Last: u32Addr(0x0a000000 + 2*n - 1)}}); err != nil {
			b.Fatal(err)
		}
		perLease = float64(heapNow()-before) / n
		runtime.KeepAlive(db)
		db.Close()
	}
	b.ReportMetric(took.Seconds(), "s/open")
	b.ReportMetric(perLease, "B/lease")
}

// BenchmarkCompactionLatency: p99 commit latency of 16 committers on a
// database of 1,000,000 leases, without and during a compaction.
func BenchmarkCompactionLatency(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	writeBigJournal(b, dir, n)
	db, _, err := Open(Options{Dir: dir, CompactBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	measure := func(until func() bool) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for i := 0; !until(); i++ {
					a := u32Addr(0x0a000000 + uint32((g*7919+i*16)%n))
					s := time.Now()
					if _, err := db.Commit(active(a, i, t0, time.Hour)); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(s))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		return lat
	}
	p99 := func(l []time.Duration) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[len(l)*99/100]
	}
	// Alternate windows without and with a compaction, four times, and
	// pool the samples: on a shared machine the load drifts, and one
	// window each would compare two different machines.
	var base, during time.Duration
	var compTook time.Duration
	for b.Loop() {
		var lb, ld []time.Duration
		for range 4 {
			stop := make(chan struct{})
			start := time.Now()
			go func() {
				if err := db.Compact(); err != nil {
					b.Error(err)
				}
				compTook = time.Since(start)
				close(stop)
			}()
			ld = append(ld, measure(func() bool {
				select {
				case <-stop:
					return true
				default:
					return false
				}
			})...)
			end := time.Now().Add(compTook)
			lb = append(lb, measure(func() bool { return time.Now().After(end) })...)
		}
		slices.Sort(lb)
		slices.Sort(ld)
		base, during = p99(lb), p99(ld)
	}
	b.ReportMetric(float64(base.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(during.Microseconds())/1000, "p99-compacting-ms")
	b.ReportMetric(compTook.Seconds(), "compaction-s")
}
