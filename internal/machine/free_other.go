//go:build !linux

package machine

// FreeSpace is unknown off Linux, but for tests.
func FreeSpace(string) (int64, bool) { return testFree, testFree != 0 }
