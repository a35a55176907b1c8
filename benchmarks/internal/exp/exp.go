// Package exp is what the paper's experiments under benchmarks/ share:
// running a Cholesky on generated input with the engine's options (most
// with emulated compute and Lambda-like goroutine workers), reading the
// result's curves, starting the local cloud, and writing a markdown table
// and PNGs under benchmarks/results/.
package exp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/internal/chart"
	"github.com/npw-dev/npw/internal/secret"
	"github.com/npw-dev/npw/job"
)

// Cholesky generates an n×n symmetric positive definite matrix on the
// workers, factors it with opts and returns the factorization's job (the
// generation's is not timed); everything it made is deleted.
func Cholesky(ctx context.Context, opts engine.Options, n, block int) (*job.Result, error) {
	var res *job.Result
	onJob := opts.OnJob
	opts.OnJob = func(r *job.Result) {
		res = r
		if onJob != nil {
			onJob(r)
		}
	}
	eng, err := engine.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	a, err := eng.Generate(ctx, "A", engine.SPD, n, n, block, 1)
	if err != nil {
		return nil, err
	}
	defer a.Release(context.WithoutCancel(ctx))
	l, err := eng.Cholesky(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := l.Release(ctx); err != nil {
		return nil, err
	}
	if res == nil || res.Program == "generate" {
		return nil, fmt.Errorf("no Cholesky job was reported")
	}
	return res, eng.Release(ctx, res)
}

// CholeskyTasks is the tasks of a Cholesky on T×T tiles: T(T+1)(T+2)/6.
func CholeskyTasks(tiles int) int { return tiles * (tiles + 1) * (tiles + 2) / 6 }

// CholeskyFlops is the flops of an n×n Cholesky, n³/3.
func CholeskyFlops(n int) float64 { return math.Pow(float64(n), 3) / 3 }

// Lambda are the emulated Lambda workers' options: a cold start before
// each worker's first lease, its lifetime, and compute at gflops per
// worker (Settings.EmulateGFLOPS); memory services unless the caller
// sets others.
func Lambda(workers int, gflops float64, coldStart, lifetime time.Duration) engine.Options {
	opts := engine.Options{Workers: workers, ColdStart: coldStart}
	opts.EmulateGFLOPS = gflops
	opts.RuntimeLimit = lifetime
	return opts
}

// Completed returns, in bins of dt seconds from the job's start, the
// tasks completed per second (from the workers' spans: Settings.Trace).
func Completed(res *job.Result, dt float64) (x, perSec []float64) {
	var done []float64
	for _, w := range res.Workers {
		for _, s := range w.Spans {
			done = append(done, s.Done.Sub(res.Started).Seconds())
		}
	}
	if len(done) == 0 {
		return nil, nil
	}
	end := slices.Max(done)
	n := int(end/dt) + 1
	perSec = make([]float64, n)
	for _, t := range done {
		perSec[int(t/dt)] += 1 / dt
	}
	x = make([]float64, n)
	for i := range x {
		x[i] = float64(i) * dt
	}
	return x, perSec
}

// Active returns, in steps of dt seconds from the job's start, the
// workers past their cold start and not yet stopped, from the workers'
// reports: what the provisioner's count of running workers (which counts
// a launched worker at once) becomes once the cold starts are over.
func Active(res *job.Result, dt float64) (x, active []float64) {
	end := res.Wall.Seconds()
	n := int(end/dt) + 1
	x, active = make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i) * dt
	}
	for _, w := range res.Workers {
		a, b := w.Started.Sub(res.Started).Seconds(), w.Stopped.Sub(res.Started).Seconds()
		for i := range x {
			if x[i] >= a && x[i] < b {
				active[i]++
			}
		}
	}
	return x, active
}

// FlopRate returns the kernels' GFLOP/s in bins of dt seconds since the
// job's start, each task's flops spread evenly over its kernel's run.
func FlopRate(res *job.Result, dt float64) (x, gflops []float64) {
	var intervals []chart.Interval
	for _, w := range res.Workers {
		for _, s := range w.Spans {
			intervals = append(intervals, chart.Interval{Start: s.Read.Sub(res.Started).Seconds(), End: s.Computed.Sub(res.Started).Seconds(), Amount: s.Flops / 1e9})
		}
	}
	return chart.Rate(intervals, dt, res.Wall.Seconds())
}

// Results is the directory of the experiments' tables and plots:
// benchmarks/results in the module, found from the working directory.
func Results() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			out := filepath.Join(dir, "benchmarks", "results")
			return out, os.MkdirAll(out, 0o755)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not in the npw module: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Machine describes where the experiment ran: cores, CPU model, Go.
func Machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d cores (%s), %s, %s", runtime.NumCPU(), model, runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}

// A Table is a markdown table.
type Table struct {
	Head []string
	Rows [][]string
}

// Add appends a row of values, each formatted with %v.
func (t *Table) Add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

func (t *Table) String() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n|")
	for range t.Head {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// WriteMarkdown writes text to dir/name and prints it.
func WriteMarkdown(dir, name, text string) error {
	fmt.Print(text)
	return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
}

// A Cloud is the local cloud of scripts/local-cloud, started for one
// experiment: its services' URLs, with the credentials in the
// environment.
type Cloud struct {
	Store, Queue, State string
	dir, script         string
	once                sync.Once
}

// StartCloud starts MinIO, fauxqs and redis-server on loopback with
// scripts/local-cloud (installing them the first time) and puts their
// credentials in this process's environment.
func StartCloud() (*Cloud, error) {
	results, err := Results()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(filepath.Dir(filepath.Dir(results)), "scripts", "local-cloud")
	dir, err := os.MkdirTemp("", "npw-exp-cloud-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(script, "up", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/local-cloud up: %w", err)
	}
	c := &Cloud{dir: dir, script: script}
	atExit(c.Stop)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		Fatal(errors.New("interrupted"))
	}()
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		c.Stop()
		return nil, err
	}
	for _, line := range strings.Split(string(env), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export ")), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		switch k {
		case "NPW_STORE":
			c.Store = v
		case "NPW_QUEUE":
			c.Queue = v
		case "NPW_STATE":
			c.State = v
		default:
			os.Setenv(k, v)
		}
	}
	if c.Store == "" || c.Queue == "" || c.State == "" {
		c.Stop()
		return nil, fmt.Errorf("scripts/local-cloud up wrote no service URLs in %s/env", dir)
	}
	return c, nil
}

// Services are where an experiment's jobs run: the local cloud or the
// memory services, as its -services flag says.
type Services struct {
	Store, Queue, State string
	Where               string // for the write-up
	cloud               *Cloud
}

// OpenServices starts the services named "cloud" (MinIO, fauxqs and Redis
// on this machine) or opens "memory" (the default mem://).
func OpenServices(name string) (*Services, error) {
	switch name {
	case "memory":
		return &Services{Where: "the memory services"}, nil
	case "cloud":
		c, err := StartCloud()
		if err != nil {
			return nil, err
		}
		return &Services{Store: c.Store, Queue: c.Queue, State: c.State, cloud: c,
			Where: "S3, SQS and Redis served on this machine by MinIO, fauxqs and redis-server (scripts/local-cloud)"}, nil
	}
	return nil, fmt.Errorf("-services %q: want cloud or memory", name)
}

// Use points opts at the services.
func (s *Services) Use(opts *engine.Options) {
	opts.Store, opts.Queue, opts.State = s.Store, s.Queue, s.State
}

// Stop stops the local cloud, if it was started.
func (s *Services) Stop() {
	if s.cloud != nil {
		s.cloud.Stop()
	}
}

// Stop stops the services and removes their data, once.
func (c *Cloud) Stop() {
	c.once.Do(func() {
		cmd := exec.Command(c.script, "down", c.dir)
		cmd.Stderr = os.Stderr
		cmd.Run()
	})
}

var (
	exitMu  sync.Mutex
	onExits []func()
)

// atExit registers f to run when Fatal ends the experiment.
func atExit(f func()) {
	exitMu.Lock()
	defer exitMu.Unlock()
	onExits = append(onExits, f)
}

// Fatal prints err, stops what the experiment started (its local cloud)
// and exits 1.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, "experiment:", err)
	exitMu.Lock()
	fs := onExits
	onExits = nil
	exitMu.Unlock()
	for _, f := range fs {
		f()
	}
	os.Exit(1)
}

// BuildNPW builds the npw command with the build tags (openblas: kernels
// on OpenBLAS) into a temporary directory and returns its path.
func BuildNPW(tags string) (string, error) {
	dir, err := os.MkdirTemp("", "npw-exp-")
	if err != nil {
		return "", err
	}
	atExit(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "npw")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/npw")
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

// NPWJSON runs the npw command bin with args, which ask for --json, and
// decodes what it prints into v. A non-zero exit or output that is not
// JSON is an error that carries the command's stderr.
func NPWJSON(bin string, args []string, v any) error {
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = secret.Redact(a) // the local cloud's Redis password is in its URL
	}
	fmt.Fprintf(os.Stderr, "%s: npw %s\n", filepath.Base(os.Args[0]), strings.Join(shown, " "))
	err := cmd.Run()
	if jerr := json.Unmarshal(out.Bytes(), v); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil {
		return fmt.Errorf("npw %s: %v: %s", strings.Join(shown, " "), err, strings.TrimSpace(errOut.String()))
	}
	return nil
}
