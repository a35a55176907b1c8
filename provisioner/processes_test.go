package provisioner

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/npw-dev/npw/executor"
)

// TestProcessReports launches "workers" that are shell scripts: one
// prints its report and is then killed by a SIGTERM on its way out (the
// job's end reaching a worker that stopped catching signals), one dies
// of SIGTERM before any report, one exits with an error. The first's
// report stands; the others are accounted for by how they ended.
func TestProcessReports(t *testing.T) {
	for _, tc := range []struct {
		script, reason string
		tasks          int
		hasErr         bool
	}{
		{`echo '{"Worker":"w1","Tasks":7,"Reason":"job done"}'; kill -TERM $$`, "job done", 7, false},
		{`kill -TERM $$`, "signal: terminated", 0, false},
		{`echo broken >&2; exit 3`, "exit status 3", 0, true},
	} {
		p := &Processes{Command: []string{"sh", "-c", tc.script, "sh"}, Remote: executor.Remote{Job: "j"}}
		if err := p.Launch(context.Background()); err != nil {
			t.Fatal(err)
		}
		reps := p.Wait()
		if len(reps) != 1 || reps[0].Reason != tc.reason || reps[0].Tasks != tc.tasks || (reps[0].Err != nil) != tc.hasErr {
			t.Errorf("%s: reports %+v", tc.script, reps)
		}
	}
	// Kill kills the fraction asked, rounded, at least one.
	if got := len(pick(rand.New(rand.NewPCG(1, 2)), 10, 0.8)); got != 8 {
		t.Errorf("pick 0.8 of 10: %d", got)
	}
	if got := len(pick(rand.New(rand.NewPCG(1, 2)), 3, 0.1)); got != 1 {
		t.Errorf("pick 0.1 of 3: %d", got)
	}
	if got := len(pick(rand.New(rand.NewPCG(1, 2)), 0, 0.5)); got != 0 {
		t.Errorf("pick of none: %d", got)
	}
}
