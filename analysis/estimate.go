package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	lp "github.com/npw-dev/npw/lambdapack"
)

// A Size is how big a plan's DAG is, found without listing its tasks (as
// Count and Walk do), so that a job too big to run is refused before
// anything is uploaded or enumerated.
type Size struct {
	Tasks float64 // tasks
	// Iterations counts the loop values a walk over the tasks visits,
	// including those of loops whose guards leave them empty.
	Iterations float64
	Writes     []float64 // tiles written, by matrix
	// Exact says the figures are counts; otherwise they are estimates
	// from a sample of each large loop's values.
	Exact bool
}

// estimateBudget bounds the loop values Estimate visits to count exactly,
// over all statements; past it, it samples.
var estimateBudget = 4_000_000

// sampleVisits bounds the loop values the sampled estimates of all
// statements visit (each gets its share, and at least 10,000).
var sampleVisits = 1_000_000

var errBudget = errors.New("over budget")

// Estimate returns the plan's size: exact where its loops are walked
// within a budget of a few million loop values in all (the innermost loop of a
// statement without a guard inside it is counted, not walked), else
// estimated from evenly spaced samples of each loop's values, which is
// close for the polynomial counts of dense linear algebra. It takes well
// under a second whatever the sizes.
func (p *Plan) Estimate() (Size, error) {
	s := Size{Writes: make([]float64, len(p.prog.Matrices)), Exact: true}
	budget := estimateBudget // shared by the statements
	visits := max(10_000, sampleVisits/max(len(p.stmts), 1))
	for _, st := range p.stmts {
		e := estimator{budget: budget}
		var vs vals
		tasks, iters, err := e.count(st, 0, 0, &vs)
		budget = max(e.budget, 0)
		if errors.Is(err, errBudget) {
			s.Exact = false
			e = estimator{sample: sampleSize(st.depth, visits)}
			tasks, iters, err = e.count(st, 0, 0, &vs)
		}
		if err != nil {
			return Size{}, err
		}
		s.Tasks += tasks
		s.Iterations += iters
		for _, w := range st.writes {
			s.Writes[w.matrix] += tasks
		}
	}
	return s, nil
}

// sampleSize is how many values of each loop a sampled estimate of a
// statement at depth visits: about visits in all.
func sampleSize(depth, visits int) int {
	return max(3, int(math.Pow(float64(visits), 1/float64(max(depth, 1)))))
}

type estimator struct {
	budget int // loop values left to visit exactly; when sample is 0
	sample int // values of each loop to visit when estimating
}

// count returns the tasks of st below slot k (after the guards met at
// depth k, from base[ci]) and the loop values visited to find them.
func (e *estimator) count(st *stmtPlan, k, ci int, vs *vals) (tasks, iters float64, err error) {
	for ; ci < len(st.base) && st.base[ci].kind == consGuard; ci++ {
		g := &st.guards[st.base[ci].i]
		x, err := g.cond.eval(vs)
		if err != nil {
			return 0, 0, err
		}
		if x.Truth() != g.want {
			return 0, 0, nil
		}
	}
	if k == st.depth {
		return 1, 0, nil
	}
	first, last, step, err := st.loops[k].progression(vs)
	if err != nil || first > last {
		return 0, 0, err
	}
	n := (last-first)/step + 1
	if k == st.depth-1 && ci+1 == len(st.base) { // no guard inside: every value is a task
		return float64(n), float64(n), nil
	}
	if e.sample == 0 || n <= int64(e.sample) {
		for x := first; x <= last; x += step {
			if e.sample == 0 {
				if e.budget--; e.budget < 0 {
					return 0, 0, errBudget
				}
			}
			vs[k] = x
			t, i, err := e.count(st, k+1, ci+1, vs)
			if err != nil {
				return 0, 0, err
			}
			tasks, iters = tasks+t, iters+i
		}
		return tasks, iters + float64(n), nil
	}
	// Evenly spaced values, the first and last among them; each stands
	// for its share of the n.
	m := int64(e.sample)
	for s := range m {
		vs[k] = first + (s*(n-1)/(m-1))*step
		t, i, err := e.count(st, k+1, ci+1, vs)
		if err != nil {
			return 0, 0, err
		}
		tasks, iters = tasks+t, iters+i
	}
	scale := float64(n) / float64(m)
	return tasks * scale, iters*scale + float64(n), nil
}

// A SizeError refuses a job too big for its limits.
type SizeError struct {
	Program string
	Size    Size
	Limit   int64 // most tasks
}

func (e *SizeError) Error() string {
	about := ""
	if !e.Size.Exact {
		about = "about "
	}
	if e.Size.Tasks > float64(e.Limit) {
		return fmt.Sprintf("%s has %s%s tasks (limit %s, --max-tasks)", e.Program, about, FormatCount(e.Size.Tasks), FormatCount(float64(e.Limit)))
	}
	return fmt.Sprintf("%s has %s%s tasks, but its loops run %s%s iterations to find them (limit %s, --max-tasks)",
		e.Program, about, FormatCount(e.Size.Tasks), about, FormatCount(e.Size.Iterations), FormatCount(iterationFactor*float64(e.Limit)))
}

// iterationFactor is how many loop iterations per task of the limit a
// plan may walk: a program's guards may leave most of its loop values
// without a task, but not without bound.
const iterationFactor = 10

// CheckSize estimates the plan's size and refuses it if it has no task,
// or, with a *SizeError, if it has more than limit tasks or walks more
// than iterationFactor × limit loop values to find them.
func (p *Plan) CheckSize(limit int64) (Size, error) {
	s, err := p.Estimate()
	if err != nil {
		return s, err
	}
	if s.Tasks > float64(limit) || s.Iterations > iterationFactor*float64(limit) {
		return s, &SizeError{Program: p.prog.Name + " " + ArgString(p.args), Size: s, Limit: limit}
	}
	if s.Tasks == 0 && s.Exact {
		return s, fmt.Errorf("%s %s has no tasks: its sizes leave every kernel call out (are they positive?)", p.prog.Name, ArgString(p.args))
	}
	return s, nil
}

// DefaultMaxTasks is the most tasks a job, a check or a DAG summary
// takes on unless told otherwise: 1e8 tasks keep a state store's done
// set and a summary's memory in the low gigabytes.
const DefaultMaxTasks = 100_000_000

// FormatCount writes a count as 1728, 2.5e6, 1e8 or 1.4e12.
func FormatCount(x float64) string {
	if x < 1e6 {
		return fmt.Sprintf("%.0f", x)
	}
	e := math.Floor(math.Log10(x))
	m := math.Round(x/math.Pow(10, e)*10) / 10
	if m >= 10 {
		m, e = m/10, e+1
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", m), ".0") + "e" + strconv.Itoa(int(e))
}

// ArgString writes scalar arguments as N=4 alpha=0.5, sorted by name.
func ArgString(args map[string]lp.Value) string {
	var parts []string
	for name, v := range args {
		parts = append(parts, name+"="+v.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
