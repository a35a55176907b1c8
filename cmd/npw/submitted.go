package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	engine "github.com/npw-dev/npw"
)

// started lists the jobs this process submitted, for the line an
// interrupted command ends with.
var started struct {
	sync.Mutex
	ids []string
}

// onSubmit announces a job as it starts, with its id, and notes it.
func onSubmit(stderr io.Writer) func(*engine.JobRecord) {
	return func(r *engine.JobRecord) {
		started.Lock()
		started.ids = append(started.ids, r.ID)
		started.Unlock()
		fmt.Fprintf(stderr, "npw: job %s started: %s, %d tasks\n", r.ID, r.Program, r.Tasks)
	}
}

// finished forgets a job that ended.
func finished(id string) {
	started.Lock()
	defer started.Unlock()
	started.ids = slices.DeleteFunc(started.ids, func(s string) bool { return s == id })
}

// interruptedJobs says which jobs an interrupted command cancelled.
func interruptedJobs() string {
	started.Lock()
	defer started.Unlock()
	switch len(started.ids) {
	case 0:
		return "; nothing was left behind"
	case 1:
		return "; job " + started.ids[0] + " was cancelled and what it made removed"
	}
	return "; jobs " + strings.Join(started.ids, ", ") + " were cancelled and what they made removed"
}

// printDetached tells how to follow a job submitted with --detach.
func printDetached(w io.Writer, d *engine.Detached) {
	r := d.Record
	by := fmt.Sprintf("process %d (log %s)", d.PID, d.Log)
	if d.Function != "" {
		by = "invocations of the Lambda function " + d.Function
	}
	fmt.Fprintf(w, "job %s submitted: %s, %d tasks; provisioned by %s\n", r.ID, r.Program, r.Tasks, by)
	for _, o := range r.Outputs {
		if o.Target != "" {
			fmt.Fprintf(w, "  %-12s %s → %s when the job ends\n", "output", o.Name, o.Target)
		}
	}
	fmt.Fprintf(w, "  %-12s npw status %s (npw wait, npw cancel; with this --state)\n", "follow it", r.ID)
}
