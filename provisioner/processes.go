package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/npw-dev/npw/clock"
	"github.com/npw-dev/npw/executor"
)

// A Pool launches workers and, at the end, accounts for them.
type Pool interface {
	Launcher
	// Wait waits for every launched worker to stop and returns reports.
	Wait() []WorkerReport
}

// Processes launches workers as `npw worker` processes on this machine.
// Each reads the job from the shared services named in Remote and prints
// its report as JSON when it stops. When the launch context ends the
// workers get SIGTERM, and SIGKILL 10 s later.
type Processes struct {
	// Command is the worker's command line before its flags, such as
	// {"/usr/local/bin/npw", "worker"}.
	Command []string
	Remote  executor.Remote // the job and how to work; ID is set per worker
	Env     []string        // added to this process's environment
	Clock   clock.Clock     // default clock.Real

	started atomic.Int64
	running atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	procs   map[int]*os.Process // running workers by pid
	reports []WorkerReport
	watch   sync.Once
}

// Args returns the flags that hand r to `npw worker`, but for its
// services' URLs, which may hold credentials that `ps` would show: those
// go in the environment (Env).
func Args(r executor.Remote) []string {
	args := []string{"--job", r.Job}
	add := func(flag string, set bool, v string) {
		if set {
			args = append(args, flag, v)
		}
	}
	add("--id", r.ID != "", r.ID)
	add("--pipeline", r.Pipeline > 0, strconv.Itoa(r.Pipeline))
	add("--lease", r.Lease > 0, r.Lease.String())
	add("--poll", r.Poll > 0, r.Poll.String())
	add("--idle-timeout", r.IdleTimeout > 0, r.IdleTimeout.String())
	add("--runtime-limit", r.RuntimeLimit > 0, r.RuntimeLimit.String())
	add("--max-attempts", r.MaxAttempts > 0, strconv.Itoa(r.MaxAttempts))
	add("--max-receives", r.MaxReceives > 0, strconv.Itoa(r.MaxReceives))
	add("--memory", r.Memory > 0, strconv.FormatInt(r.Memory, 10))
	add("--emulate-compute", r.EmulateGFLOPS > 0, strconv.FormatFloat(r.EmulateGFLOPS, 'g', -1, 64))
	if r.Trace {
		args = append(args, "--trace")
	}
	if r.AllowNonFinite {
		args = append(args, "--allow-nonfinite")
	}
	return args
}

// Env returns the environment variables that hand r's service URLs to
// `npw worker` (its flags' defaults).
func Env(r executor.Remote) []string {
	return []string{"NPW_STORE=" + r.Store, "NPW_QUEUE=" + r.Queue, "NPW_STATE=" + r.State}
}

// Launch implements Launcher.
func (p *Processes) Launch(ctx context.Context) error {
	if len(p.Command) == 0 {
		return fmt.Errorf("process launcher: no worker command")
	}
	p.watch.Do(func() { go p.stopOnDone(ctx) })
	id := p.started.Add(1)
	r := p.Remote
	r.ID = fmt.Sprintf("p%d", id)
	cmd := exec.Command(p.Command[0], append(append([]string(nil), p.Command[1:]...), Args(r)...)...)
	cmd.Env = append(append(os.Environ(), p.Env...), Env(r)...)
	var stdout bytes.Buffer
	stderr := &tail{max: 4096}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	clk := clock.Or(p.Clock)
	launched := clk.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", r.ID, err)
	}
	p.mu.Lock()
	if p.procs == nil {
		p.procs = map[int]*os.Process{}
	}
	p.procs[cmd.Process.Pid] = cmd.Process
	p.mu.Unlock()
	p.running.Add(1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		p.running.Add(-1)
		rep := WorkerReport{Launched: launched}
		// A worker that printed its report has finished, even if the
		// SIGTERM of the job's end reached it on its way out (after it
		// stopped catching signals): the report stands.
		if jerr := json.Unmarshal(lastLine(stdout.Bytes()), &rep.Report); jerr != nil || rep.Report.Worker == "" {
			rep.Report = executor.Report{Worker: r.ID, Started: launched, Stopped: clk.Now(), Reason: "exited"}
			if err != nil {
				rep.Report.Reason = err.Error() // "signal: killed", "exit status 1"
				if msg := strings.TrimSpace(stderr.String()); msg != "" {
					rep.Err = fmt.Errorf("worker %s: %s: %s", r.ID, err, msg)
				}
			}
		}
		p.mu.Lock()
		delete(p.procs, cmd.Process.Pid)
		p.reports = append(p.reports, rep)
		p.mu.Unlock()
	}()
	return nil
}

// LastError returns the error of the last worker that stopped with one
// (its exit status and the end of its stderr), or nil.
func (p *Processes) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return lastError(p.reports)
}

// stopOnDone signals the workers when the launch context ends.
func (p *Processes) stopOnDone(ctx context.Context) {
	<-ctx.Done()
	p.signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-clock.Or(p.Clock).After(10 * time.Second):
		p.signal(syscall.SIGKILL)
	}
}

func (p *Processes) signal(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, proc := range p.procs {
		proc.Signal(sig)
	}
}

// Running implements Launcher.
func (p *Processes) Running() int { return int(p.running.Load()) }

// Kill sends SIGKILL to frac of the running workers (rounded, at least
// one while frac > 0 and one runs), picked at random, as a machine
// failure would, and returns how many it killed.
func (p *Processes) Kill(rng *rand.Rand, frac float64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	procs := make([]*os.Process, 0, len(p.procs))
	for _, proc := range p.procs {
		procs = append(procs, proc)
	}
	slices.SortFunc(procs, func(a, b *os.Process) int { return a.Pid - b.Pid }) // map order is not the rng's
	n := 0
	for _, i := range pick(rng, len(procs), frac) {
		if procs[i].Signal(syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// pick returns frac of n indices, rounded but at least one when frac > 0
// and n > 0, chosen at random.
func pick(rng *rand.Rand, n int, frac float64) []int {
	k := min(n, int(math.Round(frac*float64(n))))
	if k == 0 && frac > 0 && n > 0 {
		k = 1
	}
	return rng.Perm(n)[:k]
}

// Wait implements Pool.
func (p *Processes) Wait() []WorkerReport {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]WorkerReport(nil), p.reports...)
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
