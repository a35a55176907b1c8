package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	engine "github.com/npw-dev/npw"
	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/provisioner"
)

func parseEngineFlags(t *testing.T, args ...string) *engineFlags {
	t.Helper()
	var e engineFlags
	f := pflag.NewFlagSet("test", pflag.ContinueOnError)
	e.register(f, 1024)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &e
}

// Without --workers, Lambda workers are capped at AWS's default
// concurrency, not at the client's cores: --block auto sizes tiles for
// that many, and the help says so.
func TestLambdaWorkerCap(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		workers int
		block   int // --block auto for Cholesky of order 65536
	}{
		{[]string{"--launch", "lambda", "--block", "auto"}, engine.DefaultLambdaWorkers, 1024},
		{[]string{"--launch", "lambda", "--block", "auto", "--workers", "8"}, 8, 4096},
		{[]string{"--launch", "process", "--block", "auto", "--workers", "300"}, 300, 1536},
	} {
		e := parseEngineFlags(t, tc.args...)
		e.fitBlock("cholesky", 65536, 65536)
		if got := e.maxWorkers(); got != tc.workers {
			t.Errorf("%v: %d workers, want %d", tc.args, got, tc.workers)
		}
		if e.block != tc.block {
			t.Errorf("%v: block %d, want %d", tc.args, e.block, tc.block)
		}
		if opts := e.engineOptions(nil, nil); opts.MaxWorkers() != tc.workers {
			t.Errorf("%v: the engine caps workers at %d, want %d", tc.args, opts.MaxWorkers(), tc.workers)
		}
	}
	code, stdout, _ := npw(t, "cholesky", "--help")
	if code != 0 || !strings.Contains(stdout, "with --launch lambda, 1000") {
		t.Errorf("--workers help does not state the Lambda default:\n%s", stdout)
	}
}

// Every worker setting travels to a process worker: provisioner.Args
// writes the flags, and provisioner.Env the environment (the service
// URLs, which may hold passwords, never on the command line), that npw
// worker reads back into the same Remote.
func TestWorkerArgsCarryEverySetting(t *testing.T) {
	want := executor.Remote{Job: "j1", Store: "file:///tmp/t", Queue: "sqs://", State: "redis://:hunter2@127.0.0.1:1/0", ID: "p7",
		Settings: executor.Settings{Pipeline: 3, Lease: 7 * time.Second, Poll: 300 * time.Millisecond, IdleTimeout: 11 * time.Second,
			RuntimeLimit: 13 * time.Second, MaxAttempts: 4, MaxReceives: 12, Memory: 1 << 30, AllowNonFinite: true, Trace: true, EmulateGFLOPS: 2.5}}
	// Every field of Settings is set above: a new one fails here until it
	// is set, and then until Args and the flags carry it.
	v := reflect.ValueOf(want.Settings)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("set Settings.%s in this test", v.Type().Field(i).Name)
		}
	}
	for _, kv := range provisioner.Env(want) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if args := strings.Join(provisioner.Args(want), " "); strings.Contains(args, "hunter2") || strings.Contains(args, "://") {
		t.Errorf("a URL on the command line: %s", args)
	}
	var opts workerOptions
	f := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	registerWorkerFlags(f, &opts)
	if err := f.Parse(provisioner.Args(want)); err != nil {
		t.Fatal(err)
	}
	if opts.remote != want {
		t.Errorf("npw worker %v\nread  %+v\nwant  %+v", provisioner.Args(want), opts.remote, want)
	}
}
