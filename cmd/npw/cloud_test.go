package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/redis/go-redis/v9"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/job"
	lp "github.com/npw-dev/npw/lambdapack"
	"github.com/npw-dev/npw/provisioner"
	"github.com/npw-dev/npw/state"
)

// TestMain lets the process workers and the Lambda sandboxes the tests
// launch run this test binary as npw.
func TestMain(m *testing.M) {
	if inLambda() {
		serveLambda()
		return
	}
	if os.Getenv("NPW_TEST_MAIN") == "1" {
		os.Exit(start(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv("NPW_TEST_MAIN", "1")
	localcloud.Main(m)
}

// cloudArgs are the flags that run a command on the local cloud (under
// prefixes of the test's own) with process workers.
func cloudArgs(t *testing.T) []string {
	store, queue, st := localcloud.Get(t).Scoped(t)
	return []string{"--store", store, "--queue", queue, "--state", st, "--launch", "process", "--workers", "4"}
}

// TestCloudMatchesMemory runs Cholesky, GEMM and TSQR through MinIO,
// fauxqs and Redis with process workers, and on the memory services with
// goroutine workers, as many in both (the gemm program depends on the
// number): the results are the same bit for bit.
func TestCloudMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(50, 50))
	spd := writeNPY(t, dir, "spd.npy", randomSPD(rng, 300))
	a := writeNPY(t, dir, "a.npy", randomGaussian(rng, 130, 200))
	b := writeNPY(t, dir, "b.npy", randomGaussian(rng, 200, 90))
	tall := writeNPY(t, dir, "tall.npy", randomGaussian(rng, 1000, 30))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cholesky", []string{"cholesky", spd, "--block", "64"}},
		{"gemm", []string{"gemm", a, b, "--block", "64"}},
		{"tsqr", []string{"tsqr", tall, "--block", "128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outs [2][]byte
			for i, extra := range [][]string{{"--workers", "4"}, cloudArgs(t)} {
				out := filepath.Join(dir, fmt.Sprintf("%s-%d.npy", tc.name, i))
				args := append(append(append([]string(nil), tc.args...), "-o", out), extra...)
				code, stdout, stderr := npw(t, args...)
				if code != 0 {
					t.Fatalf("npw %v: exit %d\n%s%s", args, code, stdout, stderr)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = data
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatalf("%s: the cloud result differs from the memory result", tc.name)
			}
		})
	}
}

// cloudEnv opens scoped services of the local cloud for job.Run.
func cloudEnv(t *testing.T) (job.Env, [3]string) {
	t.Helper()
	store, queue, st := localcloud.Get(t).Scoped(t)
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); tiles.Close() })
	return job.Env{Tiles: tiles, QueueURL: queue, State: s}, [3]string{store, queue, st}
}

func memEnv(t *testing.T) job.Env {
	t.Helper()
	ctx := context.Background()
	tiles, _ := blockstore.Open(ctx, "mem://"+t.Name())
	s, _ := state.Open(ctx, "mem://"+t.Name())
	return job.Env{Tiles: tiles, QueueURL: "mem://" + t.Name(), State: s}
}

func choleskySpec(t *testing.T, a blas64.General, block int) job.Spec {
	t.Helper()
	prog, err := lp.LoadProgram("cholesky")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := analysis.NewPlan(prog, map[string]lp.Value{"N": lp.Int(int64((a.Rows + block - 1) / block))})
	if err != nil {
		t.Fatal(err)
	}
	return job.Spec{Plan: plan, Block: block, Inputs: []job.Input{{Name: "S", Array: a}}, Outputs: []string{"O"}}
}

// output assembles a job's output and deletes it.
func output(t *testing.T, env job.Env, res *job.Result, name string) blas64.General {
	t.Helper()
	ctx := context.Background()
	g, err := blockstore.Assemble(ctx, env.Tiles, res.Matrices[name], nil, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Cleanup(ctx, env.Tiles, res); err != nil {
		t.Fatal(err)
	}
	return g
}

func same(a, b blas64.General) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	for i := range a.Rows {
		for j := range a.Cols {
			if a.Data[i*a.Stride+j] != b.Data[i*b.Stride+j] {
				return false
			}
		}
	}
	return true
}

// processPool launches `npw worker` processes (this test binary) and
// hands the launcher to the test.
func processPool(got chan<- *provisioner.Processes) func(executor.Remote) (provisioner.Pool, error) {
	return func(r executor.Remote) (provisioner.Pool, error) {
		p := &provisioner.Processes{Command: workerCommand(), Remote: r}
		if got != nil {
			got <- p
		}
		return p, nil
	}
}

// TestCloudChaos kills a random half of the worker processes with SIGKILL
// several times during a job; the leases of their tasks lapse, other
// workers run them, the result is bit-identical to a clean run, and
// nothing of the job is left in the services.
func TestCloudChaos(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 51))
	a := randomSPD(rng, 768)
	spec := choleskySpec(t, a, 96) // 8×8 tiles, 120 tasks
	mem := memEnv(t)
	ref, err := job.Run(context.Background(), mem, spec, job.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := output(t, mem, ref, "O")

	env, urls := cloudEnv(t)
	pools := make(chan *provisioner.Processes, 1)
	var killed int
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		pool := <-pools
		for _, after := range []time.Duration{300 * time.Millisecond, 700 * time.Millisecond, 1200 * time.Millisecond, 2 * time.Second} {
			select {
			case <-done:
				return
			case <-time.After(after):
			}
			killed += pool.Kill(rng, 0.5)
		}
	}()
	res, err := job.Run(context.Background(), env, spec, job.Options{MaxWorkers: 4,
		Settings: executor.Settings{Lease: 2 * time.Second, Poll: 500 * time.Millisecond}, Pool: processPool(pools)})
	close(done)
	<-finished // killed is the killer's until it returns
	if err != nil {
		t.Fatalf("the job did not survive the kills: %v", err)
	}
	if got := output(t, env, res, "O"); !same(got, want) {
		t.Fatal("the result after kills differs from the clean run")
	}
	var sigkilled int
	for _, w := range res.Workers {
		if strings.Contains(w.Reason, "killed") {
			sigkilled++
		}
	}
	t.Logf("%d workers killed by SIGKILL (%d reported), %d launched in all", killed, sigkilled, len(res.Workers))
	if killed == 0 || sigkilled == 0 {
		t.Fatalf("no worker was killed (%d, %d): the test proved nothing", killed, sigkilled)
	}
	// Killed workers leave nothing behind either: no tile they wrote
	// outlives the job, no key, no queue.
	assertNothingLeft(t, env, urls)
}

// TestCloudJobsApart runs two jobs at once on the same services; each
// gets its own result, and after cleanup nothing of either is left in
// Redis, the bucket or the queues.
func TestCloudJobsApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(52, 52))
	env, urls := cloudEnv(t)
	mem := memEnv(t)
	inputs := []blas64.General{randomSPD(rng, 256), randomSPD(rng, 256)}
	var wg sync.WaitGroup
	results := make([]*job.Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			results[i], errs[i] = job.Run(context.Background(), env, choleskySpec(t, inputs[i], 64),
				job.Options{MaxWorkers: 2, Pool: processPool(nil)})
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
		ref, err := job.Run(context.Background(), mem, choleskySpec(t, inputs[i], 64), job.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !same(output(t, env, results[i], "O"), output(t, mem, ref, "O")) {
			t.Fatalf("job %d: result differs from its own input's", i)
		}
	}
	if results[0].ID == results[1].ID {
		t.Fatal("two jobs got one id")
	}
	assertNothingLeft(t, env, urls)
}

// assertNothingLeft checks the scoped services hold nothing.
func assertNothingLeft(t *testing.T, env job.Env, urls [3]string) {
	t.Helper()
	ctx := context.Background()
	keys, err := env.Tiles.List(ctx, "")
	if err != nil || len(keys) != 0 {
		t.Errorf("tiles left in the bucket: %v %v", keys, err)
	}
	opts, err := redis.ParseURL(strings.Split(urls[2], "?")[0])
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opts)
	defer raw.Close()
	prefix := strings.SplitN(urls[2], "prefix=", 2)[1]
	if left := raw.Keys(ctx, prefix+":*").Val(); len(left) != 0 {
		t.Errorf("keys left in Redis: %v", left)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := strings.SplitN(urls[1], "endpoint=", 2)[1]
	endpoint = strings.Split(endpoint, "&")[0]
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	qprefix := strings.TrimPrefix(strings.Split(urls[1], "?")[0], "sqs://")
	out, err := client.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(qprefix)})
	if err != nil || len(out.QueueUrls) != 0 {
		t.Errorf("queues left: %v %v", out.QueueUrls, err)
	}
}

// TestCloudBadServices: an unreachable service or bad credentials give one
// clear line and a non-zero exit within seconds.
func TestCloudBadServices(t *testing.T) {
	c := localcloud.Get(t)
	store, queue, st := c.Scoped(t)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"store unreachable", []string{"--store", "s3://npw/x?endpoint=http://127.0.0.1:1", "--queue", queue, "--state", st}, nil, "cannot reach S3 for bucket npw"},
		{"queue unreachable", []string{"--store", store, "--queue", "sqs://x?endpoint=http://127.0.0.1:1", "--state", st}, nil, "cannot reach SQS"},
		{"state unreachable", []string{"--store", store, "--queue", queue, "--state", "redis://127.0.0.1:1/0"}, nil, "cannot reach Redis at 127.0.0.1:1"},
		{"bad AWS credentials", []string{"--store", store, "--queue", queue, "--state", st}, map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong"}, "access denied (check the AWS credentials"},
		{"memory services for processes", []string{"--launch", "process"}, nil, "cannot reach the store mem://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			start := time.Now()
			code, _, stderr := npw(t, append([]string{"cholesky", "--n", "64", "--block", "32"}, tc.args...)...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want one line with %q", code, stderr, tc.want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}

// redisServer is a redis-server of the test's own with the append-only
// file on, so that it can be killed and restarted without losing data.
type redisServer struct {
	port, dir string
	cmd       *exec.Cmd
}

func (r *redisServer) start() error {
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", r.port, "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("redis-server (installed by scripts/local-cloud): %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("redis-server did not start")
}

// progress returns the tasks done of the job whose state the server
// holds (0 while there is none or the server does not answer).
func (r *redisServer) progress(ctx context.Context) int64 {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port, MaxRetries: -1})
	defer c.Close()
	keys, _ := c.Keys(ctx, "*:meta").Result()
	var done int64
	for _, k := range keys {
		n, _ := c.HGet(ctx, k, "ndone").Int64()
		done = max(done, n)
	}
	return done
}

func (r *redisServer) kill() {
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// TestCloudRedisRestart kills the state store (redis-server with AOF) in
// the middle of a job and starts it again: the job completes with the
// right result or fails with a clear message — it never hangs.
func TestCloudRedisRestart(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 53))
	a := randomSPD(rng, 768)
	spec := choleskySpec(t, a, 96)
	mem := memEnv(t)
	ref, err := job.Run(context.Background(), mem, spec, job.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := output(t, mem, ref, "O")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	rs := &redisServer{port: port, dir: t.TempDir()}
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rs.kill() }()

	store, queue, _ := localcloud.Get(t).Scoped(t)
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, "redis://127.0.0.1:"+port+"/0")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := job.Env{Tiles: tiles, QueueURL: queue, State: st}
	// Kill Redis once a tenth of the tasks are done (the job is under
	// way, far from its end) and start it again 1.5 s later.
	jobCtx, stop := context.WithCancel(ctx)
	killed := make(chan time.Time, 1)
	restarted := make(chan error, 1)
	go func() {
		for rs.progress(jobCtx) < 12 {
			select {
			case <-jobCtx.Done():
				restarted <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		rs.kill()
		killed <- time.Now()
		time.Sleep(1500 * time.Millisecond)
		restarted <- rs.start()
	}()
	start := time.Now()
	res, err := job.Run(ctx, env, spec, job.Options{MaxWorkers: 4,
		Settings: executor.Settings{Lease: 2 * time.Second, Poll: 500 * time.Millisecond}, Pool: processPool(nil)})
	took := time.Since(start)
	stop()
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if took > 3*time.Minute {
		t.Fatalf("the job took %v", took)
	}
	select {
	case at := <-killed:
		t.Logf("Redis killed %v into the job, restarted 1.5 s later", at.Sub(start).Round(time.Millisecond))
	default:
		t.Fatalf("the job ended after %v, before Redis was killed: the test proved nothing", took)
	}
	if err != nil {
		msg := err.Error()
		if msg == "" || strings.Contains(msg, "\n") {
			t.Fatalf("the job failed without one clear line: %q", msg)
		}
		t.Logf("the job failed after %v with: %v", took, err)
	} else {
		if got := output(t, env, res, "O"); !same(got, want) {
			t.Fatal("the result after the restart differs from the clean run")
		}
		t.Logf("the job completed in %v across the restart", took)
	}
	// Either way, no tile of the job is left in the store.
	if keys, err := tiles.List(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("the job left %d objects in the store: %v", len(keys), err)
	}
}

// A worker of a job the state store does not know fails with one line.
func TestWorkerUnknownJob(t *testing.T) {
	c := localcloud.Get(t)
	store, queue, st := c.Scoped(t)
	code, _, stderr := npw(t, "worker", "--job", "0123456789ab", "--store", store, "--queue", queue, "--state", st)
	want := "npw: job 0123456789ab: no such job in the state store: it never existed, or it ended and was cleaned up\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}

// TestCloudStateLost empties the state store (FLUSHALL on a redis-server
// of the test's own) in the middle of a job with process workers: the
// job fails within 10 s, naming the job and the store, and leaves no
// tile in the store.
func TestCloudStateLost(t *testing.T) {
	spec := choleskySpec(t, randomSPD(rand.New(rand.NewPCG(54, 54)), 768), 96)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	rs := &redisServer{port: port, dir: t.TempDir()}
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	defer rs.kill()
	store, queue, _ := localcloud.Get(t).Scoped(t)
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, "redis://127.0.0.1:"+port+"/0")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobCtx, stop := context.WithCancel(ctx)
	flushed := make(chan time.Time, 1)
	go func() {
		for rs.progress(jobCtx) < 12 {
			select {
			case <-jobCtx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
		defer c.Close()
		if err := c.FlushAll(ctx).Err(); err == nil {
			flushed <- time.Now()
		}
	}()
	_, err = job.Run(ctx, job.Env{Tiles: tiles, QueueURL: queue, State: st}, spec, job.Options{MaxWorkers: 2,
		Settings: executor.Settings{Lease: 2 * time.Second, Poll: 500 * time.Millisecond}, Pool: processPool(nil)})
	end := time.Now()
	stop()
	var at time.Time
	select {
	case at = <-flushed:
	default:
		t.Fatalf("the job ended before the state store was emptied (%v): the test proved nothing", err)
	}
	if err == nil || !strings.Contains(err.Error(), "its state is gone from the state store redis://127.0.0.1:"+port+"/0") ||
		!regexp.MustCompile(`^job [0-9a-f]{12}: `).MatchString(err.Error()) {
		t.Fatalf("got %v", err)
	}
	if d := end.Sub(at); d > 10*time.Second {
		t.Errorf("the job failed %v after its state was lost", d)
	}
	if keys, err := tiles.List(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("the job left %d objects in the store: %v %v", len(keys), keys[:min(len(keys), 5)], err)
	}
}
