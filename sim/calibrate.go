package sim

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/secret"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// CalibrateOptions say what Calibrate measures.
type CalibrateOptions struct {
	Name   string
	Blocks []int // tile sizes to time the kernels at
	// Store, Queue and State are the services' URLs.
	Store, Queue, State string
	// Worker is the command line that starts a worker process, timed to
	// its exit for the start-up delay (a worker's start is its process's
	// start).
	Worker []string
	Log    io.Writer
}

// Calibrate measures a calibration on this machine: the kernels of the
// shipped algorithms, single-threaded on every core at once (as
// goroutine or process workers compute), at each block; the services at
// the URLs given; and a worker process's start. Each figure's source
// says how it was measured.
func Calibrate(ctx context.Context, o CalibrateOptions) (*Calibration, error) {
	when := time.Now().UTC().Format("2006-01-02")
	host, _ := os.Hostname()
	measured := func(how string) string {
		return fmt.Sprintf("measured by npw simulate --calibrate on %s (%d cores, %s build), %s: %s", host, runtime.NumCPU(), kernels.BLAS, when, how)
	}
	c := &Calibration{Name: o.Name, About: fmt.Sprintf("this machine (%d cores, kernels on %s) and the services %s, %s, %s, measured %s",
		runtime.NumCPU(), kernels.BLAS, secret.Redact(o.Store), secret.Redact(o.Queue), secret.Redact(o.State), when)}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	var err error
	if c.Kernels, err = measureKernels(o.Blocks, measured, logf); err != nil {
		return nil, err
	}
	var transferCores float64
	if c.Store, transferCores, err = measureStore(ctx, o.Store, measured, logf); err != nil {
		return nil, err
	}
	var queueCores, stateCores float64
	if c.Queue, queueCores, err = measureQueue(ctx, o.Queue, measured, logf); err != nil {
		return nil, err
	}
	if c.State, stateCores, err = measureState(ctx, o.State, measured, logf); err != nil {
		return nil, err
	}
	if local(o.Store) {
		busy := func(url, what string) string {
			return measured(secret.Redact(url) + ": the machine's busy time in /proc/stat (all processes: this client and the service's server) over a second of " + what + ", one at a time")
		}
		c.Host = &Host{
			Cores:         &Figure{float64(runtime.NumCPU()), measured("the cores Go sees (runtime.NumCPU); the store is on this machine, so the services share them with the workers")},
			TransferCores: &Figure{round(transferCores, 3), busy(o.Store, "puts and gets of 32 MiB")},
			QueueCores:    &Figure{round(queueCores, 3), busy(o.Queue, "sends of one message")},
			StateCores:    &Figure{round(stateCores, 3), busy(o.State, "status reads")},
		}
	}
	if c.Workers, err = measureWorkers(o.Worker, measured, logf); err != nil {
		return nil, err
	}
	if c.Workers.TaskOverhead, err = measureTaskOverhead(ctx, measured, logf); err != nil {
		return nil, err
	}
	return c, c.check()
}

// overheadTiles and overheadBlock size the Cholesky that measures a
// task's own cost: 48×48 tiles of 8, 19,600 tasks whose kernels take a
// few microseconds.
const overheadTiles, overheadBlock = 48, 8

// measureTaskOverhead runs a real Cholesky of tiny tiles on npw's memory
// services, one goroutine worker computing one task at a time: what a
// task takes beyond its kernel and its tile copies (the job's time, less
// its tasks' reads, computes and writes, over its tasks) is the
// executor's own work per task: leasing, the done check, the completion,
// finding and sending its children. The simulator adds it to every
// task's compute; the services' requests it models apart, on their own
// calibrated times (in memory they take none).
func measureTaskOverhead(ctx context.Context, measured func(string) string, logf func(string, ...any)) (*Figure, error) {
	e, err := npw.Open(ctx, npw.Options{Workers: 1, Settings: executor.Settings{Pipeline: 1}})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	n := overheadTiles * overheadBlock
	a := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			a.Set(i, j, 1/float64(1+i+j))
		}
		a.Set(i, i, a.At(i, i)+float64(n))
	}
	m, err := e.Upload(ctx, "overhead", a, overheadBlock)
	if err != nil {
		return nil, err
	}
	defer m.Release(ctx)
	var best float64
	var bestTasks int64
	for range 3 { // the least of three: the machine's other work only adds
		res, err := e.Run(ctx, "cholesky", map[string]int{"N": overheadTiles}, overheadBlock, map[string]*npw.Matrix{"S": m})
		if err != nil {
			return nil, err
		}
		mt := res.Status.Metrics
		per := (res.Wall.Seconds() - mt.ReadSeconds - mt.ComputeSeconds - mt.WriteSeconds) / float64(res.Status.Done)
		if best == 0 || per < best {
			best, bestTasks = per, res.Status.Done
		}
	}
	best = max(best, 0)
	logf("tasks: %.1f µs of the executor's own per task", best*1e6)
	return &Figure{round(best, 3), measured(fmt.Sprintf("a Cholesky of %d×%d tiles of %d (%d tasks) on npw's memory services, one goroutine worker with a pipeline of 1: the job's time less its tasks' read, compute and write seconds, over the tasks; the least of three runs",
		overheadTiles, overheadTiles, overheadBlock, bestTasks))}, nil
}

// measureKernels times, for each block, the biggest call of each kernel
// the shipped algorithms make on a 3×3-tile problem (their full-tile
// calls), as many copies at once as there are cores. Each runs for 1
// worker and for 2, since the program can follow the pool (QR is
// blocked for 1 and a tree for 2 on 3×3 tiles: npw.QRBlocked).
func measureKernels(blocks []int, measured func(string) string, logf func(string, ...any)) ([]KernelSpeed, error) {
	var out []KernelSpeed
	for _, b := range blocks {
		best := map[string]*probe{}
		from := map[*probe]*prober{}
		for _, alg := range Algorithms() {
			for _, workers := range []int{1, 2} {
				p, err := NewProblem(alg, 3*b, b, workers)
				if err != nil {
					return nil, err
				}
				s, err := newSim(Config{Plan: p.Plan, InputShape: p.InputShape, Block: b, Cal: probingCalibration(), MemoryServices: true,
					Policy: provisioner.Policy{MaxWorkers: 1}, RuntimeLimit: 0, ColdStart: 0})
				if err != nil {
					return nil, err
				}
				if err := s.runProbing(); err != nil {
					return nil, err
				}
				for key, pr := range s.probes.cache {
					name, _, _ := strings.Cut(key, " ")
					if old := best[name]; old == nil || pr.flops > old.flops {
						best[name] = pr
						from[pr] = s.probes
					}
				}
			}
		}
		names := make([]string, 0, len(best))
		for name := range best {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			pr := best[name]
			if pr.flops == 0 {
				continue // moves tiles, computes nothing: its time is its transfers'
			}
			in := from[pr].inputs(pr, false)
			secs, err := timeKernel(name, in, pr.scalars)
			if err != nil {
				return nil, err
			}
			g := pr.flops / secs / 1e9
			logf("kernel %-22s block %5d: %7.2f GFLOP/s per core", name, b, g)
			out = append(out, KernelSpeed{Kernel: name, Block: b, GFLOPS: &Figure{Value: round(g, 4),
				Source: measured(fmt.Sprintf("%.4g flops on %s in %.4g s, one copy per core at once, median of the runs", pr.flops, shapes(in), secs))}})
		}
	}
	return out, nil
}

func shapes(in []blas64.General) string {
	s := make([]string, len(in))
	for i, g := range in {
		s[i] = kernels.Shape(g)
	}
	return strings.Join(s, ", ")
}

func round(x float64, digits int) float64 {
	if x == 0 {
		return 0
	}
	p := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// probingCalibration is the calibration the probing runs take: every
// kernel at 1 GFLOP/s, instant services, unbounded memory. It never
// leaves this file.
func probingCalibration() *Calibration {
	f := func(v float64) *Figure { return &Figure{Value: v, Source: "probing"} }
	return &Calibration{Name: "probing", probing: true,
		Store:   Store{GetLatency: f(0), PutLatency: f(0), GetMBps: f(1), PutMBps: f(1), AggregateMBps: f(1), RequestsPerSec: f(1)},
		Queue:   Service{RoundTrip: f(0), RequestsPerSec: f(1)},
		State:   Service{RoundTrip: f(0), RequestsPerSec: f(1)},
		Workers: Workers{StartMedian: f(0), StartP90: f(0), RuntimeLimit: f(0), FailuresPerHour: f(0), MemoryMB: f(math.MaxFloat64), TaskOverhead: f(0)}}
}

// runProbing runs the simulation only to learn the kinds of call.
func (s *sim) runProbing() error {
	if err := s.start(); err != nil {
		return err
	}
	for len(s.events) > 0 && !s.ended && s.err == nil {
		s.step()
	}
	return s.err
}

// timeKernel runs the kernel on in, the tiles the probe learnt it on
// (which Run leaves as they are), one copy per core at once, at least
// three times (or for a second), and returns the median time of one
// call.
func timeKernel(name string, in []blas64.General, scalars []lp.Value) (float64, error) {
	k, _ := kernels.Lookup(name)
	cores := runtime.NumCPU()
	var mu sync.Mutex
	var times []float64
	var firstErr error
	var wg sync.WaitGroup
	for range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := time.Now(); ; {
				t0 := time.Now()
				_, err := run(k, in, scalars)
				d := time.Since(t0).Seconds()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("timing kernel %s: %w", name, err)
				}
				times = append(times, d)
				done := firstErr != nil || len(times) >= 3*cores && time.Since(start) >= time.Second
				mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// median runs f n times and returns the median of its durations.
func median(n int, f func() error) (float64, error) {
	ts := make([]float64, 0, n)
	for range n {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(t0).Seconds())
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

// rate runs f from 16 goroutines for a second and returns calls per
// second.
func rate(f func() error) (float64, error) {
	var n int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < time.Second {
				err := f()
				mu.Lock()
				n++
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

func tag() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// measureStore times small and large puts and gets, one at a time and
// from every core at once, and small gets from 16 goroutines.
func measureStore(ctx context.Context, url string, measured func(string) string, logf func(string, ...any)) (Store, float64, error) {
	st, err := blockstore.Open(ctx, url)
	if err != nil {
		return Store{}, 0, err
	}
	defer st.Close()
	prefix := "npw-calibrate-" + tag() + "/"
	defer st.DeletePrefix(context.WithoutCancel(ctx), prefix)
	small := make([]byte, 8)
	big := make([]byte, 32<<20)
	key := func(s string) string { return prefix + s }
	if err := st.Put(ctx, key("small"), small); err != nil {
		return Store{}, 0, err
	}
	putLat, err := median(21, func() error { return st.Put(ctx, key("small"), small) })
	if err != nil {
		return Store{}, 0, err
	}
	getLat, err := median(21, func() error { _, err := st.Get(ctx, key("small")); return err })
	if err != nil {
		return Store{}, 0, err
	}
	putBig, err := median(5, func() error { return st.Put(ctx, key("big"), big) })
	if err != nil {
		return Store{}, 0, err
	}
	getBig, err := median(5, func() error { _, err := st.Get(ctx, key("big")); return err })
	if err != nil {
		return Store{}, 0, err
	}
	transferCores, err := busyWhile(func() error {
		if err := st.Put(ctx, key("big"), big); err != nil {
			return err
		}
		_, err := st.Get(ctx, key("big"))
		return err
	})
	if err != nil {
		return Store{}, 0, err
	}
	mb := float64(len(big)) / 1e6
	putMBps := mb / math.Max(putBig-putLat, 1e-9)
	getMBps := mb / math.Max(getBig-getLat, 1e-9)
	// Every core getting at once: the store's aggregate.
	cores := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make([]error, cores)
	t0 := time.Now()
	for c := range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := st.Get(ctx, key("big")); err != nil {
					errs[c] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Store{}, 0, err
	}
	aggMBps := 3 * float64(cores) * mb / time.Since(t0).Seconds()
	rps, err := rate(func() error { _, err := st.Get(ctx, key("small")); return err })
	if err != nil {
		return Store{}, 0, err
	}
	logf("store %s: get %.2f ms, put %.2f ms; get %.0f MB/s, put %.0f MB/s per worker (the machine %.2f cores busy), %.0f MB/s from %d at once; %.0f requests/s",
		secret.Redact(url), getLat*1e3, putLat*1e3, getMBps, putMBps, transferCores, aggMBps, cores, rps)
	src := func(how string) string { return measured(secret.Redact(url) + ": " + how) }
	return Store{
		GetLatency:     &Figure{round(getLat, 3), src("median of 21 gets of 8 bytes")},
		PutLatency:     &Figure{round(putLat, 3), src("median of 21 puts of 8 bytes")},
		GetMBps:        &Figure{round(getMBps, 3), src("32 MiB per median get of 5, less the latency")},
		PutMBps:        &Figure{round(putMBps, 3), src("32 MiB per median put of 5, less the latency")},
		AggregateMBps:  &Figure{round(aggMBps, 3), src(fmt.Sprintf("%d goroutines each getting 32 MiB three times at once", cores))},
		RequestsPerSec: &Figure{round(rps, 3), src("gets of 8 bytes from 16 goroutines for a second")},
	}, transferCores, nil
}

// measureQueue times sends of one message, on a queue of its own that it
// destroys.
func measureQueue(ctx context.Context, url string, measured func(string) string, logf func(string, ...any)) (Service, float64, error) {
	q, err := queue.Create(ctx, url, "npw-calibrate-"+tag())
	if err != nil {
		return Service{}, 0, err
	}
	defer q.Close()
	defer q.Destroy(context.WithoutCancel(ctx))
	send := func() error { return q.Send(ctx, queue.Message{Body: "0:0"}) }
	return measureService("queue", url, "sends of one message", send, measured, logf)
}

// measureState times status reads of a job of its own that it deletes.
func measureState(ctx context.Context, url string, measured func(string) string, logf func(string, ...any)) (Service, float64, error) {
	st, err := state.Open(ctx, url)
	if err != nil {
		return Service{}, 0, err
	}
	defer st.Close()
	id := "npw-calibrate-" + tag()
	if err := st.CreateJob(ctx, state.Job{ID: id, Tasks: 1}); err != nil {
		return Service{}, 0, err
	}
	defer st.Delete(context.WithoutCancel(ctx), id)
	read := func() error { _, err := st.Status(ctx, id); return err }
	return measureService("state", url, "status reads", read, measured, logf)
}

// measureService times request one at a time (the median of 31: the
// round trip) and from 16 goroutines for a second (the rate).
func measureService(what, url, requests string, request func() error, measured func(string) string, logf func(string, ...any)) (Service, float64, error) {
	rtt, err := median(31, request)
	if err != nil {
		return Service{}, 0, err
	}
	rps, err := rate(request)
	if err != nil {
		return Service{}, 0, err
	}
	cores, err := busyWhile(request)
	if err != nil {
		return Service{}, 0, err
	}
	where := secret.Redact(url)
	logf("%s %s: %.2f ms a request (the machine %.2f cores busy), %.0f requests/s", what, where, rtt*1e3, cores, rps)
	return Service{
		RoundTrip:      &Figure{round(rtt, 3), measured(where + ": median of 31 " + requests)},
		RequestsPerSec: &Figure{round(rps, 3), measured(where + ": " + requests + " from 16 goroutines for a second")},
	}, cores, nil
}

// busyWhile is the cores the machine is busy with (all its processes,
// from /proc/stat) while f runs one call after another for a second.
func busyWhile(f func() error) (float64, error) {
	t0, err := readCPUTimes()
	if err != nil {
		return 0, err
	}
	for start := time.Now(); time.Since(start) < time.Second; {
		if err := f(); err != nil {
			return 0, err
		}
	}
	t1, err := readCPUTimes()
	if err != nil {
		return 0, err
	}
	return t1.coresSince(t0), nil
}

// measureWorkers times a worker process's start, and reads the memory a
// worker has here: the machine's, shared by one worker per core.
func measureWorkers(cmd []string, measured func(string) string, logf func(string, ...any)) (Workers, error) {
	var starts []float64
	for range 9 {
		t0 := time.Now()
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			return Workers{}, fmt.Errorf("starting %s: %v: %s", strings.Join(cmd, " "), err, out)
		}
		starts = append(starts, time.Since(t0).Seconds())
	}
	slices.Sort(starts)
	med, p90 := starts[4], starts[7]
	memMB, err := machineMemoryMB()
	if err != nil {
		return Workers{}, err
	}
	perCore := memMB / float64(runtime.NumCPU())
	logf("workers: start %.1f ms median, %.1f ms p90; %.0f MB each", med*1e3, p90*1e3, perCore)
	startSrc := measured(fmt.Sprintf("9 runs of `%s` to its exit", strings.Join(cmd, " ")))
	return Workers{
		StartMedian:     &Figure{round(med, 3), startSrc + ", the median"},
		StartP90:        &Figure{round(p90, 3), startSrc + ", the 8th of 9"},
		RuntimeLimit:    &Figure{0, "goroutine and process workers have no runtime limit (executor.Settings.RuntimeLimit 0)"},
		FailuresPerHour: &Figure{0, "no worker of a local run dies unless killed"},
		MemoryMB:        &Figure{math.Round(perCore), measured("MemTotal of /proc/meminfo over the cores, one worker per core")},
	}, nil
}

func machineMemoryMB() (float64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			if _, err := fmt.Sscan(rest, &kb); err != nil {
				return 0, err
			}
			return kb / 1024 * 1.048576, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemTotal")
}

// local says whether a store URL is on this machine: a file:// or mem://
// store, or a server on a loopback address.
func local(store string) bool {
	u, err := neturl.Parse(store)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "file", "mem":
		return true
	}
	host := u.Hostname()
	endpoint := u.Query().Get("endpoint")
	if endpoint == "" && u.Scheme == "s3" {
		endpoint = cmp.Or(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"))
	}
	if endpoint != "" {
		if e, err := neturl.Parse(endpoint); err == nil {
			host = e.Hostname()
		}
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cpuTimes are the machine's busy and total time from /proc/stat, in
// clock ticks.
type cpuTimes struct{ busy, total float64 }

func readCPUTimes() (cpuTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("reading the machine's busy time: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat starts %q, not with the cpu line", line)
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: %q is not a number", f)
		}
		if i >= 7 { // guest time is counted in user time already
			break
		}
		t.total += v
		if i != 3 && i != 4 { // idle, iowait
			t.busy += v
		}
	}
	return t, nil
}

// coresSince is the cores busy on average since t0.
func (t cpuTimes) coresSince(t0 cpuTimes) float64 {
	if t.total <= t0.total {
		return 0
	}
	return (t.busy - t0.busy) / (t.total - t0.total) * float64(runtime.NumCPU())
}
