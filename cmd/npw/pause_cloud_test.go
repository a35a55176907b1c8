package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/job"
	"github.com/npw-dev/npw/state"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// server is a service process of a test's own, which the test can pause
// (SIGSTOP), resume, kill and start again on the same port and data.
type server struct {
	name string
	argv []string
	env  []string
	log  string
	cmd  *exec.Cmd
}

func (s *server) start(ready func() error) error {
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("%s (installed by scripts/local-cloud): %v", s.name, err)
	}
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = ready(); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%s did not start within 60 s: %v (log %s)", s.name, last, s.log)
}

func (s *server) signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once resumed
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// privateCloud is a MinIO, a fauxqs and a redis-server of the test's own,
// beside the shared local cloud, so that pausing or restarting them stalls
// no other test. MinIO takes the shared cloud's credentials, which the
// worker processes inherit from the test's environment.
type privateCloud struct {
	minio, fauxqs *server
	redis         *redisServer
	minioReady    func() error
	fauxqsReady   func() error
	urls          [3]string // store, queue, state, each under a prefix as Scoped gives
}

func startPrivateCloud(t *testing.T) *privateCloud {
	t.Helper()
	localcloud.Get(t) // installs the servers, sets the AWS credentials
	tools, dir := localcloud.Tools(), t.TempDir()
	pc := &privateCloud{}

	minioPort, consolePort := freePort(t), freePort(t)
	pc.minio = &server{name: "MinIO", log: filepath.Join(dir, "minio.log"),
		argv: []string{filepath.Join(tools, "bin", "minio"), "server", "--quiet", "--no-compat",
			"--address", "127.0.0.1:" + minioPort, "--console-address", "127.0.0.1:" + consolePort, filepath.Join(dir, "minio-data")},
		env: []string{"MINIO_ROOT_USER=" + os.Getenv("AWS_ACCESS_KEY_ID"), "MINIO_ROOT_PASSWORD=" + os.Getenv("AWS_SECRET_ACCESS_KEY"), "MINIO_BROWSER=off"}}
	endpoint := "http://127.0.0.1:" + minioPort
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	pc.minioReady = func() error { // the bucket exists once MinIO is initialised
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("npw")})
		if err == nil {
			return nil
		}
		_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("npw")})
		return err
	}
	if err := pc.minio.start(pc.minioReady); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.minio.kill)

	sqsPort := freePort(t)
	script := filepath.Join(dir, "fauxqs.mjs")
	src := fmt.Sprintf("import { buildApp } from %q;\nconst app = buildApp({ logger: false, defaultRegion: \"us-east-1\" });\nawait app.listen({ port: %s, host: \"127.0.0.1\" });\n",
		filepath.Join(tools, "fauxqs", "node_modules", "fauxqs", "dist", "app.js"), sqsPort)
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pc.fauxqs = &server{name: "fauxqs", log: filepath.Join(dir, "fauxqs.log"), argv: []string{"node", script}}
	pc.fauxqsReady = func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+sqsPort, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := pc.fauxqs.start(pc.fauxqsReady); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.fauxqs.kill)

	pc.redis = &redisServer{port: freePort(t), dir: t.TempDir()}
	if err := pc.redis.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.redis.kill)

	tag := fmt.Sprintf("p%08x", rand.Uint32())
	pc.urls = [3]string{
		"s3://npw/" + tag + "?endpoint=" + endpoint + "&region=us-east-1",
		"sqs://" + tag + "?endpoint=http://127.0.0.1:" + sqsPort + "&region=us-east-1",
		"redis://127.0.0.1:" + pc.redis.port + "/0?prefix=" + tag,
	}
	return pc
}

// env opens the private cloud's services for job.Run.
func (pc *privateCloud) env(t *testing.T) job.Env {
	t.Helper()
	ctx := context.Background()
	tiles, err := blockstore.Open(ctx, pc.urls[0])
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, pc.urls[2])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); tiles.Close() })
	return job.Env{Tiles: tiles, QueueURL: pc.urls[1], State: st}
}

// chaosJob runs a 12×12-tile Cholesky (364 tasks) with four process
// workers on the private cloud while act does its harm once the job is
// under way, and returns the job's result, its spec and its error; it fails
// the test if act could not do its harm.
func (pc *privateCloud) chaosJob(t *testing.T, env job.Env, seed uint64, act func(progress func() int64) error) (*job.Result, job.Spec, error) {
	t.Helper()
	spec := choleskySpec(t, randomSPD(rand.New(rand.NewPCG(seed, seed)), 768), 64)
	ctx, stop := context.WithCancel(context.Background())
	acted := make(chan error, 1)
	go func() {
		acted <- act(func() int64 {
			for {
				if n := pc.redis.progress(ctx); n > 0 || ctx.Err() != nil {
					return n
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}()
	res, err := job.Run(context.Background(), env, spec, job.Options{MaxWorkers: 4,
		Settings: executor.Settings{Lease: 2 * time.Second, Poll: 500 * time.Millisecond}, Pool: processPool(nil)})
	stop()
	if aerr := <-acted; aerr != nil {
		t.Fatalf("the harm was not done (the job ended first, or a server did not come back): %v; the job: %v", aerr, err)
	}
	return res, spec, err
}

// waitFor blocks until the job has done n tasks, or fails if it ended.
func waitFor(progress func() int64, n int64) error {
	for {
		got := progress()
		if got >= n {
			return nil
		}
		if got == 0 {
			return fmt.Errorf("the job ended before %d tasks were done", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloudServicesPaused pauses each service of a running job in turn —
// MinIO, then fauxqs, then redis-server, 3 s each with SIGSTOP, as a GC
// pause, a VM migration or a network partition would — and resumes it:
// the job completes with the same bits as a clean run and leaves nothing
// in the bucket, Redis or the queues. Then MinIO is killed and started
// again mid-job (its data is on disk): the job completes again. Then
// fauxqs is restarted mid-job, which loses its queues (fauxqs keeps
// them in memory): the job fails within 10 s, naming the job and the
// queue service, and leaves nothing behind.
func TestCloudServicesPaused(t *testing.T) {
	pc := startPrivateCloud(t)
	env := pc.env(t)
	mem := memEnv(t)
	check := func(t *testing.T, res *job.Result, spec job.Spec) {
		t.Helper()
		ref, err := job.Run(context.Background(), mem, spec, job.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := output(t, env, res, "O"), output(t, mem, ref, "O"); !same(got, want) {
			t.Fatal("the result differs from a clean run's")
		}
		assertNothingLeft(t, env, pc.urls)
	}

	t.Run("paused", func(t *testing.T) {
		start := time.Now()
		var log []string
		res, spec, err := pc.chaosJob(t, env, 61, func(progress func() int64) error {
			for i, s := range []*server{pc.minio, pc.fauxqs, {name: "redis-server", cmd: pc.redis.cmd}} {
				if err := waitFor(progress, int64(40+100*i)); err != nil {
					return err
				}
				at := time.Since(start)
				if err := s.signal(syscall.SIGSTOP); err != nil {
					return err
				}
				time.Sleep(3 * time.Second)
				if err := s.signal(syscall.SIGCONT); err != nil {
					return err
				}
				log = append(log, fmt.Sprintf("%s paused at %v", s.name, at.Round(time.Millisecond)))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("the job did not survive the pauses (%s): %v", strings.Join(log, ", "), err)
		}
		t.Logf("completed in %v; %s", time.Since(start).Round(time.Millisecond), strings.Join(log, ", "))
		check(t, res, spec)
	})

	t.Run("MinIO restarted", func(t *testing.T) {
		start := time.Now()
		res, spec, err := pc.chaosJob(t, env, 62, func(progress func() int64) error {
			if err := waitFor(progress, 60); err != nil {
				return err
			}
			pc.minio.kill()
			time.Sleep(time.Second)
			return pc.minio.start(pc.minioReady)
		})
		if err != nil {
			t.Fatalf("the job did not survive a MinIO restart: %v", err)
		}
		t.Logf("completed in %v across the restart", time.Since(start).Round(time.Millisecond))
		check(t, res, spec)
	})

	t.Run("fauxqs restarted", func(t *testing.T) {
		var restarted time.Time
		_, _, err := pc.chaosJob(t, env, 63, func(progress func() int64) error {
			if err := waitFor(progress, 60); err != nil {
				return err
			}
			pc.fauxqs.kill()
			err := pc.fauxqs.start(pc.fauxqsReady)
			restarted = time.Now()
			return err
		})
		end := time.Now()
		if err == nil || !regexp.MustCompile(`^job [0-9a-f]{12} failed: `).MatchString(err.Error()) ||
			!strings.Contains(err.Error(), "its queue is gone from the queue service sqs://") {
			t.Fatalf("got %v, want the job failed for its lost queue", err)
		}
		var jerr *job.Error
		if !errors.As(err, &jerr) {
			t.Fatalf("%v is not a job error", err)
		}
		if d := end.Sub(restarted); d > 10*time.Second {
			t.Errorf("the job failed %v after the queue service came back", d)
		}
		assertNothingLeft(t, env, pc.urls)
	})
}
