// Command cloud measures what the cloud services cost a job: one Cholesky
// factorization on the memory services with goroutine workers, then the
// same matrix on S3 + SQS + Redis (MinIO, fauxqs and redis-server of
// scripts/local-cloud) with worker processes, in one run. It prints both
// wall times, their ratio, the requests per task to each service, and
// checks that the two results are identical.
//
//	eval "$(scripts/local-cloud up)"
//	go run ./benchmarks/cloud -n 8192 -block 1024
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	_ "github.com/npw-dev/npw" // the cloud drivers
	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/kernels"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

func main() {
	n := flag.Int("n", 8192, "order of the matrix")
	block := flag.Int("block", 1024, "tile size")
	workers := flag.Int("workers", runtime.NumCPU(), "workers (goroutines, then processes)")
	flag.Parse()
	store, queue, st := os.Getenv("NPW_STORE"), os.Getenv("NPW_QUEUE"), os.Getenv("NPW_STATE")
	if store == "" || queue == "" || st == "" {
		fatal(fmt.Errorf(`no cloud services: run eval "$(scripts/local-cloud up)" first`))
	}
	ctx := context.Background()
	a := spd(*n)
	tiles := (*n + *block - 1) / *block
	prog, err := lp.LoadProgram("cholesky")
	if err != nil {
		fatal(err)
	}
	plan, err := analysis.NewPlan(prog, map[string]lp.Value{"N": lp.Int(int64(tiles))})
	if err != nil {
		fatal(err)
	}
	spec := job.Spec{Plan: plan, Block: *block, Inputs: []job.Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
	bin, err := buildNPW()
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	fmt.Printf("Cholesky %d×%d, block %d (%d×%d tiles), %d workers, %s, %s\n\n", *n, *n, *block, tiles, tiles, *workers,
		runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| services | workers | wall (s) | read / compute / write (worker-s) | tile store req/task | queue req/task | state req/task | servers' CPU (s) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	var outs [2]blas64.General
	var walls [2]float64
	for i, c := range []struct {
		name, store, queue, state string
		pool                      func(executor.Remote) (provisioner.Pool, error)
	}{
		{"memory", "mem://", "mem://", "mem://", nil},
		{"MinIO + fauxqs + Redis", store, queue, st, func(r executor.Remote) (provisioner.Pool, error) {
			return &provisioner.Processes{Command: []string{bin, "worker"}, Remote: r}, nil
		}},
	} {
		tileStore, err := blockstore.Open(ctx, c.store)
		if err != nil {
			fatal(err)
		}
		stateStore, err := state.Open(ctx, c.state)
		if err != nil {
			fatal(err)
		}
		env := job.Env{Tiles: tileStore, QueueURL: c.queue, State: stateStore}
		cpu0 := serversCPU()
		res, err := job.Run(ctx, env, spec, job.Options{MaxWorkers: *workers, Pool: c.pool})
		if err != nil {
			fatal(err)
		}
		if outs[i], err = blockstore.Assemble(ctx, tileStore, res.Matrices["O"], nil, 16); err != nil {
			fatal(err)
		}
		job.Cleanup(ctx, tileStore, res)
		walls[i] = res.Wall.Seconds()
		per := func(x int64) float64 { return float64(x) / float64(res.Status.Done) }
		kind := "goroutines"
		if c.pool != nil {
			kind = "processes"
		}
		r := res.Traffic.Requests
		m := res.Status.Metrics
		servers := "—"
		if c.pool != nil {
			servers = serversCPU().sub(cpu0).String()
		}
		fmt.Printf("| %s | %d %s | %.2f | %.1f / %.1f / %.1f | %.1f | %.1f | %.1f | %s |\n", c.name, len(res.Workers), kind, walls[i],
			m.ReadSeconds, m.ComputeSeconds, m.WriteSeconds, per(r.Tiles), per(r.Queue), per(r.State), servers)
	}
	same := true
	for i := range outs[0].Data {
		if outs[0].Data[i] != outs[1].Data[i] {
			same = false
			break
		}
	}
	fmt.Printf("\ncloud / memory wall time: %.2f; results bit-identical: %v\n", walls[1]/walls[0], same)
}

// cpuTimes holds the CPU seconds used so far by the local cloud's servers.
type cpuTimes struct{ minio, fauxqs, redis float64 }

// serversCPU reads the CPU time of the servers of scripts/local-cloud from
// /proc, through the pid files in $NPW_CLOUD_DIR; a server it cannot read
// counts NaN.
func serversCPU() cpuTimes {
	dir := os.Getenv("NPW_CLOUD_DIR")
	read := func(name string) float64 {
		pid, err := os.ReadFile(filepath.Join(dir, name+".pid"))
		if dir == "" || err != nil {
			return math.NaN()
		}
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if err != nil {
			return math.NaN()
		}
		// utime and stime are fields 14 and 15, counted after the
		// parenthesised command name.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return math.NaN()
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		return (u + s) / 100 // USER_HZ
	}
	return cpuTimes{read("minio"), read("fauxqs"), read("redis")}
}

func (c cpuTimes) sub(d cpuTimes) cpuTimes {
	return cpuTimes{c.minio - d.minio, c.fauxqs - d.fauxqs, c.redis - d.redis}
}

func (c cpuTimes) String() string {
	return fmt.Sprintf("MinIO %.1f, fauxqs %.1f, Redis %.1f", c.minio, c.fauxqs, c.redis)
}

// buildNPW builds the npw command for the worker processes, with the
// kernels this benchmark runs in memory (go run -tags openblas builds
// OpenBLAS workers).
func buildNPW() (string, error) {
	dir, err := os.MkdirTemp("", "npw-bench-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "npw")
	args := []string{"build", "-o", bin}
	if kernels.BLAS == "openblas" {
		args = append(args, "-tags", "openblas")
	}
	cmd := exec.Command("go", append(args, "./cmd/npw")...)
	cmd.Stderr = os.Stderr
	return bin, cmd.Run()
}

// spd returns a random symmetric matrix with a dominant diagonal.
func spd(n int) blas64.General {
	rng := rand.New(rand.NewPCG(1, 1))
	a := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
	for i := range n {
		for j := range i {
			x := rng.Float64() - 0.5
			a.Data[i*n+j], a.Data[j*n+i] = x, x
		}
		a.Data[i*n+i] = math.Sqrt(float64(n)) + float64(n)/2
	}
	return a
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "cloud:", err)
	os.Exit(1)
}
