package pair

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hadhcpd/hadhcpd/dhcpd/lease"
)

// BenchmarkReplicateCPU is the CPU a lease costs on its way to durable
// storage: "single" is one box's group commit (lease.DB.Commit), "pair" is
// the replicating database over a loopback link into the partner's
// database (both ends in this process), which is what the active box and
// the standby together spend beyond one box in make bench-ha. Four
// goroutines commit batches of 64 new leases, as the engine keeps several
// group commits in flight. cpu-µs/lease is the process's user+system time
// over the leases committed; wall time is mostly fsync waits and says
// little here.
func BenchmarkReplicateCPU(b *testing.B) {
	for _, kind := range []string{"single", "pair"} {
		b.Run(kind, func(b *testing.B) {
			db, sdb := openBenchDB(b), (*lease.DB)(nil)
			commit := db.Commit
			if kind == "pair" {
				sdb = openBenchDB(b)
				pri, _ := linkedPair(b, db, sdb)
				commit = replicating(b, db, pri).Commit
			}
			f0 := db.Fsyncs()
			const workers, batch = 4, 64
			now := time.Now()
			next := make(chan int, workers)
			var wg sync.WaitGroup
			var u0, u1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u0)
			b.ResetTimer()
			for w := range workers {
				wg.Go(func() {
					ls := make([]lease.Lease, batch)
					for base := range next {
						for i := range ls {
							n := base + i
							ls[i] = lease.Lease{Addr: netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)}),
								HWAddr: net.HardwareAddr{2, 0, byte(w), 0, byte(n >> 8), byte(n)}, State: lease.StateActive,
								Start: now, Expiry: now.Add(time.Hour), CLTT: now, StateStart: now}
						}
						if _, err := commit(ls...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			n := 0
			for ; n < b.N; n += batch {
				next <- n % (1 << 16)
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u1)
			cpu := time.Duration(u1.Utime.Nano() - u0.Utime.Nano() + u1.Stime.Nano() - u0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/lease")
			b.ReportMetric(float64(n)/float64(max(1, db.Fsyncs()-f0)), "leases/fsync")
			if sdb != nil {
				b.ReportMetric(float64(n)/float64(max(1, sdb.Fsyncs())), "leases/partner-fsync")
			}
		})
	}
}

// openBenchDB is a lease database with a /16 pool (BenchmarkReplicateCPU
// numbers addresses over 65,536).
func openBenchDB(b *testing.B) *lease.DB { return openRangeDB(b, "198.18.0.0", "198.18.255.255") }
