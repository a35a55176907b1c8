// Command outofcore runs npw on matrices larger than this machine's
// memory, from and to the file:// store, with worker processes on
// OpenBLAS: a Cholesky of n = 65,536 (34 GB) and a GEMM of n = 49,152
// (three matrices of 19 GB), each checked by a probe residual, with the
// wall time, GFLOP/s, bytes moved, disk used and the peak RSS of the
// client and of each worker; the in-memory Cholesky of n = 16,384 for the
// ratio of GFLOP/s; and npw put and get of a 16 GB .npy against cp on the
// same disk, in alternating rounds with the page cache dropped before
// each. It prints Markdown tables (benchmarks/README.md has the last
// run's) and its progress on stderr.
//
// The inputs are made on the workers (npw.Engine.Generate) and stored at
// file:// URLs before the timed commands run; the queue and state store
// of the worker processes are the local cloud's:
//
//	eval "$(scripts/local-cloud up)"
//	go run ./benchmarks/outofcore -dir /data/npw-ooc > /tmp/ooc.md
//
// It needs about 60 GB free in -dir and root to drop the page cache
// (without it, reads may come from memory: the rows say so).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/kernels"
)

var (
	dir     = flag.String("dir", filepath.Join(os.TempDir(), "npw-outofcore"), "directory of the file:// store and the .npy files (about 60 GB free)")
	cholN   = flag.Int("n", 65536, "order of the Cholesky (0: skip)")
	gemmN   = flag.Int("gemm-n", 49152, "order of the GEMM (0: skip)")
	refN    = flag.Int("ref-n", 16384, "order of the in-memory Cholesky whose GFLOP/s the out-of-core one is compared with (0: skip)")
	refB    = flag.Int("ref-block", 2048, "block of the in-memory Cholesky")
	block   = flag.Int("block", 4096, "block of the out-of-core jobs")
	npyGB   = flag.Float64("npy-gb", 16, "size in GB of the .npy that put and get move (0: skip)")
	rounds  = flag.Int("rounds", 3, "alternating rounds of cp, npw put and npw get")
	workers = flag.Int("workers", runtime.NumCPU(), "worker processes")
	tags    = flag.String("tags", "openblas", "build tags of npw")
)

func main() {
	flag.Parse()
	queueURL, stateURL := os.Getenv("NPW_QUEUE"), os.Getenv("NPW_STATE")
	if queueURL == "" || stateURL == "" {
		fatal(errors.New(`worker processes need a shared queue and state store: eval "$(scripts/local-cloud up)" first`))
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fatal(err)
	}
	bin, err := build(*tags)
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	store := "file://" + *dir
	// The queue's and state store's URLs (the state's holds a password)
	// reach npw through the environment ($NPW_QUEUE, $NPW_STATE), not its
	// command line.
	jobFlags := []string{"--store", store, "--launch", "process",
		"--workers", strconv.Itoa(*workers), "--block", strconv.Itoa(*block)}
	ctx := context.Background()

	var ref float64
	if *refN > 0 {
		progress("in-memory cholesky n=%d", *refN)
		out, err := exec.Command(bin, "bench", "cholesky", "--n", strconv.Itoa(*refN), "--block", strconv.Itoa(*refB), "--json",
			"--store", "mem://", "--queue", "mem://", "--state", "mem://").Output() // not $NPW_*'s services
		if err != nil {
			fatal(fmt.Errorf("npw bench: %w", err))
		}
		var r struct {
			Gflops float64 `json:"npw_gflops"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			fatal(err)
		}
		ref = r.Gflops
	}

	fmt.Println("| job | n | block | inputs made (s) | job (s) | GFLOP/s | of in-memory | read (GB) | written (GB) | disk used (GB) | client peak RSS (MiB) | worker peak RSS (MiB) | probe residual |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if *refN > 0 {
		fmt.Printf("| cholesky, memory services, goroutine workers | %d | %d | — | — | %.1f | 1 | — | — | — | — | — | — |\n", *refN, *refB, ref)
	}
	if *cholN > 0 {
		a, l := store+"/A", store+"/L"
		made := generate(ctx, store, []gen{{"A", npw.SPD, 1}}, *cholN)
		u := runMonitored(bin, append([]string{"cholesky", a, "-o", l}, jobFlags...))
		progress("probe residual of L")
		res := probeCholesky(ctx, l, *cholN, 1)
		row("cholesky, file:// store, worker processes", *cholN, made, u, ref, res)
		remove(ctx, a, l)
	}
	if *gemmN > 0 {
		a, b, c := store+"/GA", store+"/GB", store+"/GC"
		made := generate(ctx, store, []gen{{"GA", npw.Gaussian, 2}, {"GB", npw.Gaussian, 3}}, *gemmN)
		u := runMonitored(bin, append([]string{"gemm", a, b, "-o", c}, jobFlags...))
		progress("probe residual of C")
		res := probeGEMM(ctx, c, *gemmN, 2, 3)
		row("gemm, file:// store, worker processes", *gemmN, made, u, 0, res)
		remove(ctx, a, b, c)
	}
	if *npyGB > 0 {
		putGet(ctx, bin, store)
	}
}

// A gen is a matrix to make: its name in the store, kind and seed.
type gen struct {
	name string
	kind int
	seed uint64
}

// generate makes n×n matrices on goroutine workers and stores them under
// store; it returns the seconds it took.
func generate(ctx context.Context, store string, mats []gen, n int) float64 {
	start := time.Now()
	eng, err := npw.Open(ctx, npw.Options{Store: store})
	if err != nil {
		fatal(err)
	}
	defer eng.Close()
	for _, g := range mats {
		progress("generating %s, %d×%d", g.name, n, n)
		m, err := eng.Generate(ctx, g.name, g.kind, n, n, *block, g.seed)
		if err != nil {
			fatal(err)
		}
		if _, err := m.Save(ctx, store+"/"+g.name); err != nil {
			fatal(err)
		}
		if err := m.Release(ctx); err != nil {
			fatal(err)
		}
	}
	return time.Since(start).Seconds()
}

func remove(ctx context.Context, urls ...string) {
	for _, u := range urls {
		if err := npw.Remove(ctx, u); err != nil {
			fatal(err)
		}
	}
}

// usage is what runMonitored saw of a command.
type usage struct {
	wall    time.Duration
	client  int64   // peak RSS seen while it ran (VmHWM), bytes
	workers []int64 // each child's peak RSS seen while it ran, bytes, largest first
	disk    int64   // the most the file system's use grew, bytes
	stdout  string
}

// runMonitored runs npw with args, sampling its children's peak RSS and
// the disk's use every 200 ms.
func runMonitored(bin string, args []string) usage {
	progress("npw %s", strings.Join(args, " "))
	base := diskUsed()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	peaks := map[int]int64{}
	var disk, client int64
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			mu.Lock()
			client = max(client, hwm(cmd.Process.Pid))
			for _, pid := range children(cmd.Process.Pid) {
				peaks[pid] = max(peaks[pid], hwm(pid))
			}
			disk = max(disk, diskUsed()-base)
			mu.Unlock()
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	if err != nil {
		fatal(fmt.Errorf("npw %s: %w\n%s", strings.Join(args, " "), err, out.String()))
	}
	os.Stderr.Write(out.Bytes())
	mu.Lock()
	defer mu.Unlock()
	// Not the rusage of wait: its peak RSS is the largest of the process
	// and the children it reaped (the workers).
	u := usage{wall: wall, disk: disk, client: client, stdout: out.String()}
	for _, p := range peaks {
		u.workers = append(u.workers, p)
	}
	slices.Sort(u.workers)
	slices.Reverse(u.workers)
	return u
}

// pollHWM samples the VmHWM of process pid every 100 ms until the
// function it returns is called, which returns the last sample. Not the
// rusage of wait: a child keeps the peak RSS of the process it was forked
// from across exec (cp "peaked" at this program's 1.2 GB).
func pollHWM(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.Store(max(peak.Load(), hwm(pid)))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { close(done); return peak.Load() }
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// hwm returns a process's peak RSS (VmHWM) in bytes, 0 if it is gone.
func hwm(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// diskUsed returns the bytes in use on the file system of -dir.
func diskUsed() int64 {
	var s syscall.Statfs_t
	if err := syscall.Statfs(*dir, &s); err != nil {
		fatal(err)
	}
	return int64(s.Blocks-s.Bfree) * s.Bsize
}

var (
	doneRE       = regexp.MustCompile(`done in ([0-9.]+) s`)
	throughputRE = regexp.MustCompile(`throughput\s+([0-9.]+) GFLOP/s`)
	dataRE       = regexp.MustCompile(`data\s+read ([0-9.]+) (MB|GB|TB)[^,]*, written ([0-9.]+) (MB|GB|TB)`)
	workerRSSRE  = regexp.MustCompile(`worker processes' peak RSS up to ([0-9.]+) (MB|GB)`)
)

// row prints a job's row of the table from its summary and usage.
func row(name string, n int, made float64, u usage, ref, residual float64) {
	find := func(re *regexp.Regexp, i int) string {
		m := re.FindStringSubmatch(u.stdout)
		if m == nil {
			fatal(fmt.Errorf("no %v in the summary:\n%s", re, u.stdout))
		}
		return m[i]
	}
	gb := func(v, unit string) float64 {
		f, _ := strconv.ParseFloat(v, 64)
		return f * map[string]float64{"MB": 1e-3, "GB": 1, "TB": 1e3}[unit]
	}
	gflops, _ := strconv.ParseFloat(find(throughputRE, 1), 64)
	of := "—"
	if ref > 0 {
		of = fmt.Sprintf("%.2f", gflops/ref)
	}
	var ws []string
	for _, w := range u.workers {
		ws = append(ws, strconv.FormatInt(w>>20, 10))
	}
	fmt.Printf("| %s | %d | %d | %.0f | %s | %.1f | %s | %.1f | %.1f | %.1f | %d | %s (reported: %s %s) | %.2g |\n",
		name, n, *block, made, find(doneRE, 1), gflops, of,
		gb(find(dataRE, 1), find(dataRE, 2)), gb(find(dataRE, 3), find(dataRE, 4)), float64(u.disk)/1e9,
		u.client>>20, strings.Join(ws, ", "), find(workerRSSRE, 1), find(workerRSSRE, 2), residual)
}

// strip is the number of rows of A generated at once by the probes.
const strip = 256

// probeCholesky returns ‖(A − LLᵀ)x‖/(‖A‖_F‖x‖·n·ε) for a fixed x, with A
// the generated SPD matrix of the seed, made again a strip of rows at a
// time, and L read from the store a tile at a time.
func probeCholesky(ctx context.Context, url string, n int, seed uint64) float64 {
	l := open(ctx, url)
	x := probeVector(n)
	ax, normA := applyGenerated(npw.SPD, seed, n, x)
	ltx := applyTiles(ctx, l, x, true, func(i, j int) bool { return j <= i })
	llt := applyTiles(ctx, l, ltx, false, func(i, j int) bool { return j <= i })
	return math.Sqrt(dist2(ax, llt)) / (math.Sqrt(normA) * norm(x) * float64(n) * 0x1p-52)
}

// probeGEMM returns ‖(C − AB)x‖/(‖A‖_F‖B‖_F‖x‖·n·ε) for a fixed x, with A
// and B the generated Gaussian matrices of the seeds.
func probeGEMM(ctx context.Context, url string, n int, seedA, seedB uint64) float64 {
	c := open(ctx, url)
	x := probeVector(n)
	bx, normB := applyGenerated(npw.Gaussian, seedB, n, x)
	abx, normA := applyGenerated(npw.Gaussian, seedA, n, bx)
	cx := applyTiles(ctx, c, x, false, func(int, int) bool { return true })
	return math.Sqrt(dist2(abx, cx)) / (math.Sqrt(normA*normB) * norm(x) * float64(n) * 0x1p-52)
}

func open(ctx context.Context, url string) *blockstore.Stored {
	s, key, err := blockstore.OpenURL(ctx, url, false)
	if err != nil {
		fatal(err)
	}
	st, err := blockstore.OpenStored(ctx, s, key, url)
	if err != nil {
		fatal(err)
	}
	return st
}

func probeVector(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i) + 0.5)
	}
	return x
}

// applyGenerated returns M x and ‖M‖²_F for the n×n generated matrix M
// of the kind and seed, made a strip at a time on every core.
func applyGenerated(kind int, seed uint64, n int, x []float64) ([]float64, float64) {
	y := make([]float64, n)
	var mu sync.Mutex
	var norm2 float64
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.NumCPU() {
		wg.Go(func() {
			a := blas64.General{Cols: n, Stride: n, Data: make([]float64, strip*n)}
			for r0 := range next {
				a.Rows = min(strip, n-r0)
				kernels.Generate(kind, seed, n, r0, 0, a)
				var s float64
				for i := range a.Rows {
					row := a.Data[i*n : (i+1)*n]
					y[r0+i] = blas64.Implementation().Ddot(n, row, 1, x, 1)
					s += blas64.Implementation().Ddot(n, row, 1, row, 1)
				}
				mu.Lock()
				norm2 += s
				mu.Unlock()
			}
		})
	}
	for r0 := 0; r0 < n; r0 += strip {
		next <- r0
	}
	close(next)
	wg.Wait()
	return y, norm2
}

// applyTiles returns M x (or Mᵀx) for the stored matrix M, reading the
// tiles (i, j) that use says, one at a time.
func applyTiles(ctx context.Context, m *blockstore.Stored, x []float64, transpose bool, use func(i, j int) bool) []float64 {
	y := make([]float64, len(x))
	ti, tj := m.TileGrid()
	tr := blas.NoTrans
	if transpose {
		tr = blas.Trans
	}
	for i := range ti {
		for j := range tj {
			if !use(i, j) {
				continue
			}
			t, _, err := m.ReadTile(ctx, i, j)
			if err != nil {
				fatal(err)
			}
			r0, c0, _, _ := m.TileBounds(i, j)
			xs, ys := x[c0:c0+t.Cols], y[r0:r0+t.Rows]
			if transpose {
				xs, ys = x[r0:r0+t.Rows], y[c0:c0+t.Cols]
			}
			blas64.Gemv(tr, 1, t, blas64.Vector{N: len(xs), Data: xs, Inc: 1}, 1, blas64.Vector{N: len(ys), Data: ys, Inc: 1})
		}
	}
	return y
}

func dist2(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return s
}

func norm(x []float64) float64 { return math.Sqrt(dist2(x, make([]float64, len(x)))) }

// putGet times cp, npw put and npw get of one .npy of -npy-gb GB in
// alternating rounds, each from a dropped page cache and timed until its
// data is synced to disk.
func putGet(ctx context.Context, bin, store string) {
	n := int(math.Sqrt(*npyGB*1e9/8)) / 64 * 64
	src := filepath.Join(*dir, "g.npy")
	progress("making a %d×%d .npy", n, n)
	generate(ctx, store, []gen{{"G", npw.Gaussian, 4}}, n)
	if out, err := exec.Command(bin, "get", store+"/G", src).CombinedOutput(); err != nil {
		fatal(fmt.Errorf("npw get: %w\n%s", err, out))
	}
	remove(ctx, store+"/G")
	size := float64(8*n*n) / 1e9
	dropped := dropCaches()
	type cmd struct {
		name string
		args []string
		undo func()
	}
	cp, put, get := filepath.Join(*dir, "copy.npy"), store+"/P", filepath.Join(*dir, "back.npy")
	cmds := []cmd{
		{"cp", []string{"cp", src, cp}, func() { os.Remove(cp) }},
		{"npw put", []string{bin, "put", src, put, "--block", strconv.Itoa(*block)}, nil},
		{"npw get", []string{bin, "get", put, get}, func() { os.Remove(get); remove(ctx, put) }},
	}
	times := make([][]float64, len(cmds))
	peaks := make([]int64, len(cmds))
	for r := range *rounds {
		for k, c := range cmds {
			progress("round %d: %s", r+1, strings.Join(c.args, " "))
			dropCaches()
			e := exec.Command(c.args[0], c.args[1:]...)
			e.Stderr = os.Stderr
			start := time.Now()
			if err := e.Start(); err != nil {
				fatal(fmt.Errorf("%s: %w", c.name, err))
			}
			peak := pollHWM(e.Process.Pid)
			if err := e.Wait(); err != nil {
				fatal(fmt.Errorf("%s: %w", c.name, err))
			}
			syscall.Sync() // the data on disk, not only in the page cache
			times[k] = append(times[k], time.Since(start).Seconds())
			peaks[k] = max(peaks[k], peak())
			if c.undo != nil {
				c.undo()
			}
		}
	}
	os.Remove(src)
	cache := "page cache dropped before each run"
	if !dropped {
		cache = "page cache NOT dropped (not root): reads may come from memory"
	}
	fmt.Printf("\n%s .npy of %.1f GB (%d×%d), %d alternating rounds, each command then sync; %s:\n\n", "A", size, n, n, *rounds, cache)
	fmt.Println("| command | median (s) | min–max (s) | GB/s | of cp's | peak RSS (MiB) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	cpMedian := median(times[0])
	for k, c := range cmds {
		m := median(times[k])
		fmt.Printf("| %s | %.1f | %.1f–%.1f | %.2f | %.2f | %d |\n", c.name, m, slices.Min(times[k]), slices.Max(times[k]), size/m, cpMedian/m, peaks[k]>>20)
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// dropCaches writes the dirty pages and drops the page cache; false if
// this process may not.
func dropCaches() bool {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0) == nil
}

func build(tags string) (string, error) {
	tmp, err := os.MkdirTemp("", "npw-outofcore-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "npw")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/npw")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s outofcore: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "outofcore:", err)
	os.Exit(1)
}
