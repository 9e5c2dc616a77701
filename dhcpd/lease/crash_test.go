package lease

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test: a child process (this test binary, re-executed) commits
// as fast as it can from several goroutines and prints every commit that
// returned; the parent SIGKILLs it at a random moment, reopens the database
// and checks that every printed commit is there. 50 rounds on the same
// files, with automatic compactions (small CompactBytes) so kills land in
// the middle of those too.

const (
	crashEnvDir      = "HDL_CRASH_CHILD_DIR"
	crashEnvSelfKill = "HDL_CRASH_SELF_KILL"
	crashRounds      = 50
	crashWorkers     = 8
	crashCompact     = 64 << 10
	crashAddrBase    = 0xc6120000 // 198.18.0.0/15
)

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashRecovery")
	}
	db, rep, err := Open(Options{Dir: dir, CompactBytes: crashCompact})
	if err != nil {
		fmt.Printf("openerr %v\n", err)
		os.Exit(3)
	}
	// selfKill > 0: SIGKILL ourselves right after printing that many acks,
	// the moment at which an ack that ran ahead of its write would be lost.
	selfKill, _ := strconv.Atoi(os.Getenv(crashEnvSelfKill))
	acks := 0
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	fmt.Fprintf(out, "ready %d\n", rep.LastSeq)
	out.Flush()
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				// Each worker cycles over its own 500 addresses, so
				// later rounds overwrite earlier leases.
				a := u32Addr(crashAddrBase + uint32(w*500+i%500))
				ls, err := db.Commit(active(a, i, t0, time.Hour))
				if err != nil {
					fmt.Fprintf(os.Stderr, "commit: %v\n", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s %d\n", a, ls[0].Seq)
				out.Flush() // the ack leaves only after Commit returned
				if acks++; acks == selfKill {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var lastSeq uint64
	totalAcks := 0
	truncations := 0
	for round := range crashRounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		// Odd rounds: the parent kills at a random moment. Even rounds: the
		// child kills itself right after a random ack, to catch an ack
		// that runs ahead of its write.
		want := 50 + rng.IntN(3000)
		selfKill := 0
		if round%2 == 0 {
			selfKill = want
			want = 1 << 30
		}
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, fmt.Sprintf("%s=%d", crashEnvSelfKill, selfKill))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			io.Copy(io.Discard, stdout)
		}()
		acks := map[netip.Addr]uint64{}
		parse := func(l string) {
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "ready":
				if s, _ := strconv.ParseUint(f[1], 10, 64); s != lastSeq {
					t.Errorf("round %d: child opened with LastSeq %d, parent saw %d", round, s, lastSeq)
				}
			case len(f) == 3 && f[0] == "ack":
				s, err := strconv.ParseUint(f[2], 10, 64)
				a, aerr := netip.ParseAddr(f[1])
				if err != nil || aerr != nil {
					return // the line the kill cut short
				}
				if s > acks[a] {
					acks[a] = s
				}
			}
		}
		// Kill after the child has acknowledged a random number of commits
		// (bounded by a random deadline, in case it is slow).
		deadline := time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		n := 0
	wait:
		for n < want {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				parse(l)
				n++
			case <-deadline:
				break wait
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			parse(l)
		}
		cmd.Wait()
		if strings.Contains(stderr.String(), "commit:") || strings.Contains(stderr.String(), "openerr") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}

		db, rep, err := Open(Options{Dir: dir, CompactBytes: -1})
		if err != nil {
			t.Fatalf("round %d: open refused after SIGKILL: %v", round, err)
		}
		if rep.NeedResync || rep.MovedAside != "" {
			t.Fatalf("round %d: a kill produced corruption: %+v", round, rep)
		}
		if rep.TruncatedAt >= 0 {
			truncations++
		}
		lost := 0
		for a, s := range acks {
			if l, ok := db.Get(a); !ok || l.Seq < s {
				lost++
				if lost < 5 {
					t.Errorf("round %d: acknowledged commit %s seq %d lost (have %+v)", round, a, s, l)
				}
			}
			lastSeq = max(lastSeq, s)
		}
		if db.LastSeq() < lastSeq {
			t.Errorf("round %d: LastSeq %d below an acknowledged %d", round, db.LastSeq(), lastSeq)
		}
		lastSeq = db.LastSeq()
		totalAcks += len(acks)
		db.Close()
		if lost > 0 {
			t.Fatalf("round %d: %d of %d acknowledged commits lost", round, lost, len(acks))
		}
	}
	t.Logf("%d rounds, %d acknowledged addresses checked, %d torn tails truncated, last seq %d", crashRounds, totalAcks, truncations, lastSeq)
}
