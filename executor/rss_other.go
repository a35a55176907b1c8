//go:build !unix

package executor

func peakRSS() int64 { return 0 }
