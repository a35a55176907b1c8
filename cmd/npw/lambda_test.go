package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/npw-dev/npw/internal/lambdaemu"
	"github.com/npw-dev/npw/internal/localcloud"
)

// lambdaEmulator starts the local Lambda with this test binary deployed as
// the function "npw-test", and points the AWS SDK at it.
func lambdaEmulator(t *testing.T) *lambdaemu.Emulator {
	t.Helper()
	localcloud.Get(t) // the AWS credentials the sandboxes inherit
	e, err := lambdaemu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	e.AddFunction(lambdaemu.Config{FunctionName: "npw-test", Runtime: "provided.al2023", Timeout: 120, MemorySize: 1769}, []string{os.Args[0]})
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", e.URL)
	return e
}

// TestLambdaMatchesMemory runs Cholesky, GEMM and TSQR with workers that
// are Lambda invocations (the real aws-lambda-go handler in the local
// Lambda, invoked asynchronously by the real SDK client) on MinIO, fauxqs
// and Redis: the results equal the memory run's bit for bit.
func TestLambdaMatchesMemory(t *testing.T) {
	e := lambdaEmulator(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(60, 60))
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
			store, queue, st := localcloud.Get(t).Scoped(t)
			var outs [2][]byte
			var summary string
			for i, extra := range [][]string{nil, {"--store", store, "--queue", queue, "--state", st, "--launch", "lambda", "--function", "npw-test", "--workers", "4"}} {
				out := filepath.Join(dir, fmt.Sprintf("%s-%d.npy", tc.name, i))
				args := append(append(append([]string(nil), tc.args...), "-o", out), extra...)
				code, stdout, stderr := npw(t, args...)
				if code != 0 {
					t.Fatalf("npw %v: exit %d\n%s%s", args, code, stdout, stderr)
				}
				summary = stdout
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = data
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatalf("%s: the Lambda result differs from the memory result", tc.name)
			}
			if !strings.Contains(summary, "launched") {
				t.Errorf("summary without workers: %s", summary)
			}
		})
	}
	if e.Sandboxes("npw-test") == 0 {
		t.Fatal("no Lambda sandbox ran")
	}
}

func TestLambdaMissingFunction(t *testing.T) {
	lambdaEmulator(t)
	store, queue, st := localcloud.Get(t).Scoped(t)
	code, _, stderr := npw(t, "cholesky", "--n", "64", "--block", "32", "--store", store, "--queue", queue, "--state", st,
		"--launch", "lambda", "--function", "no-such-function")
	if code == 0 || !strings.Contains(stderr, "Lambda function no-such-function does not exist (deploy it with: npw deploy lambda") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
