package job

import (
	"slices"
	"time"
)

// A Recovery is how a job came back from a Kill: the workers running and
// the tasks completed per second before it, the tasks it cost, and how long after it 90% of
// as many workers ran again (Replenished90), as many (Replenished), and
// the task rate was back to 90% of before (Recovered); -1 for never.
type Recovery struct {
	WorkersBefore int
	RateBefore    float64 // tasks per second over the 10 s before the kill
	Replenished90 time.Duration
	Replenished   time.Duration
	Recovered     time.Duration
	// Short is the tasks fewer than RateBefore would have completed in
	// the minute after the kill, or until the job's last task if sooner
	// (negative: more): the work the kill cost.
	Short float64
	// Done is the tasks completed in that minute: the same job without
	// the kill, run the same way, gives the work the kill cost against
	// what the job would really have done (a job's task rate moves
	// between its phases, so RateBefore is only an estimate of that).
	Done float64
	// WorkerSecondsLost is the capacity the kill took in the minute
	// after it (to the job's end if sooner): the seconds, summed over
	// the workers running before it, that fewer ran.
	WorkerSecondsLost float64
}

// Recovery measures the job's recovery from k, from its workers' reports
// (a worker runs from the end of its cold start to its stop) and their
// spans (Settings.Trace): without spans the task rate is unknown and
// Recovered is -1.
func (r *Result) Recovery(k Kill) Recovery {
	at := k.At.Seconds()
	since := func(t time.Time) float64 { return t.Sub(r.Started).Seconds() }
	rec := Recovery{Replenished90: -1, Replenished: -1, Recovered: -1}
	// Workers running just before the kill, and the moments after it
	// when a worker started: the count can only reach its old level at
	// one of those.
	var starts []float64
	rec.WorkersBefore = r.runningAt(at - 1e-6)
	for _, w := range r.Workers {
		if s := since(w.Started); s > at {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	rec.WorkerSecondsLost = r.capacityLost(at, min(at+60, r.Wall.Seconds()), rec.WorkersBefore)
	for _, s := range starts {
		n := r.runningAt(s)
		if rec.Replenished90 < 0 && 10*n >= 9*rec.WorkersBefore {
			rec.Replenished90 = time.Duration((s - at) * float64(time.Second))
		}
		if n >= rec.WorkersBefore {
			rec.Replenished = time.Duration((s - at) * float64(time.Second))
			break
		}
	}
	// Tasks completed per second, in bins of a second.
	const dt = 1.0
	var perSec []float64
	for _, w := range r.Workers {
		for _, s := range w.Spans {
			i := int(since(s.Done) / dt)
			if i < 0 {
				continue
			}
			for len(perSec) <= i {
				perSec = append(perSec, 0)
			}
			perSec[i] += 1 / dt
		}
	}
	if len(perSec) == 0 {
		return rec
	}
	rec.RateBefore = mean(perSec, int((at-10)/dt), int(at/dt))
	for i := int(at/dt) + 1; i <= int((at+60)/dt) && i < len(perSec); i++ {
		rec.Short += (rec.RateBefore - perSec[i]) * dt
		rec.Done += perSec[i] * dt
	}
	for i := int(at/dt) + 1; i+2 < len(perSec); i++ {
		if mean(perSec, i, i+3) >= 0.9*rec.RateBefore {
			rec.Recovered = time.Duration((float64(i)*dt - at) * float64(time.Second))
			break
		}
	}
	return rec
}

// runningAt is how many workers ran x seconds into the job.
func (r *Result) runningAt(x float64) int {
	n := 0
	for _, w := range r.Workers {
		if w.Started.Sub(r.Started).Seconds() <= x && x < w.Stopped.Sub(r.Started).Seconds() {
			n++
		}
	}
	return n
}

// capacityLost is the integral over [from, to] of how many fewer than
// before workers ran, where fewer.
func (r *Result) capacityLost(from, to float64, before int) float64 {
	// The count changes only where a worker starts or stops.
	cuts := []float64{from, to}
	for _, w := range r.Workers {
		for _, t := range []time.Time{w.Started, w.Stopped} {
			if x := t.Sub(r.Started).Seconds(); from < x && x < to {
				cuts = append(cuts, x)
			}
		}
	}
	slices.Sort(cuts)
	lost := 0.0
	for i := 0; i+1 < len(cuts); i++ {
		if a, b := cuts[i], cuts[i+1]; b > a {
			lost += float64(max(before-r.runningAt(a), 0)) * (b - a)
		}
	}
	return lost
}

// mean is the mean of v[a:b], clipped to v.
func mean(v []float64, a, b int) float64 {
	a, b = max(a, 0), min(b, len(v))
	if b <= a {
		return 0
	}
	s := 0.0
	for _, x := range v[a:b] {
		s += x
	}
	return s / float64(b-a)
}
