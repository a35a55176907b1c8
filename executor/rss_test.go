//go:build unix

package executor

import (
	"runtime"
	"testing"
)

// peakRSS sees memory this process touched.
func TestPeakRSS(t *testing.T) {
	before := peakRSS()
	buf := make([]byte, 64<<20)
	for i := range len(buf) / 4096 {
		buf[i*4096] = 1
	}
	after := peakRSS()
	runtime.KeepAlive(buf)
	if before <= 0 || after-before < 60<<20 {
		t.Errorf("peak RSS %d before touching 64 MiB, %d after", before, after)
	}
}
