package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/npw-dev/npw/internal/lambdaemu"
	"github.com/npw-dev/npw/internal/localcloud"
	"github.com/npw-dev/npw/kernels"
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
			for i, extra := range [][]string{{"--workers", "4"}, {"--store", store, "--queue", queue, "--state", st, "--launch", "lambda", "--function", "npw-test", "--workers", "4"}} {
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
			if !strings.Contains(summary, "launched") || !strings.Contains(summary, "kernels on "+kernels.BLAS) {
				t.Errorf("summary without workers or their BLAS: %s", summary)
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

// TestDeployLambda deploys a package through the real SDK client to the
// local Lambda (create, then update), and runs a job on it.
func TestDeployLambda(t *testing.T) {
	e := lambdaEmulator(t)
	deploy := func(extra ...string) string {
		t.Helper()
		args := append([]string{"deploy", "lambda", "--function", "npw-deployed", "--binary", os.Args[0], "--arch", "x86_64", "--timeout", "2m"}, extra...)
		code, stdout, stderr := npw(t, args...)
		if code != 0 {
			t.Fatalf("npw %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout
	}
	if code, _, stderr := npw(t, "deploy", "lambda", "--function", "npw-deployed", "--binary", os.Args[0], "--arch", "x86_64"); code != exitUsage || !strings.Contains(stderr, "creating it needs --role ARN") {
		t.Fatalf("create without a role: exit %d, %q", code, stderr)
	}
	if out := deploy("--role", "arn:aws:iam::000000000000:role/npw-worker", "--memory", "1769"); !strings.Contains(out, "created arn:aws:lambda:") || !strings.Contains(out, "1769 MB") {
		t.Fatalf("create: %s", out)
	}
	if out := deploy("--memory", "2048"); !strings.Contains(out, "updated arn:aws:lambda:") || !strings.Contains(out, "2048 MB") {
		t.Fatalf("update: %s", out)
	}
	runOnLambda(t, "npw-deployed", 2048)
	if e.Sandboxes("npw-deployed") == 0 {
		t.Fatal("the deployed function never ran")
	}
}

// TestDeployBuildsFromSource builds the real provided.al2023 package from
// this checkout, deploys it to the local Lambda and runs a job on it.
func TestDeployBuildsFromSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds npw for Lambda (about a minute); runs in the full test pass")
	}
	lambdaEmulator(t)
	zipPath := filepath.Join(t.TempDir(), "npw.zip")
	code, stdout, stderr := npw(t, "deploy", "lambda", "--zip", zipPath, "--arch", "x86_64")
	if code != 0 || !strings.Contains(stdout, "bootstrap for provided.al2023 on x86_64") {
		t.Fatalf("build: exit %d\n%s%s", code, stdout, stderr)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip holds %v", zr.File)
	}
	code, stdout, stderr = npw(t, "deploy", "lambda", "--function", "npw-built", "--role", "arn:aws:iam::000000000000:role/npw-worker",
		"--arch", "x86_64", "--timeout", "2m", "--memory", "1769")
	if code != 0 || !strings.Contains(stdout, "created") {
		t.Fatalf("deploy: exit %d\n%s%s", code, stdout, stderr)
	}
	runOnLambda(t, "npw-built", 1769)
}

// runOnLambda runs a small Cholesky on the function and checks it, and
// its plots.
func runOnLambda(t *testing.T, function string, memoryMB int) {
	t.Helper()
	store, queue, st := localcloud.Get(t).Scoped(t)
	plots := t.TempDir()
	code, stdout, stderr := npw(t, "cholesky", "--n", "200", "--block", "64", "--verify", "--store", store, "--queue", queue, "--state", st,
		"--launch", "lambda", "--function", function, "--plot", plots)
	if code != 0 || !strings.Contains(stdout, "(ok;") {
		t.Fatalf("a job on %s: exit %d\n%s%s", function, code, stdout, stderr)
	}
	// Priced at the function's memory, not --lambda-memory's (3008 MB).
	if !regexp.MustCompile(fmt.Sprintf(`cost +\$[\d.]+ .*Lambda \$[\d.]+ \([\d.]+ s × %d MB of the function\)`, memoryMB)).MatchString(stdout) {
		t.Errorf("the cost line of a job on %s:\n%s", function, stdout)
	}
	checkPlots(t, plots)
}

func TestDeployPolicy(t *testing.T) {
	for _, who := range []string{"worker", "client", "provisioner"} {
		code, stdout, stderr := npw(t, "deploy", "policy", "--store", "s3://tiles/npw", "--queue", "sqs://team", "--region", "eu-west-1",
			"--account", "123456789012", "--function", "npw", "--for", who)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc struct {
			Version   string
			Statement []struct {
				Sid      string
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Version != "2012-10-17" {
			t.Fatalf("not a policy document: %v\n%s", err, stdout)
		}
		actions, resources := map[string]bool{}, map[string]bool{}
		for _, s := range doc.Statement {
			for _, a := range s.Action {
				actions[a] = true
			}
			for _, r := range s.Resource {
				resources[r] = true
			}
		}
		for _, r := range []string{"arn:aws:s3:::tiles/npw/jobs/*", "arn:aws:sqs:eu-west-1:123456789012:team-npw-*"} {
			if !resources[r] {
				t.Errorf("%s policy lacks %s: %v", who, r, resources)
			}
		}
		for r := range resources {
			if strings.HasSuffix(r, ":*:*") || r == "*" {
				t.Errorf("%s policy grants a wildcard resource %s", who, r)
			}
		}
		if who == "worker" && (actions["sqs:CreateQueue"] || actions["sqs:DeleteQueue"] || actions["lambda:InvokeFunction"]) {
			t.Errorf("the worker policy grants more than workers do: %v", actions)
		}
		if who != "worker" && (!actions["sqs:DeleteQueue"] || !actions["lambda:InvokeFunction"]) {
			t.Errorf("the client policy lacks what clients do: %v", actions)
		}
	}
	if code, _, stderr := npw(t, "deploy", "policy", "--store", "file:///x"); code != exitUsage || !strings.Contains(stderr, "want s3://bucket/prefix") {
		t.Errorf("a non-S3 store: exit %d, %q", code, stderr)
	}
}

// A detached job of Lambda workers needs no process of its own: its
// provisioner is a chain of invocations of the function, each handing
// the job and the workers it launched to the next before its timeout
// (12 s here, of which the last 6 are kept for finishing, so a job of
// several seconds takes a few rounds: one worker, so that it lasts
// that long on a fast machine too), and the
// last saves the output and removes the rest. The client exits once the
// job is submitted; npw wait follows it from another process.
func TestDetachedLambda(t *testing.T) {
	e := lambdaEmulator(t)
	e.AddFunction(lambdaemu.Config{FunctionName: "npw-chain", Runtime: "provided.al2023", Timeout: 12, MemorySize: 1769}, []string{os.Args[0]})
	flags, env, urls := lifeServices(t)
	flags = append(flags[:6:6], "--launch", "lambda", "--function", "npw-chain", "--workers", "1")
	state := flags[5]
	dir := t.TempDir()
	a := writeNPY(t, dir, "a.npy", randomSPD(rand.New(rand.NewPCG(64, 64)), 2400))
	out := strings.Replace(urls[0], "?", "/L?", 1)
	if code, _, stderr := npw(t, "cholesky", a, "--block", "100", "-o", out, "--detach"); code != exitUsage || !strings.Contains(stderr, "--detach needs workers that outlive this process") {
		t.Fatalf("a detached job of goroutine workers: exit %d: %s", code, stderr)
	}
	id := detach(t, append([]string{"cholesky", a, "--block", "100", "-o", out}, flags...)...)
	waitCholesky(t, state, id, "cholesky N=24", a, out)
	assertNothingLeft(t, env, urls)

	// The provisioner's rounds: each but the last handed the job on, the
	// last saw it done; none failed.
	var rounds []provisionReport
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		rounds = rounds[:0]
		for _, inv := range e.Ended("npw-chain") {
			if !bytes.Contains(inv.Payload, []byte(`"provision"`)) {
				continue
			}
			var rep provisionReport
			if inv.Failed || json.Unmarshal(inv.Response, &rep) != nil {
				t.Fatalf("a provisioner invocation failed: %s", inv.Response)
			}
			rounds = append(rounds, rep)
		}
		if len(rounds) > 0 && !rounds[len(rounds)-1].HandedOn {
			break
		}
	}
	if len(rounds) < 2 {
		t.Fatalf("the provisioner ran in %d rounds; a job longer than the function's timeout needs more: %+v", len(rounds), rounds)
	}
	for i, r := range rounds {
		last := i == len(rounds)-1
		if r.Job != id || r.Round != i || r.Error != "" || r.HandedOn == last || last && r.Phase != "done" {
			t.Errorf("round %d of %d: %+v", i, len(rounds), r)
		}
	}
	t.Logf("%d provisioner rounds", len(rounds))
}
