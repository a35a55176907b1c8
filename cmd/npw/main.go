// Command npw runs dense linear algebra written in LAmbdaPACK on
// serverless workers. Run "npw help" for the commands. Inside AWS Lambda
// (provided.al2023) the same binary serves worker invocations.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	tuneGC()
	if inLambda() {
		serveLambda()
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// tuneGC lowers the garbage collector's growth target from 100% to 25%
// unless GOGC is set. npw's heap is mostly tiles: large, pointer-free and
// short-lived, so collections are cheap, while every page a heap grows by
// is a fresh page the kernel zeroes on first touch (about 1 ms per MiB on
// the measured VM). A heap that grows 25% between collections reuses
// the pages of freed tiles: npw bench gemm --n 8192 --block 2048 took
// 15.2–15.5 s at GOGC=25 and 16.3–17.6 s at 100 (same runs' DGEMM on both
// cores: 14.1–14.9 s). It also keeps a worker's peak memory near its live
// tiles.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
}

// tuneWorkerGC lowers the growth target further, to 10%, in a worker
// process (npw worker, the Lambda handler), unless GOGC is set: its heap
// is almost only the tiles of the tasks in flight, and a collection
// started at 25% growth is still marking while the next task's reads
// arrive. Measured with process workers on the local cloud (npw bench,
// peak RSS of a worker against (pipeline×3+2) tiles + 64 MiB): GEMM
// n=8192, block 2048: 323–338 MiB at 25%, 275–338 MiB (mostly about 300)
// at 10% (target 320); Cholesky 111–121 MiB either way (target 128); run
// times within the runs' noise.
func tuneWorkerGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(10)
	}
}
