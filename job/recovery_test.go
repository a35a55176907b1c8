package job

import (
	"testing"
	"time"

	"github.com/npw-dev/npw/executor"
	"github.com/npw-dev/npw/provisioner"
)

// Four workers run from 0 s with a task done every second each; two die
// at 20 s, replacements start at 23 s and 26 s: replenished in 6 s (90%
// of them too: 3 of 4 is less); the
// rate over the three seconds from 25 s (3, 4, 4 tasks) is the first
// back at 90% of 4 tasks a second: recovered in 5 s.
func TestRecoveryByHand(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	worker := func(from, to float64) provisioner.WorkerReport {
		var spans []executor.Span
		for x := from + 0.5; x < to; x++ {
			spans = append(spans, executor.Span{Done: at(x)})
		}
		return provisioner.WorkerReport{Report: executor.Report{Started: at(from), Stopped: at(to), Spans: spans}}
	}
	r := &Result{Started: t0, Wall: 40 * time.Second, Workers: []provisioner.WorkerReport{
		worker(0, 40), worker(0, 40), worker(0, 20), worker(0, 20), worker(23, 40), worker(26, 40)}}
	got := r.Recovery(Kill{At: 20 * time.Second, Killed: 2})
	// The minute after the kill, to the job's last task at 39.5: 2 a
	// second short at 21-22, 1 at 23-25; 2, 3, then 4 a second done.
	// Two workers fewer from 20 to 23 s, one from 23 to 26 s.
	want := Recovery{WorkersBefore: 4, RateBefore: 4, Short: 2*2 + 1*3, Done: 2*2 + 3*3 + 4*14, WorkerSecondsLost: 2*3 + 1*3,
		Replenished90: 6 * time.Second, Replenished: 6 * time.Second, Recovered: 5 * time.Second}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Without spans the rate is unknown; never replenished is -1.
	r.Workers = r.Workers[:4]
	for i := range r.Workers {
		r.Workers[i].Spans = nil
	}
	got = r.Recovery(Kill{At: 20 * time.Second, Killed: 2})
	if want := (Recovery{WorkersBefore: 4, WorkerSecondsLost: 2 * 20, Replenished90: -1, Replenished: -1, Recovered: -1}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
