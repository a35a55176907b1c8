package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// commandLines samples the command lines of every process on this
// machine until stop is called, and returns those that hold secret.
func commandLines(t *testing.T, secret string) (stop func() []string) {
	var (
		mu    sync.Mutex
		found []string
		done  = make(chan struct{})
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err == nil && strings.Contains(string(b), secret) {
					mu.Lock()
					found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
					mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		close(done)
		wg.Wait()
		return found
	}
}

// The state store's password never shows: not on any process's command
// line while a cloud job runs (client, process workers, a detached job's
// provisioner), not in the commands' output, logs, errors, status or
// --help.
func TestSecretsStayHidden(t *testing.T) {
	flags, _, urls := lifeServices(t)
	u, err := url.Parse(urls[2])
	if err != nil {
		t.Fatal(err)
	}
	password, ok := u.User.Password()
	if !ok || len(password) < 8 {
		t.Fatalf("the local cloud's Redis has no password of its own: %q", urls[2])
	}
	stop := commandLines(t, password)
	var outputs []string
	check := func(what string, code int, stdout, stderr string) {
		t.Helper()
		outputs = append(outputs, stdout, stderr)
		if strings.Contains(stdout+stderr, password) {
			t.Errorf("%s (exit %d) printed the password:\n%s%s", what, code, stdout, stderr)
		}
	}
	code, stdout, stderr := npw(t, append([]string{"cholesky", "--n", "200", "--block", "64", "-v"}, flags...)...)
	check("a cloud job with -v", code, stdout, stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	id := detach(t, append([]string{"cholesky", "--n", "200", "--block", "64"}, flags...)...)
	code, stdout, stderr = npw(t, "status", id, "--state", urls[2])
	check("status", code, stdout, stderr)
	code, stdout, stderr = npw(t, "wait", id, "--state", urls[2])
	check("wait", code, stdout, stderr)
	logs, _ := filepath.Glob(filepath.Join(os.TempDir(), "npw-provision-"+id+".log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		check("the provisioner's log", 0, string(b), "")
	}
	bad := append([]string{"cholesky", "--n", "64"}, flags...)
	bad[len(bad)-5] = "sqs://x?endpoint=http://127.0.0.1:1" // --queue
	code, stdout, stderr = npw(t, bad...)
	check("a job on an unreachable queue", code, stdout, stderr)
	code, stdout, stderr = npw(t, "worker", "--job", "0123456789ab", "--store", urls[0], "--queue", urls[1], "--state", urls[2])
	check("a worker of an unknown job", code, stdout, stderr)
	t.Setenv("NPW_STATE", urls[2])
	for _, cmd := range []string{"cholesky", "worker", "status", "run"} {
		code, stdout, stderr = npw(t, cmd, "--help")
		check(cmd+" --help", code, stdout, stderr)
	}
	code, stdout, stderr = npw(t, "cholesky", "--n", "64", "--state", "redis://:"+password+"@127.0.0.1:1/0")
	check("a job on an unreachable state store", code, stdout, stderr)
	if !strings.Contains(strings.Join(outputs, ""), ":xxxxx@") {
		t.Error("no output names the state store, redacted: the test checks nothing")
	}
	for _, line := range stop() {
		t.Errorf("a command line holds the password: %s", line)
	}
}
