// Package machine reports what this machine offers a job: its memory,
// and the free space of a file system.
package machine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is this machine's memory in bytes, or the cgroup's limit
// if lower; 0 when unknown.
func Memory() int64 {
	if testMemory != 0 {
		return testMemory
	}
	var total int64
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total = kb << 10
				}
			}
		}
	}
	if data, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil && limit > 0 && (total == 0 || limit < total) {
			total = limit
		}
	}
	return total
}

// testMemory and testFree, when set, replace the machine's figures (SetForTest).
var testMemory, testFree int64

// SetForTest makes Memory and FreeSpace report the given figures until
// the returned function is called.
func SetForTest(memory, free int64) (restore func()) {
	testMemory, testFree = memory, free
	return func() { testMemory, testFree = 0, 0 }
}

// FormatBytes writes a size as 640 MiB or 75 GiB.
func FormatBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if b < 10 && i > 0 {
		return fmt.Sprintf("%.1f %s", b, units[i])
	}
	return fmt.Sprintf("%.0f %s", b, units[i])
}
