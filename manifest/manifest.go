// Package manifest is what a job's client and its workers share: the
// compiled plan and where each of the program's matrices keeps its tiles.
// The client saves it next to the job's tiles (a few KB, whatever the
// matrix size); a worker started anywhere loads it by the job's id.
package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/queue"
)

// A Job is what a worker knows of the job it serves: the compiled plan and
// where each of the program's matrices keeps its tiles.
type Job struct {
	ID       string
	Plan     *analysis.Plan
	Matrices []Matrix // indexed like the plan's matrices
	// Priorities is the range of the plan's task priorities, which
	// Priority maps onto the queue's [0, queue.MaxPriority).
	Priorities [2]int
}

// Priority returns the queue priority of a task: the plan's priority
// scaled from the job's range onto [0, queue.MaxPriority), so that queues
// with a few priority levels (SQS) spread the job over all of them.
func (j *Job) Priority(n analysis.Node) int {
	lo, hi := j.Priorities[0], j.Priorities[1]
	p := j.Plan.Priority(n)
	if hi <= lo {
		return queue.MaxPriority - 1
	}
	p = min(max(p, lo), hi)
	return int(int64(p-lo) * (queue.MaxPriority - 1) / int64(hi-lo))
}

// A Matrix is one BigMatrix of a job. Tiles that tasks write into a
// matrix that is not an output are scratch: they are deleted when their
// last reader is done.
type Matrix struct {
	blockstore.BigMatrix
	Output bool
	// Alias, when set, serves one grid of the matrix from another
	// matrix's tiles, read in place instead of copied into the job.
	Alias *Alias `json:",omitempty"`
	// View, when set, serves one grid of the matrix from a stored array
	// of another layout (another block, a Zarr array's chunks, tiles
	// never written): each tile is cut, on the worker that reads it,
	// from the stored tiles that overlap it.
	View *View `json:",omitempty"`
	// Target, when set, has the workers write the matrix's tiles straight
	// into a stored array (a Zarr array's chunks) instead of the job's
	// tiles: an output saved where it goes, without passing through the
	// client. No task of the job reads them.
	Target *blockstore.GridSpec `json:",omitempty"`
}

// TargetTile returns the grid a tile of the matrix is written into
// (Target) and its place (i, j) in it.
func (m *Matrix) TargetTile(s *blockstore.Store, idx []int32) (g *blockstore.Grid, i, j int, err error) {
	if g, err = m.Target.Open(s); err != nil {
		return nil, 0, 0, err
	}
	if len(idx) > 0 {
		i = int(idx[0])
	}
	if len(idx) > 1 {
		j = int(idx[1])
	}
	return g, i, j, nil
}

// A View serves the grid of tiles whose leading indices are Fixed from
// the array Source describes: tile (Fixed..., i, j) holds the rows and
// columns of the array the grid's tiling gives it. No task writes a tile
// of the grid (the job checks this before using a view).
type View struct {
	Fixed  []int32
	Source blockstore.GridSpec
}

// Viewed says whether the tile with the given indices is cut from the
// view's array.
func (m *Matrix) Viewed(idx []int32) bool {
	v := m.View
	return v != nil && len(idx) == m.Arity && len(idx) >= len(v.Fixed) && slices.Equal(idx[:len(v.Fixed)], v.Fixed)
}

// ViewTile returns the grid a viewed tile is cut from and the tile's
// place (i, j) in the view's grid, whose tiling is the matrix's.
func (m *Matrix) ViewTile(s *blockstore.Store, idx []int32) (src, dst *blockstore.Grid, i, j int, err error) {
	v := m.View
	src, err = v.Source.Open(s)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	dst = &blockstore.Grid{Matrix: &m.BigMatrix, Fixed: v.Fixed, Rows: src.Rows, Cols: src.Cols}
	grid := idx[len(v.Fixed):]
	if len(grid) > 0 {
		i = int(grid[0])
	}
	if len(grid) > 1 {
		j = int(grid[1])
	}
	return src, dst, i, j, nil
}

// An Alias maps the grid of tiles whose leading indices are Fixed onto the
// grid of Tiles whose leading indices are TilesFixed: tile
// (Fixed..., i, j) is read from Tiles' (TilesFixed..., i, j). No task
// writes a tile of the grid (the job checks this before using an alias),
// so the other matrix is only read.
type Alias struct {
	Fixed      []int32
	Tiles      blockstore.BigMatrix
	TilesFixed []int32
}

// Aliased says whether the tile with the given indices is read from the
// alias's matrix.
func (m *Matrix) Aliased(idx []int32) bool {
	a := m.Alias
	return a != nil && len(idx) == len(a.Fixed)+2 && slices.Equal(idx[:len(a.Fixed)], a.Fixed)
}

// Key returns the store key of the tile with the given indices; a viewed
// tile, which is no object of the store, has a key of its own that names
// it for the worker's cache.
func (m *Matrix) Key(idx []int32) string {
	if m.Viewed(idx) {
		return ViewPrefix + m.BigMatrix.Key(idx)
	}
	a := m.Alias
	if !m.Aliased(idx) {
		return m.BigMatrix.Key(idx)
	}
	var buf [8]int32
	return a.Tiles.Key(append(append(buf[:0], a.TilesFixed...), idx[len(a.Fixed):]...))
}

// ViewPrefix starts the keys of viewed tiles, which are cut from a
// view's array rather than read from the store.
const ViewPrefix = "view:"

// TileBytes is the size of a full tile of the job's largest block, as
// float64 values.
func (j *Job) TileBytes() int64 {
	var b int64
	for _, m := range j.Matrices {
		b = max(b, int64(m.Block))
	}
	return 8 * b * b
}

// Key returns the store key of a tile.
func (j *Job) Key(t analysis.Tile) string { return j.Matrices[t.Matrix].Key(t.Indices()) }

// Key is where a job's manifest lives in the tile store.
func Key(jobID string) string { return "jobs/" + jobID + "/job.json" }

type manifest struct {
	ID         string          `json:"id"`
	Plan       json.RawMessage `json:"plan"`
	Matrices   []Matrix        `json:"matrices"`
	Priorities [2]int          `json:"priorities"`
	// Levels are the plan's task levels (analysis.Levels, gzipped), when
	// the job ranks its tasks by critical path: a few KB for most jobs,
	// hundreds for a 1M Cholesky.
	Levels []byte `json:"levels,omitempty"`
}

// Save writes the job's manifest (a few KB) next to its tiles, where
// workers started elsewhere find it.
func (j *Job) Save(ctx context.Context, s *blockstore.Store) error {
	plan, err := j.Plan.MarshalBinary()
	if err != nil {
		return err
	}
	m := manifest{ID: j.ID, Plan: plan, Matrices: j.Matrices, Priorities: j.Priorities}
	if l := j.Plan.Levels(); l != nil {
		if m.Levels, err = l.MarshalBinary(); err != nil {
			return err
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.Put(ctx, Key(j.ID), data)
}

// Load reads a job's manifest.
func Load(ctx context.Context, s *blockstore.Store, id string) (*Job, error) {
	data, err := s.Get(ctx, Key(id))
	if err != nil {
		return nil, fmt.Errorf("load job %s: %w", id, err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("load job %s: %w", id, err)
	}
	plan, err := analysis.UnmarshalPlan(m.Plan)
	if err != nil {
		return nil, fmt.Errorf("load job %s: %w", id, err)
	}
	if len(m.Matrices) != len(plan.Program().Matrices) {
		return nil, fmt.Errorf("load job %s: %d matrices for a program with %d", id, len(m.Matrices), len(plan.Program().Matrices))
	}
	if m.Levels != nil {
		l, err := analysis.UnmarshalLevels(m.Levels)
		if err == nil {
			err = plan.SetLevels(l)
		}
		if err != nil {
			return nil, fmt.Errorf("load job %s: %w", id, err)
		}
	}
	return &Job{ID: m.ID, Plan: plan, Matrices: m.Matrices, Priorities: m.Priorities}, nil
}

// QueueName is the name of a job's queue.
func QueueName(job string) string { return "npw-" + job }
