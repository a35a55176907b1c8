package machine

import "syscall"

// FreeSpace is the space left to an unprivileged user on the file system
// of dir; false when unknown.
func FreeSpace(dir string) (int64, bool) {
	if testFree != 0 {
		return testFree, true
	}
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return 0, false
	}
	return int64(s.Bavail) * s.Bsize, true
}
