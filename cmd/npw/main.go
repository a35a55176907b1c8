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
