package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/npw-dev/npw/analysis"
	"github.com/npw-dev/npw/blockstore"
	"github.com/npw-dev/npw/queue"
	"github.com/npw-dev/npw/state"
)

// The interfaces below are what a worker needs from the tile store, the
// queue and the state store; *blockstore.Store, *queue.Queue and
// *state.Store satisfy them, and tests wrap them to inject faults.

// Tiles reads and writes tiles.
type Tiles interface {
	GetTile(ctx context.Context, key string) (blas64.General, int, error)
	// AdoptTile writes a kernel's output tile, which is not modified
	// afterwards (the store may keep it without a copy).
	AdoptTile(ctx context.Context, key string, g blas64.General) (int, error)
	Delete(ctx context.Context, keys ...string) error
}

// A Lender is a tile store in the worker's own process that lends a
// scratch tile to the one task that reads it, to update in place instead
// of copying it (blockstore.Lender says how loans end). Lends says whether
// this store can.
type Lender interface {
	Lends() bool
	LendTile(ctx context.Context, key string) (blas64.General, int, error)
	ReturnTile(key string)
	SpendTile(key string)
}

// Queue leases tasks.
type Queue interface {
	Send(ctx context.Context, msgs ...queue.Message) error
	Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]queue.Lease, error)
	Extend(ctx context.Context, receipt string, visibility time.Duration) error
	Ack(ctx context.Context, receipts ...string) error
}

// State records progress.
type State interface {
	Complete(ctx context.Context, job string, c state.Completion) (state.Outcome, error)
	IsDone(ctx context.Context, job, task string) (bool, error)
	ReadyAfter(ctx context.Context, job, parent string, children []state.Edge) ([]string, error)
	RecordFailure(ctx context.Context, job, task string) (int, error)
	Fail(ctx context.Context, job, msg string) error
	Status(ctx context.Context, job string) (state.Status, error)
}

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

// aliased says whether the tile with the given indices is read from the
// alias's matrix.
func (m *Matrix) aliased(idx []int32) bool {
	a := m.Alias
	return a != nil && len(idx) == len(a.Fixed)+2 && slices.Equal(idx[:len(a.Fixed)], a.Fixed)
}

// Key returns the store key of the tile with the given indices.
func (m *Matrix) Key(idx []int32) string {
	a := m.Alias
	if !m.aliased(idx) {
		return m.BigMatrix.Key(idx)
	}
	var buf [8]int32
	return a.Tiles.Key(append(append(buf[:0], a.TilesFixed...), idx[len(a.Fixed):]...))
}

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

// ManifestKey is where a job's manifest lives in the tile store.
func ManifestKey(jobID string) string { return "jobs/" + jobID + "/job.json" }

type manifest struct {
	ID         string          `json:"id"`
	Plan       json.RawMessage `json:"plan"`
	Matrices   []Matrix        `json:"matrices"`
	Priorities [2]int          `json:"priorities"`
}

// Save writes the job's manifest (a few KB) next to its tiles, where
// workers started elsewhere find it.
func (j *Job) Save(ctx context.Context, s *blockstore.Store) error {
	plan, err := j.Plan.MarshalBinary()
	if err != nil {
		return err
	}
	data, err := json.Marshal(manifest{ID: j.ID, Plan: plan, Matrices: j.Matrices, Priorities: j.Priorities})
	if err != nil {
		return err
	}
	return s.Put(ctx, ManifestKey(j.ID), data)
}

// LoadJob reads a job's manifest.
func LoadJob(ctx context.Context, s *blockstore.Store, id string) (*Job, error) {
	data, err := s.Get(ctx, ManifestKey(id))
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
	return &Job{ID: m.ID, Plan: plan, Matrices: m.Matrices, Priorities: m.Priorities}, nil
}
