package job

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/npw-dev/npw/blockstore"
)

// fileEnv is testEnv with tiles in files: reads are private copies, as on
// S3, so workers continue tasks (and keep tiles) the way remote workers do.
func fileEnv(t *testing.T) Env {
	env, _, _ := testEnv(t)
	s, err := blockstore.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env.Tiles = s
	return env
}

func continued(res *Result) int {
	n := 0
	for _, w := range res.Workers {
		n += w.Continued
	}
	return n
}

// Workers whose tiles travel through a store run a child that their
// task's completion makes ready right away, from the task's outputs in
// memory; the result is the memory services' bit for bit.
func TestContinuations(t *testing.T) {
	a := spd(rand.New(rand.NewPCG(12, 12)), 48)
	spec := choleskyJob(t, a, 8)
	want := cleanRun(t, spec)
	env := fileEnv(t)
	res := runJob(t, env, spec, fast())
	if got := assemble(t, env, res, "O", nil); !sameBits(got, want) {
		t.Fatal("result differs from the memory services' run")
	}
	if n := continued(res); n == 0 || int64(n) >= res.Status.Tasks {
		t.Fatalf("%d of %d tasks were continuations", n, res.Status.Tasks)
	}
	t.Logf("%d of %d tasks continued", continued(res), res.Status.Tasks)
}
