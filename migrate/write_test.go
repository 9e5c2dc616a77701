package migrate

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWriteFileAtomicNotRegular: `-o /dev/null` (here a FIFO, which the
// test can own) is written to, never renamed over: a rename would put a
// regular file where the device node was, for every process on the host.
func TestWriteFileAtomicNotRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := writeFileAtomic(p, []byte("node: {}\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is no longer a FIFO: %v", p, err)
	}
	select {
	case b := <-got:
		if string(b) != "node: {}\n" {
			t.Errorf("the reader got %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was written to the FIFO")
	}
}
