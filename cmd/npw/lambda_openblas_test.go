//go:build openblas

package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/npw-dev/npw/internal/localcloud"
)

// TestLambdaStaticOpenBLAS builds the Lambda bootstrap with OpenBLAS
// linked statically (scripts/lambda-openblas, the README's recipe),
// checks that it loads no shared library, deploys it to the local Lambda
// and runs a job on it: the workers report kernels on OpenBLAS.
func TestLambdaStaticOpenBLAS(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("../../scripts/lambda-openblas", bin).CombinedOutput(); err != nil {
		t.Fatalf("scripts/lambda-openblas: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the bootstrap names a dynamic loader: it is not statically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Fatalf("the bootstrap needs shared libraries %v (%v)", libs, err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	linked := false
	for _, s := range syms {
		linked = linked || s.Name == "openblas_set_num_threads"
	}
	if !linked {
		t.Fatal("OpenBLAS is not linked into the bootstrap")
	}

	lambdaEmulator(t)
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	if code, stdout, stderr := npw(t, "deploy", "lambda", "--function", "npw-openblas", "--binary", bin, "--arch", arch,
		"--role", "arn:aws:iam::000000000000:role/npw-worker", "--timeout", "2m"); code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, stdout, stderr)
	}
	store, queue, st := localcloud.Get(t).Scoped(t)
	code, stdout, stderr := npw(t, "cholesky", "--n", "300", "--block", "64", "--verify", "--store", store, "--queue", queue, "--state", st,
		"--launch", "lambda", "--function", "npw-openblas", "--workers", "2")
	if code != 0 || !strings.Contains(stdout, "(ok;") {
		t.Fatalf("a job on the static OpenBLAS function: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "kernels on openblas") {
		t.Fatalf("the Lambda workers did not report OpenBLAS:\n%s", stdout)
	}
}
