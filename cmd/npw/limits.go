package main

import (
	"fmt"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/internal/machine"
)

// oracleBytesPerTask is the memory the brute-force oracle (npw check,
// npw dag --oracle) holds per task: measured 720 B on cholesky N=200
// (1.35 M tasks, 950 MB of peak RSS).
const oracleBytesPerTask = 768

// checkPlanSize refuses a plan with more tasks than maxTasks, or whose
// tasks the oracle would hold in more memory than this machine has,
// before anything is enumerated. The limit is the one job commands
// apply (--max-tasks).
func checkPlanSize(plan *analysis.Plan, maxTasks int64, oracle bool) error {
	s, err := plan.CheckSize(maxTasks)
	if err != nil || !oracle {
		return err
	}
	need := s.Tasks * oracleBytesPerTask
	if mem := machine.Memory(); mem > 0 && need > 0.8*float64(mem) {
		return fmt.Errorf("%s %s has %s tasks; enumerating them all takes about %s of memory, and this machine has %s",
			plan.Program().Name, analysis.ArgString(plan.Args()), analysis.FormatCount(s.Tasks), machine.FormatBytes(need), machine.FormatBytes(float64(mem)))
	}
	return nil
}
