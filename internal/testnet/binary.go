package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Binary builds a Go command once per test process, for tests that run the
// real program in a lab. Declare one per test package:
//
//	var hadhcpd = testnet.Binary{Pkg: "github.com/hadhcpd/hadhcpd/cmd/hadhcpd", Env: "HADHCPD_BIN"}
type Binary struct {
	Pkg string // import path of the main package
	Env string // when set and that variable names a file, use it instead of building

	once sync.Once
	path string
	dir  string
	err  error
}

// Path returns the binary, building it on first use (bounded to 3 minutes).
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.Env != "" {
			if p := os.Getenv(b.Env); p != "" {
				b.path = p
				return
			}
		}
		b.dir, b.err = os.MkdirTemp("", "hadhcpd-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, filepath.Base(b.Pkg))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.path, b.Pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.Pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Remove deletes what Path built (call it from TestMain after m.Run).
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Buffer is a goroutine-safe sink for a process's output, read while the
// process still writes.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
