package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// lifeServices are a test's scoped services on the local cloud, as
// command-line flags, with the job.Env that sees them.
func lifeServices(t *testing.T) ([]string, job.Env, [3]string) {
	store, queue, st := localcloud.Get(t).Scoped(t)
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	states, err := state.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tiles.Close(); states.Close() })
	flags := []string{"--store", store, "--queue", queue, "--state", st, "--launch", "process", "--workers", "2"}
	return flags, job.Env{Tiles: tiles, QueueURL: queue, State: states}, [3]string{store, queue, st}
}

var (
	submittedRE = regexp.MustCompile(`job ([0-9a-f]{12}) submitted`)
	provLogRE   = regexp.MustCompile(`, log ([^)]+)\)`)
)

// detach runs an algorithm command with --detach and returns the job id.
// The provisioner's log, which a user keeps, goes with the test.
func detach(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := npw(t, append(args, "--detach")...)
	m := submittedRE.FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("npw %v --detach: exit %d\n%s%s", args, code, stdout, stderr)
	}
	if l := provLogRE.FindStringSubmatch(stdout); l != nil {
		t.Cleanup(func() { os.Remove(l[1]) })
	}
	return m[1]
}

// A detached job runs on without its client: status and jobs see it,
// wait prints its summary, its output is where -o said, and nothing else
// of it is left; a cancelled one and a failed one leave nothing either.
func TestDetachedJobs(t *testing.T) {
	flags, env, urls := lifeServices(t)
	state := flags[5]
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", randomSPD(rand.New(rand.NewPCG(60, 60)), 300))
	out := strings.Replace(urls[0], "?", "/L?", 1)
	id := detach(t, append([]string{"cholesky", a, "--block", "64", "-o", out}, flags...)...)
	if code, stdout, stderr := npw(t, "status", id, "--state", state, "--json"); code != 0 || !strings.Contains(stdout, `"id": "`+id+`"`) {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := npw(t, "jobs", "--state", state); code != 0 || !strings.Contains(stdout, id) {
		t.Errorf("jobs does not list %s:\n%s", id, stdout)
	}
	statusEnded(t, state, id)
	waitCholesky(t, state, id, "cholesky N=5", a, out)
	assertNothingLeft(t, env, urls)

	// Cancelled while it runs: its workers stop and everything goes.
	big := writeNPY(t, dir, "big.npy", randomSPD(rand.New(rand.NewPCG(61, 61)), 1200))
	id = detach(t, append([]string{"cholesky", big, "--block", "100", "-o", out}, flags...)...)
	waitForDone(t, env.State, id, 1)
	statusSoFar(t, state, id)
	if code, stdout, stderr := npw(t, "cancel", id, "--state", state); code != 0 || !strings.Contains(stdout, "cancelled job "+id) {
		t.Fatalf("cancel: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := npw(t, "status", id, "--state", state); code != 1 || !strings.Contains(stderr, "no job "+id) {
		t.Errorf("status of a cancelled job: exit %d: %s", code, stderr)
	}
	waitGone(t, env, urls)

	// Failed: a matrix that is not positive definite.
	bad := writeNPY(t, dir, "bad.npy", randomGaussian(rand.New(rand.NewPCG(62, 62)), 200, 200))
	id = detach(t, append([]string{"cholesky", bad, "--block", "64", "-o", out}, flags...)...)
	if code, stdout, stderr := npw(t, "wait", id, "--state", state); code != 1 || !strings.Contains(stderr, "not positive definite") || !strings.Contains(stdout, ": failed") {
		t.Errorf("wait for a failed job: exit %d\n%s%s", code, stdout, stderr)
	}
	assertNothingLeft(t, env, urls)
}

// waitCholesky follows a detached Cholesky of the matrix in the .npy
// file a with npw wait until it is done (title: its program and
// arguments), checks the factor it saved at out by its residual, and
// removes it.
func waitCholesky(t *testing.T, state, id, title, a, out string) {
	t.Helper()
	code, stdout, stderr := npw(t, "wait", id, "--state", state)
	if code != 0 || !strings.Contains(stdout, "job "+id+": "+title+": done") || !strings.Contains(stdout, "O → "+out+" (stored)") {
		t.Fatalf("wait: exit %d\n%s%s", code, stdout, stderr)
	}
	l := filepath.Join(t.TempDir(), "l.npy")
	if code, _, stderr := npw(t, "get", out, l); code != 0 {
		t.Fatal(stderr)
	}
	if r := choleskyResidual(readNPY(t, a), readNPY(t, l)); !(r.value <= 30) {
		t.Errorf("the detached job's L: residual %v", r)
	}
	if code, _, stderr := npw(t, "rm", out); code != 0 {
		t.Fatal(stderr)
	}
}

// statusEnded follows npw status --json until the job ends, then checks
// that status prices it: its worker-seconds and a bill whose items add up
// to its total, said as it would be on AWS; and the text says so too.
func statusEnded(t *testing.T, state, id string) {
	t.Helper()
	var s jobStatus
	for end := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s = jobStatus{}
		code, stdout, stderr := npw(t, "status", id, "--state", state, "--json")
		if code != 0 {
			t.Fatalf("status: exit %d\n%s%s", code, stdout, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatal(err)
		}
		if s.Phase == "done" && s.Cost != nil && !s.Cost.SoFar { // the record has its end
			break
		}
		if time.Now().After(end) {
			t.Fatalf("job %s did not end in 60 s: %+v", id, s)
		}
	}
	c := s.Cost
	if s.WorkerSeconds <= 0 || c == nil || c.WorkerSeconds != s.WorkerSeconds || !c.AsOnAWS || c.Region != "us-east-1" || c.PricesTaken == "" ||
		math.Abs(c.Lambda+c.Invocations+c.S3+c.SQS+c.Redis-c.Total) > 1e-12 || c.Lambda <= 0 || c.S3 <= 0 || c.SQS <= 0 {
		t.Errorf("status of an ended job: %+v, cost %+v", s, c)
	}
	code, stdout, _ := npw(t, "status", id, "--state", state)
	if code != 0 || !regexp.MustCompile(`billed +[\d.]+ worker-seconds\n +cost +\$[\d.]+ as it would be on AWS`).MatchString(stdout) {
		t.Errorf("status:\n%s", stdout)
	}
}

// statusSoFar follows npw status --json of a running job until it
// prices what the job has cost so far: worker-seconds from its workers'
// heartbeats, SQS and S3 requests from its members' usage; and the text
// says "so far".
func statusSoFar(t *testing.T, state, id string) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var s jobStatus
		code, stdout, stderr := npw(t, "status", id, "--state", state, "--json")
		if code != 0 {
			t.Fatalf("status: exit %d\n%s%s", code, stdout, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatal(err)
		}
		if s.Phase != "running" {
			t.Fatalf("job %s ended before status priced it running: %+v", id, s)
		}
		if c := s.Cost; c != nil && c.SoFar && s.WorkerSeconds > 0 && c.WorkerSeconds == s.WorkerSeconds && c.SQS > 0 && c.S3 > 0 && c.Redis > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("status of a running job priced nothing in 20 s: %+v, cost %+v", s, s.Cost)
		}
	}
	code, stdout, _ := npw(t, "status", id, "--state", state)
	if code != 0 || !regexp.MustCompile(`billed +[\d.]+ worker-seconds so far\n +cost +so far \$[\d.]+ as it would be on AWS`).MatchString(stdout) {
		t.Errorf("status of a running job:\n%s", stdout)
	}
}

// waitForDone waits until a job has done n tasks.
func waitForDone(t *testing.T, st *state.Store, id string, n int64) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if s, err := st.Status(context.Background(), id); err == nil && s.Done >= n {
			return
		}
	}
	t.Fatalf("job %s did not do %d tasks in 30 s", id, n)
}

// waitGone checks, for up to a few seconds (the workers of a cancelled
// job stop by themselves), that nothing of a test's jobs is left.
func waitGone(t *testing.T, env job.Env, urls [3]string) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		keys, _ := env.Tiles.List(context.Background(), "")
		if len(keys) == 0 || time.Now().After(end) {
			break
		}
	}
	assertNothingLeft(t, env, urls)
}

// Ctrl-C on an attached client cancels its job: exit 130 within seconds,
// one line saying so, nothing left; SIGKILL leaves the job to be
// provisioned by another process, which finishes it.
func TestInterruptedClient(t *testing.T) {
	flags, env, urls := lifeServices(t)
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", randomSPD(rand.New(rand.NewPCG(63, 63)), 1200))
	args := append([]string{"cholesky", a, "--block", "100", "-o", filepath.Join(dir, "l.npy")}, flags...)

	cmd, id := startClient(t, args)
	waitForDone(t, env.State, id, 1)
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want %d", code, err, exitInterrupted)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the client took %v to stop", d)
	}
	waitGone(t, env, urls)

	// SIGKILL: nothing cleans up, but a provisioner takes the job over.
	cmd, id = startClient(t, args)
	waitForDone(t, env.State, id, 1)
	cmd.Process.Kill()
	cmd.Wait()
	code, stdout, stderr := npw(t, "provision", "--job", id, "--state", flags[5])
	if code != 0 || !strings.Contains(stdout, "job "+id+": cholesky: done") || !regexp.MustCompile(`(?m)^  cost +\$[\d.]+ as it would be on AWS`).MatchString(stdout) {
		t.Fatalf("provision of an orphaned job: exit %d\n%s%s", code, stdout, stderr)
	}
	// wait prints the job's cost from the usage its record keeps.
	if code, stdout, stderr := npw(t, "wait", id, "--state", flags[5]); code != 0 || !strings.Contains(stdout, ": done") ||
		!regexp.MustCompile(`(?m)^  cost +\$[\d.]+ as it would be on AWS \(us-east-1 list prices of 2026-10-02\): .* S3 \$[\d.]+ \([1-9]\d* PUT/LIST, [1-9]\d* GET\)`).MatchString(stdout) {
		t.Fatalf("wait: exit %d\n%s%s", code, stdout, stderr)
	}
	waitGone(t, env, urls)
}

// startClient starts npw as a process of its own and returns it once it
// has announced its main job (the last "started" line before the job's
// tasks run), with that job's id.
func startClient(t *testing.T, args []string) (*exec.Cmd, string) {
	t.Helper()
	cmd, m := startNPW(t, args, regexp.MustCompile(`job ([0-9a-f]{12}) started: cholesky`))
	return cmd, m[1]
}

// startNPW starts npw as a process of its own and returns it once a line
// of its stderr matches re, with the match; the rest of stderr is read
// and dropped.
func startNPW(t *testing.T, args []string, re *regexp.Regexp) (*exec.Cmd, []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NPW_TEST_MAIN=1")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// The rest of its stderr is kept, and shown if the test fails: a
	// race report of the child (exit status 66 under -race) is there.
	var rest tailBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("npw %v: the end of its stderr:\n%s", args, rest.String())
		}
	})
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(&rest, stderr)
			return cmd, m
		}
	}
	t.Fatalf("npw %v never printed a line matching %s", args, re)
	return nil, nil
}

// The status of a running job, as JSON: its tasks, its workers (alive by
// their heartbeats) and its pace.
func TestStatusFigures(t *testing.T) {
	snap := job.Snapshot{Record: &job.Record{ID: "x", Program: "cholesky N=4", Tasks: 20, Created: time.Unix(100, 0)},
		Status: state.Status{Phase: state.Running, Done: 5, Metrics: state.Metrics{Flops: 4e9}}, Running: true, Workers: []string{"p1"}}
	s := statusOf(snap, time.Unix(102, 0))
	data, _ := json.Marshal(s)
	want := `{"id":"x","program":"cholesky N=4","phase":"running","tasks":20,"done":5,"workers":["p1"],"gflops":2,"elapsed_seconds":2,"eta_seconds":6}`
	if string(data) != want {
		t.Errorf("status\n got %s\nwant %s", data, want)
	}
}

// A tailBuffer keeps the last 16 KB written to it, for any goroutine.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 16<<10; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
