package main

import (
	"os"
	"runtime/debug"
)

// tuneGC lowers the garbage collector's growth target from 100% to 25%
// unless GOGC is set: npw's heap is mostly large, short-lived tiles, and a
// heap that grows less reuses the pages of freed tiles instead of
// faulting in fresh ones (benchmarks/README.md has the measurements).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
}

// tuneWorkerGC lowers the growth target further, to 10%, in a worker
// process (npw worker, the Lambda handler) unless GOGC is set, to hold
// its peak memory near the tiles of its tasks in flight.
func tuneWorkerGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(10)
	}
}
