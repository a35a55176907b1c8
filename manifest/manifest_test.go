package manifest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	lp "github.com/npw-dev/npw/lambdapack"
)

func plan(t *testing.T, name, args string) *analysis.Plan {
	t.Helper()
	prog, err := lp.LoadProgram(name)
	if err != nil {
		t.Fatal(err)
	}
	a, err := lp.ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(err)
	}
	p, err := analysis.NewPlan(prog, a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLevelsTravel checks that a worker that loads the manifest ranks
// every task as the client does: by critical path when the client set
// levels, by the loop formula when it did not.
func TestLevelsTravel(t *testing.T) {
	ctx := context.Background()
	s := blockstore.NewStore(blockstore.NewMemDriver(), "mem://")
	for _, withLevels := range []bool{true, false} {
		p := plan(t, "cholesky", "N=7")
		if withLevels {
			l, err := p.ComputeLevels(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			if l.Max() != 3*7-2 {
				t.Fatalf("Cholesky of 7 tiles: critical path of %d tasks, want 19", l.Max())
			}
			if err := p.SetLevels(l); err != nil {
				t.Fatal(err)
			}
		}
		j := &Job{ID: "levels", Plan: p, Matrices: make([]Matrix, len(p.Program().Matrices))}
		if err := j.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		back, err := Load(ctx, s, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (back.Plan.Levels() != nil) != withLevels {
			t.Fatalf("levels set %v, loaded %v", withLevels, back.Plan.Levels() != nil)
		}
		err = p.Walk(func(n analysis.Node) error {
			if a, b := p.Priority(n), back.Plan.Priority(n); a != b {
				t.Fatalf("task %s: priority %d in the client, %d in a worker", p.Describe(n), a, b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBadLevels checks that a manifest with levels that are not npw's,
// or not the plan's, fails to load with a line that says so.
func TestBadLevels(t *testing.T) {
	ctx := context.Background()
	s := blockstore.NewStore(blockstore.NewMemDriver(), "mem://")
	other := plan(t, "gemm", "M=2 N=2 K=2 G=1")
	l, err := other.ComputeLevels(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		levels []byte
		want   string
	}{
		{[]byte("not gzip"), "decode levels"},
		{foreign, "levels of"},
	} {
		p := plan(t, "cholesky", "N=3")
		j := &Job{ID: "bad", Plan: p, Matrices: make([]Matrix, len(p.Program().Matrices))}
		if err := j.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		data, err := s.Get(ctx, Key("bad"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		m["levels"] = c.levels
		if data, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, Key("bad"), data); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, s, "bad"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("loaded levels %q: %v, want an error with %q", c.levels[:min(8, len(c.levels))], err, c.want)
		}
	}
}
