//go:build unix

package executor

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// peakRSS is the most resident memory this process has had, in bytes (0
// if unknown). On Linux it is VmHWM of /proc/self/status: getrusage's
// maxrss also counts the memory of the parent a process was forked from
// before its exec (a worker started by a client holding big matrices).
func peakRSS() int64 {
	if runtime.GOOS == "linux" {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		for line := range bytes.Lines(data) {
			if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
				// "VmHWM:    123456 kB"
				f := bytes.Fields(rest)
				if len(f) == 0 {
					return 0
				}
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb * 1024
			}
		}
		return 0
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there, KiB elsewhere
	}
	return int64(ru.Maxrss) * 1024
}
