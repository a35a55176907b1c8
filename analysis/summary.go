package analysis

import (
	"fmt"
	"time"
)

// A Summary describes a whole DAG, found by the implicit queries alone.
type Summary struct {
	Nodes                int64            `json:"nodes"`
	Edges                int64            `json:"edges"`
	Starters             int64            `json:"starters"`
	Terminators          int64            `json:"terminators"`
	FallbackEnumerations int64            `json:"fallback_enumerations"`
	SolveNsPerNode       int64            `json:"solve_ns_per_node"` // mean time for one node's children and parents
	SolveSeconds         float64          `json:"solve_seconds"`     // children and parents of every node
	TotalSeconds         float64          `json:"total_seconds"`     // the whole traversal, with bookkeeping
	CriticalPath         int              `json:"critical_path"`     // levels: tasks on the longest path
	MaxParallelism       int              `json:"max_parallelism"`   // widest level
	Profile              []int            `json:"profile"`           // tasks per level
	TasksByKernel        map[string]int64 `json:"tasks_by_kernel"`
	PlanBytes            int              `json:"plan_bytes"`
}

// Summarize visits every task level by level, as infinitely many workers
// with unit-time tasks would: the starters, then every task whose parents
// are all done, and so on. It calls Children and Indegree once per task
// and times them. A traversal that does not reach every task (a cycle) or
// whose child and parent counts disagree is an error.
func Summarize(p *Plan) (*Summary, error) {
	start := time.Now()
	s := &Summary{TasksByKernel: make(map[string]int64)}
	before := p.Stats().FallbackEnumerations
	frontier, err := p.Starters()
	if err != nil {
		return nil, err
	}
	s.Starters = int64(len(frontier))
	var solve time.Duration
	var indegrees int64
	for _, n := range frontier {
		t0 := time.Now()
		deg, err := p.Indegree(n)
		solve += time.Since(t0)
		if err != nil {
			return nil, err
		}
		if deg != 0 {
			return nil, fmt.Errorf("starter %s has %d parents", p.Describe(n), deg)
		}
	}
	pending := make(map[Node]int32)
	var children, next []Node
	for len(frontier) > 0 {
		s.Profile = append(s.Profile, len(frontier))
		s.MaxParallelism = max(s.MaxParallelism, len(frontier))
		next = next[:0]
		for _, n := range frontier {
			t0 := time.Now()
			children, err = p.Children(n, children[:0])
			solve += time.Since(t0)
			if err != nil {
				return nil, err
			}
			s.Nodes++
			s.TasksByKernel[p.stmts[n.Stmt].call.Stmt.Kernel.Name]++
			s.Edges += int64(len(children))
			if len(children) == 0 {
				s.Terminators++
			}
			for _, c := range children {
				rem, seen := pending[c]
				if !seen {
					t0 := time.Now()
					deg, err := p.Indegree(c)
					solve += time.Since(t0)
					if err != nil {
						return nil, err
					}
					rem = int32(deg)
					indegrees += int64(deg)
				}
				if rem--; rem == 0 {
					delete(pending, c)
					next = append(next, c)
				} else {
					pending[c] = rem
				}
			}
		}
		frontier, next = next, frontier
	}
	if len(pending) > 0 {
		for n := range pending {
			return nil, fmt.Errorf("%d tasks never become ready (a cycle?), e.g. %s", len(pending), p.Describe(n))
		}
	}
	count, err := p.Count()
	if err != nil {
		return nil, err
	}
	if count != s.Nodes {
		return nil, fmt.Errorf("the traversal reached %d of %d tasks: some tasks are unreachable from the starters (a cycle?)", s.Nodes, count)
	}
	if indegrees != s.Edges {
		return nil, fmt.Errorf("inconsistent DAG: %d edges from children, %d from parents", s.Edges, indegrees)
	}
	s.CriticalPath = len(s.Profile)
	s.FallbackEnumerations = p.Stats().FallbackEnumerations - before
	s.SolveSeconds = solve.Seconds()
	if s.Nodes > 0 {
		s.SolveNsPerNode = solve.Nanoseconds() / s.Nodes
	}
	data, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s.PlanBytes = len(data)
	s.TotalSeconds = time.Since(start).Seconds()
	return s, nil
}
