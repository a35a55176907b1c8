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
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	_ "github.com/npw-dev/npw" // the cloud drivers
	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/job"
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
	fmt.Println("| services | workers | wall (s) | tile store req/task | queue req/task | state req/task |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	var outs [2]blas64.General
	var walls [2]float64
	for i, c := range []struct {
		name, store, queue, state string
		pool                      func(executor.Remote, executor.Config) (provisioner.Pool, error)
	}{
		{"memory", "mem://", "mem://", "mem://", nil},
		{"MinIO + fauxqs + Redis", store, queue, st, func(r executor.Remote, _ executor.Config) (provisioner.Pool, error) {
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
		fmt.Printf("| %s | %d %s | %.2f | %.1f | %.1f | %.1f |\n", c.name, len(res.Workers), kind, walls[i], per(r.Tiles), per(r.Queue), per(r.State))
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

// buildNPW builds the npw command for the worker processes.
func buildNPW() (string, error) {
	dir, err := os.MkdirTemp("", "npw-bench-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "npw")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/npw")
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
