package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWorkerCPUProfile: with $NPW_WORKER_CPUPROFILE set, every worker
// process of a job writes a pprof CPU profile (gzipped protobuf) of its
// life to DIR/worker-PID.cpu.
func TestWorkerCPUProfile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NPW_WORKER_CPUPROFILE", dir)
	code, _, stderr := npw(t, append([]string{"cholesky", "--n", "96", "--block", "32", "--verify"}, cloudArgs(t)...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	files, err := filepath.Glob(filepath.Join(dir, "worker-*.cpu"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no worker profiles in %s (%v)", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is not a gzipped profile (%d bytes)", f, len(b))
		}
	}
}
